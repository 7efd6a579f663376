"""Policies for a CI gate: evaluate them over an :class:`~provenance.frame.Audit`, print nothing.

Five policies, each off unless set (as a ``provenance check`` option or in
``[tool.provenance.check]``, where every key is the option's name with ``_`` for ``-``):

``max-ai-share`` / ``min-ai-share``
    The merged share of the measured commits (AI-assisted lines added / all lines added) must
    not be above / below the limit. With no lines added the share is undefined and both pass.
``require-disclosure``
    Every commit that carries AI evidence which did not count (a medium or low-confidence hint
    below ``--min-confidence``, or an agent identity seen only as committer) fails: the change
    should declare the AI use in a form that counts (e.g. a ``Co-authored-by`` trailer).
``forbid-tool``
    No commit may be AI-assisted (or, for a bot's name, authored) by a tool whose name matches
    NAME: case-insensitive, as whole words (``copilot`` matches ``GitHub Copilot (VS Code)``).
    A NAME that matches no tool of the active rule set is an error, so a typo cannot pass.
``max-unclassified-bots``
    At most N commits by an *unclassified bot*: a commit not counted as AI whose author is a
    GitHub App the rule set does not name, that is, classified ``bot`` only by the catalogue's
    low-confidence generic ``[bot]`` rule (tool ``GitHub App (other)``), or classified
    ``human`` although the author's name or e-mail contains ``[bot]``. Such an account may be
    an AI agent the catalogue does not know yet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from provenance import metrics
from provenance.errors import ConfigError
from provenance.frame import Audit
from provenance.render import fmt_share, plain

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd

#: Policy names, in the order they are evaluated and reported.
POLICY_NAMES = (
    "max-ai-share",
    "min-ai-share",
    "require-disclosure",
    "forbid-tool",
    "max-unclassified-bots",
)

#: How many commits a failure line names before "and N more".
LISTED = 5


def parse_share(value: Any, where: str) -> float:
    """A share limit: a fraction between 0 and 1 (``0.8``) or a percentage (``"80%"``)."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = math.nan
    if isinstance(value, bool) or not 0 <= share <= 1:
        raise ConfigError(
            f"{where}: {value!r} is not a share: use a fraction from 0 to 1 "
            "(0.8) or a percentage (80%)"
        )
    return share


@dataclass(frozen=True)
class Policies:
    """The policies to enforce; the empty ``Policies()`` enforces nothing."""

    max_ai_share: float | None = None
    min_ai_share: float | None = None
    require_disclosure: bool = False
    forbid_tool: tuple[str, ...] = ()
    max_unclassified_bots: int | None = None

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the policies that are set."""
        on = {
            "max-ai-share": self.max_ai_share is not None,
            "min-ai-share": self.min_ai_share is not None,
            "require-disclosure": self.require_disclosure,
            "forbid-tool": bool(self.forbid_tool),
            "max-unclassified-bots": self.max_unclassified_bots is not None,
        }
        return tuple(name for name in POLICY_NAMES if on[name])

    def updated(
        self,
        *,
        max_ai_share: float | None = None,
        min_ai_share: float | None = None,
        require_disclosure: bool | None = None,
        forbid_tool: Sequence[str] = (),
        max_unclassified_bots: int | None = None,
    ) -> Policies:
        """These policies with the given options on top: a value replaces, None keeps, and
        ``forbid_tool`` names are added to the configured ones."""
        changes: dict[str, Any] = {
            "max_ai_share": max_ai_share,
            "min_ai_share": min_ai_share,
            "require_disclosure": require_disclosure,
            "max_unclassified_bots": max_unclassified_bots,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if forbid_tool:
            changes["forbid_tool"] = tuple(dict.fromkeys((*self.forbid_tool, *forbid_tool)))
        return replace(self, **changes)


def policies_from_config(table: Mapping[str, Any], src: str = "config") -> Policies:
    """Validate a ``[tool.provenance.check]`` table (keys as the options, ``_`` for ``-``)."""
    known = {f.name for f in fields(Policies)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{src}: [tool.provenance.check] has unknown key {unknown[0]!r} "
            f"(known: {', '.join(sorted(known))})"
        )
    kw: dict[str, Any] = {}
    for key in ("max_ai_share", "min_ai_share"):
        if key in table:
            kw[key] = parse_share(table[key], f"{src}: check.{key}")
    if "require_disclosure" in table:
        if not isinstance(table["require_disclosure"], bool):
            raise ConfigError(f"{src}: check.require_disclosure must be true or false")
        kw["require_disclosure"] = table["require_disclosure"]
    if "forbid_tool" in table:
        names = table["forbid_tool"]
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"{src}: check.forbid_tool must be a tool name or a list of them")
        kw["forbid_tool"] = tuple(names)
    if "max_unclassified_bots" in table:
        n = table["max_unclassified_bots"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{src}: check.max_unclassified_bots must be a whole number >= 0")
        kw["max_unclassified_bots"] = n
    return Policies(**kw)


@dataclass(frozen=True)
class Failure:
    """One failed line: the policy, and a message naming the measured value and the limit."""

    policy: str
    message: str
    shas: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyResult:
    """The outcome of one policy: what was measured against which limit."""

    policy: str
    measured: str
    limit: str
    failures: tuple[Failure, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the policy found nothing to object to."""
        return not self.failures


