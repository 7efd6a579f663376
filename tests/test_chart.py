"""Charts: the specifications built from reports, the matplotlib files and the inline SVG."""

from __future__ import annotations

import struct
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from click.testing import Result

from fixtures.make_example_report import FIXTURE_RULES, Example, build_example
from fixtures.repos import Built
from provenance import RuleSet, audit, report
from provenance.chart import (
    CLASS_COLOURS,
    DPI,
    FIGSIZE,
    MISSING_MATPLOTLIB,
    SKY_BLUE,
    VERMILLION,
    ChartUnavailable,
    area_from_report,
    bars_from_table,
    fmt_count,
    nice_ceiling,
    share_ceiling,
    tick_label,
    tick_positions,
    write_report_chart,
)
from provenance.errors import ConfigError, OutputError
from provenance.frame import Audit
from provenance.metrics import merged_share
from provenance.svg import area_svg, bars_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Example, Audit]:
    """The two-year example history, classified with the fixture's own rules."""
    ex = build_example(tmp_path_factory.mktemp("example") / "acme-app")
    return ex, audit(ex.path, rules=RuleSet.from_toml(FIXTURE_RULES, "fixture"))


def months(start_year: int, n: int) -> list[str]:
    return [f"{start_year + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


# -- layout helpers ------------------------------------------------------------------------------


def test_ten_years_of_months_get_one_label_a_year() -> None:
    periods = months(2016, 120)
    ticks = tick_positions(periods, "month", 12)
    assert [periods[i] for i in ticks] == [f"{y}-01" for y in range(2016, 2026)]
    assert [tick_label(periods[i], "month", 12) for i in ticks][:2] == ["2016", "2017"]


def test_labels_are_aligned_and_never_exceed_the_maximum() -> None:
    for n in range(1, 150):
        for max_labels in (3, 7, 12):
            periods = months(2020, n)
            ticks = tick_positions(periods, "month", max_labels)
            assert 1 <= len(ticks) <= max_labels
            assert ticks == sorted(set(ticks)) and ticks[-1] < n
    # Two years, room for ten labels: every quarter, starting in January.
    ticks = tick_positions(months(2024, 24), "month", 10)
    assert ticks == [0, 3, 6, 9, 12, 15, 18, 21]
    # A series starting mid-year is labelled on aligned months, not from its first period.
    periods = months(2024, 30)[5:]
    assert [periods[i] for i in tick_positions(periods, "month", 4)] == ["2025-01", "2026-01"][:2]


def test_week_quarter_and_year_steps() -> None:
    weeks = [f"w{i}" for i in range(520)]
    assert len(tick_positions(weeks, "week", 10)) <= 10
    quarters = [f"{2000 + i // 4}Q{i % 4 + 1}" for i in range(40)]
    ticks = tick_positions(quarters, "quarter", 12)
    assert all(quarters[i].endswith("Q1") for i in ticks) and len(ticks) == 10
    assert tick_positions(["2024", "2025"], "year", 5) == [0, 1]


def test_number_helpers() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 7, 10, 11, 240, 260, 999)] == [
        1.0,
        0.5,
        10.0,
        10.0,
        20.0,
        250.0,
        500.0,
        1000.0,
    ]
    assert [share_ceiling(s) for s in ([], [None], [0.05], [0.2], [0.3], [0.9])] == [
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.0,
    ]
    assert [fmt_count(v) for v in (0, 950, 1200, 12_000, 1_500_000)] == [
        "0",
        "950",
        "1,200",
        "12k",
        "1.5M",
    ]


# -- specifications ------------------------------------------------------------------------------


def test_area_spec_of_the_core_scenario(core_repo: Built) -> None:
    # Figures from build_core's docstring (worked out by hand from the builder).
    spec = area_from_report(report(audit(core_repo.path), freq="month"))
    assert spec.periods == ("2025-01", "2025-02", "2025-03")
    bands = {s.label: s.values for s in spec.bands}
    assert bands == {
        "AI-assisted": (5, 27, 2),
        "bots": (1, 0, 0),
        "human": (13, 7, 10),
    }
    assert [s.label for s in spec.bands] == ["AI-assisted", "bots", "human"]  # AI at the bottom
    assert spec.share == pytest.approx((5 / 19, 27 / 34, 2 / 12))
    assert spec.bands[0].colour == CLASS_COLOURS["ai"] == VERMILLION
    assert "core" in spec.title and "2025-01-" in spec.subtitle and "lower bound" in spec.subtitle
    assert spec.y_label == "lines added per month"


