"""The HTML report in a real browser (headless Chromium): no errors, nothing loaded, charts drawn.

Chromium is driven with plain command-line switches (no CDP client, nothing downloaded). For the
checks, a copy of the page gets a small probe script, placed before the page's own
Content-Security-Policy, that records errors, CSP violations and fetched resources, measures
the charts after ``load`` and writes the result into the DOM, which ``--dump-dom`` returns.
The screenshot is taken of the unmodified page. Skipped only when no Chromium is installed
(``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import functools
import html as htmllib
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fixtures.make_example_report import FIXTURE_RULES, build_example
from provenance import RuleSet, audit
from provenance.chart import SKY_BLUE, VERMILLION
from provenance.html import build_html_report

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

PROBE = """
window.__errors = [];
addEventListener('error', e => __errors.push('error: ' + (e.message ||
  (e.target && (e.target.src || e.target.href)) || 'unknown')), true);
addEventListener('unhandledrejection', e => __errors.push('rejection: ' + e.reason));
document.addEventListener('securitypolicyviolation',
  e => __errors.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));
for (const level of ['error', 'warn']) {
  const orig = console[level];
  console[level] = (...a) => { __errors.push(level + ': ' + a.join(' ')); orig(...a); };
}
addEventListener('load', () => {
  const charts = [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect();
    const marks = [...s.querySelectorAll('polygon.band, rect.bar, polyline.share')]
      .map(m => m.getBBox()).filter(b => b.width > 0 && b.height > 0).length;
    return {id: s.getAttribute('aria-labelledby'), w: r.width, h: r.height, marks};
  });
  const probe = document.createElement('pre');
  probe.id = '__probe';
  probe.textContent = JSON.stringify({
    errors: __errors, charts,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    tables: document.querySelectorAll('table').length,
    overflow: document.documentElement.scrollWidth - innerWidth,
    title: document.title,
  });
  document.body.appendChild(probe);
});
"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def with_probe(page: str) -> str:
    """The page with the probe placed before its Content-Security-Policy (which, as a meta
    tag, governs only what follows it), so the page's own policy stays untouched."""
    charset = '<meta charset="utf-8">'
    assert page.count(charset) == 1 and page.index(charset) < page.index("Content-Security")
    return page.replace(charset, f"{charset}<script>{PROBE}</script>", 1)


def probe(url: str, profile: Path, width: int = 1280) -> dict[str, Any]:
    proc = chromium(
        f"--window-size={width},2000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
        profile=profile,
    )
    m = re.search(r'<pre id="__probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no probe output from Chromium (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(htmllib.unescape(m.group(1)))
    # Console messages also reach Chromium's log; the probe logs nothing itself.
    result["console"] = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the example report and its probed copy."""
    root = tmp_path_factory.mktemp("site")
    ex = build_example(root / "repo" / "acme-app")
    page = build_html_report(audit(ex.path, rules=RuleSet.from_toml(FIXTURE_RULES, "fixture")))
    (root / "report.html").write_text(page, encoding="utf-8")
    (root / "probe.html").write_text(with_probe(page), encoding="utf-8")
    return root


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    """The site served over HTTP on the loopback address (as a CI artifact viewer would)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def check(result: dict[str, Any]) -> None:
    assert result["errors"] == []
    assert result["console"] == []
    assert result["resources"] == []  # nothing fetched: fonts, styles and charts are inline
    assert result["tables"] == 7
    assert result["overflow"] <= 0  # nothing wider than the window
    assert result["title"].startswith("AI share of merged code: acme-app")
    charts = {c["id"].split("-")[0]: c for c in result["charts"]}
    assert set(charts) == {"share", "tools", "dirs"}
    for c in charts.values():
        assert c["w"] > 200 and c["h"] > 80, c
    assert charts["share"]["marks"] == 4  # ai, bot, human bands and the share line
    assert charts["tools"]["marks"] >= 5
    assert charts["dirs"]["marks"] >= 3


def test_opened_from_disk(site: Path, tmp_path: Path) -> None:
    check(probe((site / "probe.html").as_uri(), tmp_path / "profile"))


def test_served_over_http_on_a_narrow_window(server: str, tmp_path: Path) -> None:
    check(probe(f"{server}/probe.html", tmp_path / "profile", width=420))


def test_probe_catches_a_page_that_loads_something(site: Path, tmp_path: Path) -> None:
    bad = site / "bad.html"
    page = (site / "probe.html").read_text(encoding="utf-8")
    bad.write_text(
        page.replace("</main>", '<img src="https://example.invalid/x.png"></main>'),
        encoding="utf-8",
    )
    result = probe(bad.as_uri(), tmp_path / "profile")
    assert any(e.startswith("csp: img-src") for e in result["errors"])
    assert result["console"]


def test_screenshot(site: Path, tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "report.png"
    proc = chromium(
        "--window-size=1280,2000",
        f"--screenshot={shot}",
        (site / "report.html").as_uri(),
        profile=tmp_path / "profile",
    )
    assert shot.exists(), proc.stderr[-2000:]
    with image.open(shot) as im:
        assert im.size == (1280, 2000)
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(np.int64)
    packed = rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
    colours, counts = np.unique(packed, return_counts=True)
    pixels = dict(zip(colours.tolist(), counts.tolist(), strict=True))
    assert len(pixels) > 100  # text, charts and tables, not a blank page
    for colour in (VERMILLION, SKY_BLUE):  # the AI and human bands are on screen
        assert pixels.get(int(colour[1:], 16), 0) > 5_000, colour
    shutil.copy(shot, site / "screenshot.png")  # kept next to the page for a look by hand
