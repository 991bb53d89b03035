"""The README's contents list names its sections and subsections, in order, with links that
GitHub resolves: a section renamed, added or moved shows up here, not as a dead link."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

#: The line that opens the contents list; the list ends at its first blank line after an item.
CONTENTS = "**Contents**"


def _anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but ``-`` and ``_`` dropped, each
    space a ``-``.

    >>> _anchor("Compare loss setups: `make compare`")
    'compare-loss-setups-make-compare'
    """
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _headings(text: str) -> list[tuple[int, str]]:
    """The ``##`` and ``###`` headings of ``text`` outside code blocks, as (level, title)."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"^(#{2,3}) (.+)$", line)):
            found.append((len(match.group(1)), match.group(2)))
    return found


def _contents(text: str) -> list[str]:
    """The item lines of the contents list that follows :data:`CONTENTS`."""
    lines = text.splitlines()
    start = lines.index(CONTENTS) + 1
    items = []
    for line in lines[start:]:
        if not line.strip():
            if items:
                break
            continue
        items.append(line)
    return items


def test_contents_lists_every_section_in_order() -> None:
    text = README.read_text(encoding="utf-8")
    expected = [
        f"{'  ' * (level - 2)}- [{title}](#{_anchor(title)})" for level, title in _headings(text)
    ]
    assert _contents(text) == expected


def test_every_heading_anchor_is_unique() -> None:
    anchors = [_anchor(title) for _, title in _headings(README.read_text(encoding="utf-8"))]
    assert len(anchors) == len(set(anchors)), "two headings share an anchor: GitHub adds -1"
