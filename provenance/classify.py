"""The classifier: a pure function from one commit's metadata and a rule set to a verdict.

No I/O, no git. Every rule is tried; the verdict keeps all the evidence (including hints below
the threshold) so ``provenance explain`` can show why.

Decision, in order:

1. **ai** if any ``ai`` rule at or above ``min_confidence`` matched a *decisive* field. Committer
   fields are not decisive: an agent identity that only committed a human's work is evidence,
   not a verdict. An AI trace beats a bot identity.
2. **bot** if any ``bot`` rule matched the author (any confidence).
3. **human** otherwise: no evidence of AI, which is not proof of its absence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from typing import Final, Protocol

from provenance.rules import COMMITTER_FIELDS, Confidence, Field, Kind, Rule, RuleSet

_TRAILER_LINE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\s*:\s*\S")


class CommitClass(StrEnum):
    """The three classes every report keeps apart."""

    AI = "ai"
    HUMAN = "human"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that matched, and the text it matched."""

    rule_id: str
    tool: str
    kind: Kind
    field: Field
    confidence: Confidence
    matched: str
    model: str | None
    scope: str
    decisive: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of one commit.

    ``tool`` is the primary tool (strongest counted evidence); ``tools``/``models`` list all the
    counted ones. ``hint`` is the strongest AI evidence that did not count (below the threshold
    or not decisive), for commits that are not classified ai.
    """

    cls: CommitClass
    tool: str
    tools: tuple[str, ...]
    models: tuple[str, ...]
    confidence: Confidence | None
    evidence: tuple[Evidence, ...]
    counted: tuple[str, ...]
    hint: Confidence | None
    scope: str

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Ids of the rules that decided the verdict."""
        return self.counted


class CommitMeta(Protocol):
    """The metadata the classifier reads (a :class:`~provenance.gitlog.CommitRecord` fits)."""

    @property
    def author_name(self) -> str: ...
    @property
    def author_email(self) -> str: ...
    @property
    def committer_name(self) -> str: ...
    @property
    def committer_email(self) -> str: ...
    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """A plain commit description, for classifying text that is not (yet) in a repository."""

    message: str
    author_name: str = "Jane Doe"
    author_email: str = "jane@example.com"
    committer_name: str = ""
    committer_email: str = ""

    def __post_init__(self) -> None:
        if not self.committer_name:
            object.__setattr__(self, "committer_name", self.author_name)
        if not self.committer_email:
            object.__setattr__(self, "committer_email", self.author_email)


def trailer_lines(message: str) -> list[str]:
    """Every line of ``message`` shaped like ``Key: value``, stripped, wherever it stands."""
    out = []
    for line in message.splitlines():
        if ":" in line:
            s = line.strip()
            if _TRAILER_LINE.match(s):
                out.append(s)
    return out


def _evidence(rule: Rule, m: re.Match[str]) -> Evidence:
    model = None
    if "model" in rule.regex.groupindex:
        g = m.group("model")
        model = g.strip() if g and g.strip() else None
    return Evidence(
        rule_id=rule.id,
        tool=rule.tool,
        kind=rule.kind,
        field=rule.field,
        confidence=rule.confidence,
        matched=m.group(0).strip() or m.string.strip(),
        model=model,
        scope=rule.scope,
        decisive=rule.field not in COMMITTER_FIELDS,
    )


def _match_value(
    rules: RuleSet, fld: Field, value: str, present: frozenset[str] | None = None
) -> list[Evidence]:
    index = rules.index[fld]
    if fld is Field.TRAILER:
        found = ((r, r.regex.search(value)) for r in index.trailer_candidates(value))
        return [_evidence(r, m) for r, m in found if m is not None]
    return [_evidence(r, m) for r, m in index.matches(value, present)]


