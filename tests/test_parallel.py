"""The parallel miner yields exactly the single-process miner's records."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.builder import ALICE, BOB, RepoBuilder, lines
from fixtures.hostile import build_booby_trapped, build_odd
from fixtures.repos import Built, build_core
from provenance import gitlog
from provenance.errors import GitError
from provenance.gitlog import FileChange, Repository, iter_history, mine


def build_mixed(path: Path) -> Built:
    """Two root commits, a rename on a branch, a binary file, a true merge, an unrelated-history
    merge, an octopus merge and an empty commit: 12 commits, 3 of them merges.
    """
    b = RepoBuilder(path)
    s: dict[str, str] = {}
    day = iter(range(1, 29))

    def d() -> str:
        return f"2025-04-{next(day):02d}T09:00:00+00:00"

    s["root"] = b.commit("Root\n", {"a.txt": lines(3), "logo.bin": b"\x00\x01\x02"}, date=d())
    s["c2"] = b.commit("Grow a\n", {"a.txt": lines(5)}, author=BOB, date=d())
    b.branch("topic")
    b.mv("a.txt", "moved/a.txt")
    s["t1"] = b.commit("Move a, tweak\n", {"moved/a.txt": lines(6)}, date=d())
    s["t2"] = b.commit("Topic file\n", {"t.txt": lines(4, "t")}, date=d())
    b.checkout("main")
    s["c3"] = b.commit("Main file\n", {"m.txt": lines(2, "m")}, author=BOB, date=d())
    s["m1"] = b.merge("topic", message="Merge topic\n", date=d())
    b.git("checkout", "-q", "--orphan", "other")
    b.git("rm", "-rq", "--cached", ".")
    for p in ("moved", "t.txt", "m.txt", "logo.bin"):
        b.git("clean", "-fdq", "--", p)
    s["root2"] = b.commit("Second root\n", {"other.txt": lines(7, "o")}, date=d())
    b.checkout("main")
    env = {"GIT_AUTHOR_DATE": d(), "GIT_COMMITTER_DATE": "2025-04-20T00:00:00+00:00",
           "GIT_AUTHOR_NAME": ALICE[0], "GIT_AUTHOR_EMAIL": ALICE[1],
           "GIT_COMMITTER_NAME": ALICE[0], "GIT_COMMITTER_EMAIL": ALICE[1]}  # fmt: skip
    b.git("merge", "-q", "--no-ff", "--allow-unrelated-histories", "-m", "Merge other", "other",
          env=env)  # fmt: skip
    s["m2"] = b.head()
    for name in ("x", "y"):
        b.branch(name, s["m2"])
        s[name] = b.commit(f"Add {name}\n", {f"{name}.txt": lines(1, name)}, date=d())
    b.checkout("main")
    s["c4"] = b.commit("Empty\n", date=d(), allow_empty=True)
    s["m3"] = b.merge("x", "y", message="Octopus\n", date=d())
    return Built(path, s)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The mixed-history repository (read-only)."""
    return build_mixed(tmp_path_factory.mktemp("mixed") / "mixed")


def by_sha(records: object) -> dict[str, gitlog.CommitRecord]:
    """Records keyed by commit id; fails on a duplicate."""
    out: dict[str, gitlog.CommitRecord] = {}
    for rec in records:  # type: ignore[attr-defined]
        assert rec.sha not in out, f"duplicate {rec.sha}"
        out[rec.sha] = rec
    return out


@pytest.mark.parametrize(("jobs", "chunk", "window"),
                         [(2, 1, 1), (2, 3, 4), (3, 2, 2), (0, 5, 20), (4, 1000, 4000)])
def test_parallel_equals_single_process(
    mixed: Built, monkeypatch: pytest.MonkeyPatch, jobs: int, chunk: int, window: int
) -> None:
    """A window of one run (the feeder waits for every run to come back) cannot hang."""
    repo = Repository(mixed.path)
    tip = repo.resolve("HEAD")
    single = by_sha(mine(repo, tip, jobs=1))
    monkeypatch.setattr(gitlog, "CHUNK", chunk)
    monkeypatch.setattr(gitlog, "WINDOW", window)
    parallel = by_sha(mine(repo, tip, jobs=jobs))
    assert parallel == single
    assert set(single) == set(mixed.sha.values())


