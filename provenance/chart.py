"""Charts of the merged and surviving share: PNG or SVG files drawn with matplotlib.

matplotlib is optional (``pip install 'provenance[chart]'``) and imported only when a chart is
drawn. The chart *specifications* here (:class:`AreaChart`, :class:`BarChart`) are plain data,
built from a :class:`~provenance.metrics.Report` or a blame result without matplotlib, so the
dependency-free SVG renderer (:mod:`provenance.svg`, used by the HTML report) draws the same
charts. Colours come from the Okabe–Ito palette, which stays distinguishable under the common
forms of colour blindness.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.errors import ConfigError, OutputError, ProvenanceError

if TYPE_CHECKING:
    import pandas as pd
else:
    from provenance._lazy import pandas as pd

if TYPE_CHECKING:
    from provenance.blame import BlameReport
    from provenance.metrics import Report

# Okabe & Ito (2008), "Color Universal Design".
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
BLACK = "#000000"
GREY = "#BBBBBB"
DARK_GREY = "#666666"

#: Colour of each commit class.
CLASS_COLOURS = {"ai": VERMILLION, "human": SKY_BLUE, "bot": GREY}
#: Colours given to AI tools, most lines first; tools beyond these share "other AI tools".
TOOL_COLOURS = (VERMILLION, BLUE, GREEN, ORANGE, PURPLE, YELLOW)
#: Colour of the AI-share line.
SHARE_COLOUR = BLACK

MISSING_MATPLOTLIB = "charts need matplotlib: pip install 'provenance[chart]'"

_NICE_STEPS = {
    "month": (1, 2, 3, 6, 12, 24, 60, 120),
    "quarter": (1, 2, 4, 8, 20, 40),
    "year": (1, 2, 5, 10, 20, 50, 100),
    "week": (1, 2, 4, 8, 13, 26, 52, 104, 260, 520),
}
_PER = {"week": "week", "month": "month", "quarter": "quarter", "year": "year"}


class ChartUnavailable(ProvenanceError):
    """matplotlib is not installed."""


@dataclass(frozen=True)
class Series:
    """One stacked band (or bar group): a label, a value per period and a colour."""

    label: str
    values: tuple[float, ...]
    colour: str


@dataclass(frozen=True)
class AreaChart:
    """Stacked areas of lines per period (bottom band first) plus the AI share on a second axis."""

    title: str
    subtitle: str
    periods: tuple[str, ...]
    freq: str
    bands: tuple[Series, ...]
    share: tuple[float | None, ...]
    x_label: str
    y_label: str
    share_label: str = "AI share of lines added"


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars of a share (0..1) per category, with a note beside each bar."""

    title: str
    subtitle: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    notes: tuple[str, ...]
    value_label: str
    colour: str = VERMILLION


# -- layout helpers shared by both renderers ----------------------------------------------------


def _ordinal(label: str, freq: str) -> int | None:
    m = re.fullmatch(r"(\d{4})-(\d{2})", label) if freq == "month" else None
    if m:
        return int(m.group(1)) * 12 + int(m.group(2)) - 1
    m = re.fullmatch(r"(\d{4})Q([1-4])", label) if freq == "quarter" else None
    if m:
        return int(m.group(1)) * 4 + int(m.group(2)) - 1
    if freq == "year" and re.fullmatch(r"\d{4}", label):
        return int(label)
    return None


def tick_positions(periods: Sequence[str], freq: str, max_labels: int) -> list[int]:
    """Indices of the periods to label so that at most ``max_labels`` are shown.

    The step is a calendar-friendly one (months: 1, 2, 3, 6, 12, ...), and labelled periods
    are aligned to it (every January with a 12-month step), so ten years of months get one
    label a year.
    """
    n = len(periods)
    if n == 0:
        return []
    max_labels = max(1, max_labels)
    steps = _NICE_STEPS.get(freq, (1, 2, 5, 10, 20, 50, 100))
    step = next((s for s in steps if math.ceil(n / s) <= max_labels), None)
    if step is None:
        step = math.ceil(n / max_labels)
    if step == 1:
        return list(range(n))
    ords = [_ordinal(p, freq) for p in periods]
    if all(o is not None for o in ords):
        picked = [i for i, o in enumerate(ords) if o is not None and o % step == 0]
        if len(picked) <= max_labels and picked:
            return picked
    return list(range(0, n, step))


def tick_label(period: str, freq: str, step: int) -> str:
    """A period's axis label: just the year when labels fall one or more years apart."""
    if freq == "month" and step >= 12 and period.endswith("-01"):
        return period[:4]
    if freq == "quarter" and step >= 4 and period.endswith("Q1"):
        return period[:4]
    return period


