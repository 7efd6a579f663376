"""Renderers: turn what the metrics returned into text. They format; they never compute.

Formats: ``table`` (terminal), ``csv`` (tidy, one header row), ``json`` (documented shape,
``schema_version``), ``markdown``; ``jsonl`` for commit listings. CSV cells that a spreadsheet
would run as a formula are neutralised with a leading apostrophe.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import stat
import tempfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from itertools import accumulate, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from provenance.errors import OutputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    from provenance._lazy import numpy as np
    from provenance._lazy import pandas as pd

SCHEMA_VERSION = 1


class OutputFormat(StrEnum):
    """Output formats of tables."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"


class RowFormat(StrEnum):
    """Output formats of row listings (``commits``)."""

    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRSTS = frozenset(_FORMULA_START)


def csv_safe(value: Any) -> Any:
    """Neutralise a text cell a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``, tab, CR)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def plain(value: Any) -> Any:
    """A JSON-ready Python value: NaN/NA become None, timestamps ISO 8601, numpy scalars native."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        return plain(value.item())
    return value


def md_escape(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    s = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return s.replace("\r", " ").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def fmt_share(value: Any) -> str:
    """A share as a percentage with one decimal, or an en dash when undefined."""
    v = plain(value)
    return "–" if v is None else f"{100 * v:.1f}%"


def fmt_cell(column: str, value: Any) -> str:
    """Human formatting of one table cell."""
    v = plain(value)
    if column.endswith("share"):
        return fmt_share(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.3f}"
    return str(v)


_HEADINGS = {
    "commits": "commits", "ai_commits": "ai commits", "human_commits": "human commits",
    "bot_commits": "bot commits", "added": "lines added", "ai_added": "ai lines",
    "human_added": "human lines", "bot_added": "bot lines", "ai_share": "ai share",
    "ai_commit_share": "ai commit share",
}  # fmt: skip

#: Columns shown by the terminal and Markdown renderers (all columns go to CSV and JSON).
DISPLAY_COLUMNS = ("commits", "added", "ai_added", "bot_added", "human_added", "ai_share",
                   "ai_commit_share")  # fmt: skip


def text_table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """An aligned plain-text table (numbers right-aligned), with a rule before a total row."""
    cols = list(columns or df.columns)
    head = [_HEADINGS.get(c, c) for c in cols]
    rows = [[fmt_cell(c, v) for c, v in zip(cols, rec, strict=True)]
            for rec in df[cols].itertuples(index=False, name=None)]  # fmt: skip
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if num else c.ljust(w)
               for c, w, num in zip(cells, widths, numeric, strict=True)]  # fmt: skip
        return "  ".join(out).rstrip()

    lines = [line(head), "  ".join("-" * w for w in widths)]
    for i, r in enumerate(rows):
        if i == len(rows) - 1 and r and r[0] == "total" and len(rows) > 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append(line(r))
    return "\n".join(lines)


