"""Regenerate the README's signature table from the shipped rule data.

Usage: python scripts/update_readme.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from provenance.render import markdown_table
from provenance.rules import RuleSet

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- rules:start -->", "<!-- rules:end -->"
COLUMNS = ["id", "tool", "kind", "field", "confidence", "scope", "source"]


def signature_table() -> str:
    """The Markdown table of every shipped rule."""
    return markdown_table(RuleSet.builtin().to_frame(), COLUMNS)


def updated(text: str) -> str:
    """README text with the block between the markers replaced."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{signature_table()}\n{END}{tail}"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
