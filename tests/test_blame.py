"""Surviving share (``provenance blame``) on repositories whose surviving lines are known by hand.

Every expected figure comes from the builders' docstrings (fixtures/blame_repos.py and
fixtures/repos.py::build_core) and is cross-checked against ``git blame`` run directly on
each file of the fixture.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result

from fixtures import blame_repos
from fixtures.builder import base_env
from fixtures.repos import Built
from provenance import audit
from provenance.blame import (
    BlameReport,
    blame_report,
    cache_path,
    parse_ignore_revs,
    parse_incremental,
    surviving_share,
)
from provenance.errors import ConfigError
from provenance.gitlog import Repository
from provenance.progress import Progress

Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache root (never the user's ~/.cache)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PROVENANCE_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The blame scenarios, built once for the module (read-only)."""
    base = tmp_path_factory.mktemp("blame")
    return {
        "rewrite": blame_repos.build_rewrite(base / "rewrite"),
        "moves": blame_repos.build_moves(base / "moves"),
        "reformat": blame_repos.build_reformat(base / "reformat"),
        "ignore": blame_repos.build_ignore_revs(base / "ignore"),
        "releases": blame_repos.build_releases(base / "releases"),
    }


def totals(r: BlameReport | pd.DataFrame) -> tuple[int, int, int, int]:
    """(lines, ai, human, bot) of the single or total row."""
    t = r.table if isinstance(r, BlameReport) else r
    row = t.iloc[-1]
    return int(row["lines"]), int(row["ai_lines"]), int(row["human_lines"]), int(row["bot_lines"])


# -- git blame run directly: the oracle -------------------------------------------------------


def git_blame(repo: Path, rev: str, path: str, opts: Iterable[str] = ()) -> Counter[str]:
    """Lines per commit from ``git blame --line-porcelain``; boundary commits get a ``^``."""
    out = subprocess.run(
        ["git", "blame", "--line-porcelain", *opts, rev, "--", path],
        cwd=repo, env=base_env(), capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    counts: Counter[str] = Counter()
    sha, boundary = "", False
    for line in out.splitlines():
        if line.startswith("\t"):
            counts[("^" if boundary else "") + sha] += 1
            sha, boundary = "", False
        elif not sha:
            sha = line.split()[0]
        elif line == "boundary":
            boundary = True
    return counts


def direct(built: Built, ai: set[str], rev: str = "HEAD", opts: Iterable[str] = (),
           start: str | None = None) -> tuple[int, int]:  # fmt: skip
    """(lines, ai lines) over every file at ``rev``, blamed by git directly; in a window
    (``start``) boundary lines are left out."""
    names = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", rev], cwd=built.path,
                           env=base_env(), capture_output=True, check=True).stdout  # fmt: skip
    ai_shas = {built.sha[n] for n in ai}
    total = ai_lines = 0
    target = f"{start}..{rev}" if start else rev
    for path in filter(None, names.decode().split("\0")):
        for key, n in git_blame(built.path, target, path, opts).items():
            if start and key.startswith("^"):
                continue
            total += n
            ai_lines += n if key.lstrip("^") in ai_shas else 0
    return total, ai_lines


# -- the core scenario -------------------------------------------------------------------------


def test_core_surviving_lines(core_repo: Built) -> None:
    # build_core: no counted line is ever overwritten, so every line added survives: 65 lines,
    # AI 34 (c2 5, f1 7, c5 20, r2 2), bot 1 (c3), human 30; 10 counted files.
    r = blame_report(core_repo.path)
    assert totals(r) == (65, 34, 30, 1)
    assert r.files == 10
    assert r.table["ai_share"].iloc[0] == pytest.approx(34 / 65)
    assert r.excluded.lines == 183 and r.excluded.binary_files == 1
    by_tool = blame_report(core_repo.path, by="tool").table.set_index("tool")["lines"].to_dict()
    assert by_tool == {"Claude Code": 32, "(human)": 30, "Cursor": 2, "Dependabot": 1,
                       "total": 65}  # fmt: skip
    ai = {"c2", "f1", "c5", "r2"}
    files = ("src/app.py", "README.md", ".mailmap", "src/ai.py", "requirements.txt",
             "src/features/main.py", "docs/guide.md", "src/squash.py", "lib/util.py",
             ".gitattributes")  # fmt: skip
    counts = sum((git_blame(core_repo.path, "HEAD", f, ["-M"]) for f in files), Counter())
    assert sum(counts.values()) == 65
    assert sum(n for sha, n in counts.items() if sha.lstrip("^") in
               {core_repo.sha[x] for x in ai}) == 34  # fmt: skip