def test_area_spec_by_tool_has_one_band_per_tool(example: tuple[Example, Audit]) -> None:
    ex, a = example
    spec = area_from_report(report(a, freq="quarter", by="tool"))
    expected: Counter[str] = Counter()
    for p in ex.plan:
        band = {"ai": p.tool, "bot": "bots", "human": "human"}[p.cls]
        expected[band] += p.added
    got = {s.label: sum(s.values) for s in spec.bands}
    assert got == dict(expected)
    # Biggest AI tool first (bottom of the stack), then bots, then human on top.
    ai_tools = [t for t, _ in expected.most_common() if t not in ("bots", "human")]
    assert [s.label for s in spec.bands] == [*ai_tools, "bots", "human"]
    assert spec.bands[-1].colour == SKY_BLUE
    assert len({s.colour for s in spec.bands}) == len(spec.bands)
    assert len(spec.periods) == 8  # 2024Q1 .. 2025Q4


def test_chart_needs_periods(core_repo: Built) -> None:
    with pytest.raises(ConfigError, match="--freq"):
        area_from_report(report(audit(core_repo.path), freq=None, by="tool"))


def test_bars_spec_from_a_directory_table(core_repo: Built) -> None:
    table = merged_share(audit(core_repo.path), freq=None, by="path")
    spec = bars_from_table(table, "path", title="t", subtitle="s")
    assert "total" not in spec.labels
    assert spec.labels[0] == "src"  # most lines first
    assert len(spec.labels) == len(spec.values) == len(spec.notes) == len(table) - 1


# -- matplotlib files ----------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_chart_size_and_content(example: tuple[Example, Audit], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    out = tmp_path / "share.png"
    write_report_chart(report(example[1], freq="month"), out)
    assert png_size(out) == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
    assert 30_000 < out.stat().st_size < 1_000_000
    with image.open(out) as im:
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(np.int64)
    packed = rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
    colours, counts = np.unique(packed, return_counts=True)
    pixels = {
        (c >> 16, c >> 8 & 255, c & 255): int(n) for c, n in zip(colours, counts, strict=True)
    }
    assert len(pixels) > 50  # text, lines and bands, not a blank canvas
    white = pixels.get((255, 255, 255), 0) / len(rgb)
    assert 0.3 < white < 0.95
    # The AI and human bands are drawn in their palette colours over a sizeable area.
    for colour in (VERMILLION, SKY_BLUE):
        want = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert pixels.get(want, 0) > 20_000, colour


def test_svg_chart_is_reproducible(example: tuple[Example, Audit], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    rep = report(example[1], freq="quarter", by="tool")
    write_report_chart(rep, tmp_path / "a.svg")
    write_report_chart(rep, tmp_path / "b.svg")
    data = (tmp_path / "a.svg").read_bytes()
    assert data == (tmp_path / "b.svg").read_bytes()
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg"
    assert b"claude-code" in data and b"2025Q4" in data


def test_one_period_and_empty_reports_draw(core_repo: Built, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    one = report(audit(core_repo.path, since="2025-03-01"), freq="quarter")
    assert len(area_from_report(one).periods) == 1
    write_report_chart(one, tmp_path / "one.png")
    empty = report(audit(core_repo.path, since="2030-01-01"), freq="month")
    write_report_chart(empty, tmp_path / "empty.png")
    assert png_size(tmp_path / "empty.png") == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))


