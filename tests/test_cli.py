"""CLI contract: every command and format on the core scenario, exit codes, one-line errors.

Expected numbers are those worked out by hand in fixtures/repos.py::build_core.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fixtures.builder import RepoBuilder, lines
from fixtures.repos import Built

Run = Callable[..., Result]


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


def test_report_table(core_repo: Built, run: Run) -> None:
    out = ok(run(["report", core_repo.path]))
    assert "2025-01" in out and "2025-03" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "12", "65", "34", "1", "30", "52.3%", "41.7%"]
    assert "excluded 183 lines" in out
    assert "lower bound" in out


def test_report_csv(core_repo: Built, run: Run) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(run(["report", core_repo.path, "--format", "csv"])))))
    assert [r["period"] for r in rows] == ["2025-01", "2025-02", "2025-03", "total"]
    assert rows[1]["ai_added"] == "27"
    assert float(rows[1]["ai_share"]) == pytest.approx(27 / 34)


def test_report_json(core_repo: Built, run: Run) -> None:
    doc = json.loads(ok(run(["report", core_repo.path, "--format", "json"])))
    assert doc["schema_version"] == 1
    assert doc["total"]["added"] == 65 and doc["total"]["ai_added"] == 34
    assert [r["period"] for r in doc["rows"]] == ["2025-01", "2025-02", "2025-03"]
    assert doc["excluded"]["lines"] == 183
    assert doc["hints"]["by_confidence"]["low"] == 1


def test_report_markdown(core_repo: Built, run: Run) -> None:
    out = ok(run(["report", core_repo.path, "--format", "markdown"]))
    assert "| **total** | **12** | **65** | **34** |" in out


def test_report_freq_and_window(core_repo: Built, run: Run) -> None:
    out = ok(run(["report", core_repo.path, "--freq", "quarter", "--format", "csv"]))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["period"], r["added"]) for r in rows] == [("2025Q1", "65"), ("total", "65")]
    out = ok(run(["report", core_repo.path, "--since", "2025-03-01", "--format", "csv"]))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["period"], r["added"]) for r in rows] == [("2025-03", "12"), ("total", "12")]


def test_report_weekly_fills_empty_weeks(core_repo: Built, run: Run) -> None:
    out = ok(run(["report", core_repo.path, "--freq", "week", "--format", "csv"]))
    rows = list(csv.DictReader(io.StringIO(out)))
    # Mondays from the week of 2025-01-10 to the week of 2025-03-09, every week present.
    assert rows[0]["period"] == "2025-01-06" and rows[-2]["period"] == "2025-03-03"
    assert len(rows) - 1 == 9


def test_report_by_tool_and_output_file(core_repo: Built, run: Run, tmp_path: Path) -> None:
    target = tmp_path / "tools.csv"
    assert (
        ok(run(["report", core_repo.path, "--by", "tool", "--format", "csv", "-o", target])) == ""
    )
    rows = {r["tool"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    assert rows["Claude Code"]["ai_added"] == "32"
    assert rows["Cursor"]["ai_added"] == "2"


def test_report_by_path_depth(core_repo: Built, run: Run) -> None:
    out = ok(run(["report", core_repo.path, "--by", "path", "--depth", "2", "--format", "csv"]))
    rows = {r["path"]: r["added"] for r in csv.DictReader(io.StringIO(out))}
    assert rows["src/features"] == "1"
    assert rows["src"] == str(5 + 7 + 3 + 20 + 2 + 10)


def test_commits_csv(core_repo: Built, run: Run) -> None:
    out = ok(run(["commits", core_repo.path]))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12
    assert list(rows[0]) == ["sha", "landed_sha", "authored_at", "landed_at", "author",
                             "author_email", "subject", "class", "tool", "tools", "models",
                             "confidence", "rules", "evidence_scope", "hint", "files", "added",
                             "deleted", "excluded_added"]  # fmt: skip
    f1 = next(r for r in rows if r["sha"] == core_repo.sha["f1"])
    assert f1["landed_sha"] == core_repo.sha["m1"]
    assert f1["class"] == "ai" and f1["confidence"] == "high"
    assert f1["landed_at"] == "2025-02-05T09:00:00+00:00"


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_commits_json(core_repo: Built, run: Run, fmt: str) -> None:
    out = ok(run(["commits", core_repo.path, "--format", fmt]))
    rows = json.loads(out) if fmt == "json" else [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 12
    c3 = next(r for r in rows if r["sha"] == core_repo.sha["c3"])
    assert (c3["class"], c3["added"], c3["excluded_added"]) == ("bot", 1, 100)


def test_explain(core_repo: Built, run: Run) -> None:
    out = ok(run(["explain", core_repo.sha["f1"], core_repo.path]))
    assert "verdict    ai (Claude Code; high confidence; model Claude Opus 4.6)" in out
    assert "claude-code.coauthor.noreply" in out
    assert "Co-Authored-By: Claude Opus 4.6 (1M context) <noreply@anthropic.com>" in out
    doc = json.loads(ok(run(["explain", core_repo.sha["c4"][:10], core_repo.path,
                             "--format", "json"])))  # fmt: skip
    assert doc["class"] == "human"
    assert doc["author"]["name"] == "Claude Dupont"


def test_version_and_module_entry(core_repo: Built) -> None:
    proc = subprocess.run([sys.executable, "-m", "provenance", "--version"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert proc.stdout.startswith("provenance, version ")
    proc = subprocess.run(
        [sys.executable, "-m", "provenance", "report", str(core_repo.path), "--format", "csv"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines()[-1].startswith("total,12,")


# -- bad input: one line on stderr, nothing on stdout, exit code 2 -----------------------------


def one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines_ = result.stderr.splitlines()
    assert len(lines_) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines_[0]


def test_not_a_repository(run: Run, tmp_path: Path) -> None:
    msg = one_line_error(run(["report", tmp_path]), 2)
    assert msg == f"provenance: error: not a git repository: {tmp_path}"


def test_missing_path(run: Run, tmp_path: Path) -> None:
    msg = one_line_error(run(["report", tmp_path / "nope"]), 2)
    assert "does not exist" in msg


def test_empty_repository(run: Run, empty_repo: Built) -> None:
    msg = one_line_error(run(["report", empty_repo.path]), 2)
    assert "has no commits yet" in msg


def test_unknown_rev(run: Run, core_repo: Built) -> None:
    msg = one_line_error(run(["report", core_repo.path, "--rev", "nope"]), 2)
    assert msg == "provenance: error: unknown revision: 'nope' does not name a commit"
    msg = one_line_error(run(["report", core_repo.path, "--rev", "--output=x"]), 2)
    assert "unknown revision" in msg


def test_unknown_sha_for_explain(run: Run, core_repo: Built) -> None:
    one_line_error(run(["explain", "deadbeef", core_repo.path]), 2)


def test_bad_date(run: Run, core_repo: Built) -> None:
    msg = one_line_error(run(["report", core_repo.path, "--since", "yesterday-ish"]), 2)
    assert "invalid date" in msg


def test_shallow_clone_refused(run: Run, tmp_path: Path, linear_repo: Built) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{linear_repo.path}", str(clone)],
                   check=True)  # fmt: skip
    msg = one_line_error(run(["report", clone]), 2)
    assert msg == ("provenance: error: history is shallow (depth 2): use fetch-depth: 0 or pass "
                   "--allow-shallow to measure only what is present")  # fmt: skip
    out = ok(run(["report", clone, "--allow-shallow"]))
    assert "covers only the fetched history" in out


def test_unwritable_output(run: Run, core_repo: Built, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.csv"
    msg = one_line_error(run(["report", core_repo.path, "-o", target]), 4)
    assert "cannot write" in msg
    assert not target.parent.exists()


def test_output_to_a_pipe_or_device_is_written_in_place(run: Run, core_repo: Built,
                                                         tmp_path: Path) -> None:  # fmt: skip
    """``-o /dev/null`` or a named pipe must not be replaced by a plain file."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    ok(run(["commits", core_repo.path, "--format", "csv", "-o", fifo]))
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert got and got[0].startswith(b"sha,")
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left
    ok(run(["report", core_repo.path, "-o", os.devnull]))
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    # Charts and badges go through the same check.
    from provenance.chart import write_bytes

    got.clear()
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_bytes(fifo, b"<svg/>")
    reader.join(timeout=60)
    assert got == [b"<svg/>"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_output_to_dev_stdout_appends_to_the_redirected_file(core_repo: Built,
                                                             tmp_path: Path) -> None:  # fmt: skip
    log = tmp_path / "log.txt"
    log.write_text("old line\n")
    with log.open("a") as fh:
        proc = subprocess.run([sys.executable, "-m", "provenance", "report", "--format", "csv",
                               "-q", "-o", "/dev/stdout", str(core_repo.path)],
                              stdout=fh, stderr=subprocess.PIPE, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    assert text.startswith("old line\n") and text.splitlines()[-1].startswith("total,12,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]


def test_output_to_a_symlink_loop_is_an_error(run: Run, core_repo: Built, tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    msg = one_line_error(run(["report", core_repo.path, "-o", loop]), 4)
    assert "cannot write" in msg
    assert loop.is_symlink()


def test_output_through_a_symlink_keeps_the_link(run: Run, core_repo: Built,
                                                 tmp_path: Path) -> None:  # fmt: skip
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "out.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    ok(run(["report", core_repo.path, "--format", "csv", "-o", link]))
    assert link.is_symlink()
    assert real.read_text().splitlines()[-1].startswith("total,12,")


def test_bare_repository_supported(run: Run, core_repo: Built, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(core_repo.path), str(bare)], check=True)
    out = ok(run(["report", bare, "--format", "csv"]))
    assert out.splitlines()[-1].startswith("total,12,")


def test_subdirectory_finds_repository(run: Run, core_repo: Built) -> None:
    out = ok(run(["report", Path(core_repo.path) / "src", "--format", "csv"]))
    assert out.splitlines()[-1].startswith("total,12,")


def test_non_utf8_messages_counted(run: Run, tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "latin1")
    b.commit("Caf\xe9 au lait\n".encode("latin-1"), {"a.txt": lines(3)},
             author=("J\xf6rg", "j@example.com"))  # fmt: skip
    b.commit(b"Invalid \xff\xfe bytes\n", {"b.txt": lines(2)}, date="2025-01-02T00:00:00+00:00")
    rows = list(csv.DictReader(io.StringIO(ok(run(["commits", b.path])))))
    assert sorted(int(r["added"]) for r in rows) == [2, 3]


def test_invalid_glob_is_one_line(run: Run, core_repo: Built) -> None:
    msg = one_line_error(run(["report", core_repo.path, "--exclude", "[z-a]"]), 2)
    assert "invalid glob '[z-a]'" in msg


def test_broken_pipe_exits_quietly(core_repo: Built) -> None:
    proc = subprocess.run(
        f"set -o pipefail; {sys.executable} -m provenance commits {core_repo.path} | head -1",
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.stdout.startswith("sha,")
    assert "Traceback" not in proc.stderr
