"""pandas and numpy, imported on first use.

Importing them costs about 0.2 s of CPU, a tenth of mining a 10k-commit history. The modules
that use them refer to these stand-ins instead, so a command starts its git processes first
and :func:`preload` imports pandas on a thread while git works.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name``, which is imported when an attribute is first read."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)


pandas = LazyModule("pandas")
numpy = LazyModule("numpy")


def _import_quietly(name: str) -> None:
    # A failure here is raised again, with its traceback, where the module is first used.
    with contextlib.suppress(Exception):
        importlib.import_module(name)


def preload() -> threading.Thread | None:
    """Start importing pandas (and numpy) on a background thread, unless it is imported
    already; returns the thread."""
    if "pandas" in sys.modules:
        return None
    t = threading.Thread(target=_import_quietly, args=("pandas",), daemon=True)
    t.start()
    return t
