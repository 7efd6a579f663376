"""Progress on stderr for long runs: one line with the count, the rate and (when known) an ETA.

Written by hand rather than with rich or tqdm: one line on one stream is all we draw, and a
dependency of the base install for it is not worth its import time. The rules:

- Drawn only when the stream (stderr) is a terminal, ``TERM`` is not ``dumb`` and ``--quiet``
  was not given, so pipes, files, CI logs and ``> out.csv`` never see it; stdout is never touched.
- Nothing is drawn before :data:`DELAY` seconds, so quick runs print nothing at all.
- Redrawn at most every :data:`INTERVAL` seconds; between redraws a call is one integer
  comparison (the clock is read only every so many items, scaled to the observed rate), so a
  per-commit callback costs nothing measurable on 100k commits.
- ``NO_COLOR`` (any non-empty value, see no-color.org) turns the coloured bar into plain text.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

#: Seconds before the first draw.
DELAY = 0.5
#: Seconds between redraws.
INTERVAL = 0.1

_SPINNER = "|/-\\"


def enabled(stream: TextIO, quiet: bool = False) -> bool:
    """Whether a progress line may be drawn on ``stream``."""
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def use_colour() -> bool:
    """False when ``NO_COLOR`` is set to a non-empty value."""
    return not os.environ.get("NO_COLOR")


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """The callback handed to long-running library code: call it with the count done so far.

    ``total`` may be set (or changed) once it is known. Call from one thread only.
    """

    def __init__(
        self,
        label: str,
        total: int | None,
        stream: TextIO | None,
        clock: Callable[[], float] = time.monotonic,
        colour: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.n = 0
        self.draws = 0
        self._stream = stream
        self._clock = clock
        self._colour = colour
        self._start = clock()
        self._next = 1
        self._last = -1.0
        encoding = (getattr(stream, "encoding", None) or "ascii").lower()
        self._fill, self._empty = ("█", "░") if "utf" in encoding else ("#", "-")

    def __call__(self, n: int) -> None:
        self.n = n
        if self._stream is None or n < self._next:
            return
        now = self._clock()
        elapsed = now - self._start
        rate = n / elapsed if elapsed > 0 else 0.0
        # Read the clock again after about a quarter of a redraw interval's worth of items (at
        # most doubling the count, so an early burst cannot make it skip a slow run).
        self._next = n + max(1, min(n, int(rate * INTERVAL / 4)))
        if elapsed < DELAY or now - self._last < INTERVAL:
            return
        self._last = now
        self._write("\r" + self.line(elapsed) + "\x1b[K")

    def line(self, elapsed: float, width: int | None = None) -> str:
        """The progress line for ``elapsed`` seconds, fitted to ``width`` columns."""
        cols = (width or shutil.get_terminal_size((80, 24)).columns) - 1
        n, total = self.n, self.total
        rate = n / elapsed if elapsed > 0 else 0.0
        stats = f"{n:,}" + (f"/{total:,}" if total else "") + f"  {rate:,.0f}/s"
        if total and n <= total:
            if rate > 0 and n < total:
                stats += f"  eta {_duration((total - n) / rate)}"
            pct = f"{100 * n / total:3.0f}%"
            room = cols - len(self.label) - len(stats) - len(pct) - 6
            if room >= 10:
                size = min(room, 40)
                done = size * n // total
                bar = self._fill * done + self._empty * (size - done)
                if self._colour:
                    bar = f"\x1b[36m{bar[:done]}\x1b[2m{bar[done:]}\x1b[0m"
                return f"{self.label}  {bar} {pct}  {stats}"
            return f"{self.label}  {pct}  {stats}"[:cols]
        spin = _SPINNER[self.draws % len(_SPINNER)]
        return f"{self.label}  {spin} {stats}  {_duration(elapsed)}"[:cols]

    def close(self, ok: bool) -> None:
        """End the line: a summary on success, a cleared line after an error."""
        if self._stream is None or not self.draws:
            return
        elapsed = self._clock() - self._start
        if ok:
            rate = self.n / elapsed if elapsed > 0 else 0.0
            self._write(
                f"\r{self.label}: {self.n:,} in {_duration(elapsed)} ({rate:,.0f}/s)\x1b[K\n"
            )
        else:
            self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        assert self._stream is not None
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._stream = None  # the terminal went away: stop drawing, keep working
            return
        self.draws += 1


@contextmanager
def progress(
    label: str,
    *,
    quiet: bool = False,
    total: int | None = None,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Progress]:
    """Yield a :class:`Progress` callback that draws ``label`` and the count on stderr.

    Draws only when ``stream`` (default ``sys.stderr``) is a terminal and ``quiet`` is false;
    otherwise the callback does nothing.
    """
    out = stream if stream is not None else sys.stderr
    bar = Progress(label, total, out if enabled(out, quiet) else None, clock, use_colour())
    try:
        yield bar
    except BaseException:
        bar.close(ok=False)
        raise
    bar.close(ok=True)