def collect_evidence(
    meta: CommitMeta,
    rules: RuleSet,
    *,
    branch: str | None = None,
    notes_refs: Sequence[str] = (),
    cache: dict[tuple[Field, str], list[Evidence]] | None = None,
) -> list[Evidence]:
    """Every rule of ``rules`` that matches the commit, in rule-set order.

    ``cache`` (optional, owned by the caller, valid for one rule set) memoises the matches of
    values that repeat across commits (identities, trailer lines, subjects, branches).
    """
    msg = meta.message
    by_field = rules.by_field
    found: list[Evidence] = []

    def match(fld: Field, value: str) -> None:
        if cache is None or fld is Field.MESSAGE:
            found.extend(_match_value(rules, fld, value))
            return
        key = (fld, value)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = _match_value(rules, fld, value)
        if hit:
            found.extend(hit)

    for fld, value in (
        (Field.AUTHOR_NAME, meta.author_name),
        (Field.AUTHOR_EMAIL, meta.author_email),
        (Field.COMMITTER_NAME, meta.committer_name),
        (Field.COMMITTER_EMAIL, meta.committer_email),
    ):
        if by_field[fld]:
            match(fld, value)
    if by_field[Field.TRAILER]:
        for line in trailer_lines(msg):
            match(Field.TRAILER, line)
    if by_field[Field.SUBJECT]:
        match(Field.SUBJECT, msg.split("\n", 1)[0].strip())
    if by_field[Field.MESSAGE]:
        match(Field.MESSAGE, msg)
    if branch and by_field[Field.BRANCH]:
        match(Field.BRANCH, branch)
    if by_field[Field.NOTES_REF]:
        for ref in notes_refs:
            match(Field.NOTES_REF, ref)
    if len(found) > 1:
        found.sort(key=lambda e: rules.order[e.rule_id])
    return found


_IDENTITIES = (
    (Field.AUTHOR_NAME, attrgetter("author_name")),
    (Field.AUTHOR_EMAIL, attrgetter("author_email")),
    (Field.COMMITTER_NAME, attrgetter("committer_name")),
    (Field.COMMITTER_EMAIL, attrgetter("committer_email")),
)


def collect_evidence_many(
    metas: Sequence[CommitMeta],
    rules: RuleSet,
    *,
    cache: dict[tuple[Field, str], list[Evidence]] | None = None,
) -> list[tuple[Evidence, ...]]:
    """:func:`collect_evidence` of each commit (no branch, no notes refs), for many at once.

    The same evidence (as tuples), found faster: identities are matched once per distinct
    value, and the messages are searched together for every literal the trailer, subject and
    message rules need (:class:`~provenance.rules.MessageScan`), so only the few holding one
    are matched rule by rule.
    """
    if cache is None:
        cache = {}
    found: dict[int, list[Evidence]] = {}

    def cached(fld: Field, value: str) -> list[Evidence]:
        key = (fld, value)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = _match_value(rules, fld, value)
        return hit

    def add(i: int, ev: list[Evidence]) -> None:
        if ev:
            if i in found:
                found[i].extend(ev)
            else:
                found[i] = list(ev)

    for fld, get in _IDENTITIES:
        if not rules.by_field[fld]:
            continue
        values: list[str] = list(map(get, metas))
        hits = {v: h for v in set(values) if (h := cached(fld, v))}
        if hits:
            for i, v in enumerate(values):
                if v in hits:
                    add(i, hits[v])
    msgs = [m.message for m in metas]
    scan = rules.scan.scan(msgs)
    for i in scan.candidates.get(Field.TRAILER, ()):
        for line in trailer_lines(msgs[i]):
            add(i, cached(Field.TRAILER, line))
    for i in scan.candidates.get(Field.SUBJECT, ()):
        add(i, cached(Field.SUBJECT, msgs[i].split("\n", 1)[0].strip()))
    none: frozenset[str] = frozenset()
    present = scan.present
    for i in scan.candidates.get(Field.MESSAGE, ()):
        found_here = None if present is None else present.get(i, none)
        add(i, _match_value(rules, Field.MESSAGE, msgs[i], found_here))
    out: list[tuple[Evidence, ...]] = [()] * len(msgs)
    order = rules.order
    for i, ev in found.items():
        out[i] = tuple(sorted(ev, key=lambda e: order[e.rule_id]) if len(ev) > 1 else ev)
    return out


def branch_evidence(
    branch: str, rules: RuleSet, cache: dict[tuple[Field, str], list[Evidence]] | None = None
) -> list[Evidence]:
    """The evidence of the branch rules alone for a merged branch name (memoised in
    ``cache`` like :func:`collect_evidence`)."""
    if not branch or not rules.by_field[Field.BRANCH]:
        return []
    if cache is None:
        return _match_value(rules, Field.BRANCH, branch)
    key = (Field.BRANCH, branch)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _match_value(rules, Field.BRANCH, branch)
    return hit


