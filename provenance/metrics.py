"""Metrics over an :class:`~provenance.frame.Audit`: pandas code, no git, no loops over commits.

The merged share is the share of lines added by counted commits that came from AI-assisted
commits, bucketed by the date each commit landed on the mainline (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provenance.classify import CommitClass
from provenance.frame import CONFIDENCES, Audit
from provenance.options import Freq as Freq  # re-exported: metrics.Freq, metrics.GroupBy
from provenance.options import GroupBy as GroupBy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    from provenance._lazy import numpy as np
    from provenance._lazy import pandas as pd

CAVEAT = (
    "AI share is a lower bound of declared provenance: it counts only commits that carry a trace "
    "of an AI tool, and every tool can turn its attribution off."
)


_PANDAS_FREQ = {Freq.WEEK: "W-SUN", Freq.MONTH: "M", Freq.QUARTER: "Q", Freq.YEAR: "Y"}
_ALIASES = {"w": Freq.WEEK, "m": Freq.MONTH, "me": Freq.MONTH, "q": Freq.QUARTER,
            "qe": Freq.QUARTER, "y": Freq.YEAR, "a": Freq.YEAR, "ye": Freq.YEAR}  # fmt: skip


#: Columns of every share table after its key column(s).
SHARE_COLUMNS = (
    "commits", "ai_commits", "human_commits", "bot_commits", "added", "ai_added",
    "human_added", "bot_added", "ai_share", "ai_commit_share",
)  # fmt: skip

TOTAL = "total"


def parse_freq(freq: str | Freq) -> Freq:
    """Accept ``week|month|quarter|year`` or a pandas alias (``W``, ``M``, ``Q``, ``Y``)."""
    if isinstance(freq, Freq):
        return freq
    key = str(freq).strip().lower()
    try:
        return Freq(key)
    except ValueError:
        pass
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown frequency {freq!r}: use week, month, quarter or year")


def periods_of(stamps: pd.Series, freq: Freq) -> pd.Series:
    """The period (in UTC) each timestamp falls in; weeks run Monday to Sunday."""
    naive = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    periods: pd.Series = naive.dt.to_period(_PANDAS_FREQ[freq])
    return periods


def _label(p: pd.Period, freq: Freq) -> str:
    if freq is Freq.WEEK:
        return str(p.start_time.date())
    return str(p)


def dir_of(paths: pd.Series, depth: int) -> pd.Series:
    """Each path's directory, ``depth`` levels deep; ``(root)`` for top-level files."""
    parts = paths.str.split("/")

    def one(xs: list[str]) -> str:
        dirs = xs[:-1][:depth]
        return "/".join(dirs) if dirs else "(root)"

    return parts.map(one).astype("string")


def ext_of(paths: pd.Series) -> pd.Series:
    """Each path's lower-cased extension (``.py``); ``(none)`` without one."""
    base = paths.str.rsplit("/", n=1).str[-1]
    ext = base.str.extract(r"(?<=.)(\.[^.]+)$", expand=False)
    return ext.fillna("(none)").str.lower().astype("string")


def commit_key(commits: pd.DataFrame, by: GroupBy) -> pd.Series:
    """The group of each commit for a commit-level breakdown (tool, model or author)."""
    cls = commits["class"].astype(str)
    if by is GroupBy.TOOL:
        tool = commits["tool"].astype(str)
        return pd.Series(np.where(cls == "human", "(human)", tool), index=commits.index)
    if by is GroupBy.MODEL:
        model = commits["models"].fillna("").str.split("; ").str[0]
        key = np.where(cls != "ai", "(not ai)", np.where(model == "", "(model not named)", model))
        return pd.Series(key, index=commits.index)
    return commits["author"].astype(str)


def _shares(g: pd.DataFrame) -> pd.DataFrame:
    g = g.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        g["ai_share"] = np.where(
            g["added"] > 0, g["ai_added"] / g["added"].where(g["added"] > 0), np.nan
        )
        g["ai_commit_share"] = np.where(
            g["commits"] > 0, g["ai_commits"] / g["commits"].where(g["commits"] > 0), np.nan
        )
    for c in SHARE_COLUMNS[:8]:
        g[c] = g[c].astype("int64")
    g["ai_share"] = g["ai_share"].astype("float64")
    g["ai_commit_share"] = g["ai_commit_share"].astype("float64")
    return g


