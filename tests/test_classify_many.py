"""Classifying many commits at once gives exactly what classifying them one by one gives.

``collect_evidence_many`` searches all messages together for the literals the rules need
(:class:`~provenance.rules.MessageScan`) and matches identities once per distinct value; every
check here compares it with ``collect_evidence`` called per commit, on the catalogue's
examples, on random variations of them, and on rule sets that defeat the search.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.repos import build_core
from provenance import audit, frame
from provenance.classify import (
    NO_EVIDENCE,
    CommitInfo,
    classify,
    classify_many,
    collect_evidence,
    collect_evidence_many,
    decide,
)
from provenance.rules import Confidence, Field, RuleSet
from tests.test_rule_index import EXAMPLES, RULES, meta_of, mutate


def one_by_one(metas: list[CommitInfo], rules: RuleSet = RULES) -> list[tuple[Any, ...]]:
    return [tuple(collect_evidence(m, rules)) for m in metas]


def test_every_example_at_once_equals_one_by_one() -> None:
    metas = [meta_of(ex) for ex in EXAMPLES]
    expected = one_by_one(metas)
    assert collect_evidence_many(metas, RULES) == expected
    # Shared cache, reused for a second batch: the same again.
    cache: dict[Any, Any] = {}
    assert collect_evidence_many(metas, RULES, cache=cache) == expected
    assert collect_evidence_many(metas[::-1], RULES, cache=cache) == expected[::-1]
    # The examples that fire do fire in the batch (the comparison is not vacuous).
    fired = {e.rule_id for ev in collect_evidence_many(metas, RULES) for e in ev}
    assert {ex["rule"] for ex in EXAMPLES if ex["fires"] and "branch" not in ex
            and "notes_refs" not in ex} <= fired  # fmt: skip


def test_a_batch_of_nothing_and_of_empty_messages() -> None:
    assert collect_evidence_many([], RULES) == []
    assert collect_evidence_many([CommitInfo(""), CommitInfo("\n")], RULES) == [(), ()]


def test_verdicts_at_once_equal_classify() -> None:
    metas = [meta_of(ex) for ex in EXAMPLES]
    for level in Confidence:
        assert classify_many(metas, RULES, min_confidence=level) == [
            classify(m, RULES, min_confidence=level) for m in metas
        ]
    assert decide((), Confidence.LOW) == decide((), Confidence.HIGH) == NO_EVIDENCE


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(EXAMPLES), min_size=1, max_size=12),
    st.integers(0, 2**32 - 1),
    st.lists(st.text(max_size=40), max_size=12),
)
def test_variations_at_once_equal_one_by_one(
    exs: list[dict[str, Any]], seed: int, extras: list[str]
) -> None:
    rng = random.Random(seed)
    metas = []
    for n, ex in enumerate(exs):
        msg = mutate(ex["message"], rng)
        if n < len(extras):
            msg = extras[n] + rng.choice(["\n", "", "\r\n", "\u2028"]) + msg
        metas.append(meta_of(ex, msg))
    assert collect_evidence_many(metas, RULES) == one_by_one(metas)


def test_lone_surrogates_and_nuls_in_messages() -> None:
    metas = [
        CommitInfo("Fix \udc80\n\nCo-authored-by: Claude <noreply@anthropic.com>\n"),
        CommitInfo("a\x00b\n\nGenerated with Claude Code\x00\n"),
        CommitInfo("Written with \ud800 ChatGPT.\n"),
    ]
    assert collect_evidence_many(metas, RULES) == one_by_one(metas)
    assert all(collect_evidence_many(metas, RULES)[:2])


def test_scan_finds_exactly_the_literals_present() -> None:
    msgs = [meta_of(ex).message for ex in EXAMPLES] + ["nothing here", "MADE WITH CURSOR"]
    scan = RULES.scan.scan(msgs)
    for i, m in enumerate(msgs):
        low = m.lower()
        assert scan.present is not None
        assert scan.present.get(i, frozenset()) == {
            lit for lit in RULES.scan.literals if lit in low
        }
    for fld, idx in scan.candidates.items():
        trig = RULES.scan.triggers[fld]
        assert list(idx) == [i for i, m in enumerate(msgs) if any(t in m.lower() for t in trig)]


def _with(toml: str) -> RuleSet:
    return RULES.customised(add=RuleSet.from_toml(toml, "test").rules)


def _rule(rid: str, fld: str, pattern: str) -> str:
    return (f'[[rule]]\nid = "{rid}"\ntool = "X"\nkind = "ai"\nfield = "{fld}"\n'
            f"pattern = '''{pattern}'''\nconfidence = \"high\"\n")  # fmt: skip


@pytest.mark.parametrize(
    ("fld", "pattern", "hit", "miss"),
    [
        # No literal at all: every message is a candidate for its field.
        ("message", r"(?s)^.{0,12}\n\n\d{3}$", "Short\n\n123", "Short\n\n12x"),
        ("subject", r"^\W+$", "!!!", "Fix it"),
        # A trailer rule with neither a finite key nor a literal.
        ("trailer", r"(?i)^[a-z]+-[a-z]{2}\s*:\s*\d+$", "Fix\n\nPaired-by: 42\n",
         "Fix\n\nPaired-by: x\n"),
        # A literal holding a NUL cannot be searched for in NUL-joined messages.
        ("message", r"a\x00b", "a\x00b", "a b"),
    ],
)
def test_rules_the_search_cannot_gate_still_run(fld: str, pattern: str, hit: str,
                                                miss: str) -> None:  # fmt: skip
    rules = _with(_rule("x.odd", fld, pattern))
    assert Field(fld) in rules.scan.every
    metas = [CommitInfo(hit), CommitInfo(miss), *(meta_of(ex) for ex in EXAMPLES[:40])]
    got = collect_evidence_many(metas, rules)
    assert got == one_by_one(metas, rules)
    assert [e.rule_id for e in got[0]] == ["x.odd"]
    assert not any(e.rule_id == "x.odd" for e in got[1])


def test_a_rule_set_without_message_rules() -> None:
    rules = RuleSet.from_toml(_rule("x.author", "author_name", r"(?i)\bbotty\b"), "test")
    assert rules.scan.literals == ()
    metas = [CommitInfo("Fix", author_name="Botty"), CommitInfo("Fix", author_name="Bob")]
    got = collect_evidence_many(metas, rules)
    assert [[e.rule_id for e in ev] for ev in got] == [["x.author"], []]


def test_audit_frames_do_not_depend_on_the_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_core(tmp_path / "r")
    whole = audit(built.path, cache=False)
    monkeypatch.setattr(frame, "_BATCH", 2)
    small = audit(built.path, cache=False)
    pd.testing.assert_frame_equal(whole.commits, small.commits)
    pd.testing.assert_frame_equal(whole.files, small.files)
    assert (whole.commits["class"] == "ai").sum() > 0
