"""The classified-history memo behind ``--cache``: same frames as an uncached run, always.

Each test compares ``audit(cache=True)`` with ``audit(cache=False)`` frame for frame, and
records what the memo made the run mine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fixtures.builder import BOB, RepoBuilder, lines
from provenance import frame as frame_mod
from provenance.frame import Audit, audit
from provenance.rules import RuleSet

WHO = {
    f"GIT_{role}_{key}": value
    for role in ("AUTHOR", "COMMITTER")
    for key, value in (("NAME", "A"), ("EMAIL", "a@example.com"),
                       ("DATE", "2025-07-01T00:00:00+00:00"))
}  # fmt: skip
CLAUDE = "\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>\n"


def build(path: Path) -> RepoBuilder:
    """Five commits: a rename on a merged claude/ branch, a human, a merge and a bot."""
    b = RepoBuilder(path)
    b.commit("c0\n", {"a.txt": lines(4)}, date="2025-06-01T09:00:00+00:00")
    b.branch("claude/feature")
    b.mv("a.txt", "b.txt")
    b.commit("Move a\n", {"b.txt": lines(6)}, date="2025-06-02T09:00:00+00:00")
    b.checkout("main")
    b.commit("c1\n", {"c.txt": lines(2, "c")}, author=BOB, date="2025-06-03T09:00:00+00:00")
    b.merge("claude/feature", message="Merge branch 'claude/feature'\n",
            date="2025-06-04T09:00:00+00:00")  # fmt: skip
    b.commit("Bump deps\n", {"d.txt": lines(3, "d")},
             author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
             date="2025-06-05T09:00:00+00:00")  # fmt: skip
    return b


class Spy:
    """Records every ``iter_history`` call audit makes: (exclude, cache flag, records)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[tuple[str, ...], bool, int]] = []
        real = frame_mod.iter_history

        def spy(repo: Any, tip: str, **kw: Any) -> Iterator[Any]:
            recs = list(real(repo, tip, **kw))
            self.calls.append((tuple(kw.get("exclude", ())), bool(kw.get("cache")), len(recs)))
            return iter(recs)

        monkeypatch.setattr(frame_mod, "iter_history", spy)


def same(a: Audit, b: Audit) -> None:
    """Same frames, row for row (audit orders rows by landing, whatever the mining order)."""
    pd.testing.assert_frame_equal(a.commits, b.commits)
    pd.testing.assert_frame_equal(a.files, b.files)
    assert (a.merges, a.shallow_boundary) == (b.merges, b.shallow_boundary)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RepoBuilder:
    monkeypatch.setenv("PROVENANCE_CACHE_DIR", str(tmp_path / "cache"))
    return build(tmp_path / "r")


