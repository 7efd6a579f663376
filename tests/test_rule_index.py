"""The rule index (literal gates, roots, trailer keys) only skips regexes that cannot match.

Every check compares the indexed classifier with a brute-force one that runs every rule's
regex on every value, on the catalogue's own examples and on random variations of them.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.classify import CommitInfo, collect_evidence, trailer_lines
from provenance.rules import Field, RuleSet, trailer_keys

EXAMPLES = tomllib.loads(
    (Path(__file__).parent / "data" / "rule_examples.toml").read_text(encoding="utf-8")
)["example"]
RULES = RuleSet.builtin()


def brute_force(meta: CommitInfo, branch: str | None = None,
                notes: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
    """Ids of every rule whose regex matches its field (once per matching value), no index."""
    values: dict[Field, list[str]] = {
        Field.AUTHOR_NAME: [meta.author_name],
        Field.AUTHOR_EMAIL: [meta.author_email],
        Field.COMMITTER_NAME: [meta.committer_name],
        Field.COMMITTER_EMAIL: [meta.committer_email],
        Field.TRAILER: trailer_lines(meta.message),
        Field.SUBJECT: [meta.message.split("\n", 1)[0].strip()],
        Field.MESSAGE: [meta.message],
        Field.BRANCH: [branch] if branch else [],
        Field.NOTES_REF: list(notes),
    }
    return sorted(r.id for r in RULES for v in values[r.field] if r.regex.search(v))


def indexed(meta: CommitInfo, branch: str | None = None,
            notes: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
    return sorted(e.rule_id for e in collect_evidence(meta, RULES, branch=branch, notes_refs=notes))


def meta_of(ex: dict[str, Any], message: str | None = None) -> CommitInfo:
    return CommitInfo(
        message=ex["message"] if message is None else message,
        author_name=ex.get("author_name", "Jane Doe"),
        author_email=ex.get("author_email", "jane@example.com"),
        committer_name=ex.get("committer_name", ""),
        committer_email=ex.get("committer_email", ""),
    )


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda e: f"{e['rule']}{'+' if e['fires'] else '-'}")
def test_index_equals_brute_force_on_every_example(ex: dict[str, Any]) -> None:
    meta = meta_of(ex)
    branch = ex.get("branch") or None
    notes = tuple(ex.get("notes_refs", ()))
    assert indexed(meta, branch, notes) == brute_force(meta, branch, notes)


def mutate(text: str, rng: random.Random) -> str:
    """Flip case, swap in look-alike characters, shift whitespace: variations that must not
    change which rules the index (or the batch scan) lets through."""
    out = []
    for ch in text:
        r = rng.random()
        if r < 0.15:
            ch = ch.swapcase()
        elif r < 0.17 and ch in "kK":
            ch = "\u212a"  # Kelvin sign: matches k case-insensitively
        elif r < 0.19 and ch in "sS":
            ch = "\u017f"  # long s: matches s case-insensitively
        elif r < 0.20 and ch in "iI":
            ch = "\u0130"  # dotted capital I: lower() is two characters
        elif r < 0.22 and ch == " ":
            ch = rng.choice(["  ", "\t", " \u00a0", "\x00"])
        out.append(ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(EXAMPLES), st.integers(0, 2**32 - 1), st.text(max_size=60))
def test_index_equals_brute_force_on_variations(ex: dict[str, Any], seed: int, extra: str) -> None:
    rng = random.Random(seed)
    msg = mutate(ex["message"], rng)
    if rng.random() < 0.5:
        msg = extra + "\n" + msg
    meta = meta_of(ex, msg)
    assert indexed(meta) == brute_force(meta)


def test_trailer_keys_of_anchored_patterns() -> None:
    assert trailer_keys(r"(?i)^co-authored-by\s*:\s*claude") == {"co-authored-by"}
    assert trailer_keys(r"(?i)^(?:ai-assisted(?:-by)?|Made-With)\s*:") == {
        "ai-assisted", "ai-assisted-by", "made-with"
    }  # fmt: skip
    assert trailer_keys(r"^amp-thread(?:-id)?:") == {"amp-thread", "amp-thread-id"}
    assert trailer_keys(r"(?i)^co[ -]authored-by\s*:") == {"co authored-by", "co-authored-by"}


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?i)co-authored-by\s*:\s*claude",  # not anchored: may match anywhere in the line
        r"(?i)^\s*co-authored-by:",  # leading space: key unknown
        r"(?i)^[a-z-]+-by\s*:",  # key not a finite set
        r"(?i)^co-authored-by\s+claude",  # no colon
        r"(?i)^(?:x|)\s*:",  # an empty key
    ],
)
def test_trailer_keys_refuse_open_patterns(pattern: str) -> None:
    assert trailer_keys(pattern) is None


def test_a_keyless_user_trailer_rule_still_runs() -> None:
    extra = RuleSet.from_toml(
        '[[rule]]\nid = "x.any-by"\ntool = "X"\nkind = "ai"\nfield = "trailer"\n'
        "pattern = '(?i)^[a-z-]+-by\\s*:\\s*xbot\\b'\nconfidence = \"high\"\n",
        "test",
    )
    rules = RULES.customised(add=extra.rules)
    assert rules.index[Field.TRAILER].keyless == (len(rules.by_field[Field.TRAILER]) - 1,)
    ev = collect_evidence(CommitInfo("Fix\n\nPaired-By: XBot\n"), rules)
    assert [e.rule_id for e in ev] == ["x.any-by"]
    assert collect_evidence(CommitInfo("Fix\n\nPaired-By: Xavier\n"), rules) == []


def test_roots_contain_no_other_root() -> None:
    for fld in Field:
        roots = RULES.index[fld].roots
        assert all(a == b or a not in b for a in roots for b in roots)


def test_derived_literals_survive_the_memo_and_bad_tables_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import marshal

    from provenance import rules as rules_mod

    table = marshal.loads(marshal.dumps(rules_mod.derived_table(RULES)))
    assert table == {r.pattern: rules_mod.derive(r.pattern) for r in RULES}
    monkeypatch.setattr(rules_mod, "_DERIVED", {})
    bad_tables = (
        None, [], {"x": 1}, {"y": ((frozenset(),), None, None)},
        {"z": ((frozenset({1}),), None, None)}, {"w": ((), "k", None)},
        {"v": ((), None, frozenset())}, {"u": ((frozenset({""}),), None, None)},
    )  # fmt: skip
    for bad in bad_tables:
        rules_mod.load_derived(bad)
    assert rules_mod._DERIVED == {}
    rules_mod.load_derived(table)
    # With the table loaded, indexing a fresh copy of the rules parses no pattern.
    rules_mod._parse.cache_clear()
    fresh = RuleSet.from_toml(
        (Path(rules_mod.__file__).parent / "data" / "rules.toml").read_text("utf-8"), "builtin"
    )
    for fld in Field:
        assert fresh.index[fld].gates == RULES.index[fld].gates
    fresh.scan  # noqa: B018
    assert rules_mod._parse.cache_info().currsize == 0
    assert fresh.scan.literals == RULES.scan.literals


def test_the_shipped_derived_table_is_current() -> None:
    """``provenance/data/derived.json`` holds what deriving every shipped pattern afresh gives
    (``python scripts/update_derived.py`` rewrites it), and is only used for that rules file."""
    from provenance import rules as rules_mod

    data = Path(rules_mod.__file__).parent / "data"
    text = (data / "rules.toml").read_text("utf-8")
    shipped = (data / "derived.json").read_text("utf-8")
    assert shipped == rules_mod.derived_json(RuleSet.from_toml(text, "builtin"), text)
    table = rules_mod.shipped_derived(text)
    assert set(table) == {r.pattern for r in RuleSet.from_toml(text, "builtin")}
    for pattern, (gate, keys, starts) in table.items():
        assert gate == rules_mod.required_literals(pattern)
        assert keys == rules_mod.trailer_keys(pattern)
        assert starts == rules_mod.start_literals(pattern)
    assert rules_mod.shipped_derived(text + "\n# edited\n") == {}
