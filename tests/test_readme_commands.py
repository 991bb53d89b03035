"""The README's example commands.

Every command line of the README's ``bash`` blocks that runs ``lossbench-train``,
``lossbench-eval``, ``lossbench-predict`` or ``lossbench-report`` is given to that command's
checks, without training (below: :func:`test_readme_command_is_accepted`, slow: about 0.2 s a
line), so that a renamed key, option or flag shows up as the README line that still uses it. The
Quick start's and the conventions' commands also run as a user would (slow: each is a real
training run).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from sklearn.datasets import make_classification

import lossbench.evaluate
import lossbench.predict
import lossbench.train
from cli_process import run_module
from lossbench.errors import ConfigError
from lossbench.report.cli import parser as report_parser
from lossbench.report.errors import ReportError
from lossbench.validation import validate

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
QUICK_START = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
COMMANDS = [
    line.split("#")[0].strip()
    for line in QUICK_START.splitlines()
    if line.startswith("lossbench-train ") and "--cfg" not in line
]


CONVENTIONS = README.split("## Callbacks, loggers, schedulers and debug runs", 1)[1].split(
    "\n## ", 1
)[0]
CONVENTION_COMMANDS = [
    line.split("  #")[0].strip()
    for line in CONVENTIONS.split("```bash", 1)[1].split("```", 1)[0].splitlines()
    if line.startswith("lossbench-train ")
]


def test_readme_lists_the_example_commands() -> None:
    assert len(COMMANDS) >= 5
    assert any(c.startswith("lossbench-train -m ") for c in COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: re.sub(r"\W+", "-", c[16:])[:60])
def test_readme_command_runs(tmp_path: Path, command: str) -> None:
    x, y = make_classification(n_samples=300, n_features=5, random_state=0)
    rows = np.column_stack([x, y])
    np.savetxt(tmp_path / "my.csv", rows, delimiter=",", header="a,b,c,d,e,y", comments="")
    species = np.array(["setosa", "virginica", "versicolor"])[np.arange(300) % 3]
    with (tmp_path / "my.csv").open() as f:
        lines = f.read().splitlines()
    if "species" in command:
        lines = [lines[0] + ",species"] + [
            f"{r},{s}" for r, s in zip(lines[1:], species, strict=True)
        ]
        (tmp_path / "my.csv").write_text("\n".join(lines) + "\n")
    tags = np.random.default_rng(0).integers(0, 2, size=(300, 3))
    header = "a,b,c,d,e,sports,politics,tech"
    np.savetxt(
        tmp_path / "tags.csv",
        np.column_stack([x, tags]),
        delimiter=",",
        header=header,
        comments="",
        fmt=["%.6f"] * 5 + ["%d"] * 3,
    )
    args = shlex.split(command)[1:]
    result = run_module("lossbench.train", *args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("metrics.json")]
    assert records and all(r["status"] == "completed" for r in records)
    if "-m" in args:
        assert len(records) == 6  # label_smoothing 0, 0.1 x seeds 0, 1, 2


@pytest.mark.slow
def test_default_setup_learns_breast_cancer(tmp_path: Path) -> None:
    result = run_module("lossbench.train", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "outputs").rglob("metrics.json")
    record = json.loads(path.read_text())
    assert record["test/accuracy"] > 0.93 and record["test/auroc"] > 0.97
    assert record["test/nll"] < 0.2


def test_readme_shows_the_conventions_commands() -> None:
    assert {c.split()[1].split("=")[0] for c in CONVENTION_COMMANDS} == {
        "debug",
        "scheduler",
        "callbacks",
        "logger",
        "+callbacks.timer._target_",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", CONVENTION_COMMANDS, ids=lambda c: re.sub(r"\W+", "-", c[16:])[:60]
)
def test_readme_conventions_command_runs(tmp_path: Path, command: str) -> None:
    if "logger=wandb" in command:
        pytest.importorskip("wandb")
    if "logger=many" in command:
        pytest.importorskip("tensorboard")
    args = shlex.split(command)[1:]
    result = run_module("lossbench.train", *args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = (tmp_path / "outputs").rglob("metrics.json")
    record = json.loads(path.read_text())
    assert record["status"] == "completed"
    if "scheduler=cosine" in command:
        rates = record["history"]["train/lr"]
        assert len(rates) == 5 and rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    if "debug=profiler" in command:
        assert (path.parent / "fit-profile.txt").is_file()


# ---- every lossbench command line of the README's bash blocks passes the command's checks ----
#
# A README line is read as a shell reads it (shlex): lines ending in a backslash are joined, a
# `# comment` is dropped, and so is whatever follows `&&`, `;` or `|`. Each line is then given to
# its command in this process, with `--cfg job` added (Hydra prints the composed config and
# exits, nothing is trained or written) unless the line shows something itself (--cfg, --help):
#
# - a lossbench-train multirun (-m, or a swept value list `seed=0,1,2`, `range(...)`,
#   `choice(...)`, `interval(a,b)`) twice: as written without -m, where the command checks every
#   swept value (keys, options, types) and must then stop at the sweep with its "add -m"
#   refusal (NEEDS_MULTIRUN), and as one job, each value list its first value (read with Hydra's
#   own override parser; an interval: its start), which must compose: exit 0, no refusal;
# - a single run must exit 0 without a refusal, and its printed config must pass the checks a
#   run makes before it starts (lossbench.validation.validate: head and loss, model and data, the
#   loss's parameters, the trainer's values), except a refusal about this machine (ENVIRONMENT:
#   a file the reader brings, a GPU, an extra) and data=openml (NOT_VALIDATED);
# - lossbench-eval and lossbench-predict: the `--cfg job` check (their keys, types and data
#   options; ckpt_path is not read, so a placeholder there is replaced: CKPT_STAND_IN);
# - lossbench-report: its argument parser (flags and their values; the paths are not read).
#
# Lines are skipped by two rules only (SKIPS), and lines that show a refusal are listed in
# EXPECTED_REFUSALS. The lines are checked with `make test-slow` (about 0.2 s each, 20-25 s in
# all on a small machine); the parser and the checker's own tests run in the default suite.

#: The commands whose README lines are checked, and the ``main`` of each (report: its parser).
CHECKED_MAINS = {
    "lossbench-train": lossbench.train.main,
    "lossbench-eval": lossbench.evaluate.main,
    "lossbench-predict": lossbench.predict.main,
    "lossbench-report": None,
}
#: A placeholder for a value of the reader's own: ``<run>``, ``<same overrides>``, ``...``,
#: ``path/to/``. A line with one is skipped, except in ``ckpt_path=`` of lossbench-eval and
#: lossbench-predict, which ``--cfg job`` does not read: CKPT_STAND_IN takes its place there.
PLACEHOLDER = re.compile(r"<[^<>\n]*>|\.\.\.|\bpath/to/")
CKPT_STAND_IN = "ckpt_path=outputs/runs/run/checkpoints/last.ckpt"
CKPT_COMMANDS = ("lossbench-eval", "lossbench-predict")
#: Why a line is skipped, by rule.
SKIPS = {
    "placeholder": "it has a placeholder for a value of the reader's own",
    "glob": "a glob() sweep needs Hydra's config loader to list its values",
}
#: Flags that make a line show something (a config, help) rather than run: run as written.
SHOWS = {"--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc"}
#: The words of lossbench-train's refusal of a sweep without -m (lossbench.sweep_refusals).
NEEDS_MULTIRUN = "which only a multirun runs"
#: Words of a refusal by lossbench.validation.validate that is about this machine, not about the
#: command line: a file the reader brings (my.csv, a run's checkpoint), a GPU, an optional extra.
ENVIRONMENT = ("no such file", "but this machine has none", "pip install")
#: Single runs that validate() does not check: data=openml reads the table (from openml.org or
#: its cache) to learn the task; the `--cfg job` check still applies.
NOT_VALIDATED = ("data=openml",)
#: README lines that show a refusal, by how their command starts (as the README writes it, its
#: comment left out), each with words the refusal must hold. None at present; one would read
#:     "lossbench-train data=wine head=sigmoid loss=cross_entropy": "cannot train a multiclass",
#: and test_expected_refusals_are_readme_lines keeps each entry a line of the README.
EXPECTED_REFUSALS: dict[str, str] = {}
#: At least this many README lines are checked (a parser that finds none must not pass).
MIN_CHECKED = 60


@dataclass(frozen=True)
class Example:
    """One command line of a README bash block: where it starts, as written, and as parsed."""

    line: int
    text: str  # the logical line (continuations joined), placeholders as written
    argv: tuple[str, ...]  # the command's words, the comment and anything after && ; | left out
    skip: str | None = None  # a key of SKIPS

    @property
    def command(self) -> str:
        return self.argv[0]

    @property
    def id(self) -> str:
        return f"line{self.line}-" + re.sub(r"\W+", "-", self.text.partition(" ")[2])[:70]


def _words(text: str) -> list[str]:
    """The words of a shell line up to a comment or the first ``&&``, ``;``, ``|`` or ``&``."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    words: list[str] = []
    for word in lexer:
        if set(word) <= set(";&|"):
            break
        words.append(word)
    return words