@pytest.mark.parametrize("build", ["core", "odd", "trapped"])
def test_workers_print_what_git_log_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: str
) -> None:
    """``diff-tree --stdin`` workers against one ``git log``: mailmap, encodings, odd names,
    extreme dates, submodules, octopus merges, a repository configured to run programs and to
    detect copies, and a diff.orderFile."""
    if build == "core":
        path = build_core(tmp_path / "core").path
    elif build == "odd":
        path = build_odd(tmp_path / "odd").path
    else:
        path = build_booby_trapped(tmp_path / "trapped", tmp_path / "markers").path
    repo = Repository(path)
    tip = repo.resolve("HEAD")
    # git log orders files by diff.orderFile and diff-tree does not: both are told to ignore it.
    order = tmp_path / "order"
    order.write_text("".join(f"{p}\n" for p in sorted(repo.tree_paths(tip), reverse=True)))
    subprocess.run(["git", "-C", str(path), "config", "diff.orderFile", str(order)], check=True)
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    monkeypatch.setattr(gitlog, "WINDOW", 3)
    for renames in (True, False):
        single = by_sha(mine(repo, tip, renames=renames, jobs=1))
        assert by_sha(mine(repo, tip, renames=renames, jobs=2)) == single
        assert len(single) == int(repo.run(["rev-list", "--count", tip]))
    assert not (tmp_path / "markers").exists() or not any((tmp_path / "markers").iterdir())


