"""The HTML report: one self-contained file to attach to a CI run or mail to someone.

``build_html_report(audit)`` = :func:`collect` (the numbers, from :mod:`provenance.metrics`)
then :func:`render_html` (formatting only). The page loads nothing: styles are inline, charts
are inline SVG drawn by :mod:`provenance.svg` (no matplotlib needed), there is no script, and a
Content-Security-Policy forbids any fetch, so it looks the same opened from disk, from a CI
artifact or from a mail attachment, with no network. The output carries no timestamp or local
path, so the same history gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from provenance.chart import AreaChart, area_from_report, bars_from_table
from provenance.frame import Audit
from provenance.metrics import Report, merged_share, report
from provenance.render import fmt_cell, fmt_share
from provenance.svg import area_svg, bars_svg

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd

#: Columns of the breakdown tables, with their headings.
TABLE_COLUMNS = {
    "commits": "commits",
    "ai_commits": "AI commits",
    "added": "lines added",
    "ai_added": "AI lines",
    "human_added": "human lines",
    "bot_added": "bot lines",
    "ai_share": "AI share",
    "ai_commit_share": "AI commit share",
}

#: Content-Security-Policy of the page: nothing may be fetched, no script may run.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


@dataclass
class HtmlReport:
    """Everything the HTML page shows, computed by :func:`collect`."""

    report: Report
    tool_trend: Report
    tools: pd.DataFrame
    authors: pd.DataFrame
    paths: pd.DataFrame
    depth: int
    top_commits: pd.DataFrame
    rules: pd.DataFrame
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    limit: int = 25
    version: str = field(default="")


def _version() -> str:
    try:
        return version("provenance")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def collect(audit: Audit, freq: str = "month", *, depth: int = 1, top: int = 25) -> HtmlReport:
    """The numbers of the HTML report: the share over time, per tool, author and directory,
    the ``top`` largest AI-assisted commits with the rules that fired, and the rules used."""
    c = audit.commits
    ai = c[c["class"].astype(str) == "ai"]
    top_commits = ai.sort_values(["added", "landed_at", "sha"], ascending=[False, True, True])
    top_commits = top_commits.head(top)[
        [
            "sha",
            "landed_at",
            "author",
            "subject",
            "tools",
            "models",
            "confidence",
            "rules",
            "evidence_scope",
            "added",
        ]
    ].reset_index(drop=True)
    fired = c["rules"].fillna("")
    fired = fired[fired != ""].str.split(";").explode()
    counts = fired.value_counts()
    rules = pd.DataFrame(
        [
            {
                "id": r.id,
                "tool": r.tool,
                "kind": r.kind.value,
                "field": r.field.value,
                "confidence": r.confidence.label,
                "pattern": r.pattern,
                "commits": int(counts[r.id]),
            }
            for r in audit.rules
            if r.id in counts.index
        ],
        columns=["id", "tool", "kind", "field", "confidence", "pattern", "commits"],
    )
    rules = rules.sort_values(["commits", "id"], ascending=[False, True]).reset_index(drop=True)
    return HtmlReport(
        report=report(audit, freq=freq),
        tool_trend=report(audit, freq=freq, by="tool"),
        tools=merged_share(audit, freq=None, by="tool"),
        authors=merged_share(audit, freq=None, by="author"),
        paths=merged_share(audit, freq=None, by="path", depth=depth),
        depth=depth,
        top_commits=top_commits,
        rules=rules,
        since=audit.since,
        until=audit.until,
        limit=top,
        version=_version(),
    )


def build_html_report(audit: Audit, freq: str = "month", *, depth: int = 1, top: int = 25) -> str:
    """The self-contained HTML report of an audit (see :func:`collect` for what it holds)."""
    return render_html(collect(audit, freq, depth=depth, top=top))


# -- rendering -----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(
    df: pd.DataFrame, key: str, heading: str, *, limit: int | None = None, caption: str = ""
) -> str:
    rows = df.iloc[:-1] if len(df) and str(df.iloc[-1][key]) == "total" else df
    total = df.iloc[-1:] if len(rows) < len(df) else df.iloc[0:0]
    more = 0
    if limit is not None and len(rows) > limit:
        more = len(rows) - limit
        rows = rows.head(limit)
    cols = [key, *TABLE_COLUMNS]
    head = "".join(
        f'<th scope="col"{"" if c == key else " class=num"}>'
        f"{_e(heading if c == key else TABLE_COLUMNS[c])}</th>"
        for c in cols
    )

    def tr(rec: pd.Series, cls: str = "") -> str:
        cells = [f'<th scope="row">{_e(rec[key])}</th>']
        cells += [f'<td class="num">{_e(fmt_cell(c, rec[c]))}</td>' for c in TABLE_COLUMNS]
        return f"<tr{f' class={cls}' if cls else ''}>{''.join(cells)}</tr>"

    body = "".join(tr(r) for _, r in rows.iterrows())
    foot = "".join(tr(r, "total") for _, r in total.iterrows())
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    note = (
        f'<p class="note">{more:,} more rows not shown (the CSV and JSON outputs have them '
        "all).</p>"
        if more
        else ""
    )
    return (
        f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}'
        f"</tbody><tfoot>{foot}</tfoot></table></div>{note}"
    )


def _cards(r: Report) -> str:
    t = r.total
    cards = [
        (
            "AI share of lines added",
            fmt_share(t["ai_share"]),
            f"{int(t['ai_added']):,} of {int(t['added']):,} lines",
        ),
        (
            "AI-assisted commits",
            f"{int(t['ai_commits']):,}",
            f"{fmt_share(t['ai_commit_share'])} of {int(t['commits']):,} commits",
        ),
        ("Human lines", f"{int(t['human_added']):,}", f"{int(t['human_commits']):,} commits"),
        (
            "Bot lines",
            f"{int(t['bot_added']):,}",
            f"{int(t['bot_commits']):,} commits (dependency bots, CI)",
        ),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="label">{_e(a)}</div><div class="value">{_e(b)}</div>'
            f'<div class="sub">{_e(c)}</div></div>'
            for a, b, c in cards
        )
        + "</div>"
    )


def _dicts(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = [str(c) for c in df.columns]
    return [dict(zip(cols, rec, strict=True)) for rec in df.itertuples(index=False, name=None)]


def _text(value: Any) -> str:
    """A cell as text; missing values (None, NaN, NA) are empty."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _top_commits(d: HtmlReport) -> str:
    if d.top_commits.empty:
        return '<p class="note">No AI-assisted commits at this threshold.</p>'
    rules = {r["id"]: r for r in _dicts(d.rules)}
    rows = []
    for rec in _dicts(d.top_commits):
        ev = []
        for rid in [x for x in _text(rec["rules"]).split(";") if x]:
            r = rules.get(rid)
            detail = f" ({r['field']}, {r['confidence']})" if r is not None else ""
            ev.append(f'<code class="id">{_e(rid)}</code>{_e(detail)}')
        scope = (
            ' <span class="tag">accepted suggestion only</span>'
            if _text(rec["evidence_scope"]) == "suggestion"
            else ""
        )
        sha = _text(rec["sha"])
        rows.append(
            f'<tr><td><code class="id" title="{_e(sha)}">{_e(sha[:10])}</code></td>'
            f"<td>{_e(pd.Timestamp(rec['landed_at']).date())}</td>"
            f"<td>{_e(_text(rec['author']))}</td><td>{_e(_text(rec['subject']))}</td>"
            f"<td>{_e(_text(rec['tools']))}</td><td>{_e(_text(rec['models']))}</td>"
            f"<td>{_e(_text(rec['confidence']))}</td><td>{'<br>'.join(ev)}{scope}</td>"
            f'<td class="num">{int(rec["added"]):,}</td></tr>'
        )
    head = "".join(
        f"<th{' class=num' if h == 'lines' else ''}>{h}</th>"
        for h in (
            "commit",
            "landed",
            "author",
            "subject",
            "tools",
            "model",
            "confidence",
            "evidence (rule, field, confidence)",
            "lines",
        )
    )
    return (
        f'<div class="scroll"><table class="commits"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _rules_table(df: pd.DataFrame) -> str:
    if df.empty:
        return '<p class="note">No rule matched any counted commit.</p>'
    rows = "".join(
        f'<tr><td><code class="id">{_e(r["id"])}</code></td>'
        f"<td>{_e(r['tool'])}</td><td>{_e(r['kind'])}</td><td>{_e(r['field'])}</td>"
        f"<td>{_e(r['confidence'])}</td><td><code>{_e(r['pattern'])}</code></td>"
        f'<td class="num">{int(r["commits"]):,}</td></tr>'
        for r in _dicts(df)
    )
    return (
        '<div class="scroll"><table class="rules"><thead><tr><th>rule</th><th>tool</th>'
        "<th>kind</th><th>field</th><th>confidence</th><th>pattern</th>"
        f'<th class="num">commits</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )


def _filters(d: HtmlReport) -> str:
    r = d.report
    target = f"{r.base}..{r.rev}" if r.base else r.rev
    items = [
        f"Target: <code>{_e(target)}</code> at <code>{_e(r.tip[:12])}</code>; commits dated by "
        "when they landed on its first-parent chain (UTC).",
        f"Threshold: rules of <b>{_e(r.min_confidence)}</b> confidence or above count as AI.",
    ]
    if d.since is not None or d.until is not None:
        since = d.since.date() if d.since is not None else "the start"
        until = d.until.date() if d.until is not None else "the end"
        items.append(f"Landed between {_e(since)} and {_e(until)}.")
    items.append(f"Merge commits not counted (their branch commits are): {r.merges:,}.")
    items.append("Path filters: " + (_e("; ".join(r.excluded.filters)) or "none") + ".")
    items.append(_e(r.excluded.sentence()[:1].upper() + r.excluded.sentence()[1:]) + ".")
    if r.hints.total:
        items.append(_e(r.hints.sentence()[:1].upper() + r.hints.sentence()[1:]) + ".")
    items += [_e(n) for n in r.notes]
    cats = r.excluded.table
    extra = ""
    if not cats.empty:
        rows = "".join(
            f'<tr><td>{_e(c["category"])}</td><td class="num">{int(c["files"]):,}</td>'
            f'<td class="num">{int(c["lines"]):,}</td></tr>'
            for c in _dicts(cats)
        )
        extra = (
            '<table class="small"><thead><tr><th>excluded as</th><th class="num">files</th>'
            f'<th class="num">lines added</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" + extra


def _chart(svg: str, caption: str) -> str:
    return f'<figure class="chart">{svg}<figcaption>{_e(caption)}</figcaption></figure>'


def _trend_svg(spec: AreaChart, uid: str) -> str:
    if not spec.periods:
        return '<p class="note">No commits in range: nothing to chart.</p>'
    return area_svg(spec, uid=uid)


_CSS = """
:root{--fg:#1d1d1f;--muted:#555;--line:#ddd;--bg:#fff;--panel:#f6f7f9;--accent:#D55E00}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 10px;padding-top:8px;
border-top:1px solid var(--line)}
.meta{color:var(--muted);margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;
margin:16px 0}
.card{background:var(--panel);border-radius:8px;padding:12px 14px}
.card .label{color:var(--muted);font-size:13px}.card .value{font-size:28px;font-weight:650}
.card .sub{color:var(--muted);font-size:13px}
.caveat{border-left:4px solid var(--accent);background:#fff4ec;padding:10px 14px;margin:16px 0;
border-radius:4px}
figure.chart{margin:16px 0}figure.chart svg{width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:13px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #bbb;white-space:nowrap}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot tr th,tfoot tr td{font-weight:650;border-top:2px solid #bbb}
table.small{width:auto}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;
word-break:break-all}
code.id{white-space:nowrap;word-break:normal}td:nth-child(2){white-space:nowrap}
.tag{display:inline-block;background:#fff0c2;border-radius:3px;padding:0 4px;font-size:12px}
.note{color:var(--muted);font-size:13px}
details summary{cursor:pointer;margin:8px 0}
footer{color:var(--muted);font-size:12.5px;margin-top:40px}
@media print{main{max-width:none}h2{break-after:avoid}figure,tr{break-inside:avoid}}
"""


def render_html(d: HtmlReport) -> str:
    """The page of an :class:`HtmlReport`. Formatting only: every number comes from ``d``."""
    r = d.report
    rng = (
        f"{r.first_landed.date()} to {r.last_landed.date()}"
        if r.first_landed is not None and r.last_landed is not None
        else "no commits"
    )
    target = f"{r.base}..{r.rev}" if r.base else r.rev
    title = f"AI share of merged code: {r.repo}"
    per = r.freq or "month"
    share = area_from_report(r)
    tools = area_from_report(d.tool_trend)
    dirs = bars_from_table(
        d.paths,
        "path",
        title="AI share by directory",
        subtitle=f"lines added over the whole range, directories {d.depth} level(s) deep, "
        "biggest first",
    )
    ai_tools = d.tools[
        ~d.tools["tool"].astype(str).isin(["(human)", "total"]) & (d.tools["ai_commits"] > 0)
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        f'<meta name="generator" content="provenance {_e(d.version)}">',
        f"<title>{_e(title)} ({_e(rng)})</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta"><code>{_e(target)}</code> at <code>{_e(r.tip[:12])}</code> · landed '
        f"{_e(rng)} · {_e(r.min_confidence)}-confidence evidence · {len(ai_tools):,} AI tool(s) "
        "seen</p>",
        _cards(r),
        f'<p class="caveat"><b>A lower bound.</b> {_e(r.caveat)} Lines of an AI-assisted '
        "commit count as AI-assisted; commits without a trace count as human.</p>",
        '<h2 id="trend">Share over time</h2>',
        _chart(
            _trend_svg(share, "share"),
            f"Lines added per {per} by AI-assisted, bot and human commits (stacked, left "
            "axis) and the AI share of lines added (line, right axis). Hover a period for "
            "its numbers.",
        ),
        _chart(
            _trend_svg(tools, "tools"),
            f"Lines added per {per} by AI tool (a commit with several tools counts under "
            "its strongest evidence).",
        ),
        f"<details><summary>Per {_e(per)} table ({len(r.table) - 1:,} rows)</summary>"
        + _table(r.table, "period", per)
        + "</details>",
        '<h2 id="tools">By tool</h2>',
        _table(d.tools, "tool", "tool"),
        '<h2 id="authors">By author</h2>',
        _table(d.authors, "author", "author (after .mailmap)", limit=d.limit),
        '<h2 id="directories">By directory</h2>',
        _chart(bars_svg(dirs, uid="dirs"), "AI share of the lines added under each directory."),
        _table(d.paths, "path", "directory", limit=d.limit),
        f'<h2 id="commits">Largest AI-assisted commits (top {d.limit})</h2>',
        '<p class="note">With the rules that counted them; '
        "<code>provenance explain SHA</code> shows the matched text.</p>",
        _top_commits(d),
        '<h2 id="filters">What was counted</h2>',
        _filters(d),
        '<h2 id="rules">Rules that fired</h2>',
        _rules_table(d.rules),
        f"<footer>Generated by provenance {_e(d.version)} from <code>{_e(r.repo)}</code> "
        f"<code>{_e(target)}</code> at <code>{_e(r.tip)}</code>. Metric: {_e(r.metric)}."
        "</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