def readme_examples(text: str) -> list[Example]:
    """The lossbench command lines of ``text``'s ```bash blocks, in order."""
    examples: list[Example] = []
    lines = text.splitlines()
    in_bash = False
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```"):
            in_bash = not in_bash and stripped == "```bash"
            i += 1
            continue
        start, logical = i + 1, lines[i]
        while in_bash and logical.endswith("\\") and i + 1 < len(lines):
            i += 1
            logical = logical[:-1] + " " + lines[i].strip()
        i += 1
        # A placeholder is no shell word (`<the job's overrides>`): it stands for one here.
        words = _words(PLACEHOLDER.sub("PLACEHOLDER", logical)) if in_bash else []
        if not words or words[0] not in CHECKED_MAINS:
            continue
        argv, skip = [words[0]], None
        for word in words[1:]:
            if "PLACEHOLDER" not in word:
                argv.append(word)
            elif word.startswith("ckpt_path=") and words[0] in CKPT_COMMANDS:
                argv.append(CKPT_STAND_IN)
            else:
                argv.append(word)
                skip = "placeholder"
        if skip is None and any(re.search(r"=\s*glob\(", w) for w in argv):
            skip = "glob"
        text = re.sub(r"\s#.*", "", logical).strip()  # (the README's # comments follow a space)
        examples.append(Example(start, text, tuple(argv), skip))
    return examples