def test_core_branch_rule_counts_at_low_confidence(core_repo: Built) -> None:
    # f2 (3 surviving lines) is AI only by its merged branch claude/feature-x (a low rule).
    assert totals(blame_report(core_repo.path, min_confidence="low")) == (65, 37, 27, 1)


def test_core_groupings_and_filters(core_repo: Built) -> None:
    by_path = surviving_share(core_repo.path, by="path").set_index("path")["lines"].to_dict()
    assert by_path == {"src": 48, "lib": 8, "(root)": 5, "docs": 4, "total": 65}
    by_ext = surviving_share(core_repo.path, by="ext").set_index("ext")["lines"].to_dict()
    assert by_ext == {".py": 56, ".md": 6, "(none)": 2, ".txt": 1, "total": 65}
    assert totals(surviving_share(core_repo.path, exclude=["src/"])) == (17, 2, 14, 1)
    assert totals(surviving_share(core_repo.path, include=["lib/**"])) == (8, 2, 6, 0)


def test_library_accepts_an_audit(core_repo: Built) -> None:
    a = audit(core_repo.path)
    pd.testing.assert_frame_equal(surviving_share(a, by="tool"),
                                  surviving_share(core_repo.path, by="tool"))  # fmt: skip


def test_parallel_and_serial_agree(core_repo: Built) -> None:
    serial = surviving_share(core_repo.path, by="author", jobs=1, cache=False)
    pd.testing.assert_frame_equal(serial, surviving_share(core_repo.path, by="author", jobs=4,
                                                          cache=False))  # fmt: skip


# -- scenarios -------------------------------------------------------------------------------


def test_rewritten_ai_lines_stop_counting(repos: dict[str, Built]) -> None:
    b = repos["rewrite"]
    assert totals(blame_report(b.path)) == (20, 4, 16, 0)
    assert direct(b, {"c2"}, opts=["-M"]) == (20, 4)


@pytest.mark.parametrize(
    ("detect", "git_opts", "ai"),
    [("none", [], 25), ("move", ["-M"], 29), ("copy", ["-M", "-C"], 34)],
)
def test_moves(repos: dict[str, Built], detect: str, git_opts: list[str], ai: int) -> None:
    b = repos["moves"]
    assert totals(blame_report(b.path, detect=detect)) == (34, ai, 34 - ai, 0)
    assert direct(b, {"c1"}, opts=git_opts) == (34, ai)


def test_whitespace_reformat(repos: dict[str, Built]) -> None:
    b = repos["reformat"]
    assert totals(blame_report(b.path)) == (9, 0, 9, 0)
    assert totals(blame_report(b.path, ignore_whitespace=True)) == (9, 7, 2, 0)
    assert direct(b, {"c1"}, opts=["-M", "-w"]) == (9, 7)


def test_ignore_revs(repos: dict[str, Built], tmp_path: Path) -> None:
    b = repos["ignore"]
    auto = blame_report(b.path)
    assert totals(auto) == (8, 6, 2, 0)
    assert auto.options.ignore_revs.revs == (b.sha["c2"],)
    assert any(".git-blame-ignore-revs" in n for n in auto.notes)
    assert direct(b, {"c1"}, opts=["-M", "--ignore-rev", b.sha["c2"]]) == (8, 6)
    assert totals(blame_report(b.path, ignore_revs=False)) == (8, 0, 8, 0)
    assert direct(b, {"c1"}, opts=["-M"]) == (8, 0)
    # An explicit file replaces the committed one.
    empty = tmp_path / "none.txt"
    empty.write_text("# nothing to ignore\n")
    assert totals(blame_report(b.path, ignore_revs_file=empty)) == (8, 0, 8, 0)