def test_cold_warm_and_one_new_commit(repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    cold = audit(repo.path, cache=True, jobs=1)
    # 5 commits reachable: c0, move, c1, merge, bump; mined once through the record cache.
    assert spy.calls == [((), True, 5)]
    same(cold, audit(repo.path, cache=False, jobs=1))
    assert set(cold.commits["class"]) == {"human", "bot"}
    # The branch name is matched at run time from the merge subject (a low-confidence rule).
    low = audit(repo.path, cache=True, jobs=1, min_confidence="low")
    move = low.commits[low.commits["subject"] == "Move a"].iloc[0]
    assert (move["class"], move["rules"]) == ("ai", "claude-code.branch")

    spy.calls.clear()
    warm = audit(repo.path, cache=True, jobs=1)
    assert spy.calls == []  # the memo of this tip: nothing mined
    same(warm, cold)

    old_tip = repo.head()
    repo.commit("c9" + CLAUDE, {"e.txt": lines(2, "e")}, date="2025-06-06T09:00:00+00:00")
    spy.calls.clear()
    plus = audit(repo.path, cache=True, jobs=1)
    assert spy.calls == [((old_tip,), False, 1)]  # only the new commit
    same(plus, audit(repo.path, cache=False, jobs=1))
    assert len(plus.commits) == len(cold.commits) + 1


def test_new_tip_off_the_old_mainline(repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo keeps its tip's landing and extends it along the new first-parent chain; a tip
    that merged the old one as a second parent lands everything afresh."""
    audit(repo.path, cache=True, jobs=1)
    old_tip = repo.head()
    # main moves on by a merge of a branch started before the memo's tip.
    repo.branch("topic", "HEAD~1")
    repo.commit("t1" + CLAUDE, {"t.txt": lines(2, "t")}, date="2025-06-07T09:00:00+00:00")
    repo.checkout("main")
    repo.merge("topic", message="Merge branch 'topic'\n", date="2025-06-08T09:00:00+00:00")
    spy = Spy(monkeypatch)
    plus = audit(repo.path, cache=True, jobs=1)
    assert spy.calls == [((old_tip,), False, 2)]
    same(plus, audit(repo.path, cache=False, jobs=1))
    assert plus.commits.set_index("subject").loc["t1", "landed_sha"] == repo.head()
    # Another branch merges main: the memo's tip is its second parent, not on its mainline.
    main_tip = repo.head()
    repo.branch("side", "HEAD~1")
    repo.commit("s1\n", {"s.txt": lines(3, "s")}, date="2025-06-09T09:00:00+00:00")
    repo.merge("main", message="Merge branch 'main' into side\n",
               date="2025-06-10T09:00:00+00:00")  # fmt: skip
    spy.calls.clear()
    side = audit(repo.path, "side", cache=True, jobs=1)
    assert spy.calls == [((main_tip,), False, 2)]
    same(side, audit(repo.path, "side", cache=False, jobs=1))
    # On side's mainline, main's own commits land at the merge that brought them in.
    assert side.commits.set_index("subject").loc["t1", "landed_sha"] == repo.head()


def test_settings_applied_per_run(repo: RepoBuilder) -> None:
    """Threshold, excludes and dates are not part of the memo."""
    audit(repo.path, cache=True, jobs=1)
    kw: dict[str, Any] = {"min_confidence": "low", "exclude": ["c.txt"], "since": "2025-06-02"}
    same(audit(repo.path, cache=True, jobs=1, **kw), audit(repo.path, cache=False, jobs=1, **kw))


def test_other_rules_never_read_the_memo(
    repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit(repo.path, cache=True, jobs=1)
    fewer = RuleSet.builtin().customised(disable=["claude-code.coauthor.noreply"])
    spy = Spy(monkeypatch)
    got = audit(repo.path, cache=True, jobs=1, rules=fewer)
    assert spy.calls and spy.calls[0][1]  # mined again (from the record cache)
    same(got, audit(repo.path, cache=False, jobs=1, rules=fewer))


def test_notes_added_later_count(repo: RepoBuilder) -> None:
    audit(repo.path, cache=True, jobs=1)
    c1 = repo.head("HEAD~1^1")
    repo.git("notes", "--ref", "refs/notes/whogitit", "add", "-m", "ai: 100%", c1, env=WHO)
    got = audit(repo.path, cache=True, jobs=1)
    same(got, audit(repo.path, cache=False, jobs=1))
    row = got.commits[got.commits["sha"] == c1].iloc[0]
    assert row["class"] == "ai" and "notes.whogitit" in row["rules"]


def test_rewritten_history_and_damaged_memo(
    repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    audit(repo.path, cache=True, jobs=1)
    repo.git("commit", "-q", "--amend", "-m", "Bump deps, reworded\n", env=WHO)
    spy = Spy(monkeypatch)
    got = audit(repo.path, cache=True, jobs=1)
    # The old tip is not an ancestor of the new one: its memo is not used.
    assert all(not exclude for exclude, _, _ in spy.calls)
    same(got, audit(repo.path, cache=False, jobs=1))

    memos = sorted(Path(tmp_path).rglob("audit-*.bin"))
    assert memos
    for m in memos:
        data = bytearray(m.read_bytes())
        data[-5] ^= 0xFF
        m.write_bytes(bytes(data))
    spy.calls.clear()
    again = audit(repo.path, cache=True, jobs=1)
    assert spy.calls  # damaged memos are misses
    same(again, got)


def test_pull_request_ranges_bypass_the_memo(
    repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = repo.head("HEAD~1")
    audit(repo.path, cache=True, jobs=1)
    spy = Spy(monkeypatch)
    got = audit(repo.path, cache=True, jobs=1, base=base)
    assert spy.calls == [((base,), True, 1)]
    same(got, audit(repo.path, cache=False, jobs=1, base=base))


def test_linked_worktree_of_a_shallow_clone(
    repo: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``shallow`` lives in the common git dir, not a linked worktree's own: deepening the
    clone must change what the cache serves, seen from the worktree too."""
    import subprocess

    from provenance.gitlog import Repository

    clone, wt = tmp_path / "shallow", tmp_path / "wt"
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", **WHO}

    def git(*args: str, cwd: Path = clone) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone), cwd=tmp_path)
    git("worktree", "add", "-q", "--detach", str(wt))
    r = Repository(wt)
    assert r.common_dir.resolve() == (clone / ".git").resolve()
    assert r.git_dir.resolve() != r.common_dir.resolve()

    before = audit(wt, cache=True, jobs=1, allow_shallow=True)
    same(before, audit(wt, cache=False, jobs=1, allow_shallow=True))
    assert before.shallow_boundary >= 1
    git("fetch", "-q", "--deepen", "10")
    after = audit(wt, cache=True, jobs=1, allow_shallow=True)
    same(after, audit(wt, cache=False, jobs=1, allow_shallow=True))
    assert after.shallow_boundary == 0 and len(after.commits) > len(before.commits)


def test_concurrent_runs_agree(repo: RepoBuilder) -> None:
    """Two runs filling the same cache at once both get the uncached answer, as does a third."""
    import threading

    expected = audit(repo.path, cache=False, jobs=1)
    got: list[Audit] = []
    threads = [threading.Thread(target=lambda: got.append(audit(repo.path, cache=True, jobs=2)))
               for _ in range(2)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2
    for a in [*got, audit(repo.path, cache=True, jobs=1)]:
        same(a, expected)


def test_global_attributes_file_is_part_of_the_key(
    repo: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git reads $XDG_CONFIG_HOME/git/attributes when core.attributesFile is unset: marking a
    file binary there changes git's numstat, so cached records must not be reused."""
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    before = audit(repo.path, cache=True, jobs=1)
    assert not before.files["binary"].any()
    (xdg / "git").mkdir(parents=True)
    (xdg / "git" / "attributes").write_text("c.txt binary\n", encoding="utf-8")
    after = audit(repo.path, cache=True, jobs=1)
    same(after, audit(repo.path, cache=False, jobs=1))
    assert after.files.loc[after.files["path"] == "c.txt", "binary"].all()


def test_another_version_never_reads_a_memo(
    repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from provenance import cache as cache_mod

    audit(repo.path, cache=True, jobs=1)
    monkeypatch.setattr(cache_mod, "code_key", lambda: "another-version")
    spy = Spy(monkeypatch)
    audit(repo.path, cache=True, jobs=1)
    assert spy.calls and spy.calls[0][1]  # mined again (records still come from their cache)
    for i in range(4):  # more rule sets than memos kept: the oldest files go
        rules = RuleSet.builtin().customised(disable=[RuleSet.builtin().rules[i].id])
        audit(repo.path, cache=True, jobs=1, rules=rules)
    assert len(list((tmp_path / "cache").rglob("audit-*.bin"))) == 3
