"""provenance: how much of the code merged into a git repository was written with AI.

Library use gives the same numbers as the CLI::

    import provenance
    a = provenance.audit(".", rev="HEAD", since="2025-01-01")
    table = provenance.merged_share(a, freq="month")          # DataFrame, total row last
    a.commits, a.files                                         # the typed frames
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provenance.blame import surviving_share
    from provenance.classify import (
        CommitClass,
        CommitInfo,
        Evidence,
        Verdict,
        classify,
        classify_many,
    )
    from provenance.errors import ProvenanceError
    from provenance.frame import Audit, Explanation, audit, commit_rows, commit_table, explain
    from provenance.metrics import Report, merged_share, report
    from provenance.rules import Confidence, Rule, RuleSet

# Every public name is imported on first use (PEP 562): the CLI starts its git processes
# before the classifier, the rules and the frames are imported (see ``cli._audit``).
_HOME = {
    "surviving_share": "blame",
    **dict.fromkeys(
        ("CommitClass", "CommitInfo", "Evidence", "Verdict", "classify", "classify_many"),
        "classify",
    ),
    "ProvenanceError": "errors",
    **dict.fromkeys(
        ("Audit", "Explanation", "audit", "commit_rows", "commit_table", "explain"), "frame"
    ),
    **dict.fromkeys(("Report", "merged_share", "report"), "metrics"),
    **dict.fromkeys(("Confidence", "Rule", "RuleSet"), "rules"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        # ``provenance.metrics`` and the other submodules, as when they were imported eagerly.
        if name.isidentifier() and importlib.util.find_spec(f"provenance.{name}") is not None:
            return importlib.import_module(f"provenance.{name}")
        raise AttributeError(f"module 'provenance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"provenance.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


class _Package(ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Importing a submodule binds it to its package's namespace. ``provenance.classify``
        # is the public function, never its module (``from provenance.classify import ...``
        # reads the module from sys.modules, so nothing needs the binding).
        if name == "classify" and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "Audit",
    "CommitClass",
    "CommitInfo",
    "Confidence",
    "Evidence",
    "Explanation",
    "ProvenanceError",
    "Report",
    "Rule",
    "RuleSet",
    "Verdict",
    "audit",
    "classify",
    "classify_many",
    "commit_rows",
    "commit_table",
    "explain",
    "merged_share",
    "report",
    "surviving_share",
]