def _aggregate(rows: pd.DataFrame, keys: list[str], commit_id: str) -> pd.DataFrame:
    """rows: one row per (commit or commit x file) with columns keys + class + added + sha."""
    cls = rows["class"].astype(str)
    frame = pd.DataFrame({k: rows[k] for k in keys})
    for c in CommitClass:
        frame[f"{c.value}_added"] = np.where(cls == c.value, rows["added"], 0)
    frame["added"] = rows["added"].to_numpy()
    frame["_sha"] = rows[commit_id].to_numpy()
    frame["_cls"] = cls.to_numpy()
    grouped = frame.groupby(keys, sort=False, observed=True, dropna=False)
    out = grouped[["added", "ai_added", "human_added", "bot_added"]].sum()
    uniq = frame.drop_duplicates(subset=[*keys, "_sha"])
    counts = uniq.groupby([*keys, "_cls"], observed=True, dropna=False).size().unstack(fill_value=0)
    for c in CommitClass:
        if c.value not in counts:
            counts[c.value] = 0
    out["ai_commits"] = counts["ai"]
    out["human_commits"] = counts["human"]
    out["bot_commits"] = counts["bot"]
    out = out.fillna(0)
    out["commits"] = out["ai_commits"] + out["human_commits"] + out["bot_commits"]
    return _shares(out.reset_index())[[*keys, *SHARE_COLUMNS]]