def test_records_match_the_construction(mixed: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    repo = Repository(mixed.path)
    recs = by_sha(mine(repo, repo.resolve("HEAD"), jobs=2))
    s = mixed.sha
    assert recs[s["root"]].files == (
        FileChange("a.txt", 3, 0), FileChange("logo.bin", None, None),
    )  # fmt: skip
    assert recs[s["root"]].parents == ()
    assert recs[s["root2"]].parents == ()
    assert recs[s["root2"]].files == (FileChange("other.txt", 7, 0),)
    # lines(5) -> lines(6) on the renamed file: one line added, none deleted.
    assert recs[s["t1"]].files == (FileChange("moved/a.txt", 1, 0, old_path="a.txt"),)
    for m in ("m1", "m2", "m3"):
        assert recs[s[m]].is_merge and recs[s[m]].files == ()
    assert len(recs[s["m3"]].parents) == 3
    assert recs[s["c4"]].files == ()


def test_exclude_and_renames_off(mixed: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    repo = Repository(mixed.path)
    tip, base = repo.resolve("HEAD"), mixed.sha["m1"]
    for renames in (True, False):
        single = by_sha(mine(repo, tip, exclude=[base], renames=renames, jobs=1))
        assert by_sha(mine(repo, tip, exclude=[base], renames=renames, jobs=2)) == single
    s = mixed.sha
    assert set(single) == {s[k] for k in ("root2", "m2", "x", "y", "c4", "m3")}
    flat = by_sha(mine(repo, tip, renames=False, jobs=2))
    assert flat[s["t1"]].files == (FileChange("a.txt", 0, 5), FileChange("moved/a.txt", 6, 0))


def test_iter_history_default_is_one_process(mixed: Built) -> None:
    repo = Repository(mixed.path)
    tip = repo.resolve("HEAD")
    assert by_sha(iter_history(repo, tip)) == by_sha(iter_history(repo, tip, jobs=2))


def test_worker_failure_is_raised(mixed: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    repo = Repository(mixed.path)
    real = gitlog.diff_tree_args

    def broken(nonce: bytes, *, renames: bool = True) -> list[str]:
        return [*real(nonce, renames=renames), "--no-such-option"]

    monkeypatch.setattr(gitlog, "diff_tree_args", broken)
    with pytest.raises(GitError, match="git diff-tree failed"):
        list(mine(repo, repo.resolve("HEAD"), jobs=2))


@pytest.mark.parametrize(("last", "message"), [(False, "2 of 3 commits came back"),
                                               (True, "0 of 1 commits came back")])
def test_a_commit_the_worker_skips_is_an_error(
    mixed: Built, monkeypatch: pytest.MonkeyPatch, last: bool, message: str
) -> None:
    """diff-tree reports an unreadable commit on stderr and goes on with exit 0; the miner
    counts each run's commits, so a short history is never taken for the whole one. The
    unreadable id goes first into the second run, or alone into a last run, which comes back
    as its mark alone."""
    monkeypatch.setattr(gitlog, "CHUNK", 3)
    monkeypatch.setattr(gitlog, "BLOCK", 3)
    repo = Repository(mixed.path)
    real = gitlog._ids
    missing = b"1" * 40

    def with_a_missing_commit(*args: object) -> object:
        ids = [i for part in real(*args) for i in part]  # type: ignore[arg-type]
        ids.insert(len(ids) if last else 3, missing)
        yield ids

    monkeypatch.setattr(gitlog, "_ids", with_a_missing_commit)
    with pytest.raises(GitError, match=f"git diff-tree failed: {message}"):
        list(mine(repo, repo.resolve("HEAD"), jobs=2))


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_marks_in_a_row_each_end_a_run(size: int) -> None:
    """Runs that printed nothing leave their marks back to back; each one is counted, however
    the stream is cut into reads."""
    mark = b"prov-mark-0123"
    header = b"\0N\0" + b"\0".join([b"a" * 40, b"", b"x", b"y", b"x", b"y", b"x", b"y",
                                   b"1 +0000", b"1 +0000", b"msg\n"]) + b"\0"  # fmt: skip
    stream = header + b"\n1\t2\tf.txt\0" + mark + b"\n" + mark + b"\n" + mark + b"\n"
    seen: list[int] = []
    parser = gitlog._Parser(b"N", mark, seen.append)
    chunks = (stream[i : i + size] for i in range(0, len(stream), size))
    recs = list(parser.records(chunks))
    assert [r.files for r in recs] == [(FileChange("f.txt", 1, 2),)]
    assert seen == [1, 0, 0]


def test_unknown_exclude_is_raised(mixed: Built) -> None:
    repo = Repository(mixed.path)
    with pytest.raises(GitError, match="git rev-list failed"):
        list(mine(repo, repo.resolve("HEAD"), exclude=["0" * 40], jobs=2))


def _spy_on_processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    started: list[subprocess.Popen[bytes]] = []
    real = gitlog._Pool._started

    def spy(self: gitlog._Pool, proc: subprocess.Popen[bytes]) -> None:
        started.append(proc)
        real(self, proc)

    monkeypatch.setattr(gitlog._Pool, "_started", spy)
    return started


def test_closing_early_kills_every_git(mixed: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 1)
    repo = Repository(mixed.path)
    started = _spy_on_processes(monkeypatch)
    stream = mine(repo, repo.resolve("HEAD"), jobs=2)
    next(stream)
    stream.close()
    assert len(started) == 3  # two workers and rev-list
    assert all(p.poll() is not None for p in started)


def test_jobs_zero_means_one_per_core() -> None:
    assert gitlog.resolve_jobs(0) == gitlog.cpu_count() >= 1
    assert gitlog.resolve_jobs(3) == 3


def test_ids_are_rev_lists(mixed: Built) -> None:
    """rev-list's 12 ids, newest first, whole, however the reads cut them."""
    repo = Repository(mixed.path)
    parts = list(gitlog._ids(repo, ["main"], (), lambda p: None))
    assert [i.decode() for part in parts for i in part] == repo.run(["rev-list", "main"]).split()


def plan_of(ids: list[bytes], reads: list[int], jobs: int) -> gitlog._Schedule:
    """A schedule over ``ids``, which rev-list gives in reads of the given sizes (cycled)."""

    def source() -> Iterator[list[bytes]]:
        i, k = 0, 0
        while i < len(ids):
            n = reads[k % len(reads)]
            yield ids[i : i + n]
            i, k = i + n, k + 1

    return gitlog._Schedule(jobs, source())


def take(plan: gitlog._Schedule, w: int) -> list[bytes]:
    """What the feeder hands worker ``w`` alone: rev-list is read, once per call, until the
    worker has a run or rev-list is done."""
    while not (run := plan.run_for(w)) and not plan.exhausted:
        pass
    return run


def test_schedule_reserves_blocks_and_shares_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    monkeypatch.setattr(gitlog, "BLOCK", 4)
    ids = [b"%02d" % i for i in range(11)]
    plan = plan_of(ids, [3], jobs=2)
    # Worker 0 reserves 00-03, worker 1 04-07; each gets its own block run by run.
    assert take(plan, 0) == [b"00", b"01"]
    assert take(plan, 1) == [b"04", b"05"]
    assert take(plan, 1) == [b"06", b"07"]
    # Worker 1's block is used up: it reserves 08-11, of which rev-list prints 08-10.
    assert take(plan, 1) == [b"08", b"09"]
    assert take(plan, 0) == [b"02", b"03"]
    # Nothing more from rev-list: worker 0 takes the back half of worker 1's block, none here
    # (one id is left, and it stays with its owner).
    assert take(plan, 0) == []
    assert not plan.done
    assert take(plan, 1) == [b"10"]
    assert plan.done
    assert take(plan, 0) == take(plan, 1) == []


def test_schedule_starts_a_block_before_rev_list_has_printed_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker's first run goes out once rev-list has printed it, not the whole block; the
    next worker's block starts BLOCK positions on, and takes the ids as they come."""
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    monkeypatch.setattr(gitlog, "BLOCK", 6)
    ids = [b"%02d" % i for i in range(14)]
    reads: list[int] = []

    def source() -> Iterator[list[bytes]]:
        for i in range(0, len(ids), 3):
            reads.append(i)
            yield ids[i : i + 3]

    plan = gitlog._Schedule(2, source())
    assert take(plan, 0) == [b"00", b"01"] and len(reads) == 1
    # Without reading, worker 1 gets nothing: its block starts beyond what rev-list printed.
    assert plan.run_for(1, read=False) == [] and len(reads) == 1
    assert take(plan, 1) == [b"06", b"07"] and len(reads) == 3  # 03-05 went to worker 0
    assert take(plan, 0) == [b"02", b"03"] and len(reads) == 3
    assert take(plan, 0) == [b"04", b"05"]
    assert take(plan, 0) == [b"12", b"13"] and len(reads) == 5  # 08, then 09-11 to worker 1
    assert take(plan, 1) == [b"08", b"09"]
    assert take(plan, 1) == [b"10", b"11"]
    assert not plan.done
    assert take(plan, 1) == []  # rev-list is done and nothing is left to share
    assert plan.done


def test_schedule_steals_the_back_half(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlog, "CHUNK", 2)
    monkeypatch.setattr(gitlog, "BLOCK", 100)
    ids = [b"%02d" % i for i in range(10)]
    plan = plan_of(ids, [10], jobs=3)
    assert take(plan, 0) == [b"00", b"01"]  # worker 0 reserves all ten
    assert take(plan, 1) == [b"06", b"07"]  # worker 1 takes 06-09 of the 8 left
    assert take(plan, 2) == [b"04", b"05"]  # worker 2 takes 04-05 of worker 0's 02-05
    assert take(plan, 1) == [b"08", b"09"]
    assert take(plan, 0) == [b"02", b"03"]
    assert plan.done


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 60), jobs=st.integers(1, 4), chunk=st.integers(1, 6),
       block=st.integers(1, 20), reads=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       order=st.lists(st.integers(0, 3), min_size=1, max_size=30))  # fmt: skip
def test_schedule_hands_every_id_once_in_consecutive_runs(
    n: int, jobs: int, chunk: int, block: int, reads: list[int], order: list[int]
) -> None:
    """Whatever the sizes and the order the workers ask in: every id goes out exactly once,
    each run is a stretch of rev-list's order no longer than CHUNK, and the schedule is done
    once nothing is left."""
    ids = [b"%03d" % i for i in range(n)]
    saved = gitlog.CHUNK, gitlog.BLOCK
    gitlog.CHUNK, gitlog.BLOCK = chunk, block
    try:
        plan = plan_of(ids, reads, jobs)
        out: list[bytes] = []
        for step in range(4 * n + 4 * jobs + len(order)):
            w = order[step % len(order)] % jobs
            run = plan.run_for(w)
            assert len(run) <= chunk
            if run:
                first = ids.index(run[0])
                assert run == ids[first : first + len(run)]
            out += run
        # Whatever a worker could not take (a last id of another's block) goes to its owner.
        for _ in range(4 * n + 4 * jobs + 4):
            for w in range(jobs):
                out += plan.run_for(w)
        assert sorted(out) == ids
        assert plan.done
    finally:
        gitlog.CHUNK, gitlog.BLOCK = saved


def test_read_blobs_equals_read_blob_one_by_one(tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "r")
    b.commit("c\n", {".gitattributes": "*.js linguist-generated\n", "a b/.gitattributes": "x\n",
                     "x 12": "twelve\n", "new\nline/.gitattributes": "nl\n", "empty": "",
                     "bin": b"\x00\x01\n\xff", "d/sub.txt": "s\n"})  # fmt: skip
    (b.path / "link").symlink_to("x 12")
    tip = b.commit("link\n", {})
    repo = Repository(b.path)
    paths = [".gitattributes", "a b/.gitattributes", "x 12", "new\nline/.gitattributes", "empty",
             "bin", "link", "d", "missing", "d/missing blob 12", "x 12 missing"]  # fmt: skip
    got = repo.read_blobs(tip, paths)
    assert list(got) == paths
    assert got == {p: repo.read_blob(tip, p) for p in paths}
    assert got["x 12"] == b"twelve\n" and got["bin"] == b"\x00\x01\n\xff" and got["link"] == b"x 12"
    assert got["d"] is None and got["missing"] is None and got["empty"] == b""
    assert repo.read_blobs(tip, []) == {}


def test_read_blobs_of_paths_the_batch_protocol_cannot_carry(tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "r")
    tip = b.commit("c\n", {"crfile": "plain\n", "crfile\r": "cr\n"})
    repo = Repository(b.path)
    paths = ["crfile\r", "crfile", "caf\udce9"]
    expected = {"crfile\r": b"cr\n", "crfile": b"plain\n",
                "caf\udce9": repo.read_blob(tip, "caf\udce9")}  # fmt: skip
    assert repo.read_blobs(tip, paths) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=8).filter(lambda b: b"\0" not in b), min_size=10,
                max_size=10), st.binary(max_size=12))  # fmt: skip