@dataclass(frozen=True)
class CheckResult:
    """Every policy's outcome, plus the merged-share report (by tool) they were measured on."""

    report: metrics.Report
    results: tuple[PolicyResult, ...]
    commits: int
    added: int
    ai_added: int
    ai_share: float | None
    policies: Policies = field(default_factory=Policies)

    @property
    def passed(self) -> bool:
        """True when no policy failed."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every failure line, in policy order."""
        return tuple(f for r in self.results for f in r.failures)

    @property
    def failed(self) -> tuple[PolicyResult, ...]:
        """The policies that failed."""
        return tuple(r for r in self.results if not r.passed)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _listed(rows: pd.DataFrame, extra: str | None = None) -> str:
    """``1a2b3c4 (x), 5d6e7f8 (y) and 3 more`` for the first LISTED rows."""
    names = []
    for rec in rows.head(LISTED).itertuples(index=False):
        sha = str(rec.sha)[:7]
        names.append(f"{sha} ({getattr(rec, extra)})" if extra else sha)
    more = len(rows) - LISTED
    return ", ".join(names) + (f" and {more:,} more" if more > 0 else "")


def undeclared(commits: pd.DataFrame) -> pd.DataFrame:
    """Commits not counted as AI that carry AI evidence below the threshold (``hint``)."""
    return commits[(commits["class"] != "ai") & commits["hint"].notna()]


def unclassified_bots(commits: pd.DataFrame) -> pd.DataFrame:
    """Commits by bots the rule set does not name (see the module docstring)."""
    cls = commits["class"].astype(str)
    generic = (cls == "bot") & (commits["confidence"] == "low")
    looks = pd.Series(False, index=commits.index)
    for column in ("author", "author_email"):
        looks |= commits[column].fillna("").str.contains("[bot]", regex=False).astype(bool)
    return commits[generic | ((cls == "human") & looks)]


