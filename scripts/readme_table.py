"""Rewrite the compatibility table in README.md from the registries.

python scripts/readme_table.py          # rewrite in place
python scripts/readme_table.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossbench.compatibility import compatibility_table

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- compatibility-table:start -->", "<!-- compatibility-table:end -->"


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{compatibility_table()}\n{END}{tail}"


def main() -> int:
    text = README.read_text()
    new = render(text)
    if "--check" in sys.argv:
        if new != text:
            print(
                "README.md's compatibility table is out of date: run "
                "python scripts/readme_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
