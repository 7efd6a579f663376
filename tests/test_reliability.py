"""Reliability and security: read-only, nothing a repository configures runs, bad input, odd
bytes, CSV injection, git failures, fuzzed parsers, interrupts."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st

import provenance
from fixtures.builder import RepoBuilder, lines
from fixtures.hostile import build_booby_trapped, build_huge_commit, build_odd, tree_digest
from fixtures.repos import Built
from provenance.cli import load_all_commands
from provenance.gitlog import CommitRecord, FileChange, _Parser

cli = load_all_commands()

Run = Callable[..., Result]


def command_args(path: Path, out: Path) -> dict[str, list[list[str]]]:
    """Invocations of every command (all output formats) against ``path``."""
    p = str(path)
    return {
        "report": [["report", p, "--format", f] for f in ("table", "csv", "json", "markdown")]
        + [["report", p, "--by", "tool"], ["report", p, "--by", "path", "-o", str(out / "r.csv")]],
        "commits": [["commits", p, "--format", f] for f in ("csv", "json", "jsonl")],
        "explain": [["explain", "HEAD", p], ["explain", "HEAD~1", p, "--format", "json"]],
        "rules": [["rules", p]],
        "blame": [
            ["blame", p],
            ["blame", p, "--releases", "--tags", "v*"],
            ["blame", p, "--format", "json"],
        ],
        "check": [["check", p, "--max-ai-share", "1"]],
        "badge": [["badge", p, "--output", str(out / "badge.svg")]],
        "schema": [["schema"]],
    }


def test_every_command_is_exercised(tmp_path: Path) -> None:
    assert set(cli.commands) <= set(command_args(tmp_path, tmp_path))


def run_all(run: Run, path: Path, out: Path) -> None:
    for name, invocations in command_args(path, out).items():
        if name not in cli.commands:
            continue
        for args in invocations:
            result = run(args)
            assert result.exit_code in (0, 1), (args, result.stderr)


def test_read_only(run: Run, core_repo: Built, tmp_path: Path) -> None:
    repo = tmp_path / "core"
    shutil.copytree(core_repo.path, repo, symlinks=True)
    for tag, rev in (("v1", core_repo.sha["c3"]), ("v2", "HEAD")):
        subprocess.run(["git", "-C", str(repo), "tag", tag, rev], check=True)
    before = tree_digest(repo)
    run_all(run, repo, tmp_path)
    after = tree_digest(repo)
    assert after.keys() == before.keys()
    changed = [k for k in before if before[k] != after[k]]
    assert changed == []


def test_nothing_the_repository_configures_runs(run: Run, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    b = build_booby_trapped(tmp_path / "trapped", markers)
    assert list(markers.iterdir()) == []
    # Check the traps are armed: plain git with the repository's config springs one.
    subprocess.run(["git", "-C", str(b.path), "-c", "filter.evil.process=", "diff", "HEAD~1",
                    "HEAD"], capture_output=True, env=b.env, check=False, timeout=60)  # fmt: skip
    assert "diff-command" in {m.name for m in markers.iterdir()}
    for m in markers.iterdir():
        m.unlink()
    run_all(run, b.path, tmp_path)
    assert sorted(m.name for m in markers.iterdir()) == []
    # and the figures are what they are without any textconv/external diff:
    a = provenance.audit(b.path)
    assert a.commits["added"].sum() == 3 + 1 + 2 + 2 + 2 + 1  # a.txt 3+2+1, secret 1, b.evil 2+2


def test_dubious_ownership_gives_the_remedy(run: Run, linear_repo: Built, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the repository to another user")
    repo = tmp_path / "owned"
    shutil.copytree(linear_repo.path, repo)
    (repo / "sub").mkdir()
    subprocess.run(["chown", "-R", "65534:65534", str(repo)], check=True)
    for where in (repo, repo / "sub"):  # the remedy names the repository, not the subfolder
        result = run(["report", where], env={"GIT_CONFIG_GLOBAL": os.devnull})
        assert result.exit_code == 2
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert "owned by another user" in line
        assert line.endswith(f"git config --global --add safe.directory {repo}")


def test_unknown_range(run: Run, core_repo: Built) -> None:
    result = run(["report", core_repo.path, "--range", "nope..HEAD"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["provenance: error: unknown revision: 'nope' does not "
                                          "name a commit"]  # fmt: skip
    result = run(["report", core_repo.path, "--range", "HEAD"])
    assert result.exit_code == 2
    assert "use BASE..HEAD" in result.stderr


def test_odd_bytes_dates_names_octopus_submodule(tmp_path: Path, run: Run) -> None:
    b = build_odd(tmp_path / "odd")
    result = run(["commits", b.path, "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    by_subject = {r["subject"]: r for r in rows}
    # Every non-merge commit is counted; the octopus merge is not; the submodule pointer is not
    # a line of code: .gitmodules (3 lines) counts, the gitlink does not.
    assert len(rows) == 9
    assert sum(r["added"] for r in rows) == 2 + 3 + 1 + 15 + 1 + 2 + 3 + 3 + 0
    assert by_subject["Café crème"]["author"] == "Jürgen Müller"  # re-encoded from Latin-1
    assert by_subject["日本語のコミット"]["author"] == "山田"  # from Shift-JIS
    assert by_subject["Broken \ufffd\ufffd\ufffd bytes"]["added"] == 1  # invalid bytes replaced
    # A date git cannot parse (before 1970) is reported as the epoch, not dropped.
    assert by_subject["Café crème"]["authored_at"] == "1970-01-01T00:00:00+00:00"
    # After 2100, with a -12:00 zone: stored in UTC.
    assert (
        by_subject["Broken \ufffd\ufffd\ufffd bytes"]["authored_at"] == "2101-03-09T16:00:00+00:00"
    )
    # +05:45 zone converted to UTC.
    assert by_subject["Odd names"]["authored_at"] == "2099-03-02T06:15:00+00:00"
    for br in ("x", "y", "z"):  # octopus branches land at the merge
        assert by_subject[f"Branch {br}"]["landed_at"] == "2099-03-10T12:00:00+00:00"
    a = provenance.audit(b.path)
    paths = set(a.files["path"])
    assert {"with space.txt", "new\nline.txt", "quo\"te's.txt", "ünïcödé/文件.txt",
            "tab\there.txt"} <= paths  # fmt: skip


def test_huge_commit(tmp_path: Path) -> None:
    b = build_huge_commit(tmp_path / "huge")
    a = provenance.audit(b.path)
    assert sorted(a.commits["added"]) == [2, 200_000]


def test_csv_formula_injection(tmp_path: Path, run: Run) -> None:
    b = RepoBuilder(tmp_path / "inject")
    b.commit("=HYPERLINK(\"http://x\")\n", {"=cmd|' /C calc'!A0/x.txt": lines(1)},
             author=("+SUM(1,2)", "@evil.example"))  # fmt: skip
    b.commit("-2+3\n", {"b.txt": lines(1)}, author=("Pipe | Name", "p@example.com"),
             date="2025-01-02T00:00:00+00:00")  # fmt: skip
    out = run(["commits", b.path]).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    first = next(r for r in rows if r["subject"].startswith("'="))
    assert first["subject"] == '\'=HYPERLINK("http://x")'
    assert first["author"] == "'+SUM(1,2)"
    assert first["author_email"] == "'@evil.example"
    assert any(r["subject"] == "'-2+3" for r in rows)
    by_path = run(["report", b.path, "--by", "path", "--format", "csv"]).stdout
    assert "\n'=cmd|' ," in by_path  # the directory "=cmd|' " (the path has a slash)
    # Numbers are never quoted or prefixed.
    assert rows[0]["added"] == "1"
    # Markdown: a pipe in an author name does not break the table.
    md = run(["report", b.path, "--by", "author", "--format", "markdown"]).stdout
    row = next(line for line in md.splitlines() if "Pipe" in line)
    assert "Pipe \\| Name" in row
    header = next(line for line in md.splitlines() if line.startswith("| "))
    assert row.count(" | ") == header.count(" | ")
    # JSON round-trips the raw text.
    doc = json.loads(run(["commits", b.path, "--format", "json"]).stdout)
    assert {r["author"] for r in doc} == {"+SUM(1,2)", "Pipe | Name"}


def test_git_failure_is_reported_with_its_stderr(tmp_path: Path, run: Run,
                                                 linear_repo: Built) -> None:  # fmt: skip
    repo = tmp_path / "broken"
    shutil.copytree(linear_repo.path, repo)
    # Delete one blob: git log --numstat then dies half-way through the history.
    blob = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD~1:f2.txt"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    # One git log, and the parallel workers (git diff-tree --stdin).
    for jobs, git in (("1", "log"), ("2", "diff-tree")):
        result = run(["report", repo, "--no-cache", "--jobs", jobs])
        assert result.exit_code == 3
        assert result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(f"provenance: error: git {git} failed (exit 128): fatal: ")
        assert blob in line or "unable to read" in line


# -- parser fuzzing ----------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                max_size=30)  # fmt: skip
paths = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                min_size=1, max_size=20)  # fmt: skip
shas = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)


@st.composite
def records(draw: st.DrawFn) -> CommitRecord:
    files = []
    for _ in range(draw(st.integers(0, 4))):
        binary = draw(st.booleans())
        added = None if binary else draw(st.integers(0, 10**6))
        deleted = None if binary else draw(st.integers(0, 10**6))
        old = draw(st.one_of(st.none(), paths))
        files.append(FileChange(draw(paths), added, deleted, old_path=old))
    name, email = draw(texts), draw(texts)
    return CommitRecord(
        sha=draw(shas), parents=tuple(draw(st.lists(shas, max_size=3))), author_name=name,
        author_email=email, author=name, author_mail=email, committer_name=draw(texts),
        committer_email=draw(texts), authored_at=draw(st.integers(0, 2**33)), author_tz="+0000",
        committed_at=draw(st.integers(0, 2**33)), committer_tz="-0130",
        message=draw(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                                    blacklist_categories=("Cs",)), max_size=200)),
        files=tuple(files),
    )  # fmt: skip


def serialise(rec: CommitRecord, nonce: bytes) -> bytes:
    """What git log -z --numstat writes for one commit with our format."""
    fields = [rec.sha, " ".join(rec.parents), rec.author_name, rec.author_email, rec.author,
              rec.author_mail, rec.committer_name, rec.committer_email,
              f"{rec.authored_at} {rec.author_tz}", f"{rec.committed_at} {rec.committer_tz}",
              rec.message]  # fmt: skip
    out = b"\0" + nonce + b"\0" + b"\0".join(f.encode() for f in fields) + b"\0"
    if rec.files:
        out += b"\0\n"
        for f in rec.files:
            a = "-" if f.added is None else str(f.added)
            d = "-" if f.deleted is None else str(f.deleted)
            if f.old_path is not None:
                out += f"{a}\t{d}\t\0{f.old_path}\0{f.path}\0".encode()
            else:
                out += f"{a}\t{d}\t{f.path}\0".encode()
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(records(), max_size=5), st.integers(1, 64))
def test_log_parser_round_trip(recs: list[CommitRecord], chunk: int) -> None:
    nonce = b"\x1eprov-0123456789abcdef"
    data = b"".join(serialise(r, nonce) for r in recs)
    chunks = iter([data[i : i + chunk] for i in range(0, len(data), chunk)])
    assert list(_Parser(nonce).records(chunks)) == recs


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500), st.integers(1, 64))
def test_log_parser_never_raises_on_garbage(data: bytes, chunk: int) -> None:
    nonce = b"\x1eprov-0123456789abcdef"
    chunks = iter([data[i : i + chunk] for i in range(0, len(data), chunk)])
    for rec in _Parser(nonce).records(chunks):
        assert isinstance(rec, CommitRecord)


# -- interrupt ---------------------------------------------------------------------------------


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid``: pid -> command name."""
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ")".
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid:
            out[int(proc.name)] = comm
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