def single_job(arguments: list[str]) -> list[str]:
    """A multirun's arguments as one job's: without -m, each swept value list its first value."""
    parser = OverridesParser.create()
    job: list[str] = []
    for argument in arguments:
        if argument in ("-m", "--multirun"):
            continue
        if argument.startswith("-") or "=" not in argument:
            job.append(argument)
            continue
        override = parser.parse_override(argument)
        if not override.is_sweep_override():
            job.append(argument)
        elif override.is_interval_sweep():
            job.append(f"{override.get_key_element()}={override.value().start}")
        else:
            job.append(f"{override.get_key_element()}={next(override.sweep_string_iterator())}")
    return job


EXAMPLES = readme_examples(README)


def _run_main(example: Example, argv: list[str], monkeypatch, capfd) -> tuple[int, str, str]:
    """``argv`` run by ``example``'s command in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [example.command, *argv])
    GlobalHydra.instance().clear()
    code, message = 0, ""
    try:
        CHECKED_MAINS[example.command]()
    except SystemExit as stop:
        if isinstance(stop.code, int):
            code = stop.code
        elif stop.code is not None:  # sys.exit(text): Python prints it, exit status 1
            code, message = 1, str(stop.code)
    finally:  # no Hydra state left for the tests after this one (a run's HydraConfig)
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    out, err = capfd.readouterr()
    return code, out, err + message


def refusal_of(example: Example, monkeypatch, capfd) -> str | None:
    """Why ``example``'s command refuses its line, checked without training (see the comment
    above CHECKED_MAINS), or None where it accepts it."""
    arguments = list(example.argv[1:])
    if example.command == "lossbench-report":
        try:
            report_parser().parse_args(arguments)
        except ReportError as error:  # the parser's errors are refusals
            return f"refused: {error}"
        except SystemExit as stop:
            return f"exit status {stop.code}: {capfd.readouterr().err.strip()}"
        return None
    shows = any(a.split("=", 1)[0] in SHOWS for a in arguments)
    multirun = "-m" in arguments or "--multirun" in arguments
    plain = [a for a in arguments if a not in ("-m", "--multirun")]
    job = arguments if shows else single_job(arguments)
    if not shows and job != plain:
        # Every swept value, as the command checks them before Hydra composes: it then stops
        # at the sweep in a single run (the "add -m" refusal) if nothing before did. Without
        # -m, that refusal is the line's too.
        argv = [*plain, "--cfg", "job"]
        code, out, err = _run_main(example, argv, monkeypatch, capfd)
        if not multirun or code != 2 or NEEDS_MULTIRUN not in err:
            return f"exit status {code} for {shlex.join(argv)}: {err.strip()[-2000:]}"
    argv = job if shows else [*job, "--cfg", "job"]
    code, out, err = _run_main(example, argv, monkeypatch, capfd)
    if code != 0 or "lossbench: refused" in err:
        return f"exit status {code} for {shlex.join(argv)}: {err.strip()[-2000:]}"
    if shows or multirun or example.command != "lossbench-train":
        return None
    if any(word in arguments for word in NOT_VALIDATED):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a redundant pair's warning is no refusal
            validate(OmegaConf.create(out))
    except ConfigError as error:
        if not any(words in str(error) for words in ENVIRONMENT):
            return f"lossbench.validation refuses {shlex.join(argv[:-2])}: {error}"
    return None


def _expected_refusal(example: Example) -> str | None:
    for start, words in EXPECTED_REFUSALS.items():
        if example.text.startswith(start):
            return words
    return None


def test_readme_examples_are_found_and_mostly_checked() -> None:
    checked = [e for e in EXAMPLES if e.skip is None]
    skipped = {e.line: e.skip for e in EXAMPLES if e.skip is not None}
    counts = f"{len(checked)} README lines checked, {len(skipped)} skipped: {skipped}"
    assert len(checked) >= MIN_CHECKED, counts
    assert len(skipped) <= 5, counts  # a skip rule that grew to take real lines
    for command in CHECKED_MAINS:
        assert any(e.command == command for e in checked), command


def test_readme_examples_are_parsed_as_a_shell_reads_them() -> None:
    text = """
