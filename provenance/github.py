"""GitHub Actions integration: the step summary, step outputs and workflow-command annotations.

:func:`summarize` gathers what a pull request's summary shows from a
:class:`~provenance.check.CheckResult`; :func:`summary_markdown`, :func:`step_outputs` and
:func:`failure_annotations` format it. The only files written are the ones GitHub names in
``$GITHUB_STEP_SUMMARY`` and ``$GITHUB_OUTPUT``, and they are appended to, never replaced.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provenance import metrics
from provenance.check import CheckResult, Failure
from provenance.errors import OutputError
from provenance.frame import Audit
from provenance.metrics import TOTAL
from provenance.render import fmt_share, md_escape, plain

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd

#: How many AI-assisted commits the summary lists.
TOP_COMMITS = 10

_FULL_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


def github_mode(flag: bool | None, env: Mapping[str, str] | None = None) -> bool:
    """``--github``/``--no-github`` if given, else on when ``GITHUB_ACTIONS=true``."""
    if flag is not None:
        return flag
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def short_rev(rev: str) -> str:
    """A full commit id shortened to 12 characters; any other revision unchanged."""
    return rev[:12] if _FULL_SHA.fullmatch(rev) else rev


@dataclass(frozen=True)
class Share:
    """One measured scope: its label and its merged-share totals."""

    label: str
    commits: int
    added: int
    ai_added: int
    ai_share: float | None


@dataclass(frozen=True)
class Summary:
    """Everything the step summary shows."""

    check: CheckResult
    measured: Share
    branch: Share | None
    tools: pd.DataFrame
    top: pd.DataFrame
    min_confidence: str
    excluded: str
    filters: tuple[str, ...]
    hints: str
    notes: tuple[str, ...]
    caveat: str

    @property
    def is_range(self) -> bool:
        """True when a range (a pull request) was measured, not a whole branch."""
        return self.branch is not None


def scope_label(audit: Audit) -> str:
    """``BASE..HEAD`` for a range, else the revision; full commit ids shortened."""
    if audit.base:
        return f"{short_rev(audit.base)}..{short_rev(audit.rev)}"
    return short_rev(audit.rev)


def _branch_share(audit: Audit) -> Share:
    total = metrics.report(audit, freq=None, by="tool").total
    return Share(
        scope_label(audit),
        int(total["commits"]),
        int(total["added"]),
        int(total["ai_added"]),
        plain(total["ai_share"]),
    )


def summarize(
    result: CheckResult, audit: Audit, branch: Audit | None = None, *, top: int = TOP_COMMITS
) -> Summary:
    """The summary of a check: ``audit`` is what was measured (a range or a branch), ``branch``
    the whole history of the range's head, shown beside it."""
    rep = result.report
    table = rep.table[rep.table["tool"] != TOTAL]
    added = max(result.added, 1)
    cls = pd.Series("human", index=table.index)
    cls[table["bot_commits"] > 0] = "bot"
    cls[table["ai_commits"] > 0] = "ai"
    tools = pd.DataFrame(
        {
            "tool": table["tool"].astype(str),
            "class": cls,
            "commits": table["commits"].astype("int64"),
            "added": table["added"].astype("int64"),
            "share": table["added"] / added,
        }
    ).reset_index(drop=True)
    c = audit.commits
    ai = c[c["class"] == "ai"].sort_values(
        ["added", "landed_at", "sha"], ascending=[False, True, True], kind="stable"
    )
    top_rows = ai.head(top)[["sha", "subject", "author", "tools", "added"]].reset_index(drop=True)
    return Summary(
        check=result,
        measured=Share(
            scope_label(audit), result.commits, result.added, result.ai_added, result.ai_share
        ),
        branch=_branch_share(branch) if branch is not None else None,
        tools=tools,
        top=top_rows,
        min_confidence=rep.min_confidence,
        excluded=rep.excluded.sentence(),
        filters=tuple(rep.excluded.filters),
        hints=rep.hints.sentence(),
        notes=tuple(rep.notes),
        caveat=rep.caveat,
    )


def _num(n: int) -> str:
    return f"{n:,}"


def _share_row(name: str, s: Share, bold: bool) -> str:
    share = fmt_share(s.ai_share)
    share = f"**{share}**" if bold else share
    return (
        f"| {name} (`{md_escape(s.label)}`) | {share} | {_num(s.ai_added)} | "
        f"{_num(s.added)} | {_num(s.commits)} |"
    )