def test_release_windows(repos: dict[str, Built]) -> None:
    b = repos["releases"]
    t = surviving_share(b.path, releases="v*")
    assert t["release"].tolist() == ["v2.0"] and t["start"].tolist() == ["v1.0"]
    assert totals(t) == (9, 4, 5, 0)
    assert t["end_date"].iloc[0] == pd.Timestamp("2025-06-05T10:00:00Z")
    assert direct(b, {"c2", "c3", "c5"}, rev="v2.0", start="v1.0") == (9, 4)
    # '*' adds nightly; v1.5 sits on an unmerged branch and is not a release of HEAD.
    t = surviving_share(b.path, releases="*", by="tool")
    assert list(zip(t["release"], t["tool"], t["lines"], strict=True)) == [
        ("v2.0", "(human)", 5), ("v2.0", "Claude Code", 4), ("nightly", "Claude Code", 5)]
    t = surviving_share(b.path, since_rev="v2.0")
    assert t["release"].tolist() == ["HEAD"] and totals(t) == (5, 5, 0, 0)
    t = surviving_share(b.path, releases=["v1.0", "v1.5"])
    assert totals(t) == (3, 3, 0, 0)
    # Fewer than two matching tags: no window, an empty table and a note saying why.
    r = blame_report(b.path, releases="nope*")
    assert r.table.empty and list(r.table.columns[:3]) == ["release", "start", "end_date"]
    assert r.notes == ["no release window: it takes two tags matching 'nope*' reachable from "
                       "HEAD, found 0"]  # fmt: skip


# -- cache, progress, parsing ----------------------------------------------------------------


def test_cache_makes_a_second_run_skip_blame(repos: dict[str, Built], cache_dir: Path) -> None:
    b = repos["moves"]
    first = blame_report(b.path)
    assert (first.blamed, first.cached) == (4, 0)
    db = cache_path(Repository(b.path))
    assert db.is_relative_to(cache_dir) and db.is_file()
    second = blame_report(b.path)
    assert (second.blamed, second.cached) == (0, 4)
    pd.testing.assert_frame_equal(first.table, second.table)
    # Other options are other keys.
    assert blame_report(b.path, detect="none").blamed == 4


def test_no_cache_writes_nothing(repos: dict[str, Built], cache_dir: Path) -> None:
    r = blame_report(repos["rewrite"].path, cache=False)
    assert (r.blamed, r.cached) == (2, 0)
    assert not cache_dir.exists()


def test_progress_gets_the_total(repos: dict[str, Built]) -> None:
    bar = Progress("blaming", None, None)
    blame_report(repos["moves"].path, progress=bar, cache=False)
    assert (bar.total, bar.n) == (4, 4)


def test_parse_incremental_in_odd_chunks() -> None:
    a, b = "a" * 40, "b" * 40
    text = (f"{a} 1 1 2\nauthor X\nsummary boundary\nboundary\nfilename f\n"
            f"{b} 3 3 1\nauthor Y\nsummary s\nprevious {a} f\nfilename f\n"
            f"{a} 5 4 3\nfilename f\n").encode()  # fmt: skip
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert parse_incremental(chunks) == ((a, 5, True), (b, 1, False))


def test_parse_ignore_revs() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    revs = parse_ignore_revs(f"# formatter\n\n{sha.upper()}  # black\n{sha}\n", "f")
    assert revs.revs == (sha,)
    with pytest.raises(ConfigError, match="f:2: not a full commit id"):
        parse_ignore_revs("# x\nabc123\n", "f")


