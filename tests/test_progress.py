"""Progress on stderr: only on a terminal, throttled, quiet-able, NO_COLOR-aware; stdout clean."""

from __future__ import annotations

import csv
import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.repos import Built
from provenance import progress as progress_mod
from provenance.frame import COMMIT_COLUMNS
from provenance.progress import DELAY, INTERVAL, Progress, progress

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class Clock:
    """A fake monotonic clock advanced by hand; counts how often it is read."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(
        "shutil.get_terminal_size", lambda fallback=(80, 24): os.terminal_size((100, 24))
    )


def run_items(
    n: int,
    seconds: float,
    *,
    stream: io.StringIO,
    quiet: bool = False,
    total: int | None = None,
    fail_at: int | None = None,
) -> Clock:
    """Report ``n`` items spread evenly over ``seconds`` of fake time."""
    clock = Clock()
    with progress("mining commits", quiet=quiet, total=total, stream=stream, clock=clock) as tick:
        for i in range(1, n + 1):
            clock.now += seconds / n
            if i == fail_at:
                raise KeyboardInterrupt
            tick(i)
    return clock


def test_nothing_when_not_a_terminal_or_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = io.StringIO()
    run_items(10_000, 5.0, stream=plain)
    assert plain.getvalue() == ""
    tty = Terminal()
    run_items(10_000, 5.0, stream=tty, quiet=True)
    assert tty.getvalue() == ""
    monkeypatch.setenv("TERM", "dumb")
    run_items(10_000, 5.0, stream=tty)
    assert tty.getvalue() == ""


def test_quick_runs_draw_nothing() -> None:
    tty = Terminal()
    run_items(5_000, DELAY * 0.8, stream=tty)
    assert tty.getvalue() == ""


def test_redraws_are_throttled_and_cheap() -> None:
    tty = Terminal()
    clock = run_items(100_000, 10.0, stream=tty)
    out = tty.getvalue()
    draws = out.count("\r")
    # At most one redraw per interval after the initial delay, plus the closing line.
    assert 10 <= draws <= (10.0 - DELAY) / INTERVAL + 2
    assert clock.reads < 2_000  # the clock is read every so many items, not on each one
    last = out.rsplit("\r", 1)[-1]
    assert re.fullmatch(r"mining commits: 100,000 in 10s \(10,000/s\)\x1b\[K\n", last)


def test_bar_with_total_shows_percent_rate_and_eta() -> None:
    tty = Terminal()
    run_items(1_000, 10.0, stream=tty, total=4_000)
    frames = [ANSI.sub("", f) for f in tty.getvalue().split("\r") if f]
    mid = frames[len(frames) // 2]
    assert re.search(r"\d+%  \d{3}/4,000  100/s  eta \d+s", mid), mid
    assert "█" in mid and "░" in mid
    assert all(len(f.rstrip("\n")) <= 99 for f in frames)  # fits the 100-column terminal


def test_counts_without_total_use_a_spinner() -> None:
    tty = Terminal()
    run_items(2_000, 3.0, stream=tty)
    frames = [ANSI.sub("", f) for f in tty.getvalue().split("\r") if f]
    assert re.fullmatch(r"mining commits  [|/\-\\] [\d,]+  [\d,]+/s  \ds", frames[0]), frames[0]


def test_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    colourful = Terminal()
    run_items(1_000, 5.0, stream=colourful, total=1_000)
    assert "\x1b[36m" in colourful.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    run_items(1_000, 5.0, stream=plain, total=1_000)
    # Only cursor control remains (erase to end of line), no colour or style codes.
    assert set(ANSI.findall(plain.getvalue())) == {"\x1b[K"}


def test_interrupt_clears_the_line_and_propagates() -> None:
    tty = Terminal()
    with pytest.raises(KeyboardInterrupt):
        run_items(10_000, 5.0, stream=tty, fail_at=9_000)
    assert tty.getvalue().endswith("\r\x1b[K")


def test_ascii_terminal_and_narrow_width() -> None:
    class Ascii(Terminal):
        encoding = "ascii"

    bar = Progress("blaming files", 100, Ascii(), colour=False)
    bar.n = 50
    line = bar.line(5.0, width=60)
    assert "#" in line and "-" in line and len(line) <= 59
    line.encode("ascii")
    assert "50%" in bar.line(5.0, width=30) and len(bar.line(5.0, width=30)) <= 29


def test_a_closed_terminal_stops_drawing_but_not_the_work() -> None:
    tty = Terminal()
    tty.close()
    run_items(10_000, 5.0, stream=tty)  # no exception


def on_terminal(*args: str) -> tuple[int, bytes, bytes]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe, the bar forced on
    from the first item; return the exit code, stdout and what the terminal received."""
    code = (
        "import provenance.progress as p; p.DELAY = 0.0; p.INTERVAL = 0.0; "
        "from provenance.cli import main; main()"
    )
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=Path(__file__).parent.parent,
    )
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    err = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the child's side is closed
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    return proc.returncode, stdout, err


def test_stdout_stays_clean_while_stderr_is_a_terminal(core_repo: Built) -> None:
    code, stdout, err = on_terminal("commits", str(core_repo.path), "--format", "csv")
    assert code == 0, err
    assert b"mining commits" in err  # the bar was drawn on the terminal
    assert re.search(rb"mining commits: 1\d in \ds \([\d,]+/s\)", err), err
    text = stdout.decode()
    assert "\x1b" not in text and "\r" not in text and "mining" not in text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(COMMIT_COLUMNS)
    assert len(table) == 1 + 12  # the core scenario's counted commits


def test_quiet_flag_silences_the_terminal(core_repo: Built) -> None:
    code, stdout, err = on_terminal("commits", str(core_repo.path), "-q")
    assert code == 0
    assert err == b""
    assert stdout.startswith(b"sha,")


def test_module_defaults_are_sane() -> None:
    assert 0 < progress_mod.INTERVAL <= 0.25 and 0 < progress_mod.DELAY <= 1.0
