"""Classification rules: the data file shipped in the package, plus user additions.

A rule says: if this regular expression matches this field of a commit, that is evidence of this
tool, of this kind (``ai`` or ``bot``), with this confidence. The shipped catalogue lives in
``provenance/data/rules.toml``; users add, disable or re-grade rules in their config.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from enum import IntEnum, StrEnum
from importlib import resources
from itertools import accumulate
from re import _constants as _C  # type: ignore[attr-defined]
from re import _parser as _P  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, Final

import ahocorasick_rs

from provenance.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd


class Confidence(IntEnum):
    """How likely a match means AI-written code. Ordered: LOW < MEDIUM < HIGH."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """Lower-case name, as used on the command line and in outputs."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Confidence:
        """Parse ``high``/``medium``/``low`` (any case)."""
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise ValueError(f"confidence must be high, medium or low, not {value!r}") from None


class Kind(StrEnum):
    """What a rule is evidence of."""

    AI = "ai"
    BOT = "bot"


class Field(StrEnum):
    """The part of a commit a rule looks at."""

    AUTHOR_NAME = "author_name"
    AUTHOR_EMAIL = "author_email"
    COMMITTER_NAME = "committer_name"
    COMMITTER_EMAIL = "committer_email"
    TRAILER = "trailer"
    SUBJECT = "subject"
    MESSAGE = "message"
    BRANCH = "branch"
    NOTES_REF = "notes_ref"


COMMITTER_FIELDS = frozenset({Field.COMMITTER_NAME, Field.COMMITTER_EMAIL})

