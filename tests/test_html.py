"""The self-contained HTML report: content, figures, escaping, and that it loads nothing."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import Result

from fixtures.builder import RepoBuilder, lines
from fixtures.make_example_report import (
    EXAMPLES,
    FIXTURE_RULES,
    LOCK_LINES,
    VENDOR_LINES,
    Example,
    build_example,
    write_examples,
)
from provenance import RuleSet, audit
from provenance.frame import Audit
from provenance.html import build_html_report, collect
from provenance.metrics import CAVEAT

RULES = RuleSet.from_toml(FIXTURE_RULES, "fixture")
LOADING_TAGS = {
    "script",
    "link",
    "iframe",
    "object",
    "embed",
    "img",
    "video",
    "audio",
    "source",
    "frame",
    "base",
    "form",
    "input",
}
LOADING_ATTRS = {
    "src",
    "href",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "xlink:href",
    "background",
    "ping",
    "manifest",
}


class Page(HTMLParser):
    """Collects tags, attributes, text per section and table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attrs += [(tag, k, v) for k, v in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    p.close()
    return p


def section(html: str, heading_id: str) -> str:
    """The HTML from the ``<h2 id=...>`` heading to the next ``<h2``."""
    start = html.index(f'<h2 id="{heading_id}"')
    end = html.find("<h2 ", start + 1)
    return html[start : end if end > 0 else len(html)]


def rows(fragment: str) -> list[list[str]]:
    """Text of every cell of every body row in a fragment."""
    body = "".join(re.findall(r"<tbody>(.*?)</tbody>", fragment, re.S))
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        out.append([re.sub(r"<[^>]+>", "", c) for c in cells])
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Example, Audit, str]:
    ex = build_example(tmp_path_factory.mktemp("example") / "acme-app")
    a = audit(ex.path, rules=RULES)
    return ex, a, build_html_report(a, freq="month")


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%"


def test_loads_nothing_and_runs_nothing(example: tuple[Example, Audit, str]) -> None:
    html = example[2]
    page = parse(html)
    assert not LOADING_TAGS & set(page.tags), page.tags
    assert [a for a in page.attrs if a[1] in LOADING_ATTRS] == []
    assert [a for a in page.attrs if a[1].startswith("on")] == []  # no inline handlers
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    # The only absolute URL in the page is the SVG namespace name, which loads nothing.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}
    csp = [
        v for t, k, v in page.attrs if t == "meta" and k == "content" and v and "default-src" in v
    ]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0]
    assert page.tags["svg"] == 3
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html


def test_summary_figures_match_the_plan(example: tuple[Example, Audit, str]) -> None:
    ex, _, html = example
    total = sum(p.added for p in ex.plan)
    ai = sum(p.added for p in ex.plan if p.cls == "ai")
    ai_commits = sum(p.cls == "ai" for p in ex.plan)
    cards = re.sub(
        r"<[^>]+>", " ", html[html.index('<div class="cards">') : html.index('<p class="caveat">')]
    )
    text = " ".join(cards.split())
    assert f"AI share of lines added {pct(ai, total)} {ai:,} of {total:,} lines" in text
    assert f"AI-assisted commits {ai_commits:,} {pct(ai_commits, len(ex.plan))} of " in text
    assert "acme-app" in html.split("</h1>")[0]
    assert "2024-01-02 to 2025-12-" in html


def test_caveat_filters_and_rules_are_stated(example: tuple[Example, Audit, str]) -> None:
    html = example[2]
    text = " ".join(" ".join(parse(html).text).split())
    assert CAVEAT in text
    filters = " ".join(re.sub(r"<[^>]+>", " ", section(html, "filters")).split())
    assert "rules of high confidence or above count as AI" in filters
    assert f"excluded {24 * LOCK_LINES + VENDOR_LINES:,} lines" in filters.lower()
    excluded = {r[0]: r[1:] for r in rows(section(html, "filters"))}
    assert excluded == {
        "lockfile": ["1", f"{24 * LOCK_LINES:,}"],
        "vendored": ["1", f"{VENDOR_LINES:,}"],
    }
    rules_rows = rows(section(html, "rules"))
    fired = {r[0]: int(r[-1].replace(",", "")) for r in rules_rows}
    plan = example[0].plan
    assert fired == {
        "fx-claude-trailer": sum(p.tool == "claude-code" for p in plan),
        "fx-aider-author": sum(p.tool == "aider" for p in plan),
        "fx-copilot-agent": sum(p.tool == "copilot-agent" for p in plan),
        "fx-cursor-trailer": sum(p.tool == "cursor" for p in plan),
        "fx-dependabot": sum(p.tool == "dependabot" for p in plan),
    }


