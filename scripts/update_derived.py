"""Regenerate ``provenance/data/derived.json``: the literals derived from each shipped rule.

Usage: python scripts/update_derived.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

from provenance import rules

DATA = Path(rules.__file__).resolve().parent / "data"


def current() -> str:
    """The table for the rules file as it is now."""
    text = (DATA / "rules.toml").read_text("utf-8")
    return rules.derived_json(rules.RuleSet.from_toml(text, "builtin"), text)


def main() -> int:
    path = DATA / "derived.json"
    new = current()
    if "--check" in sys.argv:
        return 0 if path.exists() and path.read_text("utf-8") == new else 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
