"""The core pipeline on the core scenario: landing, classes, exclusions, merged share.

Every expected figure below is derived by hand from fixtures/repos.py::build_core.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import provenance
from fixtures.builder import RepoBuilder, lines
from fixtures.repos import Built
from provenance.landing import extend_landing, landing_commits, mainline


@pytest.fixture(scope="module")
def core_audit(core_repo: Built) -> provenance.Audit:
    return provenance.audit(core_repo.path)


def by_sha(a: provenance.Audit, sha: str) -> pd.Series:
    rows = a.commits[a.commits["sha"] == sha]
    assert len(rows) == 1, sha
    return rows.iloc[0]


def test_counted_commits_exclude_merges(core_repo: Built, core_audit: provenance.Audit) -> None:
    s = core_repo.sha
    expected = {s[k] for k in ("c1", "c2", "c3", "c4", "f1", "f2", "c5", "r1", "r2", "c6", "c7",
                               "c8")}  # fmt: skip
    assert set(core_audit.commits["sha"]) == expected
    assert core_audit.merges == 1


def test_landing_merge_branch_lands_at_merge(core_repo: Built, core_audit: provenance.Audit
                                             ) -> None:  # fmt: skip
    s = core_repo.sha
    for k in ("f1", "f2"):
        row = by_sha(core_audit, s[k])
        assert row["landed_sha"] == s["m1"]
        assert row["landed_at"] == pd.Timestamp("2025-02-05T09:00:00Z")
        assert row["authored_at"].month == 1  # authored in January, landed in February


def test_landing_squash_and_rebase_land_as_themselves(
    core_repo: Built, core_audit: provenance.Audit
) -> None:
    s = core_repo.sha
    assert by_sha(core_audit, s["c5"])["landed_sha"] == s["c5"]
    r1 = by_sha(core_audit, s["r1"])
    assert r1["landed_sha"] == s["r1"]
    # Rebased: authored 2025-02-12, committed (landed) 2025-03-02.
    assert r1["landed_at"] == pd.Timestamp("2025-03-02T09:00:00Z")


def test_landing_pure_function() -> None:
    # A - B - M (merge of C, whose parent is A) - D ; X on a branch merged by M too (octopus)
    parents = {"A": (), "B": ("A",), "C": ("A",), "X": ("C",), "M": ("B", "X"), "D": ("M",)}
    assert mainline("D", parents) == ["D", "M", "B", "A"]
    landed = landing_commits("D", parents)
    assert landed == {"A": "A", "B": "B", "C": "M", "X": "M", "M": "M", "D": "D"}


def test_landing_range_boundary() -> None:
    # Parents outside the mapping (a range's base) are a boundary, not an error.
    parents = {"B": ("A",), "C": ("B",)}
    assert landing_commits("C", parents) == {"B": "B", "C": "C"}


def test_classes(core_repo: Built, core_audit: provenance.Audit) -> None:
    s = core_repo.sha
    expected = {
        "c1": "human", "c2": "ai", "c3": "bot", "c4": "human", "f1": "ai", "f2": "human",
        "c5": "ai", "r1": "human", "r2": "ai", "c6": "human", "c7": "human", "c8": "ai",
    }  # fmt: skip
    got = {k: by_sha(core_audit, s[k])["class"] for k in expected}
    assert got == expected


def test_tools_and_rules(core_repo: Built, core_audit: provenance.Audit) -> None:
    s = core_repo.sha
    assert by_sha(core_audit, s["c2"])["tool"] == "Claude Code"
    assert by_sha(core_audit, s["r2"])["tool"] == "Cursor"
    assert by_sha(core_audit, s["c3"])["tool"] == "Dependabot"
    assert by_sha(core_audit, s["f1"])["models"] == "Claude Opus 4.6"
    assert "claude-code.coauthor.noreply" in by_sha(core_audit, s["c5"])["rules"]


def test_line_counts_and_exclusions(core_repo: Built, core_audit: provenance.Audit) -> None:
    s = core_repo.sha
    c1 = by_sha(core_audit, s["c1"])
    assert (c1["files"], c1["added"], c1["deleted"]) == (3, 13, 0)  # app 10 + readme 2 + mailmap 1
    c3 = by_sha(core_audit, s["c3"])
    assert (c3["added"], c3["excluded_added"]) == (1, 100)  # package-lock.json excluded
    c6 = by_sha(core_audit, s["c6"])
    # .gitattributes 1 + src/app.py 2 counted; vendor 50 + gen 30 + min.js 3 excluded; PNG binary
    assert (c6["files"], c6["added"], c6["excluded_added"]) == (2, 3, 83)
    f2 = by_sha(core_audit, s["f2"])
    assert (f2["added"], f2["deleted"]) == (3, 0)
    c7 = by_sha(core_audit, s["c7"])  # rename detected: only the one new line counts
    assert (c7["added"], c7["deleted"]) == (1, 0)
    c8 = by_sha(core_audit, s["c8"])  # empty commit: counted, no lines
    assert (c8["files"], c8["added"]) == (0, 0)


def test_rename_recorded(core_repo: Built, core_audit: provenance.Audit) -> None:
    f = core_audit.files
    row = f[f["sha"] == core_repo.sha["c7"]].iloc[0]
    assert (row["path"], row["old_path"]) == ("src/features/main.py", "src/feature.py")


def test_no_renames_counts_moves_as_new(core_repo: Built) -> None:
    a = provenance.audit(core_repo.path, renames=False)
    c7 = a.commits[a.commits["sha"] == core_repo.sha["c7"]].iloc[0]
    assert (c7["added"], c7["deleted"]) == (11, 10)


def test_excluded_categories(core_audit: provenance.Audit) -> None:
    ex = provenance.metrics.excluded_summary(core_audit)
    got = dict(zip(ex.table["category"], zip(ex.table["files"], ex.table["lines"], strict=True),
                   strict=True))  # fmt: skip
    assert got == {"lockfile": (1, 100), "vendored": (1, 50), "linguist-generated": (1, 30),
                   "minified": (1, 3)}  # fmt: skip
    assert ex.binary_files == 1
    assert ex.lines == 183


def test_merged_share_by_month(core_audit: provenance.Audit) -> None:
    t = provenance.merged_share(core_audit, freq="month")
    assert list(t["period"]) == ["2025-01", "2025-02", "2025-03", "total"]
    cols = ["commits", "added", "ai_added", "bot_added", "human_added"]
    assert t[cols].values.tolist() == [
        [3, 19, 5, 1, 13],
        [4, 34, 27, 0, 7],
        [5, 12, 2, 0, 10],
        [12, 65, 34, 1, 30],
    ]
    assert t["ai_share"].tolist() == pytest.approx([5 / 19, 27 / 34, 2 / 12, 34 / 65])
    assert t["ai_commit_share"].tolist() == pytest.approx([1 / 3, 2 / 4, 2 / 5, 5 / 12])


def test_min_confidence_low_counts_branch_rule(core_repo: Built) -> None:
    # f2 has no trace of its own but landed through a merge of the branch claude/feature-x.
    a = provenance.audit(core_repo.path, min_confidence="low")
    f2 = a.commits[a.commits["sha"] == core_repo.sha["f2"]].iloc[0]
    assert f2["class"] == "ai"
    assert f2["rules"] == "claude-code.branch"
    hints = provenance.metrics.hints(provenance.audit(core_repo.path))
    assert hints.counts["low"] == 1


def test_since_until_select_by_landed_date(core_repo: Built) -> None:
    a = provenance.audit(core_repo.path, since="2025-02-01", until="2025-02-28")
    # February landings: c4, f1, f2 (merged 02-05, authored in January), c5.
    assert set(a.commits["sha"]) == {core_repo.sha[k] for k in ("c4", "f1", "f2", "c5")}
    t = provenance.merged_share(a)
    assert t.iloc[-1]["added"] == 34


def test_range_counts_only_new_commits(core_repo: Built) -> None:
    s = core_repo.sha
    a = provenance.audit(core_repo.path, base=s["c5"])
    assert set(a.commits["sha"]) == {s[k] for k in ("r1", "r2", "c6", "c7", "c8")}


@pytest.mark.parametrize(("by", "expected"), [
    ("tool", {"(human)": 30, "Claude Code": 32, "Cursor": 2, "Dependabot": 1}),
    ("author", {"Alice Example": 13 + 3, "Bob Example": 5 + 1 + 0, "Dependabot[bot]": None,
                "Claude Dupont": 4, "Carol Example": 10, "Dave Example": 20,
                "Erin Example": 6, "Cursor Agent": 2}),
    ("path", {"src": 5 + 7 + 3 + 20 + 2 + 1 + 10, "(root)": 2 + 1 + 1 + 1, "docs": 4, "lib": 8}),
    ("ext", {".py": 5 + 7 + 3 + 20 + 8 + 2 + 1 + 10, ".md": 2 + 4, "(none)": 1 + 1, ".txt": 1}),
])  # fmt: skip
def test_breakdowns(core_audit: provenance.Audit, by: str, expected: dict[str, int | None]
                    ) -> None:  # fmt: skip
    t = provenance.merged_share(core_audit, freq=None, by=by)
    got = dict(zip(t[by], t["added"], strict=True))
    assert got.pop("total") == 65
    expected = {k: v for k, v in expected.items() if v is not None}
    if by == "author":
        got.pop("dependabot[bot]")
    assert got == expected


def test_mailmap_merges_identities(core_repo: Built, core_audit: provenance.Audit) -> None:
    c7 = by_sha(core_audit, core_repo.sha["c7"])
    assert (c7["author"], c7["author_email"]) == ("Bob Example", "bob@example.com")


def test_frame_dtypes(core_audit: provenance.Audit) -> None:
    c = core_audit.commits
    assert str(c["class"].dtype) == "category"
    assert list(c["class"].cat.categories) == ["ai", "human", "bot"]
    assert str(c["landed_at"].dtype) == "datetime64[s, UTC]"
    assert c["added"].dtype == "int64"
    f = core_audit.files
    assert {"sha", "path", "added", "deleted", "binary", "excluded", "class", "tool"} <= set(f)


def test_zero_counted_lines(linear_repo: Built) -> None:
    a = provenance.audit(linear_repo.path, exclude=["*.txt"])
    t = provenance.merged_share(a)
    total = t.iloc[-1]
    assert total["added"] == 0
    assert pd.isna(total["ai_share"])  # no division by zero, undefined share


def test_aider_suffix_is_the_same_person(tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "aider")
    b.commit("Human\n", {"a.py": lines(2)}, author=("Bob Example", "bob@example.com"))
    b.commit("aider: add b\n", {"b.py": lines(3)}, author=("Bob Example (aider)",
             "bob@example.com"), date="2025-01-02T00:00:00+00:00")  # fmt: skip
    a = provenance.audit(b.path)
    t = provenance.merged_share(a, freq=None, by="author")
    assert t[["author", "added", "ai_added"]].values.tolist() == [
        ["Bob Example", 5, 3],
        ["total", 5, 3],
    ]


def _random_dag(seed: int, n: int) -> dict[str, tuple[str, ...]]:
    """A random history: commits on a few branches, merged now and then (octopus included)."""
    import random

    rng = random.Random(seed)
    parents: dict[str, tuple[str, ...]] = {"c0": ()}
    for i in range(1, n):
        known = list(parents)
        first = rng.choice(known[-3:])
        extra = rng.sample(known, k=min(len(known), rng.choice([0, 0, 0, 1, 2])))
        parents[f"c{i}"] = tuple(dict.fromkeys([first, *extra]))
    return parents


@pytest.mark.parametrize("seed", range(40))
def test_extend_landing_equals_a_full_landing(seed: int) -> None:
    parents = _random_dag(seed, 30)
    tip = "c29"
    chain = mainline(tip, parents)
    for old_tip in chain:
        old = {c: p for c, p in parents.items() if c in landing_commits(old_tip, parents)}
        assert extend_landing(landing_commits(old_tip, old), old_tip, tip, parents) == (
            landing_commits(tip, parents)
        )
    # A commit off the first-parent chain: its landing cannot be extended.
    for other in set(parents) - set(chain):
        landed = landing_commits(other, parents)
        old = {c: p for c, p in parents.items() if c in landed}
        if tip not in old:
            assert extend_landing(landing_commits(other, old), other, tip, parents) is None


def test_commit_table_is_in_landing_order_however_the_frame_was_left(
    core_audit: provenance.Audit,
) -> None:
    """audit() leaves the commits in landing order (then authored date, then id) and the
    listing keeps it; a frame shuffled since, or with ties on both dates, is sorted again."""
    from dataclasses import replace

    from provenance.frame import commit_table

    c = core_audit.commits
    key = ["landed_at", "authored_at", "sha"]
    expected = c.sort_values(key)["sha"].tolist()
    assert c["sha"].tolist() == expected
    assert commit_table(core_audit)["sha"].tolist() == expected
    shuffled = replace(core_audit, commits=c.sample(frac=1, random_state=7))
    assert commit_table(shuffled)["sha"].tolist() == expected
    # Every commit on one landing and authored date: the ids decide, descending ones too.
    tied = c.assign(landed_at=c["landed_at"].iloc[0], authored_at=c["authored_at"].iloc[0])
    for frame in (tied, tied.iloc[::-1]):
        table = commit_table(replace(core_audit, commits=frame))
        assert table["sha"].tolist() == sorted(c["sha"].tolist())
        assert list(table.index) == list(range(len(c)))
    # Dates finer than a second (not from audit(), but a frame may be changed) count whole.
    fine = c.iloc[:2].assign(
        landed_at=pd.to_datetime(["2025-01-01T00:00:01.7Z", "2025-01-01T00:00:01.2Z"]),
        authored_at=c["authored_at"].iloc[0],
    )
    table = commit_table(replace(core_audit, commits=fine))
    assert table["sha"].tolist() == fine["sha"].tolist()[::-1]
