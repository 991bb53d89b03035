"""Run a lossbench command in a fresh Python process, as a user's shell would (``lossbench-train``
after a test's patch too: :func:`run_patched_train`), or a plain Python script with this
checkout's sources importable (:func:`run_script`, :func:`start_script`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Each launcher a sweep's jobs can run under, as overrides, with ids: one process (basic), two
#: vectorized worker processes of one-job tasks (a data module each), two joblib workers.
SWEEP_LAUNCHERS = {
    "basic": ("hydra/launcher=basic",),
    "vectorized-workers": (
        "hydra/launcher=vectorized",
        "hydra.launcher.n_jobs=2",
        "hydra.launcher.max_group_size=1",
    ),
    "parallel": ("hydra/launcher=parallel", "hydra.launcher.n_jobs=2"),
}


def run_module(
    module: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 300,
    unset: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` in ``cwd`` with this checkout's sources importable.

    ``unset`` names environment variables the child must not inherit; ``extra_env`` sets more.
    """
    return _run([sys.executable, "-m", module, *args], cwd, timeout, unset, extra_env)


def _run(
    command: list[str],
    cwd: Path | None,
    timeout: float,
    unset: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    *,
    ctrl_c: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd``, its output captured, with this checkout's sources importable;
    with ``ctrl_c``, Ctrl-C (SIGINT) as a terminal delivers it, whatever the test runner's own
    disposition (one it ignores, the child would ignore too)."""
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra_env or {})
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        preexec_fn=_ctrl_c_as_a_terminal_delivers_it if ctrl_c else None,
    )  # fmt: skip


#: The function of :mod:`lossbench.commands` each console command runs, by its short name.
CONSOLE_FUNCTIONS = {"train": "train", "eval": "evaluate", "predict": "predict", "report": "report"}


def run_console(
    command: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 300,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``lossbench-COMMAND ARGS`` as its console script runs it (``lossbench.commands``), in
    ``cwd`` with this checkout's sources importable.

    ``python -m`` runs the same (each module's ``__main__`` calls its console function), but
    with the module's file as ``sys.argv[0]`` and the current directory first on Python's
    path. A console script's path starts at its own folder instead, so the current directory
    that ``python -c`` puts first is taken out: a module in ``cwd`` imports only through
    ``PYTHONPATH`` (``extra_env``), as with a user's ``PYTHONPATH=. lossbench-train``.
    """
    function = CONSOLE_FUNCTIONS[command]
    code = (
        "import sys\n"
        "if sys.path[:1] == ['']:\n"
        "    del sys.path[0]\n"
        f"from lossbench.commands import {function}\n"
        f"sys.argv[0] = 'lossbench-{command}'\n"
        f"sys.exit({function}())\n"
    )
    return _run([sys.executable, "-c", code, *args], cwd, timeout, extra_env=extra_env)


def run_script(
    code: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS``: a plain Python script in a fresh interpreter, in ``cwd`` with
    this checkout's sources importable and ``extra_env`` set, its output captured; what it
    ended with is the caller's to check.

        >>> done = run_script("import sys; print(sys.argv[1:])", "a", extra_env={"X": "1"})
        >>> done.returncode, done.stdout
        (0, "['a']\\n")
    """
    return _run([sys.executable, "-c", code, *args], cwd, timeout, extra_env=extra_env)


def start_script(
    code: str,
    *args: str,
    cwd: Path | None = None,
    new_session: bool = False,
    extra_env: dict[str, str] | None = None,
    stdout: int = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """:func:`run_script` started as a shell starts a command, not waited for: ``stdout`` (a
    pipe unless told) and stderr pipes, SIGINT as a terminal delivers it, and with
    ``new_session`` a process group (and session) of its own, which a test signals whole as a
    terminal's Ctrl-C does."""
    env = {**os.environ, "PYTHONPATH": str(SRC), **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True,
        start_new_session=new_session, preexec_fn=_ctrl_c_as_a_terminal_delivers_it,
    )  # fmt: skip


def _ctrl_c_as_a_terminal_delivers_it() -> None:
    """In the child, before it runs: SIGINT at its default, which Python turns into Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: ``lossbench-train`` as its console script runs it, after the code in the environment
#: variable LOSSBENCH_TEST_PATCH (none where it is empty or unset): a test places a signal or
#: a kill at one step of the command by patching that step there.
PATCHED_TRAIN = (
    "import os, sys\n"
    "sys.argv[0] = 'lossbench-train'\n"
    "exec(os.environ.get('LOSSBENCH_TEST_PATCH', ''))\n"
    "from lossbench.commands import train\n"
    "sys.exit(train())\n"
)


def run_patched_train(
    *args: str,
    patch: str = "",
    timeout: float = 300,
    ctrl_c: bool = False,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``lossbench-train ARGS`` (:data:`PATCHED_TRAIN`) in a fresh process after the code
    ``patch``, one thread an operation (OMP_NUM_THREADS=1) and ``extra_env`` set, its output
    captured; ``ctrl_c``: SIGINT as a terminal delivers it (see :func:`_run`)."""
    command = [sys.executable, "-c", PATCHED_TRAIN, *args]
    return _run(command, None, timeout, (), _patched(patch, extra_env), ctrl_c=ctrl_c)


def start_patched_train(
    *args: str, patch: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """:func:`run_patched_train` started (:func:`start_script`), not waited for: its stdout
    discarded, its stderr a pipe, SIGINT as a terminal delivers it."""
    env = _patched(patch, extra_env)
    return start_script(PATCHED_TRAIN, *args, extra_env=env, stdout=subprocess.DEVNULL)


def _patched(patch: str, extra_env: dict[str, str] | None) -> dict[str, str]:
    return {"OMP_NUM_THREADS": "1", "LOSSBENCH_TEST_PATCH": patch, **(extra_env or {})}


def refused_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``lossbench: refused:`` line of a command ``result`` that exited 2 without a
    traceback (each asserted)."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("lossbench: ")]
    assert len(lines) == 1 and lines[0].startswith("lossbench: refused: "), lines
    return lines[0]