# -- command line ----------------------------------------------------------------------------


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def test_cli_formats(core_repo: Built, run: Run, tmp_path: Path) -> None:
    out = ok(run(["blame", core_repo.path, "--by", "tool"]))
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "10", "11", "65", "34", "30", "1", "52.3%"]
    assert "git blame -M" in out and "excluded 183 lines" in out and "lower bound" in out
    rows = list(csv.DictReader(io.StringIO(ok(run(["blame", core_repo.path, "--format", "csv"])))))
    assert list(rows[0]) == ["files", "commits", "lines", "ai_lines", "human_lines", "bot_lines",
                             "ai_share", "human_share", "bot_share"]  # fmt: skip
    assert (rows[0]["lines"], rows[0]["ai_lines"]) == ("65", "34")
    doc = json.loads(ok(run(["blame", core_repo.path, "--format", "json", "--by", "ext"])))
    assert (doc["schema_version"], doc["kind"], doc["mode"]) == (1, "surviving_share", "at")
    assert doc["total"]["lines"] == 65 and doc["rows"][0] == {
        "ext": ".py", "files": 5, "commits": 9, "lines": 56, "ai_lines": 34, "human_lines": 22,
        "bot_lines": 0, "ai_share": 34 / 56, "human_share": 22 / 56, "bot_share": 0.0}
    assert doc["blame"] == {"detect": "move", "git_options": ["-M"], "ignore_whitespace": False,
                            "ignore_revs": {"source": None, "revisions": 0}}  # fmt: skip
    target = tmp_path / "share.md"
    assert ok(run(["blame", core_repo.path, "--format", "markdown", "-o", target])) == ""
    assert "| **total** |" not in target.read_text()  # no --by: one row, no total line
    assert "| 10 | 11 | 65 | 34 | 30 | 1 | 52.3% |" in target.read_text()


def test_cli_releases(repos: dict[str, Built], run: Run) -> None:
    b = repos["releases"]
    out = ok(run(["blame", b.path, "--releases", "--tags", "v*", "--format", "csv"]))
    assert out.splitlines() == [
        "release,start,end_date,files,commits,lines,ai_lines,human_lines,bot_lines,ai_share,"
        "human_share,bot_share",
        f"v2.0,v1.0,2025-06-05T10:00:00+00:00,3,2,9,4,5,0,{4 / 9},{5 / 9},0.0",
    ]
    out = ok(run(["blame", b.path, "--tags", "*"]))
    assert "2 releases between tags matching '*'" in out
    assert [ln.split()[:3] for ln in out.splitlines() if ln.startswith(("v2.0", "nightly"))] == [
        ["v2.0", "v1.0", "2025-06-05"], ["nightly", "v2.0", "2025-06-07"]]
    doc = json.loads(ok(run(["blame", b.path, "--since-rev", "v2.0", "--format", "json"])))
    assert doc["mode"] == "releases" and doc["total"] is None
    assert doc["rows"][0]["lines"] == 5 and doc["releases"][0]["start"] == "v2.0"


def test_cli_blame_options(repos: dict[str, Built], run: Run) -> None:
    rows = csv.DictReader(io.StringIO(ok(run(
        ["blame", repos["reformat"].path, "-w", "--format", "csv", "--no-cache", "-j", "1"]))))
    assert next(rows)["ai_lines"] == "7"
    rows = csv.DictReader(io.StringIO(ok(run(
        ["blame", repos["moves"].path, "--detect", "copy", "--format", "csv"]))))
    assert next(rows)["ai_lines"] == "34"
    rows = csv.DictReader(io.StringIO(ok(run(
        ["blame", repos["ignore"].path, "--no-ignore-revs", "--format", "csv"]))))
    assert next(rows)["ai_lines"] == "0"


def one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines_ = result.stderr.splitlines()
    assert len(lines_) == 1, result.stderr
    return lines_[0]


def test_cli_errors(repos: dict[str, Built], run: Run, tmp_path: Path) -> None:
    b = repos["releases"].path
    assert "unknown revision" in one_line_error(run(["blame", b, "--at", "nope"]), 2)
    assert "unknown revision" in one_line_error(run(["blame", b, "--since-rev", "nope"]), 2)
    assert "not both" in one_line_error(run(["blame", b, "--since-rev", "v1.0", "--releases"]), 2)
    bad = tmp_path / "revs.txt"
    bad.write_text("abc123\n")
    msg = one_line_error(run(["blame", b, "--ignore-revs-file", bad]), 2)
    assert msg == f"provenance: error: {bad}:1: not a full commit id: 'abc123'"


def test_cli_shallow_clone(repos: dict[str, Built], run: Run, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repos['rewrite'].path}",
                    str(clone)], check=True, env=base_env())  # fmt: skip
    assert "history is shallow" in one_line_error(run(["blame", clone]), 2)
    out = ok(run(["blame", clone, "--allow-shallow", "--format", "csv"]))
    # Every line is credited to the one commit the clone has (c3, human).
    assert out.splitlines()[1].split(",")[2:6] == ["20", "0", "20", "0"]