def markdown_table(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table; cells escaped (a ``|`` in a name is safe)."""
    cols = list(columns or df.columns)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in cols]
    out = ["| " + " | ".join(md_escape(_HEADINGS.get(c, c)) for c in cols) + " |",
           "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]  # fmt: skip
    for rec in df[cols].itertuples(index=False, name=None):
        cells = [md_escape(fmt_cell(c, v)) for c, v in zip(cols, rec, strict=True)]
        if cells and cells[0] == "total":
            cells = [f"**{c}**" if c else c for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts."""
    cols = list(df.columns)
    return [{c: plain(v) for c, v in zip(cols, rec, strict=True)}
            for rec in df.itertuples(index=False, name=None)]  # fmt: skip


def csv_text(df: pd.DataFrame) -> str:
    """Tidy CSV: one header row, ISO timestamps, empty cells for undefined values."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(df.columns)
    for rec in records(df):
        w.writerow(["" if v is None else csv_safe(v) for v in rec.values()])
    return buf.getvalue()


# -- reports ---------------------------------------------------------------------------------


def _key_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c in ("period", "tool", "author", "model", "path", "ext")]


def _range(r: Any) -> str:
    if r.first_landed is None:
        return "no commits"
    return f"{r.first_landed.date()} .. {r.last_landed.date()}"


def _headline(r: Any) -> str:
    target = f"{r.base}..{r.rev}" if r.base else r.rev
    return (f"{r.repo} @ {target} ({r.tip[:12]}), landed {_range(r)}; "
            f"threshold: {r.min_confidence} confidence")  # fmt: skip


def report_json_data(r: Any) -> dict[str, Any]:
    """The JSON document of a merged-share report (see the README for the shape)."""
    rows = records(r.table)
    total = rows.pop() if rows else None
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "merged_share",
        "metric": r.metric,
        "repo": r.repo,
        "rev": r.rev,
        "base": r.base,
        "tip": r.tip,
        "freq": r.freq,
        "by": r.by,
        "min_confidence": r.min_confidence,
        "first_landed": plain(r.first_landed),
        "last_landed": plain(r.last_landed),
        "merge_commits_skipped": r.merges,
        "rows": rows,
        "total": total,
        "excluded": {
            "lines": r.excluded.lines,
            "files": r.excluded.files,
            "binary_files": r.excluded.binary_files,
            "categories": records(r.excluded.table),
            "filters": r.excluded.filters,
        },
        "hints": {"total": r.hints.total, "by_confidence": r.hints.counts},
        "shallow_depth": r.shallow_depth,
        "caveat": r.caveat,
        "notes": r.notes,
    }


def report_table(r: Any) -> str:
    """Terminal rendering of a report."""
    cols = [*_key_columns(r.table), *DISPLAY_COLUMNS]
    lines = [f"AI share of merged code: {_headline(r)}", "", text_table(r.table, cols), ""]
    lines.append(r.excluded.sentence())
    if r.hints.total:
        lines.append(r.hints.sentence())
    lines.extend(r.notes)
    lines.append(r.caveat)
    return "\n".join(lines) + "\n"


def report_markdown(r: Any) -> str:
    """Markdown rendering of a report (CI summaries, issues, wikis)."""
    cols = [*_key_columns(r.table), *DISPLAY_COLUMNS]
    lines = [
        "### AI share of merged code",
        "",
        md_escape(_headline(r)),
        "",
        markdown_table(r.table, cols),
        "",
        f"- {md_escape(r.excluded.sentence())}",
    ]
    if r.hints.total:
        lines.append(f"- {md_escape(r.hints.sentence())}")
    lines.extend(f"- {md_escape(n)}" for n in r.notes)
    lines += ["", f"_{md_escape(r.caveat)}_"]
    return "\n".join(lines) + "\n"


def report_csv(r: Any) -> str:
    """CSV rendering of a report: the table, total row last."""
    return csv_text(r.table)


def report_json(r: Any) -> str:
    """JSON rendering of a report."""
    return json.dumps(report_json_data(r), indent=2, ensure_ascii=False) + "\n"


REPORT_RENDERERS: Mapping[OutputFormat, Callable[[Any], str]] = {
    OutputFormat.TABLE: report_table,
    OutputFormat.CSV: report_csv,
    OutputFormat.JSON: report_json,
    OutputFormat.MARKDOWN: report_markdown,
}


# -- row listings (streamed) -----------------------------------------------------------------


def write_rows(
    out: IO[str], columns: Sequence[str], rows: Iterable[Mapping[str, Any]], fmt: RowFormat
) -> int:
    """Write rows one at a time as CSV, a JSON array or JSON Lines; returns the row count."""
    n = 0
    if fmt is RowFormat.CSV:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if (v := plain(row[c])) is None else csv_safe(v) for c in columns])
            n += 1
    elif fmt is RowFormat.JSONL:
        for row in rows:
            out.write(json.dumps({c: plain(row[c]) for c in columns}, ensure_ascii=False) + "\n")
            n += 1
    else:
        out.write("[")
        for row in rows:
            out.write(",\n  " if n else "\n  ")
            out.write(json.dumps({c: plain(row[c]) for c in columns}, ensure_ascii=False))
            n += 1
        out.write("\n]\n" if n else "]\n")
    return n


def _no_formula(values: list[str]) -> bool:
    """True if no value starts like a formula (one set of first characters)."""
    return _FORMULA_FIRSTS.isdisjoint({v[:1] for v in values})


def _numeric_cells(s: pd.Series) -> list[str] | None:
    """The cells of a column of UTC seconds or integers (never quoted), else None."""
    if isinstance(s.dtype, pd.DatetimeTZDtype) and str(s.dtype.tz) == "UTC" and s.dtype.unit == "s":
        naive = s.dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
        text = np.datetime_as_string(naive, unit="s").tolist()
        return ["" if t == "NaT" else t + "+00:00" for t in text]
    if pd.api.types.is_integer_dtype(s.dtype) and not s.hasnans:
        return list(map(str, s.to_numpy().tolist()))
    return None


def _csv_cells(s: pd.Series) -> list[str]:
    """One column as CSV cells, exactly as :func:`write_rows` writes them, computed column-wise."""
    numeric = _numeric_cells(s)
    if numeric is not None:
        return numeric
    f = _FORMULA_START
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories.tolist()
        if set(map(type, cats)) <= {str}:
            # The cells of the categories, taken by code (-1, missing, takes the one appended).
            codes = s.cat.codes.to_numpy()
            table = [("'" + v) if v.startswith(f) else v for v in cats]
            if (codes == -1).any():
                table.append(_csv_cell(s[codes == -1].iloc[0]))
            return np.asarray(table, dtype=object)[codes].tolist()  # type: ignore[no-any-return]
        return [_csv_cell(v) for v in s]
    if isinstance(s.dtype, pd.StringDtype) or s.dtype == object:
        values = s.tolist()
        if set(map(type, values)) <= {str} and _no_formula(values):
            return values
        if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            return [_csv_cell(v) for v in s]
        return [(("'" + v) if v.startswith(f) else v) if type(v) is str else _csv_cell(v)
                for v in values]  # fmt: skip
    return [_csv_cell(v) for v in s]


def _csv_cell(value: Any) -> str:
    v = plain(value)
    return "" if v is None else str(csv_safe(v))


_QUOTE_CHARS = ',"\n\r'
_QUOTE_IF = re.compile(f"[{_QUOTE_CHARS}]")


def _csv_field(value: str) -> str:
    """``value`` as the csv module writes it in a row of several fields."""
    if "\r" in value and not any(c in value for c in ',"\n'):
        # A bare CR: whether it needs quotes is left to the csv module itself, not assumed.
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([value, ""])
        return buf.getvalue()[: -len(",\n")]
    return '"' + value.replace('"', '""') + '"'


def _csv_fields(cells: list[str]) -> list[str]:
    """A column's cells quoted where the csv module would quote them (fields holding a comma,
    quote or line break), found by one search of the joined column."""
    joined = "\x00".join(cells)
    if not any(c in joined for c in _QUOTE_CHARS):  # four C-level scans, cheaper than a regex
        return cells
    hits = [m.start() for m in _QUOTE_IF.finditer(joined)]
    if not hits:
        return cells
    ends = list(accumulate(len(c) + 1 for c in cells))  # cell i spans [ends[i-1], ends[i]-1)
    out = list(cells)
    for i in {bisect_right(ends, pos) for pos in hits}:
        out[i] = _csv_field(cells[i])
    return out


def write_frame(out: IO[str], frame: pd.DataFrame, fmt: RowFormat) -> int:
    """Write a frame's rows like :func:`write_rows` (same bytes); CSV is built column by column,
    about thirty times faster than row by row on large listings."""
    if fmt is not RowFormat.CSV:
        cols = list(frame.columns)
        rows = (dict(zip(cols, r, strict=True)) for r in frame.itertuples(index=False, name=None))
        return write_rows(out, cols, rows, fmt)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(list(frame.columns))
    if len(frame.columns) < 2:  # a row of one empty field is written as "", not as an empty line
        w.writerows(zip(*(_csv_cells(frame[c]) for c in frame.columns), strict=True))
    elif len(frame):
        columns = [
            cells if (cells := _numeric_cells(frame[c])) is not None
            else _csv_fields(_csv_cells(frame[c]))
            for c in frame.columns
        ]  # fmt: skip
        lines = map(",".join, zip(*columns, strict=True))
        while chunk := list(islice(lines, 8192)):  # written in chunks, never as one string
            out.write("\n".join(chunk))
            out.write("\n")
    return len(frame)


# -- output ----------------------------------------------------------------------------------


def output_target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Where writing ``path`` goes: ``(file, False)`` for a file to replace atomically (through
    symbolic links, so a link stays a link), or ``(path, True)`` for a target that is not a
    regular file (``/dev/null``, ``/dev/stdout``, a named pipe, a terminal), which is appended
    to in place: replacing it would swap the device for a plain file, and truncating
    ``/dev/stdout`` would truncate the file the shell redirected it to."""
    target = Path(path)
    if os.path.abspath(target).startswith(("/dev/", "/proc/")):
        # /dev/stdout, /dev/fd/N: a descriptor's file, to be written through, never replaced.
        return target, True
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return Path(os.path.realpath(target)), False  # new file, or a link to one
    except OSError:
        return target, True  # a link loop, a forbidden folder: opening it reports the error
    if not stat.S_ISREG(mode):
        return target, True
    return Path(os.path.realpath(target)), False