```bash
lossbench-train -m data=wine,iris \\
    'loss.weight=[0.2,1]' x='a b',c seed='range(0,3)'   # a comment with 'quotes
lossbench-train -m experiment=compare_real && lossbench-report outputs/studies/x
lossbench-train <same overrides> ckpt_path=<file>
lossbench-eval ckpt_path=outputs/runs/<run>/checkpoints/best.ckpt split=val | tee log
make compare
```
lossbench-train not=in_a_block
```python
lossbench-train not=bash
```
"""
    found = readme_examples(text)
    assert [(e.line, e.argv, e.skip) for e in found] == [
        (3, ("lossbench-train", "-m", "data=wine,iris", "loss.weight=[0.2,1]", "x=a b,c",
             "seed=range(0,3)"), None),
        (5, ("lossbench-train", "-m", "experiment=compare_real"), None),
        (6, ("lossbench-train", "PLACEHOLDER", "ckpt_path=PLACEHOLDER"), "placeholder"),
        (7, ("lossbench-eval", CKPT_STAND_IN, "split=val"), None),
    ]  # fmt: skip
    assert single_job(list(found[0].argv[1:])) == [
        "data=wine", "loss.weight=[0.2,1]", "x=a\\ b", "seed=0",
    ]  # fmt: skip
    assert single_job(["-m", "loss=choice(focal,asl)", "optimizer.lr=interval(1e-4,1e-2)"]) == [
        "loss=focal",
        "optimizer.lr=0.0001",
    ]


def test_expected_refusals_are_readme_lines() -> None:
    for start in EXPECTED_REFUSALS:
        assert any(e.text.startswith(start) for e in EXAMPLES), f"no README line starts {start!r}"


@pytest.mark.parametrize(
    "line",
    [
        "lossbench-train data=wine loss=cross_entropy loss.label_smothing=0.1",  # a misspelt key
        "lossbench-train -m data=wine,irs seed=0,1",  # a misspelt option, swept
        "lossbench-train data=wine seed=0,1",  # a sweep without -m
        "lossbench-train data=wine head=sigmoid loss=cross_entropy",  # validate() refuses it
        "lossbench-eval ckpt_path=<file> splt=val",
        "lossbench-report outputs/studies/x --metrc test/auroc",
    ],
)
def test_a_stale_readme_line_is_refused(line: str, tmp_path, monkeypatch, capfd) -> None:
    """What the check of the README's lines refuses: a stale key, option (any swept value) or
    flag, a sweep without -m, a setup a run refuses before it starts; and it writes nothing."""
    monkeypatch.chdir(tmp_path)
    (example,) = readme_examples(f"```bash\n{line}\n```\n")
    assert refusal_of(example, monkeypatch, capfd) is not None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_readme_command_is_accepted(example: Example, tmp_path, monkeypatch, capfd) -> None:
    """The README line's command accepts it (or refuses it, where it shows a refusal)."""
    if example.skip is not None:
        pytest.skip(f"README line {example.line}: {SKIPS[example.skip]}")
    monkeypatch.chdir(tmp_path)
    refusal = refusal_of(example, monkeypatch, capfd)
    expected = _expected_refusal(example)
    where = f"README.md line {example.line}: {example.text}"
    if expected is None:
        assert refusal is None, f"{where}\n{refusal}"
    else:
        assert refusal is not None, f"{where}\nis accepted, but the README shows it refused"
        assert expected in refusal, f"{where}\n{refusal}"
    assert list(tmp_path.iterdir()) == [], f"{where}: the check wrote files"
