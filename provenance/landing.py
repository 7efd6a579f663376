"""Landing: when did each commit reach the mainline?

The mainline is the first-parent chain of the target. A commit's landing commit is the earliest
mainline commit whose history contains it. One linear pass over the DAG: walk the mainline from
its root to the tip; each mainline commit claims itself and, through its non-first parents, every
commit not yet claimed. Because older mainline commits are processed first, everything reachable
from a mainline commit's first parent is already claimed when the commit is reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def mainline(tip: str, parents: Mapping[str, Sequence[str]]) -> list[str]:
    """The first-parent chain from ``tip`` back to its root (newest first).

    The chain stops at a commit whose parents are unknown (the edge of a shallow history or of
    a range).
    """
    chain = []
    sha: str | None = tip
    while sha is not None and sha in parents:
        chain.append(sha)
        ps = parents[sha]
        sha = ps[0] if ps else None
    return chain


def landing_commits(tip: str, parents: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Map every commit reachable from ``tip`` (within ``parents``) to its landing commit.

    ``parents`` maps each known commit to its parent ids; parents missing from the mapping
    (outside a range, or cut off by a shallow clone) are treated as the boundary.
    """
    landed: dict[str, str] = {}
    _claim(reversed(mainline(tip, parents)), parents, landed)
    return landed


def extend_landing(
    landed: Mapping[str, str], old_tip: str, tip: str, parents: Mapping[str, Sequence[str]]
) -> dict[str, str] | None:
    """:func:`landing_commits` of ``tip``, given ``landed``, that of ``old_tip``.

    When ``old_tip`` is on ``tip``'s first-parent chain, the mainline up to it is the same, so
    every commit it landed keeps its landing commit and only the mainline commits after it are
    walked. None if ``old_tip`` is not on that chain (the history moved another way).
    """
    chain = []
    sha: str | None = tip
    while sha != old_tip:
        if sha is None or sha not in parents or sha in landed:
            return None
        chain.append(sha)
        ps = parents[sha]
        sha = ps[0] if ps else None
    out = dict(landed)
    _claim(reversed(chain), parents, out)
    return out


def _claim(
    mainline_oldest_first: Iterable[str],
    parents: Mapping[str, Sequence[str]],
    landed: dict[str, str],
) -> None:
    for m in mainline_oldest_first:
        landed[m] = m
        stack = [p for p in parents[m][1:] if p in parents and p not in landed]
        while stack:
            c = stack.pop()
            if c in landed:
                continue
            landed[c] = m
            stack.extend(p for p in parents[c] if p in parents and p not in landed)
