"""Dependency-free SVG drawings of the chart specifications in :mod:`provenance.chart`.

Used by the HTML report, so ``report --format html`` works on a base install (no matplotlib).
The SVG is meant to be inlined in HTML: it scales with its container (``viewBox``), uses the
reader's system fonts, loads nothing, and every period carries a ``<title>`` tooltip with its
numbers, so hovering shows the data without any script.
"""

from __future__ import annotations

import hashlib
from html import escape

from provenance.chart import (
    SHARE_COLOUR,
    AreaChart,
    BarChart,
    fmt_count,
    nice_ceiling,
    share_ceiling,
    tick_label,
    tick_positions,
)

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(x: float) -> str:
    """A coordinate with at most one decimal (small, stable output)."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else str(r)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _uid(title: str) -> str:
    return "c" + hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:8]


def _svg_open(width: int, height: int, title: str, desc: str, cls: str, uid: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'font-family="{_e(FONT)}" font-size="12" fill="#222">',
        f'<title id="{uid}-t">{_e(title)}</title>',
        f'<desc id="{uid}-d">{_e(desc)}</desc>',
    ]


def area_svg(spec: AreaChart, *, width: int = 960, height: int = 420, uid: str = "") -> str:
    """Stacked areas with the AI share as a line on a right-hand axis; legend on the right."""
    uid = uid or _uid(spec.title)
    left, right, top, bottom = 64.0, width - 250.0, 64.0, height - 56.0
    pw, ph = right - left, bottom - top
    n = len(spec.periods)
    totals = [sum(s.values[i] for s in spec.bands) for i in range(n)]
    ymax = nice_ceiling(max(totals, default=0.0))
    smax = share_ceiling(spec.share)

    def x(i: float) -> float:
        return left + pw / 2 if n == 1 else left + pw * i / (n - 1)

    def y(v: float) -> float:
        return bottom - ph * v / ymax

    def ys(v: float) -> float:
        return bottom - ph * min(v, smax) / smax

    last = spec.share[-1] if spec.share else None
    desc = (
        f"{spec.y_label} from {spec.periods[0]} to {spec.periods[-1]}, stacked by "
        f"{', '.join(s.label for s in spec.bands)}; AI share in the last period "
        f"{_pct(last)}."
        if n
        else "No data."
    )
    out = _svg_open(width, height, spec.title, desc, "chart area-chart", uid)
    out.append(
        f'<text x="{_n(left)}" y="22" font-size="16" font-weight="600">{_e(spec.title)}</text>'
    )
    out.append(f'<text x="{_n(left)}" y="42" font-size="12" fill="#555">{_e(spec.subtitle)}</text>')

    # Grid and left axis (lines); right axis (share).
    for k in range(5):
        v = ymax * k / 4
        gy = y(v)
        out.append(
            f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{_n(gy)}" y2="{_n(gy)}" stroke="#e3e3e3"/>'
        )
        out.append(
            f'<text x="{_n(left - 6)}" y="{_n(gy + 4)}" text-anchor="end" '
            f'font-size="11">{_e(fmt_count(v))}</text>'
        )
        out.append(
            f'<text x="{_n(right + 6)}" y="{_n(gy + 4)}" font-size="11">'
            f"{100 * smax * k / 4:.0f}%</text>"
        )
    out.append(
        f'<text transform="translate(16 {_n(top + ph / 2)}) rotate(-90)" '
        f'text-anchor="middle" font-size="12">{_e(spec.y_label)}</text>'
    )
    out.append(
        f'<text transform="translate({_n(right + 48)} {_n(top + ph / 2)}) rotate(90)" '
        f'text-anchor="middle" font-size="12">{_e(spec.share_label)} (%)</text>'
    )

    # Bands, bottom first.
    base = [0.0] * n
    for s in spec.bands:
        upper = [b + v for b, v in zip(base, s.values, strict=True)]
        if n == 1:
            x0, x1 = left + pw * 0.3, left + pw * 0.7
            pts = [(x0, y(upper[0])), (x1, y(upper[0])), (x1, y(base[0])), (x0, y(base[0]))]
        else:
            pts = [(x(i), y(upper[i])) for i in range(n)]
            pts += [(x(i), y(base[i])) for i in reversed(range(n))]
        path = " ".join(f"{_n(px)},{_n(py)}" for px, py in pts)
        out.append(
            f'<polygon class="band" points="{path}" fill="{s.colour}"><title>'
            f"{_e(s.label)}</title></polygon>"
        )
        base = upper
    out.append(
        f'<line x1="{_n(left)}" x2="{_n(right)}" y1="{_n(bottom)}" y2="{_n(bottom)}" '
        f'stroke="#888"/>'
    )

    # Share line, broken where a period added no lines.
    segments: list[list[tuple[float, float]]] = [[]]
    for i, sv in enumerate(spec.share):
        if sv is None:
            segments.append([])
        else:
            segments[-1].append((x(i), ys(sv)))
    for seg in segments:
        if len(seg) > 1:
            line = " ".join(f"{_n(px)},{_n(py)}" for px, py in seg)
            out.append(
                f'<polyline class="share" points="{line}" fill="none" '
                f'stroke="{SHARE_COLOUR}" stroke-width="2" stroke-linejoin="round"/>'
            )
        if n <= 36 or len(seg) == 1:
            for px, py in seg:
                out.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="2.5" fill="{SHARE_COLOUR}"/>')

    # Period labels, thinned so they never overlap.
    longest = max((len(p) for p in spec.periods), default=4)
    ticks = tick_positions(spec.periods, spec.freq, max(1, int(pw // (longest * 7 + 14))))
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    for i in ticks:
        out.append(
            f'<line x1="{_n(x(i))}" x2="{_n(x(i))}" y1="{_n(bottom)}" '
            f'y2="{_n(bottom + 4)}" stroke="#888"/>'
        )
        out.append(
            f'<text x="{_n(x(i))}" y="{_n(bottom + 17)}" text-anchor="middle" '
            f'font-size="11">{_e(tick_label(spec.periods[i], spec.freq, step))}</text>'
        )
    out.append(
        f'<text x="{_n(left + pw / 2)}" y="{_n(height - 10)}" text-anchor="middle" '
        f'font-size="12">{_e(spec.x_label)}</text>'
    )

    # Invisible hover targets, one per period, with the numbers.
    colw = pw / n if n > 1 else pw
    for i, period in enumerate(spec.periods):
        cx = x(i) - colw / 2 if n > 1 else left
        parts = [f"{s.label}: {s.values[i]:,.0f}" for s in reversed(spec.bands)]
        tip = (
            f"{period}: {totals[i]:,.0f} lines ({'; '.join(parts)}); AI share {_pct(spec.share[i])}"
        )
        out.append(
            f'<rect x="{_n(max(cx, left))}" y="{_n(top)}" '
            f'width="{_n(min(colw, right - max(cx, left)))}" height="{_n(ph)}" '
            f'fill="transparent"><title>{_e(tip)}</title></rect>'
        )

    # Legend outside the plot, top band first (matches the stacking order seen on screen).
    lx, ly = right + 70, top
    for s in reversed(spec.bands):
        out.append(f'<rect x="{_n(lx)}" y="{_n(ly)}" width="14" height="14" fill="{s.colour}"/>')
        out.append(f'<text x="{_n(lx + 20)}" y="{_n(ly + 11)}">{_e(s.label)}</text>')
        ly += 22
    out.append(
        f'<line x1="{_n(lx)}" x2="{_n(lx + 14)}" y1="{_n(ly + 7)}" y2="{_n(ly + 7)}" '
        f'stroke="{SHARE_COLOUR}" stroke-width="2"/>'
    )
    out.append(f'<text x="{_n(lx + 20)}" y="{_n(ly + 11)}">{_e(spec.share_label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bars_svg(spec: BarChart, *, width: int = 960, uid: str = "") -> str:
    """Horizontal bars of a share per category, 0-100%, with the note beside each bar."""
    uid = uid or _uid(spec.title)
    n = len(spec.labels)
    row = 26
    left, right, top = 220.0, width - 260.0, 64.0
    height = int(top + max(n, 1) * row + 44)
    pw = right - left
    desc = (
        "; ".join(f"{label}: {_pct(v)}" for label, v in zip(spec.labels, spec.values, strict=True))
        or "No data."
    )
    out = _svg_open(width, height, spec.title, desc, "chart bar-chart", uid)
    out.append(f'<text x="12" y="22" font-size="16" font-weight="600">{_e(spec.title)}</text>')
    out.append(f'<text x="12" y="42" font-size="12" fill="#555">{_e(spec.subtitle)}</text>')
    bottom = top + max(n, 1) * row
    for k in range(5):
        gx = left + pw * k / 4
        out.append(
            f'<line x1="{_n(gx)}" x2="{_n(gx)}" y1="{_n(top)}" y2="{_n(bottom)}" stroke="#e3e3e3"/>'
        )
        out.append(
            f'<text x="{_n(gx)}" y="{_n(bottom + 16)}" text-anchor="middle" '
            f'font-size="11">{25 * k}%</text>'
        )
    out.append(
        f'<text x="{_n(left + pw / 2)}" y="{_n(bottom + 36)}" text-anchor="middle">'
        f"{_e(spec.value_label)} (%)</text>"
    )
    if not n:
        out.append(
            f'<text x="{_n(left + pw / 2)}" y="{_n(top + 17)}" text-anchor="middle" '
            f'fill="#666">no data</text>'
        )
    for i, (label, v, note) in enumerate(zip(spec.labels, spec.values, spec.notes, strict=True)):
        by = top + i * row
        short = label if len(label) <= 30 else "…" + label[-29:]
        out.append(
            f'<text x="{_n(left - 8)}" y="{_n(by + 17)}" text-anchor="end">'
            f"<title>{_e(label)}</title>{_e(short)}</text>"
        )
        w = pw * min(max(v or 0.0, 0.0), 1.0)
        if w > 0:
            out.append(
                f'<rect class="bar" x="{_n(left)}" y="{_n(by + 5)}" width="{_n(w)}" '
                f'height="{row - 10}" fill="{spec.colour}"><title>{_e(label)}: '
                f"{_pct(v)} ({_e(note)})</title></rect>"
            )
        out.append(
            f'<text x="{_n(left + max(w, 0) + 6)}" y="{_n(by + 17)}" font-size="11">'
            f"{_pct(v)} · {_e(note)}</text>"
        )
    out.append(
        f'<line x1="{_n(left)}" x2="{_n(left)}" y1="{_n(top)}" y2="{_n(bottom)}" stroke="#888"/>'
    )
    out.append("</svg>")
    return "\n".join(out)
