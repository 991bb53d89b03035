"""Rewrite the compatibility table and the table of data sets in README.md from the registries.

python scripts/readme_table.py          # rewrite in place
python scripts/readme_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossbench.compatibility import compatibility_table
from lossbench.data.datasets import datasets_table

README = Path(__file__).resolve().parents[1] / "README.md"
TABLES = {"compatibility-table": compatibility_table, "datasets-table": datasets_table}


def render(text: str) -> str:
    for name, table in TABLES.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{table()}\n{end}{tail}"
    return text


def main() -> int:
    text = README.read_text()
    new = render(text)
    if "--check" in sys.argv:
        if new != text:
            print(
                "README.md's tables are out of date: run python scripts/readme_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