@pytest.mark.parametrize(("command", "held"), [("commits", "diff-tree"), ("blame", "blame")])
def test_ctrl_c_exits_130_and_leaves_nothing(
    linear_repo: Built, tmp_path: Path, command: str, held: str
) -> None:
    # A git that writes its whole output and then holds the pipe open (as a slow git would),
    # so the interrupt deterministically lands mid-stream.
    real = shutil.which("git")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do [ "$a" = {held} ] && {{ \'{real}\' "$@"; exec sleep 60; }}; done\n'
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out.csv"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance", command, str(linear_repo.path), "--no-cache",
         "--jobs", "2", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    held: list[int] = []
    while not held and time.monotonic() < deadline and proc.poll() is None:
        held = [pid for pid, comm in _children(proc.pid).items() if comm == "sleep"]
        time.sleep(0.02)
    assert held, "the miner never reached the git the wrapper holds"
    children = list(_children(proc.pid))
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stdout == b""
    assert stderr.decode().splitlines() == ["provenance: error: interrupted"]
    time.sleep(0.1)
    assert [pid for pid in children if _alive(pid)] == []  # every git child was killed
    assert list(work.iterdir()) == []  # no output, no temp file


def test_commands_start_git_before_importing_pandas(linear_repo: Built) -> None:
    """Importing the CLI does not import pandas or numpy (their 0.2 s of start-up runs on a
    thread while git works), and the lazy stand-ins give the real modules' attributes."""
    code = (
        "import sys, provenance, provenance.cli\n"
        "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules, 'imported'\n"
        "from provenance._lazy import pandas, preload\n"
        "t = preload(); t.join()\n"
        "import pandas as real\n"
        "assert pandas.DataFrame is real.DataFrame and preload() is None\n"
        f"a = provenance.audit({str(linear_repo.path)!r}, cache=False)\n"
        "print(len(a.commits))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.split() == [str(len(linear_repo.sha))]


def _cli(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, its stdout block-buffered as for any user."""
    kw.setdefault("stdout", subprocess.PIPE)
    env = dict(kw.pop("env", os.environ))  # type: ignore[call-overload]
    env.pop("PYTHONUNBUFFERED", None)
    kw["env"] = env
    return subprocess.run([sys.executable, "-m", "provenance", *args], stderr=subprocess.PIPE,
                          text=True, check=False, **kw)  # type: ignore[call-overload]  # fmt: skip


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["commits", "report"])
def test_a_full_disk_behind_stdout_is_one_line(linear_repo: Built, command: str) -> None:
    with open("/dev/full", "w") as full:
        proc = _cli([command, str(linear_repo.path), "-q", "--no-cache"], stdout=full)
    assert proc.returncode == 4
    assert proc.stderr.splitlines() == [
        "provenance: error: cannot write standard output: No space left on device"
    ]


def test_git_missing_from_path_is_one_line(linear_repo: Built, tmp_path: Path) -> None:
    proc = _cli(["report", str(linear_repo.path), "-q"], env={**os.environ, "PATH": str(tmp_path)})
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == ["provenance: error: git is not installed or not on PATH"]


def test_the_cli_exit_status_and_output_survive_its_quick_exit(linear_repo: Built) -> None:
    """main() ends with os._exit once stdout and stderr are flushed: the whole output is there,
    and each way out keeps its status (success, --version, usage error, library error)."""
    proc = _cli(["commits", str(linear_repo.path), "-q", "--no-cache", "--format", "json"])
    assert proc.returncode == 0
    assert len(json.loads(proc.stdout)) == len(linear_repo.sha)
    assert _cli(["--version"]).stdout.startswith("provenance, version ")
    assert _cli(["no-such-command"]).returncode == 2
    bad = _cli(["report", str(linear_repo.path / "missing")])
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("provenance: error: ")


def test_an_interrupt_while_records_are_consumed_stops_git_and_leaves_no_temp_file(
    linear_repo: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C landing in audit's own loop (not inside the miner) with the cache on: the
    miner is closed there and then, so its git processes are killed and the cache segment
    it was writing is discarded."""
    from provenance import gitlog

    monkeypatch.setattr(gitlog, "CHUNK", 1)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PROVENANCE_CACHE_DIR", str(cache))
    started: list[subprocess.Popen[bytes]] = []
    real = gitlog._Pool._started

    def spy(self: gitlog._Pool, proc: subprocess.Popen[bytes]) -> None:
        started.append(proc)
        real(self, proc)

    def interrupt(n: int) -> None:
        if n == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(gitlog._Pool, "_started", spy)
    # ``info`` holds the traceback, and with it audit's frame: nothing is left for the
    # garbage collector to close, as when the CLI exits at once.
    with pytest.raises(KeyboardInterrupt) as info:
        provenance.audit(linear_repo.path, cache=True, jobs=2, progress=interrupt)
    assert info.traceback
    assert started
    assert all(p.poll() is not None for p in started)
    assert [p.name for p in cache.rglob("*") if p.name.startswith(".tmp")] == []


def test_lazy_commands_are_listed_and_registered() -> None:
    """A fresh process lists (for ``--help``) every command there is, although the modules of
    :data:`LAZY_COMMANDS` are not imported yet, and each lazy name is where the map says."""
    from provenance.cli import LAZY_COMMANDS

    code = (
        "import sys, click; from provenance.cli import cli; "
        "print(' '.join(cli.list_commands(click.Context(cli)))); "
        "print(sorted(m for m in sys.modules if m.startswith('provenance.cli_')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()  # fmt: skip
    assert out[0].split() == sorted(cli.commands)
    assert out[1] == "[]"  # nothing imported the command modules to list them
    for name, module in LAZY_COMMANDS.items():
        assert cli.commands[name].callback.__module__ == module  # type: ignore[union-attr]


def test_cli_pauses_the_garbage_collector_only_while_it_mines(run: Run, core_repo: Built) -> None:
    """The CLI mines with the cyclic collector off and puts it back as it was, also on errors,
    with what it made frozen; the library's ``audit`` leaves it alone."""
    import gc

    from provenance.cli import _gc_paused

    seen: list[bool] = []
    provenance.audit(core_repo.path, cache=False, progress=lambda n: seen.append(gc.isenabled()))
    assert seen and all(seen)
    frozen = gc.get_freeze_count()
    with _gc_paused():
        assert not gc.isenabled()
        made = [[n] for n in range(1000)]
    assert gc.isenabled()
    # What exists when the pause ends is frozen: no collection walks the mined history again.
    assert gc.get_freeze_count() >= frozen + len(made)
    with pytest.raises(RuntimeError), _gc_paused():
        raise RuntimeError
    assert gc.isenabled()
    assert run(["commits", "-q", "--no-cache", core_repo.path]).exit_code == 0
    assert gc.isenabled()
    assert run(["commits", "-q", "--rev", "nope", core_repo.path]).exit_code == 2
    assert gc.isenabled()
    gc.disable()
    try:
        assert run(["commits", "-q", "--no-cache", core_repo.path]).exit_code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_cli_keeps_openblas_to_one_thread_unless_told() -> None:
    from provenance.cli import one_blas_thread

    env: dict[str, str] = {"PATH": "/bin"}
    one_blas_thread(env)
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        env = {name: "4"}
        one_blas_thread(env)
        assert env == {name: "4"}


@pytest.mark.parametrize("option", ["include", "exclude"])
def test_bad_glob_fails_before_mining(core_repo: Built, option: str) -> None:
    from provenance.errors import ConfigError

    seen: list[int] = []
    with pytest.raises(ConfigError, match=r"invalid glob '\[z-a\]'"):
        provenance.audit(core_repo.path, cache=False, progress=seen.append,
                         **{option: ("[z-a]",)})  # fmt: skip
    assert seen == []