_RULE_KEYS = {"id", "tool", "kind", "field", "pattern", "confidence", "scope", "source"}


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule. ``regex`` is ``pattern`` compiled."""

    id: str
    tool: str
    kind: Kind
    field: Field
    pattern: str
    confidence: Confidence
    scope: str = "commit"
    source: str = ""
    origin: str = "builtin"
    _regex: re.Pattern[str] | None = dc_field(default=None, init=False, repr=False,
                                               compare=False)  # fmt: skip

    def __post_init__(self) -> None:
        # The shipped catalogue is compiled on first use (tests compile every pattern); any
        # other rule is checked here so a bad pattern is reported where it was defined.
        if self.origin != "builtin":
            object.__setattr__(self, "_regex", re.compile(self.pattern))

    @property
    def regex(self) -> re.Pattern[str]:
        """``pattern`` compiled (on first use)."""
        rx = self._regex
        if rx is None:
            rx = re.compile(self.pattern)
            object.__setattr__(self, "_regex", rx)
        return rx

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], origin: str) -> Rule:
        """Build a rule from a TOML table; :class:`ConfigError` names what is wrong."""
        where = f"{origin}: rule {data.get('id', '?')!r}"
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        for key in ("id", "tool", "kind", "field", "pattern"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ConfigError(f"{where}: key {key!r} must be a non-empty string")
        try:
            kind = Kind(data["kind"])
        except ValueError:
            raise ConfigError(f"{where}: kind must be 'ai' or 'bot'") from None
        try:
            fld = Field(data["field"])
        except ValueError:
            choices = ", ".join(f.value for f in Field)
            raise ConfigError(f"{where}: field must be one of {choices}") from None
        try:
            conf = Confidence.parse(data.get("confidence", "high"))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        scope = data.get("scope", "commit")
        if scope not in ("commit", "suggestion"):
            raise ConfigError(f"{where}: scope must be 'commit' or 'suggestion'")
        try:
            return cls(
                id=data["id"], tool=data["tool"], kind=kind, field=fld,
                pattern=data["pattern"], confidence=conf, scope=scope,
                source=str(data.get("source", "")), origin=origin,
            )  # fmt: skip
        except re.error as exc:
            raise ConfigError(f"{where}: invalid pattern: {exc}") from None


# -- literal gates ------------------------------------------------------------------------------
# Python's re has no literal pre-scan for case-insensitive alternations: on long messages,
# trying every rule costs ~0.5 ms per commit. For each pattern we derive sets of lower-case
# strings such that any match contains one string of each set; a substring test on the
# lower-cased value (well under a microsecond) then rules most patterns out before the regex runs.

_MIN_LITERAL = 3  # shorter literals are too common to be worth checking

Gate = tuple[frozenset[str], ...]


@functools.lru_cache(maxsize=1024)
def _parse(pattern: str) -> Any:
    """The parsed form of ``pattern`` (shared by the three analyses below; read only)."""
    return _P.parse(pattern)


def _best(cands: list[frozenset[str]]) -> frozenset[str] | None:
    good = [c for c in cands if c]
    if not good:
        return None
    return max(good, key=lambda c: (min(map(len, c)), -len(c)))


def _seq(items: Any) -> frozenset[str] | None:
    """The best required-literal set for a sequence of parsed pattern items."""
    cands: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            cands.append(frozenset(["".join(run).lower()]))
            run.clear()

    for op, av in items:
        if op is _C.LITERAL:
            ch = chr(av)
            if ch.isascii():
                run.append(ch)
            else:
                flush()
            continue
        flush()
        sub = _item(op, av)
        if sub:
            cands.append(sub)
    flush()
    return _best(cands)


def _item(op: Any, av: Any) -> frozenset[str] | None:
    """The best required-literal set of one non-literal parsed item (a group, an alternation,
    a repeat of at least one), if it has one."""
    if op is _C.SUBPATTERN:
        return _seq(av[-1])
    if op is _C.BRANCH:
        parts = [_seq(b) for b in av[1]]
        return frozenset().union(*parts) if all(parts) else None  # type: ignore[arg-type]
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _seq(av[2])
    if op is _C.ATOMIC_GROUP:
        return _seq(av)
    return None


def required_literals(pattern: str) -> Gate:
    """Sets of lower-case strings such that every match contains one string of each set.

    Empty when nothing useful can be derived (the rule then always runs its regex).
    """
    try:
        parsed = _parse(pattern)
    except (re.error, RecursionError, AttributeError):
        return ()
    out: list[frozenset[str]] = []
    for op, av in parsed.data:
        sub = _item(op, av)
        if sub and min(map(len, sub)) >= _MIN_LITERAL:
            out.append(sub)
    best = _seq(parsed.data)
    if best and min(map(len, best)) >= _MIN_LITERAL and best not in out:
        out.append(best)
    return tuple(out)


# Characters that case-insensitive matching equates with an ASCII letter although their
# lower() is not that letter (long s, Kelvin sign, dotted/dotless i): such values skip the gate.
_SPECIAL = frozenset("\u017f\u212a\u0130\u0131")


def _special(value: str) -> bool:
    """True if ``value`` holds a character that defeats the lower-case literal tests."""
    return not value.isascii() and any(c in value for c in _SPECIAL)


def passes(gate: Gate, value: str, low: str) -> bool:
    """False only if no match of the gated pattern can occur in ``value`` (``low`` is
    ``value.lower()``)."""
    if not gate:
        return True
    if _special(value):
        return True
    return all(any(g in low for g in alts) for alts in gate)


_MAX_KEYS = 256
_SPACE = [(_C.IN, [(_C.CATEGORY, _C.CATEGORY_SPACE)])]


def _language(items: Any) -> frozenset[str] | None:
    """Every string a sequence of parsed pattern items can match, if that is a small finite
    set of plain strings (literals, alternations, optional parts, small character sets)."""
    out: frozenset[str] = frozenset([""])
    for op, av in items:
        part: frozenset[str] | None
        if op is _C.LITERAL:
            part = frozenset([chr(av)])
        elif op is _C.SUBPATTERN:
            part = _language(av[-1])
        elif op is _C.BRANCH:
            parts = [_language(b) for b in av[1]]
            part = None if any(x is None for x in parts) else frozenset().union(*parts)  # type: ignore[arg-type]
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[1] <= 1:
            inner = _language(av[2])
            part = None if inner is None else inner | ({""} if av[0] == 0 else set())
        elif op is _C.IN and all(o is _C.LITERAL for o, _ in av):
            part = frozenset(chr(c) for _, c in av)
        else:
            return None
        if part is None:
            return None
        out = frozenset(a + b for a in out for b in part)
        if len(out) > _MAX_KEYS:
            return None
    return out


def trailer_keys(pattern: str) -> frozenset[str] | None:
    """The lower-cased trailer keys a ``^Key\\s*:`` pattern can match, or None if the pattern
    is not anchored to a key drawn from a small finite set.

    A trailer line ``Key : value`` can then only match if ``Key`` (before the first colon,
    trailing space stripped, lower-cased) is in the set: one dictionary lookup instead of a
    literal scan per rule.
    """
    try:
        data = list(_parse(pattern).data)
    except (re.error, RecursionError, AttributeError):
        return None
    if not data or data[0] not in ((_C.AT, _C.AT_BEGINNING), (_C.AT, _C.AT_BEGINNING_STRING)):
        return None
    colon = next((i for i, item in enumerate(data) if item == (_C.LITERAL, ord(":"))), None)
    if colon is None:
        return None
    key = data[1:colon]
    if (
        key
        and key[-1][0] in (_C.MAX_REPEAT, _C.MIN_REPEAT)
        and key[-1][1][0] == 0
        and list(key[-1][1][2]) == _SPACE
    ):
        key = key[:-1]
    keys = _language(key)
    # Trailer lines have ASCII keys; a non-ASCII pattern key could still match one
    # case-insensitively (long s, dotless i, Kelvin sign), so such patterns are not keyed.
    if not keys or any(not k or ":" in k or k != k.strip() or not k.isascii() for k in keys):
        return None
    return frozenset(k.lower() for k in keys)


_ZERO_WIDTH = (_C.AT, _C.ASSERT, _C.ASSERT_NOT)


def _starts(items: Any) -> frozenset[str] | None:
    """Lower-case literals one of which every match of ``items`` begins with, or None."""
    items = list(items)
    i = 0
    while i < len(items) and items[i][0] in _ZERO_WIDTH:
        i += 1
    if i == len(items):
        return None
    op, av = items[i]
    if op is _C.LITERAL:
        run = []
        for op2, av2 in items[i:]:
            if op2 is not _C.LITERAL or not chr(av2).isascii():
                break
            run.append(chr(av2))
        return frozenset(["".join(run).lower()]) if run else None
    if op is _C.SUBPATTERN:
        return _starts(av[-1])
    if op is _C.BRANCH:
        parts = [_starts(b) for b in av[1]]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*parts)  # type: ignore[arg-type]
    return None


def start_literals(pattern: str) -> frozenset[str] | None:
    """Lower-case strings of at least three characters one of which every match of
    ``pattern`` starts with (after zero-width assertions), or None.

    For such a pattern, ``search`` is the first successful ``match`` at the positions where
    one of these strings occurs in the lower-cased value: a handful of ``match`` calls instead
    of a regex attempt at every position of a long message.
    """
    try:
        starts = _starts(_parse(pattern).data)
    except (re.error, RecursionError, AttributeError):
        return None
    if not starts or min(map(len, starts)) < _MIN_LITERAL:
        return None
    return starts


def search_from(regex: re.Pattern[str], value: str, low: str,
                starts: frozenset[str]) -> re.Match[str] | None:  # fmt: skip
    """``regex.search(value)`` for a pattern whose matches start with one of ``starts``
    (``low`` is ``value.lower()``, of the same length)."""
    positions: set[int] = set()
    for lit in starts:
        p = low.find(lit)
        while p != -1:
            positions.add(p)
            p = low.find(lit, p + 1)
    for p in sorted(positions):
        m = regex.match(value, p)
        if m is not None:
            return m
    return None


def _roots(literals: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For each literal, the shortest-first literals of the set that it contains (its roots):
    a literal can only be present where one of its roots is."""
    lits = sorted(set(literals), key=lambda x: (len(x), x))
    roots = [lit for i, lit in enumerate(lits) if not any(r in lit for r in lits[:i])]
    return {lit: tuple(r for r in roots if r in lit) for lit in lits}