def discard(stream: IO[str]) -> None:
    """Point ``stream``'s descriptor at /dev/null, so a final flush of what it still buffers
    (after its reader went away or its disk filled up) cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


@contextmanager
def open_output(path: str | os.PathLike[str] | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Write to ``path`` atomically (temp file in the same folder, renamed when complete),
    or to ``stdout`` when no path is given. A failure leaves no partial file behind.
    A target that is not a regular file (``/dev/null``, a pipe) is appended to in place."""
    if path is None or str(path) == "-":
        try:
            yield stdout
            stdout.flush()
        except BrokenPipeError:
            raise  # the reader went away: the CLI stops quietly
        except OSError as exc:  # a full disk or a device error behind the redirection
            discard(stdout)  # what is still buffered can never be written
            raise OutputError(f"cannot write standard output: {exc.strerror or exc}") from None
        return
    shown = Path(path)
    target, in_place = output_target(path)
    if in_place:
        try:
            with open(target, "a", encoding="utf-8", newline="") as fh:
                yield fh
        except OSError as exc:
            raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


# -- explain ---------------------------------------------------------------------------------


def _when(seconds: int, tz: str) -> str:
    ts = pd.Timestamp(seconds, unit="s", tz="UTC")
    try:
        sign = -1 if tz.startswith("-") else 1
        offset = pd.Timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        return (ts + offset).strftime("%Y-%m-%d %H:%M:%S ") + tz
    except (ValueError, IndexError):
        return ts.isoformat()


