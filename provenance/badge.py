"""A shields-style badge ("AI code | 37%") as SVG text, drawn locally with no network access.

Text widths are estimated from Verdana's advance widths at 11px (the font shields.io measures
with), so the badge looks like its shields.io counterpart; viewers without Verdana fall back to
similar sans-serif fonts, and ``textLength`` keeps the text inside its box.
"""

from __future__ import annotations

import hashlib
import re
from xml.sax.saxutils import escape

DEFAULT_LABEL = "AI code"
DEFAULT_COLOR = "blue"

#: The shields.io named colours.
COLORS = {
    "brightgreen": "#4c1", "green": "#97ca00", "yellowgreen": "#a4a61d", "yellow": "#dfb317",
    "orange": "#fe7d37", "red": "#e05d44", "blue": "#007ec6", "grey": "#555",
    "gray": "#555", "lightgrey": "#9f9f9f", "lightgray": "#9f9f9f", "blueviolet": "#8a2be2",
}  # fmt: skip

_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

# Verdana advance widths in font units (2048 per em) for printable ASCII, space to tilde.
_VERDANA = (
    720, 806, 940, 1716, 1302, 2224, 1540, 550, 909, 909, 1302, 1716, 745, 909, 745, 909,
    1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 909, 909, 1716, 1716, 1716, 1116,
    2048, 1401, 1405, 1430, 1579, 1294, 1178, 1577, 1541, 860, 921, 1419, 1151, 1724, 1532, 1624,
    1239, 1624, 1425, 1399, 1247, 1505, 1401, 2025, 1403, 1245, 1399, 909, 909, 909, 1716, 1302,
    1302, 1233, 1265, 1061, 1265, 1214, 720, 1265, 1294, 563, 690, 1178, 563, 1986, 1294, 1218,
    1265, 1265, 874, 1042, 807, 1294, 1178, 1669, 1178, 1178, 1051, 1300, 909, 1300, 1716,
)  # fmt: skip
_WIDE = 1716  # characters outside ASCII: about the width of a capital M


def text_width(text: str, size: float = 11.0) -> float:
    """Approximate rendered width in pixels of ``text`` in Verdana at ``size`` px."""
    units = sum(_VERDANA[ord(ch) - 32] if 32 <= ord(ch) < 127 else _WIDE for ch in text)
    return units * size / 2048


def parse_color(value: str) -> str:
    """A shields colour name or a hex colour (``#e05d44``, ``e05d44``, ``#4c1``) as ``#hex``."""
    key = value.strip().lower()
    if key in COLORS:
        return COLORS[key]
    m = _HEX.fullmatch(key)
    if not m:
        names = ", ".join(sorted(COLORS))
        raise ValueError(f"unknown colour {value!r}: use a hex colour or one of {names}")
    return "#" + m.group(1)


def _light(hex_color: str) -> bool:
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255 > 0.65


def share_message(share: float | None) -> str:
    """The badge value: a whole percentage (``37%``), or ``n/a`` when nothing was added."""
    if share is None:
        return "n/a"
    pct = 100 * share
    if 0 < pct < 1:
        return "<1%"
    if 99 < pct < 100:
        return ">99%"
    return f"{round(pct)}%"


def badge_svg(label: str, message: str, color: str = DEFAULT_COLOR) -> str:
    """The SVG text of a flat two-part badge."""
    fill = parse_color(color)
    lw = round(text_width(label)) + 10
    mw = round(text_width(message)) + 10
    width = lw + mw
    title = escape(f"{label}: {message}")
    # Ids unique to the badge's content, so several badges inlined in one page do not clash.
    uid = hashlib.sha1(f"{label}\0{message}\0{fill}".encode(), usedforsecurity=False).hexdigest()[
        :8
    ]

    def text(x: float, value: str, w: int, light_background: bool) -> str:
        fg, shadow = ("#333", "#ccc") if light_background else ("#fff", "#010101")
        v, tl, cx = escape(value), (w - 10) * 10, x * 10
        return (f'<text aria-hidden="true" x="{cx:g}" y="150" fill="{shadow}" fill-opacity=".3" '
                f'transform="scale(.1)" textLength="{tl}">{v}</text>'
                f'<text x="{cx:g}" y="140" transform="scale(.1)" fill="{fg}" '
                f'textLength="{tl}">{v}</text>')  # fmt: skip

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<linearGradient id="s{uid}" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r{uid}"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r{uid})"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{fill}"/>'
        f'<rect width="{width}" height="20" fill="url(#s{uid})"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f"{text(lw / 2, label, lw, False)}{text(lw + mw / 2, message, mw, _light(fill))}"
        "</g></svg>\n"
    )