def fmt_count(value: float) -> str:
    """An axis count: 950, 1,200, 12k, 1.5M."""
    v = abs(value)
    if v >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if v >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= ``value`` (1 for zero)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    k = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * k >= value * (1 - 1e-12):
            return float(m * k)
    return float(10 * k)


def share_ceiling(shares: Sequence[float | None]) -> float:
    """Top of the share axis: 10%, 20%, 25%, 50% or 100%, whichever first holds every value."""
    top = max((s for s in shares if s is not None), default=0.0)
    return next((c for c in (0.1, 0.2, 0.25, 0.5) if top <= c), 1.0)


# -- specifications from a report ---------------------------------------------------------------


def _range_text(rep: Report) -> str:
    if rep.first_landed is None or rep.last_landed is None:
        return "no commits"
    return f"{rep.first_landed.date()} to {rep.last_landed.date()}"


def _share_or_none(ai: float, total: float) -> float | None:
    return ai / total if total > 0 else None


def area_from_report(rep: Report) -> AreaChart:
    """The chart of a report with periods: ai / bot / human bands, or one band per group.

    With ``by`` set, AI tools (or other groups) get one band each, the biggest
    :data:`TOOL_COLOURS` ones by lines and the rest merged; human and bot lines get a band each.
    """
    t = rep.table
    if "period" not in t.columns:
        raise ConfigError("a chart needs periods: add --freq month (or week, quarter, year)")
    rows = t.iloc[:-1]  # the total row is last
    periods = tuple(dict.fromkeys(str(p) for p in rows["period"]))
    freq = rep.freq or "month"
    per = _PER.get(freq, freq)
    target = f"{rep.base}..{rep.rev}" if rep.base else rep.rev
    subtitle = (
        f"{target} · landed {_range_text(rep)} · {rep.min_confidence}-confidence "
        "evidence · a lower bound"
    )
    by_period = rows.groupby(rows["period"].astype(str), sort=False)
    added = by_period["added"].sum().reindex(periods, fill_value=0)
    ai = by_period["ai_added"].sum().reindex(periods, fill_value=0)
    share = tuple(_share_or_none(float(a), float(n)) for a, n in zip(ai, added, strict=True))
    if rep.by is None:
        bands = tuple(
            Series(label, tuple(float(v) for v in rows[f"{cls}_added"]), CLASS_COLOURS[cls])
            for cls, label in (("ai", "AI-assisted"), ("bot", "bots"), ("human", "human"))
        )
        title = f"AI share of merged code: {rep.repo}"
    else:
        bands = _group_bands(rows, rep.by, periods)
        title = f"Lines added by {rep.by}: {rep.repo}"
    return AreaChart(
        title=title,
        subtitle=subtitle,
        periods=periods,
        freq=freq,
        bands=bands,
        share=share,
        x_label=f"{per} landed (UTC)",
        y_label=f"lines added per {per}",
    )


def _group_bands(rows: pd.DataFrame, by: str, periods: tuple[str, ...]) -> tuple[Series, ...]:
    frame = pd.DataFrame(
        {
            "period": rows["period"].astype(str),
            "key": rows[by].astype(str),
            "added": rows["added"],
            "ai": rows["ai_added"],
            "bot": rows["bot_added"],
        }
    )
    sums = frame.groupby("key", sort=False)[["added", "ai", "bot"]].sum().reset_index()
    sums = sums.sort_values(["added", "key"], ascending=[False, True])
    other = "other AI tools" if by == "tool" else f"other {by}s"
    band_of: dict[str, str] = {}
    named: list[str] = []
    for key, ai, bot in zip(sums["key"], sums["ai"], sums["bot"], strict=True):
        k = str(key)
        if by == "tool" and k == "(human)":
            band_of[k] = "human"
        elif by == "tool" and bot > 0 and ai == 0:
            band_of[k] = "bots"
        elif len(named) < len(TOOL_COLOURS):
            band_of[k] = k
            named.append(k)
        else:
            band_of[k] = other
    frame["band"] = frame["key"].map(band_of)
    table = frame.pivot_table(
        index="period", columns="band", values="added", aggfunc="sum", fill_value=0
    ).reindex(periods, fill_value=0)
    colours = dict(zip(named, TOOL_COLOURS, strict=False))
    colours.update({other: DARK_GREY, "bots": GREY, "human": SKY_BLUE})
    return tuple(
        Series(b, tuple(float(v) for v in table[b]), colours[b])
        for b in [*named, other, "bots", "human"]
        if b in table
    )