def test_header_fields_decode_as_each_alone(fields: list[bytes], message: bytes) -> None:
    """The parser decodes a commit's header in one go; each field (the message may hold NUL)
    comes out as decoding it alone would, invalid UTF-8 replaced the same way."""
    parser = gitlog._Parser(b"N")
    header = [b"a" * 40, b"", *fields[2:8], b"1 +0000", b"2 -0130", message]
    rec = parser._record(header, [])
    alone = [x.decode("utf-8", errors="replace") for x in header]
    assert (rec.author_name, rec.author_email, rec.author, rec.author_mail, rec.committer_name,
            rec.committer_email, rec.message) == (*alone[2:8], alone[10])  # fmt: skip
    assert (rec.authored_at, rec.committer_tz) == (1, "-0130")


def test_git_may_write_256_kib_ahead(mixed: Built, tmp_path: Path) -> None:
    """Every git child's stdout pipe holds 256 KiB (Linux), so git does not stop while the
    thread that reads it waits for the GIL; where the pipe cannot grow, it keeps its size."""
    import fcntl
    import os

    get = getattr(fcntl, "F_GETPIPE_SZ", None)
    expected = None
    if get is not None:  # what this kernel allows this user
        r, w = os.pipe()
        try:
            default = fcntl.fcntl(r, get)
            try:
                fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, 256 << 10)
                expected = 256 << 10
            except OSError:
                expected = default
        finally:
            os.close(r)
            os.close(w)
    repo = Repository(mixed.path)
    child = repo._spawn(["rev-list", "HEAD"])
    try:
        assert child.proc.stdout is not None
        if get is not None:
            assert fcntl.fcntl(child.proc.stdout.fileno(), get) == expected == child.pipe_size
    finally:
        assert b"".join(repo._drain(child)).count(b"\n") == 12
    plain = tmp_path / "not-a-pipe"
    plain.write_bytes(b"")
    with plain.open("rb") as fh:
        assert gitlog._widen(fh) == 0  # refused by the kernel: nothing raised, no size


