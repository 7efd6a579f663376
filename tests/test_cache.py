"""The incremental cache: same records as mining, only new commits mined, safe on rewrites."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from fixtures.builder import BOB, RepoBuilder, lines
from provenance import cache as cache_mod
from provenance import gitlog
from provenance.cache import cache_root, cached_history
from provenance.gitlog import CommitRecord, FileChange, Repository, iter_history, mine


def by_sha(records: Iterable[CommitRecord]) -> dict[str, CommitRecord]:
    """Records keyed by commit id; fails on a duplicate."""
    out: dict[str, CommitRecord] = {}
    for rec in records:
        assert rec.sha not in out
        out[rec.sha] = rec
    return out


def build(path: Path, n: int = 4) -> RepoBuilder:
    """``n`` commits on main plus one merged branch with a rename."""
    b = RepoBuilder(path)
    b.commit("c0\n", {"a.txt": lines(4)}, date="2025-06-01T09:00:00+00:00")
    b.branch("side")
    b.mv("a.txt", "b.txt")
    b.commit("move\n", {"b.txt": lines(5)}, date="2025-06-02T09:00:00+00:00")
    b.checkout("main")
    b.commit("c1\n", {"c.txt": lines(2, "c")}, author=BOB, date="2025-06-03T09:00:00+00:00")
    b.merge("side", message="Merge side\n", date="2025-06-04T09:00:00+00:00")
    for i in range(2, n):
        b.commit(
            f"c{i}\n", {f"f{i}.txt": lines(i, "f")}, date=f"2025-06-{4 + i:02d}T09:00:00+00:00"
        )
    return b


class Counting:
    """Records the cache's ``mine`` calls: (tip, exclude, number of records)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, tuple[str, ...], int]] = []
        real = cache_mod.mine

        def spy(repo: Repository, tip: str, **kw: object) -> object:
            recs = list(real(repo, tip, **kw))  # type: ignore[arg-type]
            self.calls.append((tip, tuple(kw.get("exclude", ())), len(recs)))  # type: ignore[arg-type]
            return iter(recs)

        monkeypatch.setattr(cache_mod, "mine", spy)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty cache root."""
    return tmp_path / "cache"


def test_cold_warm_incremental(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    spy = Counting(monkeypatch)
    tip1 = repo.resolve("HEAD")
    fresh1 = by_sha(mine(repo, tip1))
    assert len(fresh1) == 6
    assert by_sha(cached_history(repo, tip1, root=root, jobs=2)) == fresh1  # cold: mines 6
    assert by_sha(cached_history(repo, tip1, root=root)) == fresh1  # warm: mines nothing
    assert spy.calls == [(tip1, (), 6)]
    new = b.commit("new\n", {"n.txt": lines(3, "n")}, date="2025-07-01T09:00:00+00:00")
    got = by_sha(cached_history(repo, new, root=root, jobs=2))
    assert got == by_sha(mine(repo, new))
    assert got[new].files == (FileChange("n.txt", 3, 0),)
    assert spy.calls[1:] == [(new, (tip1,), 1)]  # only the new commit is mined
    # Both tips now have snapshots; the older one is still exact.
    assert by_sha(cached_history(repo, tip1, root=root)) == fresh1
    assert len(spy.calls) == 2


def test_rewritten_history_is_never_served_from_the_cache(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    old = repo.resolve("HEAD")
    list(cached_history(repo, old, root=root))
    # Rewrite the tip: same parent, different content; the old tip is no ancestor of the new.
    b.git("reset", "-q", "--hard", "HEAD~1")
    new = b.commit("c3\n", {"f3.txt": lines(9, "f")}, date="2025-06-07T09:00:00+00:00")
    assert new != old
    spy = Counting(monkeypatch)
    got = by_sha(cached_history(repo, new, root=root))
    assert got == by_sha(mine(repo, new))
    assert old not in got
    assert got[new].files == (FileChange("f3.txt", 9, 0),)
    assert spy.calls == [(new, (), 6)]


def test_damaged_segment_is_a_miss(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    tip = repo.resolve("HEAD")
    want = by_sha(cached_history(repo, tip, root=root))
    (seg,) = root.rglob("seg-*.bin")
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF
    seg.write_bytes(bytes(data))
    spy = Counting(monkeypatch)
    assert by_sha(cached_history(repo, tip, root=root)) == want
    assert spy.calls == [(tip, (), 6)]
    (snap,) = root.rglob(f"tip-{tip}.json")
    snap.write_text("{not json", encoding="utf-8")
    assert by_sha(cached_history(repo, tip, root=root)) == want


def test_options_and_ranges_are_kept_apart(tmp_path: Path, root: Path) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    tip = repo.resolve("HEAD")
    on = by_sha(cached_history(repo, tip, root=root))
    off = by_sha(cached_history(repo, tip, renames=False, root=root))
    assert off == by_sha(mine(repo, tip, renames=False)) != on
    assert by_sha(cached_history(repo, tip, root=root)) == on
    assert len(list(root.rglob("tip-*.json"))) == 2
    base = repo.resolve("HEAD~1")
    ranged = by_sha(cached_history(repo, tip, exclude=[base], root=root))
    assert list(ranged) == [tip]


def test_mailmap_change_invalidates(tmp_path: Path, root: Path) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    tip = repo.resolve("HEAD")
    list(cached_history(repo, tip, root=root))
    b.write(".mailmap", f"Robert <robert@example.com> {BOB[0]} <{BOB[1]}>\n")  # not committed
    got = by_sha(cached_history(repo, tip, root=root))
    assert {r.author for r in got.values()} == {"Alice Example", "Robert"}


def test_concurrent_runs_agree(tmp_path: Path, root: Path) -> None:
    b = build(tmp_path / "r", n=12)
    repo = Repository(b.path)
    tip = repo.resolve("HEAD")
    want = by_sha(mine(repo, tip))
    results: list[dict[str, CommitRecord]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):
                results.append(by_sha(cached_history(repo, tip, root=root, jobs=2)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 9 and all(r == want for r in results)
    assert not list(root.rglob(".tmp-*"))


def test_interrupted_run_publishes_nothing(tmp_path: Path, root: Path) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    stream = cached_history(repo, repo.resolve("HEAD"), root=root)
    next(stream)
    stream.close()
    assert not list(root.rglob("tip-*.json")) and not list(root.rglob(".tmp-*"))


def test_cache_dir_is_outside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    monkeypatch.setenv("PROVENANCE_CACHE_DIR", str(tmp_path / "env-cache"))
    assert cache_root() == tmp_path / "env-cache"
    before = sorted(p for p in b.path.rglob("*"))
    tip = repo.resolve("HEAD")
    assert by_sha(iter_history(repo, tip, cache=True)) == by_sha(mine(repo, tip))
    assert sorted(p for p in b.path.rglob("*")) == before
    assert list((tmp_path / "env-cache").rglob("tip-*.json"))
    monkeypatch.delenv("PROVENANCE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "provenance"


def test_uncached_run_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = build(tmp_path / "r")
    monkeypatch.setenv("PROVENANCE_CACHE_DIR", str(tmp_path / "env-cache"))
    repo = Repository(b.path)
    list(iter_history(repo, repo.resolve("HEAD"), jobs=2, cache=False))
    assert not (tmp_path / "env-cache").exists()
    assert gitlog.DEFAULT_JOBS == 0


def test_segments_are_compacted(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_mod, "_MAX_SEGMENTS", 2)
    b = build(tmp_path / "r")
    repo = Repository(b.path)
    for i in range(4):
        tip = repo.resolve("HEAD")
        assert by_sha(cached_history(repo, tip, root=root)) == by_sha(mine(repo, tip))
        b.commit(f"more {i}\n", {"more.txt": lines(i + 1)}, date=f"2025-09-0{i + 1}T09:00:00+00:00")
    snaps = cache_mod.Store(repo, True, root).snapshots()
    assert len(snaps) == 4 and all(len(s.segments) <= 2 for s in snaps)
    assert snaps[0].count == 9


def test_a_stored_row_holds_every_field_in_order_and_reads_back(tmp_path: Path) -> None:
    import dataclasses

    b = build(tmp_path / "r")
    b.commit("bin\n", {"logo.bin": b"\x00\x01\x02"}, date="2025-06-20T09:00:00+00:00")
    recs = list(mine(Repository(b.path), Repository(b.path).resolve("HEAD")))
    assert any(f.old_path for r in recs for f in r.files)  # a rename
    assert any(f.binary for r in recs for f in r.files)
    assert any(r.is_merge for r in recs)
    for rec in recs:
        row = cache_mod.to_row(rec)
        fields = [getattr(rec, f.name) for f in dataclasses.fields(CommitRecord)]
        assert row == (*fields[:-1], tuple((f.path, f.added, f.deleted, f.old_path)
                                           for f in rec.files))  # fmt: skip
        assert cache_mod.from_row(row) == rec