def explanation_json_data(ex: Any) -> dict[str, Any]:
    """The JSON document of ``provenance explain``."""
    rec, v = ex.record, ex.verdict
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "explain",
        "sha": rec.sha,
        "parents": list(rec.parents),
        "author": {"name": rec.author_name, "email": rec.author_email,
                   "mailmapped": f"{rec.author} <{rec.author_mail}>"},
        "committer": {"name": rec.committer_name, "email": rec.committer_email},
        "authored_at": _when(rec.authored_at, rec.author_tz),
        "committed_at": _when(rec.committed_at, rec.committer_tz),
        "subject": rec.subject,
        "class": v.cls.value,
        "tool": v.tool or None,
        "tools": list(v.tools),
        "models": list(v.models),
        "confidence": v.confidence.label if v.confidence else None,
        "evidence_scope": v.scope or None,
        "min_confidence": ex.min_confidence.label,
        "counted_rules": list(v.counted),
        "evidence": [
            {"rule": e.rule_id, "tool": e.tool, "kind": e.kind.value, "field": e.field.value,
             "confidence": e.confidence.label, "matched": e.matched, "model": e.model,
             "scope": e.scope, "counted": e.rule_id in v.counted}
            for e in v.evidence
        ],
        "files": [{"path": p, "added": a, "deleted": d, "excluded": x or None}
                  for p, a, d, x in ex.counted_files],
    }  # fmt: skip