def test_breakdown_tables(example: tuple[Example, Audit, str]) -> None:
    ex, _, html = example
    tools = {r[0]: r for r in rows(section(html, "tools"))}
    by_tool: Counter[str] = Counter()
    for p in ex.plan:
        by_tool["(human)" if p.cls == "human" else p.tool] += p.added
    assert {k: int(v[3].replace(",", "")) for k, v in tools.items()} == dict(by_tool)
    assert tools["claude-code"][-2] == "100.0%"
    dirs = {r[0]: r for r in rows(section(html, "directories"))}
    by_dir: Counter[str] = Counter()
    for p in ex.plan:
        if p.path:
            by_dir[p.path.split("/")[0] if "/" in p.path else "(root)"] += p.added
    assert {k: int(v[3].replace(",", "")) for k, v in dirs.items()} == dict(by_dir)
    authors = rows(section(html, "authors"))
    assert "copilot-swe-agent[bot]" in [r[0] for r in authors]
    # The per-period table holds every month, total last.
    periods = rows(html[html.index("<details>") : html.index("</details>")])
    assert len(periods) == 24
    assert html.count("<tfoot><tr class=total>") == 4  # period, tool, author, directory


def test_top_commits_biggest_first_with_evidence(example: tuple[Example, Audit, str]) -> None:
    ex, _, html = example
    ai = sorted((p for p in ex.plan if p.cls == "ai"), key=lambda p: (-p.added, p.when))
    table = rows(section(html, "commits"))
    assert len(table) == 25
    assert [r[3] for r in table[:3]] == [p.message.splitlines()[0] for p in ai[:3]]
    assert [int(r[-1]) for r in table] == [p.added for p in ai[:25]]
    rule_of = {
        "claude-code": "fx-claude-trailer (trailer, high)",
        "aider": "fx-aider-author (author_name, high)",
        "copilot-agent": "fx-copilot-agent (author_email, high)",
        "cursor": "fx-cursor-trailer (trailer, high)",
    }
    assert [r[7] for r in table] == [rule_of[p.tool] for p in ai[:25]]
    models = {r[5] for r in table if r[4] == "claude-code"}
    assert models <= {"Claude", "Claude Opus 4.5"} and models


def test_deterministic_and_no_local_paths(example: tuple[Example, Audit, str]) -> None:
    ex, a, html = example
    assert build_html_report(a, freq="month") == html
    assert str(ex.path) not in html and str(ex.path.parent) not in html


def test_text_from_the_repository_is_escaped(tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "evil")
    b.commit(
        "</td><script>alert(1)</script>\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n",
        {"<i>&x/y.py": lines(3)},
        author=('Eve "x" & Co', "e@example.com"),  # git itself drops < and > from names
    )
    html = build_html_report(audit(b.path, rules=RULES))
    page = parse(html)
    assert not {"script", "img"} & set(page.tags)
    assert "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Eve &quot;x&quot; &amp; Co" in html
    assert "&lt;i&gt;&amp;x" in html


def test_empty_range_still_renders(example: tuple[Example, Audit, str]) -> None:
    a = audit(example[0].path, since="2030-01-01", rules=RULES)
    html = build_html_report(a)
    assert "No commits in range" in html
    assert "No AI-assisted commits at this threshold." in html
    assert parse(html).tags["svg"] == 1  # only the (empty) directory chart


def test_collect_limits_and_depth(example: tuple[Example, Audit, str]) -> None:
    d = collect(example[1], "quarter", depth=2, top=5)
    assert len(d.top_commits) == 5
    assert "src/core" in set(d.paths["path"].astype(str))
    assert d.report.freq == "quarter"


def test_cli_report_format_html(
    example: tuple[Example, Audit, str], tmp_path: Path, run: Callable[..., Result]
) -> None:
    out = tmp_path / "report.html"
    r = run(["report", example[0].path, "--format", "html", "-o", out], catch=False)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert parse(html).tags["svg"] == 3
    r = run(["report", example[0].path, "--format", "html", "--freq", "quarter"], catch=False)
    assert r.exit_code == 0 and "2025Q4" in r.stdout
    r = run(["report", example[0].path, "--format", "html", "--by", "tool"])
    assert r.exit_code == 2 and r.stdout == ""
    assert "--by does not apply to --format html" in r.stderr


def test_committed_example_report_is_current(tmp_path: Path) -> None:
    committed = EXAMPLES / "report.html"
    if not committed.exists():
        pytest.skip("examples/report.html is not in this checkout")
    (fresh,) = write_examples(tmp_path, charts=False)
    assert fresh.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        "examples/report.html is out of date: run python fixtures/make_example_report.py"
    )
