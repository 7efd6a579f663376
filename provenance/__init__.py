"""provenance: how much of the code merged into a git repository was written with AI.

Library use gives the same numbers as the CLI::

    import provenance
    a = provenance.audit(".", rev="HEAD", since="2025-01-01")
    table = provenance.merged_share(a, freq="month")          # DataFrame, total row last
    a.commits, a.files                                         # the typed frames
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from provenance.blame import surviving_share


def __getattr__(name: str) -> Any:
    # blame (and its thread pool) is imported on first use (PEP 562): the other commands start
    # their git processes sooner without it.
    if name == "surviving_share":
        from provenance.blame import surviving_share

        return surviving_share
    raise AttributeError(f"module 'provenance' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "surviving_share"})


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
