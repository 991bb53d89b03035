"""Rewrite the tables in README.md that are generated from the registries.

python scripts/readme_table.py          # rewrite in place
python scripts/readme_table.py --check  # exit 1 if README.md is out of date

Each table sits between ``<!-- <name>:start -->`` and ``<!-- <name>:end -->`` markers:
``compatibility-table`` (task x head x loss, from :mod:`lossbench.compatibility`),
``datasets-table`` (the data set registry) and ``loss-parameters`` (every loss's parameters,
from their declarations in the loss registry).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lossbench.compatibility import compatibility_table
from lossbench.data.datasets import datasets_table
from lossbench.losses import LOSSES
from lossbench.losses.registry import LEGACY_REDUCTION, REDUCTION
from lossbench.params import Param

README = Path(__file__).resolve().parents[1] / "README.md"


def loss_parameter_table() -> str:
    """One row per loss parameter: default, valid values and meaning, from the declarations.

    ``reduction`` (every loss) and torch's deprecated ``size_average`` / ``reduce`` pair (the
    losses marked ``legacy``) are listed once, first.
    """
    lines = [
        "| loss | parameter | default | valid values | what it does |",
        "|---|---|---|---|---|",
    ]

    def row(loss: str, param: Param) -> str:
        return (
            f"| {loss} | `{param.name}` | `{param.default_text()}` | {param.expected()} "
            f"| {param.doc} |"
        )

    legacy = ", ".join(f"`{name}`" for name, spec in LOSSES.items() if spec.legacy_reduction)
    lines.append(row("every loss", REDUCTION))
    lines += [row(f"{legacy} (legacy)", param) for param in LEGACY_REDUCTION]
    for name, spec in LOSSES.items():
        lines += [row(f"`{name}`", param) for param in spec.params]
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "compatibility-table": compatibility_table,
    "datasets-table": datasets_table,
    "loss-parameters": loss_parameter_table,
}


def render(text: str) -> str:
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{table()}\n{end}{tail}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/readme_table.py",
        description="Rewrite the tables in README.md that are generated from lossbench's "
        "registries (compatibility, data sets, loss parameters).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if README.md's tables are out of date",
    )
    args = parser.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(
                "README.md's tables are out of date: run python scripts/readme_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