@pytest.mark.parametrize(
    ("fed", "in_flight", "stop", "sleeps"),
    [
        (False, 0, False, [True, False, True]),  # more runs may come: wait after small reads
        (True, 2, False, [True, False, True]),  # runs still in flight: same
        (True, 0, False, [False, False, False]),  # nothing left to come: never hold back
        (False, 1, True, [False, False, False]),  # stopping: never delay the close
    ],
)
def test_a_reader_waits_after_small_reads_only_while_more_is_to_come(
    monkeypatch: pytest.MonkeyPatch, fed: bool, in_flight: int, stop: bool, sleeps: list[bool]
) -> None:
    import collections
    import threading

    pool = gitlog._Pool.__new__(gitlog._Pool)
    pool.runs = [collections.deque([gitlog.CHUNK] * in_flight)]
    pool.fed, pool.stop = threading.Event(), threading.Event()
    pool.mark = b"prov-mark-0123456789abcdef"
    if fed:
        pool.fed.set()
    if stop:
        pool.stop.set()
    slept: list[float] = []
    monkeypatch.setattr(gitlog.time, "sleep", slept.append)
    small, big = b"x" * 4096, b"y" * gitlog.PACE_BELOW
    got = []
    for chunk in pool._paced(0, iter([small, big, small])):
        got.append((chunk, len(slept)))
    assert [c for c, _ in got] == [small, big, small]
    assert len(slept) == sum(sleeps) and set(slept) <= {gitlog.PACE}
    after = [n for _, n in got[1:]] + [len(slept)]
    assert [b - a > 0 for a, b in zip([n for _, n in got], after, strict=True)] == sleeps


