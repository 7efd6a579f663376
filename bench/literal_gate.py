"""A literal gate for classification rules (proposed for provenance.rules / classify).

For each rule pattern, :func:`required_literals` finds a set of lower-case strings such that
any match of the pattern implies that at least one of them occurs in ``value.lower()`` (for
an ASCII ``value``). Checking ``in`` on a lower-cased message costs well under a microsecond;
Python's ``re`` has no such literal pre-scan for case-insensitive alternations, and on git/git's
long messages the message rules cost ~0.5 ms per commit. ``install()`` patches a
:class:`~provenance.rules.RuleSet`'s matching in this process only, to measure the gain.
"""

from __future__ import annotations

import re
from re import _constants as C
from re import _parser as P
from typing import Any

_MIN = 3  # shorter literals are too common to be worth checking


def _best(cands: list[frozenset[str]]) -> frozenset[str] | None:
    good = [c for c in cands if c]
    if not good:
        return None
    return max(good, key=lambda c: (min(map(len, c)), -len(c)))


def _seq(items: Any) -> frozenset[str] | None:
    """Best required-literal set for a sequence of parsed items."""
    cands: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            cands.append(frozenset(["".join(run).lower()]))
            run.clear()

    for op, av in items:
        if op is C.LITERAL:
            ch = chr(av)
            if not ch.isascii():
                flush()
                continue
            run.append(ch)
            continue
        flush()
        if op is C.SUBPATTERN:
            sub = _seq(av[-1])
            if sub:
                cands.append(sub)
        elif op is C.BRANCH:
            parts = [_seq(b) for b in av[1]]
            if all(parts):
                cands.append(frozenset().union(*parts))  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            sub = _seq(av[2])
            if sub:
                cands.append(sub)
        elif op is C.ATOMIC_GROUP:
            sub = _seq(av)
            if sub:
                cands.append(sub)
    flush()
    return _best(cands)


def _all(items: Any) -> list[frozenset[str]]:
    """Every useful required set of the top-level sequence (a match satisfies each)."""
    out = []
    for op, av in items:
        sub: frozenset[str] | None = None
        if op is C.SUBPATTERN:
            sub = _seq(av[-1])
        elif op is C.BRANCH:
            parts = [_seq(b) for b in av[1]]
            sub = frozenset().union(*parts) if all(parts) else None  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            sub = _seq(av[2])
        if sub and min(map(len, sub)) >= _MIN:
            out.append(sub)
    best = _seq(items)
    if best and min(map(len, best)) >= _MIN and best not in out:
        out.append(best)
    return out


def required_literals(pattern: str) -> tuple[frozenset[str], ...]:
    """Sets of lower-case strings: every match contains one string of each set."""
    try:
        parsed = P.parse(pattern)
    except re.error:
        return ()
    return tuple(_all(parsed.data))


# Characters that IGNORECASE matching equates with an ASCII letter although their lower()
# is not that letter: a value containing one skips the gate.
_SPECIAL = frozenset("\u017f\u212a\u0130\u0131")


def passes(gate: tuple[frozenset[str], ...], value: str, low: str) -> bool:
    """False only if no match of the gated pattern can occur in ``value``."""
    if not gate or (not value.isascii() and not _SPECIAL.isdisjoint(value)):
        return True
    return all(any(g in low for g in alts) for alts in gate)


def install() -> None:
    """Patch ``provenance.classify._match_value`` to check each rule's gate first."""
    import importlib

    classify = importlib.import_module("provenance.classify")  # the package shadows the name
    _evidence = classify._evidence

    gates: dict[str, tuple[frozenset[str], ...]] = {}

    def match_value(rules: Any, fld: Any, value: str) -> list[Any]:
        low = value.lower()
        found = []
        for rule in rules.by_field[fld]:
            if rule.id not in gates:
                gates[rule.id] = required_literals(rule.pattern)
            if not passes(gates[rule.id], value, low):
                continue
            m = rule.regex.search(value)
            if m is not None:
                found.append(_evidence(rule, m))
        return found

    classify._match_value = match_value