def test_bad_suffix_and_unwritable_target(core_repo: Built, tmp_path: Path) -> None:
    rep = report(audit(core_repo.path), freq="month")
    with pytest.raises(ConfigError, match=r"\.png or \.svg"):
        write_report_chart(rep, tmp_path / "chart.jpg")
    pytest.importorskip("matplotlib")
    with pytest.raises(OutputError, match="cannot write"):
        write_report_chart(rep, tmp_path / "missing" / "chart.png")
    assert not list(tmp_path.rglob("*.tmp"))


def test_missing_matplotlib_is_one_line_with_the_remedy(
    core_repo: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError
    with pytest.raises(ChartUnavailable) as exc:
        write_report_chart(report(audit(core_repo.path)), tmp_path / "x.png")
    assert str(exc.value) == MISSING_MATPLOTLIB
    assert exc.value.exit_code == 2
    r = run(["report", core_repo.path, "--chart", tmp_path / "x.png"])
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines()[-1] == f"provenance: error: {MISSING_MATPLOTLIB}"
    assert not (tmp_path / "x.png").exists()


def test_cli_report_chart(core_repo: Built, tmp_path: Path, run: Callable[..., Result]) -> None:
    pytest.importorskip("matplotlib")
    r = run(["report", core_repo.path, "--chart", tmp_path / "c.png"], catch=False)
    assert r.exit_code == 0, r.stderr
    assert png_size(tmp_path / "c.png") == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
    r = run(["report", core_repo.path, "--chart", tmp_path / "c.gif"])
    assert r.exit_code == 2 and ".png or .svg" in r.stderr


def test_cli_chart_fails_early_and_charts_groups_by_month(
    core_repo: Built, tmp_path: Path, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    r = run(["report", core_repo.path, "--chart", tmp_path / "c.gif"])
    assert (r.exit_code, r.stdout) == (2, "")  # nothing printed: it failed before mining
    r = run(["report", core_repo.path, "--by", "tool", "--chart", tmp_path / "t.svg"], catch=False)
    assert r.exit_code == 0, r.stderr
    svg = (tmp_path / "t.svg").read_text(encoding="utf-8")
    assert "Lines added by tool" in svg and "2025-03" in svg
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = run(["report", core_repo.path, "--chart", tmp_path / "x.png"])
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == f"provenance: error: {MISSING_MATPLOTLIB}\n"


# -- inline SVG ----------------------------------------------------------------------------------


def test_area_svg_elements(example: tuple[Example, Audit]) -> None:
    spec = area_from_report(report(example[1], freq="month", by="tool"))
    svg = area_svg(spec, uid="t")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.get("viewBox") == "0 0 960 420"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == spec.title  # type: ignore[union-attr]
    bands = root.findall(f"{SVG}polygon")
    assert len(bands) == len(spec.bands)
    assert [b.get("fill") for b in bands] == [s.colour for s in spec.bands]
    assert len(root.findall(f"{SVG}polyline")) >= 1  # the share line
    texts = [t.text for t in root.iter(f"{SVG}text")]
    # 24 months fit one label a quarter, aligned to January.
    assert [t for t in texts if t and t[:2] == "20" and len(t) == 7] == [
        "2024-01",
        "2024-04",
        "2024-07",
        "2024-10",
        "2025-01",
        "2025-04",
        "2025-07",
        "2025-10",
    ]
    hover = [r for r in root.findall(f"{SVG}rect") if r.get("fill") == "transparent"]
    assert len(hover) == 24
    assert all(float(r.get("width", 0)) > 0 for r in hover)
    for s in spec.bands:  # legend entries
        assert s.label in texts


def test_area_svg_ten_years_does_not_crowd_labels() -> None:
    from provenance.chart import AreaChart, Series

    periods = tuple(months(2016, 120))
    spec = AreaChart(
        title="t",
        subtitle="s",
        periods=periods,
        freq="month",
        bands=(Series("x", tuple(float(i) for i in range(120)), VERMILLION),),
        share=tuple([None] * 3 + [0.5] * 117),
        x_label="m",
        y_label="l",
    )
    root = ET.fromstring(area_svg(spec))
    labels = [
        t.text for t in root.iter(f"{SVG}text") if t.text and t.text.isdigit() and len(t.text) == 4
    ]
    assert labels == [str(y) for y in range(2016, 2026)]


def test_svg_escapes_text() -> None:
    from provenance.chart import BarChart

    spec = BarChart(
        title="<script>x</script>",
        subtitle="a & b",
        labels=('"><img>',),
        values=(0.5,),
        notes=("n",),
        value_label="v",
    )
    svg = bars_svg(spec)
    assert "<script>" not in svg and "<img>" not in svg
    ET.fromstring(svg)


# -- blame chart ---------------------------------------------------------------------------------


def replay(ex: Example) -> tuple[list[dict[str, list[str]]], dict[str, int]]:
    """The counted files' lines after each planned commit, and the commit that wrote each line."""
    contents: dict[str, list[str]] = {}
    born: dict[str, int] = {}
    after: list[dict[str, list[str]]] = []
    for i, p in enumerate(ex.plan):
        for path, text in p.files.items():
            if path == "package-lock.json" or path.startswith("vendor/"):
                continue  # excluded by the default filters
            contents[path] = text.splitlines()
            for line in contents[path]:
                born.setdefault(line, i)
        after.append(dict(contents))
    return after, born


def test_blame_chart(example: tuple[Example, Audit], tmp_path: Path) -> None:
    from provenance.blame import blame_report
    from provenance.chart import blame_bars, write_blame_chart

    ex, a = example
    after, born = replay(ex)
    releases = blame_report(a, releases="v*", cache=False)
    tree = blame_report(a, by="path", cache=False)

    bars = blame_bars(releases)
    tagged = sorted(ex.tags.items(), key=lambda kv: kv[1])
    expected = []
    for (_, start), (name, end) in pairwise(tagged):
        kept = [ln for lines in after[end].values() for ln in lines if start < born[ln] <= end]
        ai = sum(ex.plan[born[ln]].cls == "ai" for ln in kept)
        expected.append((name, ai / len(kept), f"{ai:,} of {len(kept):,} lines"))
    assert [
        (lab.split(" ")[0], note) for lab, note in zip(bars.labels, bars.notes, strict=True)
    ] == [(name, note) for name, _, note in expected]
    assert bars.values == pytest.approx([share for _, share, _ in expected])
    assert bars.labels[0].endswith(f"({ex.plan[tagged[1][1]].when.date()})")

    dirs = blame_bars(tree)
    final = after[-1]
    per_dir: dict[str, list[int]] = {}
    for path, lines in final.items():
        d = path.split("/")[0] if "/" in path else "(root)"
        tot = per_dir.setdefault(d, [0, 0])
        tot[0] += len(lines)
        tot[1] += sum(ex.plan[born[ln]].cls == "ai" for ln in lines)
    order = sorted(per_dir, key=lambda d: (-per_dir[d][0], d))
    assert list(dirs.labels) == order
    assert dirs.values == pytest.approx([per_dir[d][1] / per_dir[d][0] for d in order])
    assert "by directory" in dirs.title and "HEAD" in dirs.title

    pytest.importorskip("matplotlib")
    write_blame_chart([releases, tree], tmp_path / "blame.png")
    width, height = png_size(tmp_path / "blame.png")
    assert width == int(FIGSIZE[0] * DPI) and height >= 2 * 2.0 * DPI  # two panels
    write_blame_chart(tree, tmp_path / "tree.svg")
    assert b"src" in (tmp_path / "tree.svg").read_bytes()


def test_cli_blame_chart(
    example: tuple[Example, Audit], tmp_path: Path, run: Callable[..., Result]
) -> None:
    pytest.importorskip("matplotlib")
    ex = example[0]
    out = tmp_path / "blame.svg"
    r = run(["blame", ex.path, "--tags", "v*", "--no-cache", "--chart", out], catch=False)
    assert r.exit_code == 0, r.stderr
    svg = out.read_text(encoding="utf-8")
    assert "each release added and kept" in svg and "by directory" in svg
    assert "v2.1 (2025-12-" in svg
    r = run(["blame", ex.path, "--chart", tmp_path / "b.txt"])
    assert (r.exit_code, r.stdout) == (2, "")
