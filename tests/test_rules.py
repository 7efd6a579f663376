"""The shipped rule catalogue: every rule fires on a realistic positive and not on a near miss.

Examples live in tests/data/rule_examples.toml (messages taken from real traces, see
../shared/signatures.md); each names the rule it targets and whether it must fire.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.classify import CommitClass, CommitInfo, classify, collect_evidence, trailer_lines
from provenance.rules import Confidence, Field, Kind, RuleSet

EXAMPLES = tomllib.loads(
    (Path(__file__).parent / "data" / "rule_examples.toml").read_text(encoding="utf-8")
)["example"]
RULES = RuleSet.builtin()


def info(ex: dict[str, Any]) -> CommitInfo:
    return CommitInfo(
        message=ex["message"],
        author_name=ex.get("author_name", "Jane Doe"),
        author_email=ex.get("author_email", "jane@example.com"),
        committer_name=ex.get("committer_name", ""),
        committer_email=ex.get("committer_email", ""),
    )


def fired(ex: dict[str, Any]) -> dict[str, Any]:
    ev = collect_evidence(info(ex), RULES, branch=ex.get("branch") or None,
                          notes_refs=tuple(ex.get("notes_refs", ())))  # fmt: skip
    return {e.rule_id: e for e in ev}


def test_every_rule_has_a_positive_and_a_negative_example() -> None:
    pos = Counter(e["rule"] for e in EXAMPLES if e["fires"])
    neg = Counter(e["rule"] for e in EXAMPLES if not e["fires"])
    missing = [r.id for r in RULES if not pos[r.id] or not neg[r.id]]
    assert missing == []
    unknown = {e["rule"] for e in EXAMPLES} - {r.id for r in RULES}
    assert unknown == set()


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if e["fires"]],
                         ids=lambda e: f"{e['rule']}+")  # fmt: skip
def test_positive(ex: dict[str, Any]) -> None:
    got = fired(ex)
    assert ex["rule"] in got
    if "model" in ex:
        assert got[ex["rule"]].model == ex["model"]


@pytest.mark.parametrize("ex", [e for e in EXAMPLES if not e["fires"]],
                         ids=lambda e: f"{e['rule']}-")  # fmt: skip
def test_negative(ex: dict[str, Any]) -> None:
    assert ex["rule"] not in fired(ex)


def test_catalogue_shape() -> None:
    assert len(RULES) >= 80
    for r in RULES:
        assert r.source, r.id
        assert r.id == r.id.lower(), r.id
    tools = {r.tool for r in RULES if r.kind is Kind.AI}
    for required in ("Claude Code", "GitHub Copilot", "Cursor", "OpenAI Codex", "Aider", "Devin",
                     "Google Jules", "Gemini", "Amazon Q", "OpenHands", "Amp", "Factory Droid",
                     "Lovable", "v0", "Replit Agent", "Crush", "opencode", "Entire"):  # fmt: skip
        assert required in tools, required
    bots = {r.tool for r in RULES if r.kind is Kind.BOT}
    for required in ("Dependabot", "Renovate", "GitHub Actions", "pre-commit.ci",
                     "all-contributors"):  # fmt: skip
        assert required in bots, required
    for r in RULES:
        if r.field is Field.BRANCH:
            assert r.confidence is Confidence.LOW, r.id


# -- guards (realistic messages) -------------------------------------------------------------


def verdict(message: str, **kw: str) -> Any:
    return classify(CommitInfo(message=message, **kw), RULES)


def test_guard_human_named_claude() -> None:
    v = verdict("Fix typo in docs\n\nCo-authored-by: Claude Monet <claude@monet.fr>\n",
                author_name="Claude Dupont", author_email="claude@example.org")  # fmt: skip
    assert v.cls is CommitClass.HUMAN
    assert [e for e in v.evidence if e.kind is Kind.AI] == []


def test_guard_assisted_by_a_person() -> None:
    v = verdict("lib: fix overflow in parser\n\nReported-by: Alex\nAssisted-by: Daniel Stenberg "
                "<daniel@haxx.se>\nCloses #1234\n")  # fmt: skip
    assert v.cls is CommitClass.HUMAN
    assert v.hint is None
    v = verdict("lib: fix\n\nAssisted-by: none\n")
    assert v.cls is CommitClass.HUMAN and v.hint is None


def test_guard_declaration_naming_a_tool_counts() -> None:
    v = verdict("mm: fix leak\n\nAssisted-by: Claude:claude-3-opus coccinelle sparse\n"
                "Signed-off-by: Jane Doe <jane@example.com>\n")  # fmt: skip
    assert v.cls is CommitClass.AI
    assert "claude-3-opus" in v.models


def test_guard_vendor_employee_address() -> None:
    v = verdict("Update README\n\nCo-authored-by: Ashwin Bhat <ashwin@anthropic.com>\n",
                author_name="Ashwin Bhat", author_email="ashwin@anthropic.com")  # fmt: skip
    assert v.cls is CommitClass.HUMAN
    assert [e for e in v.evidence if e.kind is Kind.AI] == []


def test_guard_ai_trace_beats_bot_identity() -> None:
    v = verdict("Fix flaky test\n\nCo-authored-by: copilot-swe-agent[bot] "
                "<198982749+Copilot@users.noreply.github.com>\n",
                author_name="github-actions[bot]",
                author_email="41898282+github-actions[bot]@users.noreply.github.com")  # fmt: skip
    assert v.cls is CommitClass.AI
    assert v.tool == "GitHub Copilot"
    assert any(e.kind is Kind.BOT for e in v.evidence)


def test_guard_agent_only_as_committer_is_not_decisive() -> None:
    v = verdict("Refactor the config loader\n", author_name="Jane Doe",
                author_email="jane@example.com", committer_name="Jane Doe (aider)",
                committer_email="jane@example.com")  # fmt: skip
    assert v.cls is CommitClass.HUMAN
    assert any(e.field is Field.COMMITTER_NAME and not e.decisive for e in v.evidence)


def test_guard_bot_without_ai_trace_is_bot() -> None:
    v = verdict("chore(deps): update dependency ruff to v0.6.0\n",
                author_name="renovate[bot]",
                author_email="29139614+renovate[bot]@users.noreply.github.com")  # fmt: skip
    assert v.cls is CommitClass.BOT
    assert v.tool == "Renovate"


def test_review_suggestion_scope() -> None:
    v = verdict("Add retry (#42)\n\n* add retry\n\n* Apply suggestion\n\nCo-authored-by: Copilot "
                "<175728472+Copilot@users.noreply.github.com>\n")  # fmt: skip
    assert v.cls is CommitClass.HUMAN  # medium: not counted by default
    v = classify(CommitInfo(message="Add retry (#42)\n\nCo-authored-by: Copilot "
                                    "<175728472+Copilot@users.noreply.github.com>\n"),
                 RULES, min_confidence=Confidence.MEDIUM)  # fmt: skip
    assert v.cls is CommitClass.AI
    assert v.scope == "suggestion"


def test_trailer_lines_anywhere_any_case() -> None:
    msg = "Subject\n\nbody\nco-authored-by: X <x@y>\n\nExecuted-By: z\n  Role: crew  \n"
    assert trailer_lines(msg) == ["co-authored-by: X <x@y>", "Executed-By: z", "Role: crew"]


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=400), name=st.text(max_size=40), email=st.text(max_size=40))
def test_classifier_never_raises_and_is_deterministic(raw: bytes, name: str, email: str) -> None:
    msg = raw.decode("utf-8", errors="replace")
    meta = CommitInfo(message=msg, author_name=name, author_email=email)
    a = classify(meta, RULES, min_confidence=Confidence.LOW)
    b = classify(meta, RULES, min_confidence=Confidence.LOW)
    assert a == b


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([e for e in EXAMPLES if e["fires"]]), st.text(max_size=200))
def test_prepending_text_keeps_trailer_rules_firing(ex: dict[str, Any], prefix: str) -> None:
    rule = RULES.get(ex["rule"])
    assert rule is not None
    if rule.field is not Field.TRAILER:
        return
    shifted = dict(ex, message="Subject\n\n" + prefix.replace("\r", "") + "\n\n" + ex["message"])
    assert ex["rule"] in fired(shifted)


def test_committer_only_evidence_is_not_a_hint() -> None:
    v = verdict("Refactor\n", author_name="Jane Doe", author_email="jane@example.com",
                committer_name="Jane Doe (aider)", committer_email="jane@example.com")  # fmt: skip
    assert v.hint is None
