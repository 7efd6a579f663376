"""Progress on stderr for long runs (placeholder: filled in by the progress work)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress(label: str, *, quiet: bool = False, total: int | None = None
             ) -> Iterator[Callable[[int], None]]:  # fmt: skip
    """Yield a callback taking the count done so far; draws nothing yet."""

    def update(n: int) -> None:
        return None

    yield update