def tool_matcher(name: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of a ``--forbid-tool`` NAME inside a tool name."""
    words = r"\s+".join(re.escape(w) for w in name.split())
    return re.compile(rf"(?<![\w-]){words}(?![\w-])", re.IGNORECASE)


def _share_results(p: Policies, share: float | None, ai: int, added: int) -> list[PolicyResult]:
    out = []
    measured = "n/a (no lines added)" if share is None else f"{fmt_share(share)}"
    detail = f"{fmt_share(share)} ({ai:,} of {_plural(added, 'line')} added)"
    for name, limit, sign, side in (
        ("max-ai-share", p.max_ai_share, 1, "above"),
        ("min-ai-share", p.min_ai_share, -1, "below"),
    ):
        if limit is None:
            continue
        failures: tuple[Failure, ...] = ()
        if share is not None and sign * (share - limit) > 0:
            msg = f"{name}: {detail} is {side} the limit of {fmt_share(limit)}"
            failures = (Failure(name, msg),)
        out.append(PolicyResult(name, measured, fmt_share(limit), failures))
    return out


def _disclosure(commits: pd.DataFrame, threshold: str) -> PolicyResult:
    rows = undeclared(commits)
    failures = tuple(
        Failure(
            "require-disclosure",
            f'require-disclosure: commit {str(r.sha)[:7]} "{r.subject}" has '
            f"{r.hint}-confidence AI evidence but no declaration that counts at the "
            f"{threshold} threshold (provenance explain {str(r.sha)[:7]})",
            (str(r.sha),),
        )
        for r in rows.itertuples(index=False)
    )
    return PolicyResult(
        "require-disclosure", _plural(len(rows), "undeclared commit"), "0", failures
    )


def _forbidden(audit: Audit, names: Sequence[str]) -> PolicyResult:
    known = sorted({r.tool for r in audit.rules})
    c = audit.commits
    tools = c["tools"].fillna("").astype(str).str.split("; ")
    failures = []
    used: set[int] = set()
    for name in names:
        rx = tool_matcher(name)
        if not any(rx.search(t) for t in known):
            raise ConfigError(
                f"forbid-tool {name!r} matches no tool of the rule set; see "
                "`provenance rules` for the tool names"
            )
        hit = c[tools.map(lambda ts, rx=rx: any(rx.search(t) for t in ts if t))]
        if hit.empty:
            continue
        used.update(hit.index)
        matched = sorted({t for ts in tools[hit.index] for t in ts if t and rx.search(t)})
        failures.append(
            Failure(
                "forbid-tool",
                f"forbid-tool: {name} ({', '.join(matched)}) in {_plural(len(hit), 'commit')} "
                f"({_plural(int(hit['added'].sum()), 'line')} added) is above the limit of 0: "
                f"{_listed(hit)}",
                tuple(hit["sha"].astype(str)),
            )
        )
    return PolicyResult(
        "forbid-tool",
        _plural(len(used), "commit"),
        "0 commits using " + ", ".join(names),
        tuple(failures),
    )


def _bots(commits: pd.DataFrame, limit: int) -> PolicyResult:
    rows = unclassified_bots(commits)
    failures: tuple[Failure, ...] = ()
    if len(rows) > limit:
        failures = (
            Failure(
                "max-unclassified-bots",
                f"max-unclassified-bots: {_plural(len(rows), 'commit')} by unclassified bots "
                f"is above the limit of {limit:,}: {_listed(rows, 'author')}",
                tuple(rows["sha"].astype(str)),
            ),
        )
    return PolicyResult(
        "max-unclassified-bots", _plural(len(rows), "commit"), f"{limit:,}", failures
    )


def evaluate(audit: Audit, policies: Policies) -> CheckResult:
    """Measure the audit's commits and evaluate every active policy against them."""
    rep = metrics.report(audit, freq=None, by="tool")
    total = rep.total
    added, ai_added = int(total["added"]), int(total["ai_added"])
    share = plain(total["ai_share"])  # NaN (nothing added) becomes None
    results: list[PolicyResult] = _share_results(policies, share, ai_added, added)
    c = audit.commits
    if policies.require_disclosure:
        results.append(_disclosure(c, audit.min_confidence.label))
    if policies.forbid_tool:
        results.append(_forbidden(audit, policies.forbid_tool))
    if policies.max_unclassified_bots is not None:
        results.append(_bots(c, policies.max_unclassified_bots))
    return CheckResult(
        report=rep,
        results=tuple(results),
        commits=int(total["commits"]),
        added=added,
        ai_added=ai_added,
        ai_share=share,
        policies=policies,
    )