Derived = tuple[Gate, frozenset[str] | None, frozenset[str] | None]
_DERIVED: dict[str, Derived] = {}


def derive(pattern: str) -> Derived:
    """``(required_literals, trailer_keys, start_literals)`` of ``pattern``, memoised.

    Deriving them parses the regex (most of the cost of indexing a rule set); the audit memo
    carries them (:func:`derived_table`, :func:`load_derived`) so a run that classifies a
    few new commits does not parse every rule again.
    """
    hit = _DERIVED.get(pattern)
    if hit is None:
        hit = _DERIVED[pattern] = _derive_afresh(pattern)
    return hit


def _derive_afresh(pattern: str) -> Derived:
    return required_literals(pattern), trailer_keys(pattern), start_literals(pattern)


def derived_table(rules: Iterable[Rule]) -> dict[str, Derived]:
    """:func:`derive` of every rule's pattern (marshal-able)."""
    return {r.pattern: derive(r.pattern) for r in rules}


def _is_literals(x: Any) -> bool:
    """A non-empty set of non-empty strings (what every derived literal set is)."""
    return isinstance(x, frozenset) and bool(x) and all(isinstance(s, str) and s for s in x)


def load_derived(table: Any) -> None:
    """Take a :func:`derived_table` written by this same code; anything malformed is ignored."""
    if not isinstance(table, dict):
        return
    for pattern, d in table.items():
        if (isinstance(pattern, str) and isinstance(d, tuple) and len(d) == 3
                and isinstance(d[0], tuple) and all(_is_literals(g) for g in d[0])
                and all(x is None or _is_literals(x) for x in d[1:])):  # fmt: skip
            _DERIVED.setdefault(pattern, d)