def _total_row(table: pd.DataFrame, commits: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    cls = commits["class"].astype(str)
    row: dict[str, Any] = {k: TOTAL if i == 0 else "" for i, k in enumerate(keys)}
    row.update(
        commits=len(commits),
        ai_commits=int((cls == "ai").sum()),
        human_commits=int((cls == "human").sum()),
        bot_commits=int((cls == "bot").sum()),
        added=int(commits["added"].sum()),
        ai_added=int(commits["added"][cls == "ai"].sum()),
        human_added=int(commits["added"][cls == "human"].sum()),
        bot_added=int(commits["added"][cls == "bot"].sum()),
    )
    return _shares(pd.DataFrame([row]))[[*keys, *SHARE_COLUMNS]]


def merged_share(
    audit: Audit,
    freq: str | Freq | None = "month",
    by: str | GroupBy | None = None,
    *,
    depth: int = 1,
    total: bool = True,
) -> pd.DataFrame:
    """The merged-share table: one row per period (and/or group), then a ``total`` row.

    ``freq=None`` with ``by`` gives one row per group over the whole range. ``by`` is one of
    ``tool``, ``author``, ``model`` (commit-level) or ``path`` (directory, ``depth`` levels) and
    ``ext`` (file-level; a commit counts once per group it touches). Shares are NaN where the
    denominator is zero.
    """
    group = GroupBy(by) if by is not None else None
    f = parse_freq(freq) if freq is not None else None
    if f is None and group is None:
        f = Freq.MONTH
    commits = audit.commits
    keys: list[str] = []
    if group in (GroupBy.PATH, GroupBy.EXT):
        rows = audit.counted_files.copy()
        rows[group.value] = (
            dir_of(rows["path"], depth) if group is GroupBy.PATH else ext_of(rows["path"])
        )
    else:
        rows = commits.copy()
        if group is not None:
            rows[group.value] = commit_key(rows, group)
    if f is not None:
        rows["period"] = periods_of(rows["landed_at"], f)
        keys.append("period")
    if group is not None:
        keys.append(group.value)
    if rows.empty:
        table = pd.DataFrame({k: pd.Series([], dtype="string") for k in keys})
        for c in SHARE_COLUMNS:
            table[c] = pd.Series([], dtype="float64" if c.endswith("share") else "int64")
    else:
        table = _aggregate(rows, keys, "sha")
        if f is not None and group is None:
            # One row per period from first to last, empty periods included.
            full = pd.period_range(
                table["period"].min(), table["period"].max(), freq=table["period"].iloc[0].freq
            )
            table = table.set_index("period").reindex(full).rename_axis("period").reset_index()
            table[list(SHARE_COLUMNS[:8])] = table[list(SHARE_COLUMNS[:8])].fillna(0)
            table = _shares(table)
        sort_keys = ["period"] if f is not None else []
        if group is not None:
            table = table.sort_values(
                [*sort_keys, "added", group.value],
                ascending=[*([True] * len(sort_keys)), False, True],
            )
        else:
            table = table.sort_values(sort_keys)
        if f is not None:
            table["period"] = [_label(p, f) for p in table["period"]]
    for k in keys:
        table[k] = table[k].astype("string")
    table = table.reset_index(drop=True)
    if total:
        table = pd.concat([table, _total_row(table, commits, keys)], ignore_index=True)
        for k in keys:
            table[k] = table[k].astype("string")
    return table


@dataclass
class ExcludedSummary:
    """What the path filters removed: per category, files and added lines."""

    table: pd.DataFrame
    binary_files: int
    filters: list[str]

    @property
    def lines(self) -> int:
        """Added lines removed by all filters."""
        return int(self.table["lines"].sum()) if not self.table.empty else 0

    @property
    def files(self) -> int:
        """Distinct paths removed by all filters."""
        return int(self.table["files"].sum()) if not self.table.empty else 0

    def sentence(self) -> str:
        """One line: what was excluded."""
        filters = "; ".join(self.filters) or "no filters"
        binary = ""
        if self.binary_files:
            noun = "binary file" if self.binary_files == 1 else "binary files"
            binary = f"{self.binary_files:,} {noun} (not counted)"
        if self.table.empty:
            return f"excluded nothing ({filters})" + (f"; {binary}" if binary else "")
        t = self.table
        parts = [
            f"{lines:,} lines in {files:,} {_noun(str(cat), files)}"
            for cat, files, lines in zip(t["category"], t["files"], t["lines"], strict=True)
        ]
        if binary:
            parts.append(binary)
        return f"excluded {self.lines:,} lines: " + ", ".join(parts)


_NOUNS = {
    "lockfile": "lockfile",
    "user": "file excluded by --exclude or config",
    "not-included": "file outside --include",
}


def _noun(category: str, n: int) -> str:
    noun = _NOUNS.get(category, f"{category} file")
    if n == 1:
        return noun
    return noun.replace("file", "files", 1)


def excluded_summary(audit: Audit) -> ExcludedSummary:
    """Per filter category, the distinct paths and the added lines it removed."""
    f = audit.files
    ex = f[f["excluded"] != ""]
    if ex.empty:
        table = pd.DataFrame({"category": pd.Series([], dtype="string"),
                              "files": pd.Series([], dtype="int64"),
                              "lines": pd.Series([], dtype="int64")})  # fmt: skip
    else:
        g = ex.groupby(ex["excluded"].astype(str), observed=True)
        table = pd.DataFrame({"files": g["path"].nunique(), "lines": g["added"].sum()})
        table = table.rename_axis("category").reset_index().sort_values("lines", ascending=False)
        table["category"] = table["category"].astype("string")
        table = table.reset_index(drop=True)
    binary = int(f.loc[f["binary"] & (f["excluded"] == ""), "path"].nunique())
    return ExcludedSummary(table=table, binary_files=binary, filters=audit.path_filter.describe())


@dataclass
class Hints:
    """Commits not counted as AI that carry AI evidence below the threshold."""

    counts: dict[str, int]
    min_confidence: str

    @property
    def total(self) -> int:
        """All such commits."""
        return sum(self.counts.values())

    def sentence(self) -> str:
        """One line naming how many commits the next threshold down would add."""
        if not self.total:
            return ""
        levels = "/".join(k for k, v in self.counts.items() if v)
        lower = next((k for k in ("medium", "low") if self.counts.get(k)), "low")
        noun = "commit carries" if self.total == 1 else "commits carry"
        return (
            f"a further {self.total:,} {noun} {levels}-confidence AI hints; "
            f"--min-confidence {lower} would count them"
        )


def hints(audit: Audit) -> Hints:
    """How many commits carry only AI hints the threshold did not count, by best hint level."""
    c = audit.commits
    pending = c[(c["class"] != "ai") & c["hint"].notna()]
    counts = {lvl: int((pending["hint"] == lvl).sum()) for lvl in reversed(CONFIDENCES)}
    return Hints(counts=counts, min_confidence=audit.min_confidence.label)


@dataclass
class Report:
    """Everything ``provenance report`` shows: the table plus its context."""

    metric: str
    repo: str
    rev: str
    tip: str
    freq: str | None
    by: str | None
    table: pd.DataFrame
    excluded: ExcludedSummary
    hints: Hints
    min_confidence: str
    first_landed: pd.Timestamp | None
    last_landed: pd.Timestamp | None
    merges: int
    base: str | None = None
    shallow_depth: int | None = None
    caveat: str = CAVEAT
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> dict[str, Any]:
        """The total row as a dict."""
        return dict(self.table.iloc[-1])


def report(
    audit: Audit,
    freq: str | Freq | None = "month",
    by: str | GroupBy | None = None,
    *,
    depth: int = 1,
) -> Report:
    """Build the merged-share :class:`Report` for an audit (what the CLI renders)."""
    table = merged_share(audit, freq=freq, by=by, depth=depth)
    landed = audit.commits["landed_at"]
    notes = []
    if audit.shallow_depth is not None:
        notes.append(
            f"history is shallow (depth {audit.shallow_depth}): "
            "this covers only the fetched history"
        )
    if audit.shallow_boundary:
        n = audit.shallow_boundary
        notes.append(
            f"{n} boundary {'commit' if n == 1 else 'commits'} of the shallow history "
            "not counted: their parents were not fetched"
        )
    return Report(
        metric="merged share (lines added by commits that landed)",
        repo=audit.repo_name,
        rev=audit.rev,
        tip=audit.tip,
        freq=parse_freq(freq).value if freq is not None else None,
        by=GroupBy(by).value if by is not None else None,
        table=table,
        excluded=excluded_summary(audit),
        hints=hints(audit),
        min_confidence=audit.min_confidence.label,
        first_landed=landed.min() if len(landed) else None,
        last_landed=landed.max() if len(landed) else None,
        merges=audit.merges,
        base=audit.base,
        shallow_depth=audit.shallow_depth,
        notes=notes,
    )