def test_release_table_golden() -> None:
    from provenance.blame import BlameOptions, Window, surviving_table
    from provenance.metrics import ExcludedSummary
    from provenance.render_blame import blame_markdown

    w = [Window("v2", "b" * 40, "v1", "a" * 40, pd.Timestamp("2025-06-05T10:00:00Z")),
         Window("v3", "c" * 40, "v2", "b" * 40, pd.Timestamp("2025-07-01T00:00:00Z"))]
    lines = pd.DataFrame({"window": [0, 0], "path": ["a.py", "b.py"], "sha": ["x", "y"],
                          "lines": [3, 1], "class": ["ai", "human"]})  # fmt: skip
    table = surviving_table(lines, w, None, 1, releases=True)
    excluded = ExcludedSummary(pd.DataFrame({"category": pd.Series([], dtype="string"),
                                             "files": pd.Series([], dtype="int64"),
                                             "lines": pd.Series([], dtype="int64")}), 0, [])
    r = BlameReport("m", "demo", "HEAD", "c" * 40, "releases", None, table, w, BlameOptions(),
                    "high", excluded, tags="v*", files=2)  # fmt: skip
    assert blame_markdown(r).splitlines()[2:8] == [
        "demo, 2 releases between tags matching 'v*' reachable from HEAD; git blame -M; "
        "threshold: high confidence",
        "",
        "| release | start | end date | files | commits | lines | ai lines | human lines | "
        "bot lines | ai share |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        "| v2 | v1 | 2025-06-05 | 2 | 2 | 4 | 3 | 1 | 0 | 75.0% |",
        "| v3 | v2 | 2025-07-01 | 0 | 0 | 0 | 0 | 0 | 0 | – |",
    ]


def test_cached_blame_of_a_rewritten_history_is_not_reused(
    tmp_path: Path, cache_dir: Path
) -> None:
    """The same file content reached through a rewritten (then pruned) history: the cached
    blame names commits that are gone, so the file is blamed again."""
    from fixtures.builder import RepoBuilder, lines

    b = RepoBuilder(tmp_path / "r")
    b.commit("Base\n", {"README": "x\n"}, date="2025-03-01T09:00:00+00:00")
    b.commit("Add f\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n", {"f.txt": lines(5)},
             date="2025-03-02T09:00:00+00:00")  # fmt: skip
    first = blame_report(b.path)
    assert totals(first) == (6, 5, 1, 0)  # f.txt's 5 lines by the Claude commit, README human

    # Rewrite: the same f.txt content, now from a human commit; the old commit is pruned.
    b.git("reset", "-q", "--hard", "HEAD~1")
    b.commit("Add f by hand\n", {"f.txt": lines(5)}, date="2025-03-03T09:00:00+00:00")
    b.git("reflog", "expire", "--expire=now", "--all")
    b.git("gc", "-q", "--prune=now")
    again = blame_report(b.path)
    assert totals(again) == (6, 0, 6, 0)
    assert (again.blamed, again.cached) == (1, 1)  # README still served from the cache


def test_blame_groups_aider_commits_under_the_person(tmp_path: Path, cache_dir: Path) -> None:
    """As in ``report``, aider's ``Name (aider)`` author is the person ``Name``."""
    from fixtures.builder import RepoBuilder, lines

    b = RepoBuilder(tmp_path / "r")
    b.commit("Base\n", {"a.txt": lines(2)}, author=("Jane Doe", "jane@example.com"),
             date="2025-03-01T09:00:00+00:00")  # fmt: skip
    b.commit("feat: add b\n", {"b.txt": lines(3)}, author=("Jane Doe (aider)", "jane@example.com"),
             date="2025-03-02T09:00:00+00:00")  # fmt: skip
    table = blame_report(b.path, by="author").table.set_index("author")
    assert table.loc["Jane Doe", "lines"] == 5
    assert table.loc["Jane Doe", "ai_lines"] == 3
    assert "Jane Doe (aider)" not in table.index