#: The catalogue's :func:`derived_table`, shipped so that indexing it parses no regex (a tenth
#: of a second per run); ``scripts/update_derived.py`` writes it, a test checks it is current.
DERIVED_FILE: Final = "data/derived.json"


#: Bump when :func:`required_literals`, :func:`trailer_keys` or :func:`start_literals` change:
#: a table from another version is ignored (and the test of the shipped one fails).
DERIVE_VERSION: Final = 1


def _rules_digest(text: str) -> str:
    return hashlib.sha256(f"{DERIVE_VERSION}\n{text}".encode()).hexdigest()


def derived_json(rules: Iterable[Rule], rules_text: str) -> str:
    """The derived literals of ``rules`` (computed afresh) as JSON, tied to the rules file
    they were made from."""
    def lits(x: frozenset[str] | None) -> list[str] | None:
        return None if x is None else sorted(x)

    fresh = {r.pattern: _derive_afresh(r.pattern) for r in rules}
    table = {p: [[sorted(g) for g in d[0]], lits(d[1]), lits(d[2])] for p, d in fresh.items()}
    doc = {"rules_sha256": _rules_digest(rules_text), "derived": table}
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def shipped_derived(rules_text: str) -> dict[str, Derived]:
    """The shipped table, if it was made from ``rules_text`` (else nothing)."""
    try:
        raw = resources.files("provenance").joinpath(DERIVED_FILE).read_text("utf-8")
        doc = json.loads(raw)
        if doc.get("rules_sha256") != _rules_digest(rules_text):
            return {}
        return {
            p: (tuple(frozenset(g) for g in d[0]),
                None if d[1] is None else frozenset(d[1]),
                None if d[2] is None else frozenset(d[2]))
            for p, d in doc["derived"].items()
        }  # fmt: skip
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}  # load_derived checks the shapes; anything else derives afresh