def bars_from_table(
    table: pd.DataFrame,
    key: str,
    *,
    title: str,
    subtitle: str,
    lines: str = "added",
    ai_lines: str = "ai_added",
    share: str = "ai_share",
    limit: int = 15,
    sort: bool = True,
) -> BarChart:
    """A bar per row of a share table (total row dropped), biggest first by ``lines`` (or in
    table order with ``sort=False``), at most ``limit`` bars."""
    rows = table[table[key].astype(str) != "total"]
    if sort:
        rows = rows.sort_values([lines, key], ascending=[False, True])
    rows = rows.head(limit)
    values = tuple(None if pd.isna(v) else float(v) for v in rows[share])
    notes = tuple(
        f"{int(a):,} of {int(n):,} lines" for a, n in zip(rows[ai_lines], rows[lines], strict=True)
    )
    return BarChart(
        title=title,
        subtitle=subtitle,
        labels=tuple(str(k) for k in rows[key]),
        values=values,
        notes=notes,
        value_label="AI share of lines",
    )


def blame_bars(rep: BlameReport, *, limit: int = 20) -> BarChart:
    """The bars of a surviving-share report: one per release (in release order), or one per
    group at one revision (most lines first), or a single bar for the whole tree."""
    t = rep.table
    how = "lines last changed by an AI-assisted commit; a lower bound"
    if rep.mode == "releases":
        dates = t["end_date"].dt.strftime(" (%Y-%m-%d)").fillna("")
        keyed = t.assign(_key=t["release"].astype(str) + dates)
        if rep.by is not None:
            keyed["_key"] = keyed["_key"] + " · " + t[rep.by].astype(str)
        tags = f"tags {rep.tags!r}" if rep.tags else "release windows"
        return bars_from_table(
            keyed,
            "_key",
            title=f"AI share of the code each release added and kept: {rep.repo}",
            subtitle=f"{tags}; lines present at each release and changed since the one before; "
            + how,
            limit=limit,
            sort=False,
            lines="lines",
            ai_lines="ai_lines",
            share="ai_share",
        )
    where = f"{rep.at} ({rep.tip[:12]})"
    if rep.by is not None:
        by = "directory" if rep.by == "path" else rep.by
        return bars_from_table(
            t,
            rep.by,
            title=f"AI share of the tree at {where} by {by}: {rep.repo}",
            subtitle=f"lines present at {rep.at}, by the commit that last changed them; " + how,
            limit=limit,
            lines="lines",
            ai_lines="ai_lines",
            share="ai_share",
        )
    return bars_from_table(
        t.assign(_key=rep.at),
        "_key",
        title=f"AI share of the tree at {where}: {rep.repo}",
        subtitle=f"lines present at {rep.at}, by the commit that last changed them; " + how,
        limit=limit,
        lines="lines",
        ai_lines="ai_lines",
        share="ai_share",
    )


# -- matplotlib rendering ------------------------------------------------------------------------


def chart_format(path: str | os.PathLike[str]) -> str:
    """``png`` or ``svg`` from the file name; :class:`ConfigError` for anything else."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise ConfigError(f"chart file must end in .png or .svg: {os.fspath(path)!r}")
    return suffix


def require_matplotlib() -> None:
    """Raise :class:`ChartUnavailable` (one line with the remedy) unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ChartUnavailable(MISSING_MATPLOTLIB) from None


def check_chart_target(path: str | os.PathLike[str]) -> None:
    """Fail before any work when ``path`` cannot be charted (bad suffix, no matplotlib)."""
    chart_format(path)
    require_matplotlib()


#: Figure size in inches and resolution: 1500 x 750 pixels for a PNG.
FIGSIZE = (10.0, 5.0)
DPI = 150


def _figure(figsize: tuple[float, float] = FIGSIZE) -> Any:
    require_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    return fig


def _style_axes(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)


