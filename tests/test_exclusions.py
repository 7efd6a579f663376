"""Path categories: the ordered alternation and its fast "any glob?" pre-test give exactly the
first matching glob, as trying the globs one by one in order does."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.exclusions import DEFAULT_EXCLUDES, PathFilter, glob_to_regex

USER = ("/docs/**", "*.gen.go", "build/", "a/**/b", "[!x]y?.txt", "**/fixtures/**")
GLOBS = [("user", g) for g in USER] + [(c, g) for c, gs in DEFAULT_EXCLUDES.items() for g in gs]
PIECES = sorted({seg for _, g in GLOBS for seg in re.split(r"[/*?\[\]!]+", g) if seg} | {
    "src", "x", "docs", "a", "b", "vendor", "node_modules", "dist", "yy.txt", "main.c"})


def one_by_one(path: str) -> str:
    for category, glob in GLOBS:
        if re.match(glob_to_regex(glob), path):
            return category
    return ""


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5), st.sampled_from(["", "/"]))
def test_category_is_the_first_matching_glob(parts: list[str], trail: str) -> None:
    path = "/".join(parts) + trail
    pf = PathFilter(exclude=USER)
    assert pf.category(path) == one_by_one(path)


def test_examples() -> None:
    pf = PathFilter(exclude=USER)
    assert pf.category("node_modules/vendor/x.js") == one_by_one("node_modules/vendor/x.js") != ""
    assert pf.category("docs/guide.md") == "user"
    assert pf.category("src/docs/guide.md") == ""
    assert pf.category("src/main.c") == ""
    assert PathFilter(defaults=False).category("vendor/x") == ""


def test_warm_categorises_ahead_and_changes_no_answer() -> None:
    paths = ["docs/guide.md", "src/main.c", "node_modules/x.js", "src/main.c", "yy.txt"]
    pf = PathFilter(exclude=USER)
    assert pf.warm(paths[:2]) == 2
    assert pf.warm(paths, 2) == len(paths)
    assert pf.warm(paths, len(paths)) == len(paths)  # nothing new: nothing to do
    assert set(pf._cache) == set(paths)
    assert [pf.category(p) for p in paths] == [one_by_one(p) for p in paths]
    assert [pf.category(p) for p in paths] == [PathFilter(exclude=USER).category(p) for p in paths]