@dataclass(frozen=True)
class FieldIndex:
    """The rules of one field, arranged so that most values rule them all out cheaply.

    Each rule is filed under one *anchor* set of its gate (the one with the fewest
    alternatives); the anchors are reduced to *roots* (no root contains another), so a value
    costs one substring search per root. Only rules whose anchor root occurs get their full
    gate checked, and only rules passing it run their regex. Trailer rules anchored to a key
    (``^Co-authored-by\\s*:``) are looked up by the line's key instead.
    """

    rules: tuple[Rule, ...]
    gates: tuple[Gate, ...]
    roots: tuple[str, ...] = ()
    by_root: Mapping[str, tuple[int, ...]] = dc_field(default_factory=dict)
    by_key: Mapping[str, tuple[int, ...]] = dc_field(default_factory=dict)
    keyless: tuple[int, ...] = ()
    always_idx: tuple[int, ...] = ()
    starts: tuple[frozenset[str] | None, ...] = ()
    anchors: Mapping[int, frozenset[str]] = dc_field(default_factory=dict)

    @classmethod
    def build(cls, rules: tuple[Rule, ...]) -> FieldIndex:
        """Index ``rules`` (all of one field) by the literals their gates need."""
        derived = [derive(r.pattern) for r in rules]
        gs = tuple(d[0] for d in derived)
        anchors = {
            i: min(g, key=lambda alts: (len(alts), -min(map(len, alts)), sorted(alts)))
            for i, g in enumerate(gs)
            if g
        }
        root_of = _roots(lit for alts in anchors.values() for lit in alts)
        by_root: dict[str, list[int]] = {}
        for i, alts in anchors.items():
            for root in sorted({r for lit in alts for r in root_of[lit]}):
                by_root.setdefault(root, []).append(i)
        by_key: dict[str, list[int]] = {}
        keyless: list[int] = []
        for i, r in enumerate(rules):
            keys = derived[i][1] if r.field is Field.TRAILER else None
            if keys is None:
                keyless.append(i)
            for k in keys or ():
                by_key.setdefault(k, []).append(i)
        return cls(
            rules, gs,
            roots=tuple(sorted(by_root, key=lambda x: (len(x), x))),
            by_root={k: tuple(v) for k, v in by_root.items()},
            by_key={k: tuple(v) for k, v in by_key.items()},
            keyless=tuple(keyless),
            always_idx=tuple(i for i, g in enumerate(gs) if not g),
            starts=tuple(d[2] for d in derived),
            anchors=anchors,
        )  # fmt: skip

    def triggers(self) -> frozenset[str] | None:
        """Lower-case strings one of which a value must contain (once lower-cased) for any
        rule of this field to match it, unless it holds a character of :func:`_special`;
        None if some rule needs none.

        For trailer rules looked up by key, the key stands for the rule: the message holding
        the line contains it.
        """
        out: set[str] = set(self.by_key)
        for i in self.keyless:
            if i not in self.anchors:
                return None
            out |= self.anchors[i]
        return frozenset(out)

    def _gated(self, low: str) -> list[int]:
        hit: set[int] | None = None
        for root in self.roots:
            if root in low:
                if hit is None:
                    hit = set(self.always_idx)
                hit.update(self.by_root[root])
        if hit is None:
            return list(self.always_idx)
        gates = self.gates
        return [i for i in sorted(hit) if all(any(g in low for g in a) for a in gates[i])]

    def _gated_by(self, present: frozenset[str]) -> list[int]:
        hit = set(self.always_idx)
        for root in self.roots:
            if root in present:
                hit.update(self.by_root[root])
        gates = self.gates
        return [i for i in sorted(hit) if all(not a.isdisjoint(present) for a in gates[i])]

    def matches(
        self, value: str, present: frozenset[str] | None = None
    ) -> list[tuple[Rule, re.Match[str]]]:
        """Every rule of this field that matches ``value``, with its match, in rule order.

        ``present``, if given, holds every root, gate literal and start literal of this index
        that ``value.lower()`` contains (as found by :class:`MessageScan`, with other fields'
        literals besides), which saves searching for them again.
        """
        rules = self.rules
        if _special(value):
            found = ((r, r.regex.search(value)) for r in rules)
            return [(r, m) for r, m in found if m is not None]
        low = value.lower()
        out = []
        for i in self._gated(low) if present is None else self._gated_by(present):
            starts = self.starts[i]
            rx = rules[i].regex
            if starts and present is not None:
                starts = starts & present  # a match starts with one that occurs
            m = search_from(rx, value, low, starts) if starts is not None else rx.search(value)
            if m is not None:
                out.append((rules[i], m))
        return out

    def trailer_candidates(self, line: str) -> tuple[Rule, ...]:
        """The rules whose pattern may match the trailer line ``line`` (``Key: value``)."""
        key = line.split(":", 1)[0].rstrip().lower()
        idx = self.by_key.get(key, ())
        if self.keyless:
            idx = tuple(sorted((*idx, *self.keyless)))
        if not idx:
            return ()
        low = line.lower()
        return tuple(self.rules[i] for i in idx if passes(self.gates[i], line, low))