def explanation_json(ex: Any) -> str:
    """JSON rendering of an explanation."""
    return json.dumps(explanation_json_data(ex), indent=2, ensure_ascii=False) + "\n"


def explanation_text(ex: Any) -> str:
    """Terminal rendering of an explanation."""
    d = explanation_json_data(ex)
    out = [
        f"commit     {d['sha']}",
        f"author     {d['author']['name']} <{d['author']['email']}>  {d['authored_at']}",
        f"committer  {d['committer']['name']} <{d['committer']['email']}>  {d['committed_at']}",
        f"subject    {d['subject']}",
        "",
    ]
    verdict = d["class"]
    if d["class"] == "ai":
        verdict += f" ({', '.join(d['tools'])}; {d['confidence']} confidence"
        if d["models"]:
            verdict += f"; model {', '.join(d['models'])}"
        if d["evidence_scope"] == "suggestion":
            verdict += "; evidence is an accepted review suggestion only"
        verdict += ")"
    elif d["class"] == "bot":
        verdict += f" ({', '.join(d['tools'])})"
    out.append(f"verdict    {verdict}   [threshold: {d['min_confidence']}]")
    if not d["evidence"]:
        out.append("evidence   none: no rule matched")
    for e in d["evidence"]:
        mark = "counted" if e["counted"] else "not counted"
        if not e["counted"] and e["kind"] == "ai" and e["field"].startswith("committer"):
            mark += ": committer only"
        model = f", model {e['model']}" if e["model"] else ""
        out.append(f"  {e['rule']}  [{e['kind']}, {e['confidence']}, {e['field']}{model}; {mark}]")
        out.append(f"      matched: {e['matched']}")
    out.append("")
    counted = [f for f in d["files"] if not f["excluded"]]
    out.append(f"files      {len(counted)} counted, +{sum(f['added'] for f in counted)} "
               f"-{sum(f['deleted'] for f in counted)}")  # fmt: skip
    for f in d["files"]:
        tag = f"  [excluded: {f['excluded']}]" if f["excluded"] else ""
        out.append(f"  +{f['added']:<6} -{f['deleted']:<6} {f['path']}{tag}")
    return "\n".join(out) + "\n"


# -- rules -----------------------------------------------------------------------------------

_RULE_DISPLAY = ("id", "tool", "kind", "field", "confidence", "scope", "origin")


def _rule_columns(table: pd.DataFrame, pattern: bool) -> list[str]:
    return [*_RULE_DISPLAY, "pattern"] if pattern else [*_RULE_DISPLAY, "source"]


def rules_table(table: pd.DataFrame, pattern: bool = False) -> str:
    """Terminal rendering of the rule table."""
    cols = [*_RULE_DISPLAY, "pattern"] if pattern else list(_RULE_DISPLAY)
    return text_table(table, cols) + f"\n\n{len(table)} rules\n"


def rules_markdown(table: pd.DataFrame, pattern: bool = False) -> str:
    """Markdown rendering of the rule table (the README's signature table is this)."""
    return markdown_table(table, _rule_columns(table, pattern)) + "\n"


def rules_csv(table: pd.DataFrame, pattern: bool = True) -> str:
    """CSV rendering of the rule table (all columns)."""
    return csv_text(table)


def rules_json(table: pd.DataFrame, pattern: bool = True) -> str:
    """JSON rendering of the rule table (all columns)."""
    doc = {"schema_version": SCHEMA_VERSION, "kind": "rules", "rules": records(table)}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


RULES_RENDERERS: Mapping[OutputFormat, Callable[[pd.DataFrame, bool], str]] = {
    OutputFormat.TABLE: rules_table,
    OutputFormat.CSV: rules_csv,
    OutputFormat.JSON: rules_json,
    OutputFormat.MARKDOWN: rules_markdown,
}