def _draw_area(fig: Any, spec: AreaChart) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    ax = fig.add_subplot()
    _style_axes(ax)
    n = len(spec.periods)
    fig.suptitle(spec.title, fontsize=12, fontweight="bold")
    ax.set_title(spec.subtitle, fontsize=8, color="#444444")
    if n == 0:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no commits in range", ha="center", va="center", color="#666666")
        return
    x: list[float] = [float(i) for i in range(n)]
    if n == 1:  # one period: draw it as a block, not a zero-width area
        x = [-0.4, 0.4]
    values = [list(s.values) * (2 if n == 1 else 1) for s in spec.bands]
    if values:
        ax.stackplot(x, *values, colors=[s.colour for s in spec.bands], linewidth=0)
    ax.set_xlim(min(x), max(x))
    ax.set_ylim(0, nice_ceiling(max((sum(v) for v in zip(*values, strict=True)), default=0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_count(v)))
    ax.set_ylabel(spec.y_label, fontsize=9)
    ax.set_xlabel(spec.x_label, fontsize=9)
    # About one label per 0.9 inch of axis width keeps "2025-03" labels apart.
    ticks = tick_positions(spec.periods, spec.freq, max(2, int(FIGSIZE[0] * 0.75 / 0.9)))
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    ax.set_xticks(
        ticks if n > 1 else [0], [tick_label(spec.periods[i], spec.freq, step) for i in ticks]
    )

    ax2 = ax.twinx()
    ax2.spines["top"].set_visible(False)
    ax2.tick_params(labelsize=8)
    top = share_ceiling(spec.share)
    ax2.set_ylim(0, top * 100)
    ax2.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax2.set_ylabel(f"{spec.share_label} (%)", fontsize=9)
    ys = [float("nan") if s is None else 100 * s for s in spec.share]
    xs = list(range(n)) if n > 1 else [0]
    ax2.plot(
        xs, ys, color=SHARE_COLOUR, linewidth=1.8, marker="o" if n <= 36 else None, markersize=3
    )

    handles: list[Any] = [Patch(facecolor=s.colour, label=s.label) for s in reversed(spec.bands)]
    handles.append(Line2D([], [], color=SHARE_COLOUR, linewidth=1.8, label=spec.share_label))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)


def _draw_bars(ax: Any, spec: BarChart) -> None:
    from matplotlib.ticker import PercentFormatter

    _style_axes(ax)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    ax.grid(axis="y", visible=False)
    n = len(spec.labels)
    ys = list(range(n))
    vals = [0.0 if v is None else 100 * v for v in spec.values]
    ax.barh(ys, vals, color=spec.colour, height=0.6)
    ax.set_yticks(ys, [_clip(label, 28) for label in spec.labels])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel(spec.value_label + " (%)", fontsize=9)
    for y, v, note in zip(ys, spec.values, spec.notes, strict=True):
        text = ("–" if v is None else f"{100 * v:.1f}%") + f"  ({note})"
        ax.text(min(100 * (v or 0), 100) + 1, y, text, va="center", fontsize=7, color="#333333")
    ax.set_title(f"{spec.title}\n{spec.subtitle}" if spec.subtitle else spec.title, fontsize=9)
    if not n:
        ax.text(50, 0, "no data", ha="center", va="center", color="#666666")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def render_figure(fig: Any, fmt: str) -> bytes:
    """The figure's bytes as ``png`` or ``svg``, without a timestamp (reproducible files)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "provenance"}):
        meta = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=meta)
    return buf.getvalue()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; :class:`OutputError` on failure (no partial file).
    A target that is not a regular file (``/dev/null``, a pipe) is written in place."""
    from provenance.render import output_target

    shown = Path(path)
    target, in_place = output_target(path)
    if in_place:
        try:
            with open(target, "ab") as fh:
                fh.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None


def area_figure(spec: AreaChart) -> Any:
    """A matplotlib Figure of an :class:`AreaChart`."""
    fig = _figure()
    _draw_area(fig, spec)
    return fig


def write_report_chart(rep: Report, path: str | os.PathLike[str]) -> None:
    """Draw a report's share over time to ``path`` (``.png`` or ``.svg``).

    Needs a report with periods; with ``by`` (e.g. tool) each group gets its own band.
    """
    fmt = chart_format(path)
    spec = area_from_report(rep)
    write_bytes(path, render_figure(area_figure(spec), fmt))


def write_blame_chart(
    result: BlameReport | Sequence[BlameReport], path: str | os.PathLike[str]
) -> None:
    """Draw surviving-share reports to ``path`` (``.png`` or ``.svg``), one panel each, top to
    bottom: e.g. the per-release report and the tree at ``--at`` by directory."""
    fmt = chart_format(path)
    reports = [result] if not isinstance(result, Sequence) else list(result)
    specs = [blame_bars(r) for r in reports]
    heights = [max(2.0, 0.3 * len(s.labels) + 1.4) for s in specs]
    fig = _figure(figsize=(FIGSIZE[0], sum(heights)))
    axes = fig.subplots(len(specs), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, spec in zip(axes, specs, strict=True):
        _draw_bars(ax, spec)
    write_bytes(path, render_figure(fig, fmt))