SCANNED = (Field.TRAILER, Field.SUBJECT, Field.MESSAGE)


@dataclass(frozen=True)
class Scan:
    """What :meth:`MessageScan.scan` found in a batch of messages."""

    candidates: Mapping[Field, Sequence[int]]
    """For each scanned field with rules, the messages (indexes, ascending) that may hold
    evidence for it."""
    present: Mapping[int, frozenset[str]] | None
    """For each message holding some literal, the literals of :attr:`MessageScan.literals`
    its lower-cased text contains (None if nothing was searched for)."""


class MessageScan:
    """Which of many messages may hold evidence for the trailer, subject and message rules.

    Every literal those rules need is searched for in all the messages at once: one
    Aho-Corasick pass over the lower-cased messages joined by NULs (so no match spans two
    messages; a rule set with a literal holding a NUL is not searched this way at all). A
    message holding none of a field's trigger literals (:meth:`FieldIndex.triggers`) and no
    :func:`_special` character cannot match any rule of that field, so only the few that do
    are matched rule by rule; for message rules, the literals found also stand in for the
    index's own substring tests (:meth:`FieldIndex.matches` with ``present``).
    """

    def __init__(self, index: Mapping[Field, FieldIndex]) -> None:
        triggers: dict[Field, frozenset[str]] = {}
        every: set[Field] = set()
        lits: set[str] = set()
        for fld in SCANNED:
            ix = index[fld]
            if not ix.rules:
                continue
            found = ix.triggers()
            if found is None:
                every.add(fld)
            else:
                triggers[fld] = found
                lits |= found
            if fld is Field.MESSAGE:
                lits.update(ix.roots)
                lits.update(g for gate in ix.gates for alts in gate for g in alts)
                lits.update(g for starts in ix.starts if starts for g in starts)
        if any(not lit or "\x00" in lit for lit in lits):
            every.update(triggers)  # cannot be searched for this way: match everything
            triggers, lits = {}, set()
        self.literals: tuple[str, ...] = tuple(sorted(lits))
        self.triggers: Mapping[Field, frozenset[str]] = triggers
        self.every: frozenset[Field] = frozenset(every)
        self._automaton: Any = None
        if self.literals:
            self._automaton = ahocorasick_rs.BytesAhoCorasick(
                [lit.encode("utf-8", "surrogatepass") for lit in self.literals],
                implementation=ahocorasick_rs.Implementation.DFA,
            )

    def scan(self, messages: Sequence[str]) -> Scan:
        """Search ``messages`` for every literal at once."""
        found: dict[int, set[str]] = {}
        if self._automaton is not None:
            encoded = [m.lower().encode("utf-8", "surrogatepass") for m in messages]
            starts = list(accumulate((len(e) + 1 for e in encoded), initial=0))
            lits = self.literals
            hits = self._automaton.find_matches_as_indexes(b"\x00".join(encoded), overlapping=True)
            for lit, pos, _ in hits:
                i = bisect_right(starts, pos) - 1
                if i in found:
                    found[i].add(lits[lit])
                else:
                    found[i] = {lits[lit]}
        present = {i: frozenset(v) for i, v in found.items()}
        candidates: dict[Field, Sequence[int]] = {f: range(len(messages)) for f in self.every}
        if self.triggers:
            special = [i for i, m in enumerate(messages) if not m.isascii() and _special(m)]
            for fld, trig in self.triggers.items():
                hit = {i for i, p in present.items() if not trig.isdisjoint(p)}
                candidates[fld] = sorted(hit.union(special))
        return Scan(candidates, present if self._automaton is not None else None)