def summary_markdown(s: Summary) -> str:
    """The step summary as GitHub-flavoured Markdown."""
    m = s.measured
    scope = "this range" if s.is_range else "this branch"
    lines = [f"## AI share of `{md_escape(m.label)}`", ""]
    if m.ai_share is None:
        lines.append(f"No lines were added in {scope} (after filters).")
    else:
        lines.append(
            f"**{fmt_share(m.ai_share)}** of the {_num(m.added)} lines added by "
            f"{_num(m.commits)} commits in {scope} came from AI-assisted commits "
            f"({s.min_confidence}-confidence evidence)."
        )
    lines += [
        "",
        "| scope | AI share | AI lines | lines added | commits |",
        "|---|---:|---:|---:|---:|",
    ]
    if s.branch is not None:
        lines.append(_share_row("range", m, True))
        lines.append(_share_row("whole branch", s.branch, False))
    else:
        lines.append(_share_row("branch", m, True))
    lines.append("")

    lines += ["### By tool", ""]
    if s.tools.empty:
        lines.append("No commits.")
    else:
        lines += [
            "| tool | class | commits | lines added | share of lines |",
            "|---|---|---:|---:|---:|",
        ]
        for tool, cls, commits, added, share in s.tools.itertuples(index=False, name=None):
            lines.append(
                f"| {md_escape(tool)} | {cls} | {_num(int(commits))} | {_num(int(added))} | "
                f"{fmt_share(share)} |"
            )
    lines.append("")

    lines += ["### Top AI-assisted commits", ""]
    if s.top.empty:
        lines.append("None.")
    else:
        lines += ["| commit | subject | author | tools | lines added |", "|---|---|---|---|---:|"]
        for sha, subject, author, tools, added in s.top.itertuples(index=False, name=None):
            lines.append(
                f"| `{str(sha)[:7]}` | {md_escape(subject)} | {md_escape(author)} | "
                f"{md_escape(tools)} | {_num(int(added))} |"
            )
    lines.append("")

    lines += ["### Policies", ""]
    results = s.check.results
    if not results:
        lines.append("No policies set.")
    else:
        lines += ["| policy | measured | limit | result |", "|---|---|---|---|"]
        for p in results:
            mark = "✅ pass" if p.passed else "❌ fail"
            lines.append(
                f"| `{p.policy}` | {md_escape(p.measured)} | {md_escape(p.limit)} | {mark} |"
            )
        if s.check.failures:
            lines.append("")
            lines += [f"- {md_escape(f.message)}" for f in s.check.failures]
    lines.append("")

    lines += [
        "### Filters",
        "",
        f"- threshold: {s.min_confidence} confidence (`--min-confidence`)",
        f"- {md_escape(s.excluded)}",
    ]
    lines += [f"- filter: {md_escape(f)}" for f in s.filters]
    if s.hints:
        lines.append(f"- {md_escape(s.hints)}")
    lines += [f"- {md_escape(n)}" for n in s.notes]
    lines += ["", f"_{md_escape(s.caveat)}_", ""]
    return "\n".join(lines)


def step_outputs(s: Summary) -> dict[str, str]:
    """The step outputs: ``ai-share`` (a fraction, empty when nothing was added), ``ai-lines``,
    ``total-lines``, ``commits`` (of the measured range) and ``passed`` (``true``/``false``)."""
    m = s.measured
    return {
        "ai-share": "" if m.ai_share is None else f"{m.ai_share:.4f}",
        "ai-lines": str(m.ai_added),
        "total-lines": str(m.added),
        "commits": str(m.commits),
        "passed": "true" if s.check.passed else "false",
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, title: str | None = None) -> str:
    """One workflow command (``::error title=…::message``), escaped as the runner expects."""
    props = f" title={_escape_property(title)}" if title else ""
    return f"::{level}{props}::{_escape_data(message)}"


def failure_annotations(failures: Sequence[Failure]) -> list[str]:
    """An ``::error`` line per policy failure."""
    return [annotation("error", f.message, f"provenance check: {f.policy}") for f in failures]


def _append(var: str, text: str, env: Mapping[str, str]) -> str | None:
    path = env.get(var)
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise OutputError(f"cannot append to ${var} ({path}): {exc.strerror or exc}") from None
    return path


def write_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> str | None:
    """Append to the file ``$GITHUB_STEP_SUMMARY`` names; returns its path (None if unset)."""
    return _append("GITHUB_STEP_SUMMARY", markdown, os.environ if env is None else env)


def write_outputs(outputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> str | None:
    """Append ``name=value`` lines to the file ``$GITHUB_OUTPUT`` names (a multi-line value
    uses the ``name<<DELIMITER`` form); returns its path (None if unset)."""
    parts = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delim = f"ghadelimiter_{uuid.uuid4().hex}"
            parts.append(f"{name}<<{delim}\n{value}\n{delim}\n")
        else:
            parts.append(f"{name}={value}\n")
    return _append("GITHUB_OUTPUT", "".join(parts), os.environ if env is None else env)