def test_a_head_start_is_adopted_by_the_walk_it_started(
    mixed: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    procs = _spy_on_processes(monkeypatch)
    repo = Repository(mixed.path)
    tip = repo.resolve("HEAD")
    hs = gitlog.head_start(mixed.path, "HEAD", jobs=2)
    assert hs is not None
    assert len(procs) >= 2  # the workers run before anything asks for records
    got = by_sha(iter_history(repo, tip, jobs=2, started=hs))
    assert got == by_sha(mine(repo, tip, jobs=1))
    assert len(procs) == 3  # its own workers and rev-list, no others
    assert hs.take(repo, tip, (), True, 2) is None  # adopted once
    hs.close()  # a no-op once adopted
    assert all(p.poll() is not None for p in procs)


@pytest.mark.parametrize("other", ["tip", "exclude", "renames", "jobs"])
def test_a_head_start_for_another_walk_is_stopped(
    mixed: Built, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    procs = _spy_on_processes(monkeypatch)
    repo = Repository(mixed.path)
    tip, parent = repo.resolve("HEAD"), repo.resolve("HEAD~1")
    hs = gitlog.head_start(mixed.path, "HEAD", jobs=2)
    want, exclude, renames, jobs = tip, [], True, 2
    if other == "tip":
        want = parent
    elif other == "exclude":
        exclude = [parent]
    elif other == "renames":
        renames = False
    else:
        jobs = 3
    got = by_sha(mine(repo, want, exclude=exclude, renames=renames, jobs=jobs, started=hs))
    assert got == by_sha(mine(repo, want, exclude=exclude, renames=renames))
    first = procs[:2]  # the head start's workers
    assert all(p.poll() is not None for p in first)
    assert all(p.poll() is not None for p in procs)


def test_an_unused_head_start_is_stopped_on_close(
    mixed: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    procs = _spy_on_processes(monkeypatch)
    with gitlog.head_start(mixed.path, "HEAD", jobs=2) as hs:  # type: ignore[union-attr]
        assert hs is not None
    assert procs and all(p.poll() is not None for p in procs)


def test_no_head_start_where_it_is_not_sure_to_be_wanted(
    mixed: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provenance import cache

    assert gitlog.head_start(mixed.path, "HEAD", jobs=1) is None
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    with gitlog.head_start(mixed.path, "HEAD", jobs=2, cache=True) as hs:  # type: ignore[union-attr]
        assert hs is not None  # nothing cached for this repository yet
    list(iter_history(Repository(mixed.path), Repository(mixed.path).resolve("HEAD"), jobs=2,
                      cache=True))  # fmt: skip
    assert gitlog.head_start(mixed.path, "HEAD", jobs=2, cache=True) is None
    with gitlog.head_start(mixed.path, "HEAD", jobs=2, cache=False) as hs:  # type: ignore[union-attr]
        assert hs is not None
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{mixed.path}", str(shallow)],
                   check=True, capture_output=True)  # fmt: skip
    assert gitlog.head_start(shallow, "HEAD", jobs=2) is None


def test_a_head_start_raises_what_the_audit_would(mixed: Built, tmp_path: Path) -> None:
    from provenance.errors import NotAGitRepository, UnknownRevision

    with pytest.raises(UnknownRevision) as early:
        gitlog.head_start(mixed.path, "no-such-branch", jobs=2)
    with pytest.raises(UnknownRevision) as late:
        Repository(mixed.path).resolve("no-such-branch")
    assert str(early.value) == str(late.value)
    with pytest.raises(NotAGitRepository):
        gitlog.head_start(tmp_path, "HEAD", jobs=2)


def test_audit_adopts_a_head_start_and_stops_one_it_fails_before_using(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    import provenance
    from provenance.errors import ConfigError

    b = build_core(tmp_path / "r")
    plain = provenance.audit(b.path, jobs=2, cache=False)
    with gitlog.head_start(b.path, "HEAD", jobs=2) as hs:  # type: ignore[union-attr]
        early = provenance.audit(b.path, jobs=2, cache=False, started=hs)
    pd.testing.assert_frame_equal(early.commits, plain.commits)
    pd.testing.assert_frame_equal(early.files, plain.files)
    procs = _spy_on_processes(monkeypatch)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[not toml\n")
    with (
        pytest.raises(ConfigError),
        gitlog.head_start(b.path, "HEAD", jobs=2) as hs,  # type: ignore[union-attr]
    ):
        provenance.audit(b.path, jobs=2, cache=False, config_file=bad, started=hs)
    assert procs and all(p.poll() is not None for p in procs)


def test_the_cli_imports_no_classifier_frames_or_pandas_before_it_starts_git() -> None:
    code = ("import sys, provenance.cli; print(sorted(m for m in ('provenance.classify', "
            "'provenance.frame', 'provenance.rules', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_reader_never_waits_after_a_chunk_that_ends_a_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On cheap commits a worker clears its window faster than PACE: the feeder must hear at
    once."""
    import collections
    import threading

    pool = gitlog._Pool.__new__(gitlog._Pool)
    pool.runs = [collections.deque([gitlog.CHUNK])]
    pool.fed, pool.stop = threading.Event(), threading.Event()
    pool.mark = b"prov-mark-0123456789abcdef"
    slept: list[float] = []
    monkeypatch.setattr(gitlog.time, "sleep", slept.append)
    list(pool._paced(0, iter([b"x" * 100 + pool.mark + b"\n", b"y" * 100])))
    assert slept == [gitlog.PACE]  # only after the chunk without a mark