class _LazyIndex(Mapping[Field, FieldIndex]):
    """Field indexes built when first asked for: a run that finds every commit's evidence in
    the cache only ever needs the branch and notes ones."""

    def __init__(self, by_field: Mapping[Field, tuple[Rule, ...]]) -> None:
        self._by_field = by_field
        self._built: dict[Field, FieldIndex] = {}

    def __getitem__(self, fld: Field) -> FieldIndex:
        hit = self._built.get(fld)
        if hit is None:
            hit = self._built[fld] = FieldIndex.build(self._by_field[fld])
        return hit

    def __iter__(self) -> Iterator[Field]:
        return iter(self._by_field)

    def __len__(self) -> int:
        return len(self._by_field)


@dataclass(frozen=True)
class RuleSet:
    """An ordered, immutable collection of rules, indexed by field."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        ids = [r.id for r in self.rules]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise ConfigError(f"duplicate rule id {dup!r}")
        by_field: dict[Field, tuple[Rule, ...]] = {
            f: tuple(r for r in self.rules if r.field is f) for f in Field
        }
        object.__setattr__(self, "by_field", by_field)
        object.__setattr__(self, "order", {r.id: i for i, r in enumerate(self.rules)})

    by_field: Mapping[Field, tuple[Rule, ...]] = dc_field(init=False, repr=False, compare=False)
    order: Mapping[str, int] = dc_field(init=False, repr=False, compare=False)

    @functools.cached_property
    def index(self) -> Mapping[Field, FieldIndex]:
        """The :class:`FieldIndex` of each field (each built on first use)."""
        return _LazyIndex(self.by_field)

    @functools.cached_property
    def scan(self) -> MessageScan:
        """The :class:`MessageScan` of the trailer, subject and message rules."""
        return MessageScan(self.index)

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def to_frame(self) -> pd.DataFrame:
        """The rules as a table (id, tool, kind, field, confidence, scope, origin, source,
        pattern), one row per rule, in order."""
        cols = ("id", "tool", "kind", "field", "confidence", "scope", "origin", "source", "pattern")
        data = [
            (r.id, r.tool, r.kind.value, r.field.value, r.confidence.label, r.scope, r.origin,
             r.source, r.pattern)
            for r in self.rules
        ]  # fmt: skip
        return pd.DataFrame(data, columns=list(cols)).astype("string")

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return next((r for r in self.rules if r.id == rule_id), None)

    @classmethod
    def from_toml(cls, text: str, origin: str) -> RuleSet:
        """Parse a rules file (``[[rule]]`` tables)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{origin}: invalid TOML: {exc}") from None
        return cls(tuple(Rule.from_mapping(r, origin) for r in data.get("rule", [])))

    @classmethod
    def builtin(cls) -> RuleSet:
        """The catalogue shipped with provenance."""
        text = resources.files("provenance").joinpath("data/rules.toml").read_text("utf-8")
        load_derived(shipped_derived(text))
        return cls.from_toml(text, "builtin")

    def customised(
        self,
        *,
        add: Iterable[Rule] = (),
        disable: Iterable[str] = (),
        confidence: Mapping[str, Confidence] | None = None,
        origin: str = "config",
    ) -> RuleSet:
        """A new rule set with rules added, disabled by id, or re-graded."""
        known = {r.id for r in self.rules}
        disabled = set(disable)
        for rid in sorted(disabled - known):
            raise ConfigError(f"{origin}: disable names unknown rule id {rid!r}")
        overrides = dict(confidence or {})
        for rid in sorted(set(overrides) - known):
            raise ConfigError(f"{origin}: confidence names unknown rule id {rid!r}")
        kept = [
            replace(r, confidence=overrides[r.id]) if r.id in overrides else r
            for r in self.rules
            if r.id not in disabled
        ]
        return RuleSet((*kept, *add))