def notes_evidence(
    refs: Sequence[str],
    rules: RuleSet,
    cache: dict[tuple[Field, str], list[Evidence]] | None = None,
) -> list[Evidence]:
    """The evidence of the notes-ref rules alone for the notes refs holding a commit's note
    (in rule order, memoised in ``cache`` like :func:`collect_evidence`)."""
    if not rules.by_field[Field.NOTES_REF]:
        return []
    found: list[Evidence] = []
    for ref in refs:
        key = (Field.NOTES_REF, ref)
        hit = None if cache is None else cache.get(key)
        if hit is None:
            hit = _match_value(rules, Field.NOTES_REF, ref)
            if cache is not None:
                cache[key] = hit
        found.extend(hit)
    if len(found) > 1:
        found.sort(key=lambda e: rules.order[e.rule_id])
    return found


def _unique(items: Sequence[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(filter(None, items)))


def decide(evidence: Sequence[Evidence], min_confidence: Confidence) -> Verdict:
    """Turn collected evidence into a verdict at the given threshold."""
    ev = tuple(evidence)
    ai = [e for e in ev if e.kind is Kind.AI]
    counted = [e for e in ai if e.decisive and e.confidence >= min_confidence]
    if counted:
        counted.sort(key=lambda e: -e.confidence)
        return Verdict(
            cls=CommitClass.AI,
            tool=counted[0].tool,
            tools=_unique([e.tool for e in counted]),
            models=_unique([e.model for e in counted]),
            confidence=counted[0].confidence,
            evidence=ev,
            counted=_unique([e.rule_id for e in counted]),
            hint=None,
            scope="suggestion" if all(e.scope == "suggestion" for e in counted) else "commit",
        )
    # Committer-only evidence never counts at any threshold, so it is no hint of what a lower
    # threshold would count.
    hint = max((e.confidence for e in ai if e.decisive), default=None)
    bots = [e for e in ev if e.kind is Kind.BOT and e.decisive]
    if any(e.confidence > Confidence.LOW for e in bots):
        # A named bot makes the generic "[bot]" fallback redundant.
        bots = [e for e in bots if e.confidence > Confidence.LOW]
    if bots:
        bots.sort(key=lambda e: -e.confidence)
        return Verdict(
            cls=CommitClass.BOT,
            tool=bots[0].tool,
            tools=_unique([e.tool for e in bots]),
            models=(),
            confidence=bots[0].confidence,
            evidence=ev,
            counted=_unique([e.rule_id for e in bots]),
            hint=hint,
            scope="",
        )
    return Verdict(CommitClass.HUMAN, "", (), (), None, ev, (), hint, "")


NO_EVIDENCE: Final = Verdict(CommitClass.HUMAN, "", (), (), None, (), (), None, "")
"""What :func:`decide` makes of no evidence, at any threshold."""


def classify_many(
    metas: Sequence[CommitMeta],
    rules: RuleSet,
    *,
    min_confidence: Confidence = Confidence.HIGH,
    cache: dict[tuple[Field, str], list[Evidence]] | None = None,
) -> list[Verdict]:
    """:func:`classify` of each commit (no branch, no notes refs), for many at once."""
    return [
        decide(ev, min_confidence) if ev else NO_EVIDENCE
        for ev in collect_evidence_many(metas, rules, cache=cache)
    ]


def classify(
    meta: CommitMeta,
    rules: RuleSet,
    *,
    min_confidence: Confidence = Confidence.HIGH,
    branch: str | None = None,
    notes_refs: Sequence[str] = (),
    cache: dict[tuple[Field, str], list[Evidence]] | None = None,
) -> Verdict:
    """Classify one commit as ai, human or bot, with the evidence behind the verdict."""
    found = collect_evidence(meta, rules, branch=branch, notes_refs=notes_refs, cache=cache)
    return decide(found, min_confidence)


_MERGE_PR = re.compile(r"^Merge pull request #\d+ from [^/\s]+/(?P<branch>\S+)")
_MERGE_BRANCH = re.compile(r"^Merge (?:remote-tracking )?branch '(?P<branch>[^']+)'")


def merged_branch(subject: str) -> str | None:
    """The branch a merge commit's subject names, GitHub or plain git style."""
    for rx in (_MERGE_PR, _MERGE_BRANCH):
        m = rx.match(subject)
        if m:
            b = m.group("branch")
            return b.removeprefix("origin/")
    return None
