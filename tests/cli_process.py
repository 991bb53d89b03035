"""Run a lossbench command in a fresh Python process, as a user's shell would, or a plain
Python script with this checkout's sources importable (:func:`run_script`, :func:`start_script`)."""

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
) -> subprocess.CompletedProcess[str]:
    """``command`` in ``cwd``, its output captured, with this checkout's sources importable."""
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra_env or {})
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


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
    with the module's file as ``sys.argv[0]``.
    """
    function = CONSOLE_FUNCTIONS[command]
    code = (
        f"import sys; from lossbench.commands import {function}; "
        f"sys.argv[0] = 'lossbench-{command}'; sys.exit({function}())"
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
