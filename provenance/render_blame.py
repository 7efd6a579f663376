"""Renderers of the surviving share (``provenance blame``): table, CSV, JSON and Markdown.

They format a :class:`~provenance.blame.BlameReport`; they compute nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from provenance.blame import BLAME_COLUMNS, BlameReport
from provenance.render import (
    SCHEMA_VERSION,
    OutputFormat,
    csv_text,
    markdown_table,
    md_escape,
    plain,
    records,
    text_table,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd

#: Columns the terminal and Markdown tables show after the key columns (CSV and JSON have all).
DISPLAY_COLUMNS = ("files", "commits", "lines", "ai_lines", "human_lines", "bot_lines", "ai_share")
_HEADINGS = {"ai_lines": "ai lines", "human_lines": "human lines", "bot_lines": "bot lines",
             "ai_share": "ai share", "end_date": "end date"}  # fmt: skip


def _display(r: BlameReport) -> pd.DataFrame:
    keys = [c for c in r.table.columns if c not in BLAME_COLUMNS]
    t = r.table[[*keys, *DISPLAY_COLUMNS]].copy()
    if "end_date" in t:
        t["end_date"] = t["end_date"].dt.strftime("%Y-%m-%d").fillna("")
    return t.rename(columns=_HEADINGS)


def _headline(r: BlameReport) -> str:
    how = " ".join(r.options.git_args) or "without -M/-C"
    if r.mode == "at":
        where = f"{r.repo} @ {r.at} ({r.tip[:12]})"
    elif r.tags is not None:
        where = (f"{r.repo}, {len(r.windows)} releases between tags matching {r.tags!r} "
                 f"reachable from {r.at}")  # fmt: skip
    elif r.since_rev is not None:
        where = f"{r.repo}, {r.since_rev}..{r.at}"
    else:
        where = f"{r.repo}, {len(r.windows)} releases"
    return f"{where}; git blame {how}; threshold: {r.min_confidence} confidence"


def _title(r: BlameReport) -> str:
    if r.mode == "at":
        return "AI share of surviving code (blame)"
    return "AI share of the code each release added and kept (blame)"


def _footer(r: BlameReport) -> list[str]:
    lines = [f"counted {r.files:,} files; " + r.excluded.sentence()] if r.windows else []
    if r.mode != "at":
        lines.append("each release counts the lines present at its tag whose last change lies "
                     "after the previous tag")  # fmt: skip
    lines.extend(r.notes)
    return lines


def blame_table(r: BlameReport) -> str:
    """Terminal rendering."""
    out = [f"{_title(r)}: {_headline(r)}", "", text_table(_display(r)), ""]
    out += _footer(r)
    out.append(r.caveat)
    return "\n".join(out) + "\n"


def blame_markdown(r: BlameReport) -> str:
    """Markdown rendering (CI summaries, release notes)."""
    out = [f"### {_title(r)}", "", md_escape(_headline(r)), "", markdown_table(_display(r)), ""]
    out += [f"- {md_escape(line)}" for line in _footer(r)]
    out += ["", f"_{md_escape(r.caveat)}_"]
    return "\n".join(out) + "\n"


def blame_csv(r: BlameReport) -> str:
    """CSV rendering: the whole table (total row last at one revision)."""
    return csv_text(r.table)


def blame_json_data(r: BlameReport) -> dict[str, Any]:
    """The JSON document of ``provenance blame`` (see the README for the shape)."""
    rows = records(r.table)
    total = rows.pop() if r.mode == "at" and r.by is not None and rows else None
    if r.mode == "at" and r.by is None and rows:
        total, rows = rows[0], []
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "surviving_share",
        "metric": r.metric,
        "repo": r.repo,
        "mode": r.mode,
        "at": r.at,
        "tip": r.tip,
        "tags": r.tags,
        "since_rev": r.since_rev,
        "by": r.by,
        "min_confidence": r.min_confidence,
        "blame": {
            "detect": r.options.detect.value,
            "git_options": list(r.options.git_args),
            "ignore_whitespace": r.options.ignore_whitespace,
            "ignore_revs": {"source": r.options.ignore_revs.source or None,
                            "revisions": len(r.options.ignore_revs.revs)},
        },
        "releases": [
            {"release": w.label, "start": w.start_label, "rev": w.rev, "start_rev": w.start,
             "end_date": plain(w.end_date)}
            for w in r.windows if w.start is not None
        ],
        "files": r.files,
        "rows": rows,
        "total": total,
        "excluded": {
            "lines": r.excluded.lines,
            "files": r.excluded.files,
            "binary_files": r.excluded.binary_files,
            "categories": records(r.excluded.table),
            "filters": r.excluded.filters,
        },
        "shallow_depth": r.shallow_depth,
        "caveat": r.caveat,
        "notes": r.notes,
    }


def blame_json(r: BlameReport) -> str:
    """JSON rendering."""
    return json.dumps(blame_json_data(r), indent=2, ensure_ascii=False) + "\n"


BLAME_RENDERERS: Mapping[OutputFormat, Callable[[BlameReport], str]] = {
    OutputFormat.TABLE: blame_table,
    OutputFormat.CSV: blame_csv,
    OutputFormat.JSON: blame_json,
    OutputFormat.MARKDOWN: blame_markdown,
}
