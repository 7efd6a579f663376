"""GitHub integration (step summary, outputs, annotations) and the offline badge.

Figures from fixtures/ci_repos.py::build_pull_request: range main..feature/parser has 5 commits,
22 lines added, 13 AI (Claude Code 8, Cursor 5), human 6, bot 3; the whole branch
feature/parser has 8 commits, 44 lines, 19 AI.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fixtures.ci_repos import build_pull_request
from fixtures.repos import Built
from provenance.badge import badge_svg, parse_color, share_message, text_width
from provenance.github import annotation, github_mode, write_outputs

Run = Callable[..., Result]
RANGE = "main..feature/parser"


@pytest.fixture(scope="module")
def pr(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The pull-request scenario (read-only)."""
    return build_pull_request(tmp_path_factory.mktemp("pr") / "repo")


def gh_env(tmp: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        "GITHUB_OUTPUT": str(tmp / "output.txt"),
    }


def test_github_mode_writes_summary_outputs_and_annotations(
    pr: Built, run: Run, tmp_path: Path
) -> None:
    env = gh_env(tmp_path)
    # Earlier steps' content stays: both files are appended to.
    (tmp_path / "summary.md").write_text("earlier\n", encoding="utf-8")
    (tmp_path / "output.txt").write_text("x=1\n", encoding="utf-8")
    res = run(
        [
            "check",
            pr.path,
            "--range",
            RANGE,
            "-q",
            "--max-ai-share",
            "0.5",
            "--max-unclassified-bots",
            "1",
        ],
        env=env,
    )
    assert res.exit_code == 1, res.stderr
    assert res.stdout.splitlines() == [
        "::error title=provenance check%3A max-ai-share::max-ai-share: 59.1%25 (13 of 22 lines "
        "added) is above the limit of 50.0%25",
        f"check failed: 1 of 2 policies; {RANGE}: AI share 59.1% of 22 lines added in 5 "
        "commits (high confidence)",
    ]
    assert (tmp_path / "output.txt").read_text() == (
        "x=1\nai-share=0.5909\nai-lines=13\ntotal-lines=22\ncommits=5\npassed=false\n"
    )
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("earlier\n## AI share of `main..feature/parser`\n")
    p1, p5 = pr.sha["p1"][:7], pr.sha["p5"][:7]
    for line in [
        "**59.1%** of the 22 lines added by 5 commits in this range came from AI-assisted "
        "commits (high-confidence evidence).",
        "| range (`main..feature/parser`) | **59.1%** | 13 | 22 | 5 |",
        "| whole branch (`feature/parser`) | 43.2% | 19 | 44 | 8 |",
        "| Claude Code | ai | 1 | 8 | 36.4% |",
        "| (human) | human | 2 | 6 | 27.3% |",
        "| Cursor | ai | 1 | 5 | 22.7% |",
        "| GitHub App (other) | bot | 1 | 3 | 13.6% |",
        "| `max-ai-share` | 59.1% | 50.0% | ❌ fail |",
        "| `max-unclassified-bots` | 1 commit | 1 | ✅ pass |",
        "- max-ai-share: 59.1% (13 of 22 lines added) is above the limit of 50.0%",
        "- threshold: high confidence (`--min-confidence`)",
    ]:
        assert line in summary.splitlines(), line
    top = summary.split("### Top AI-assisted commits")[1].split("###")[0]
    assert [row.split(" | ")[0] for row in top.strip().splitlines()[2:]] == [
        f"| `{p1}`",
        f"| `{p5}`",
    ]
    assert "excluded 20 lines" in summary.split("### Filters")[1]


def test_whole_branch_summary_without_range(pr: Built, run: Run, tmp_path: Path) -> None:
    res = run(["check", pr.path, "-q", "--summary", tmp_path / "s.md", "--no-github"])
    assert res.exit_code == 0
    summary = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "| branch (`HEAD`) | **43.2%** | 19 | 44 | 8 |" in summary.splitlines()
    assert "whole branch" not in summary
    assert "No policies set." in summary


def test_no_github_writes_nothing(pr: Built, run: Run, tmp_path: Path) -> None:
    res = run(["check", pr.path, "--range", RANGE, "-q", "--no-github"], env=gh_env(tmp_path))
    assert res.exit_code == 0
    assert not (tmp_path / "summary.md").exists() and not (tmp_path / "output.txt").exists()


def test_github_flag_without_runner_files(pr: Built, run: Run) -> None:
    env = {"GITHUB_ACTIONS": "", "GITHUB_STEP_SUMMARY": "", "GITHUB_OUTPUT": ""}
    res = run(["check", pr.path, "--range", RANGE, "-q", "--github"], env=env)
    assert res.exit_code == 0
    assert res.stderr == "provenance: GITHUB_STEP_SUMMARY is not set: no step summary\n"


def test_unwritable_summary_is_an_output_error(pr: Built, run: Run, tmp_path: Path) -> None:
    env = {**gh_env(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "missing" / "s.md")}
    res = run(["check", pr.path, "--range", RANGE, "-q"], env=env)
    assert res.exit_code == 4
    assert res.stderr.startswith("provenance: error: cannot append to $GITHUB_STEP_SUMMARY")


def test_annotation_escaping() -> None:
    assert annotation("error", "50% done\nnext", "a: b, c") == (
        "::error title=a%3A b%2C c::50%25 done%0Anext"
    )
    assert annotation("warning", "plain") == "::warning::plain"


def test_outputs_multiline_uses_a_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "out"
    write_outputs({"a": "1", "b": "x\ny"}, {"GITHUB_OUTPUT": str(path)})
    text = path.read_text()
    assert text.startswith("a=1\nb<<ghadelimiter_")
    delim = text.splitlines()[1].split("<<")[1]
    assert text.endswith(f"\nx\ny\n{delim}\n")
    assert write_outputs({"a": "1"}, {}) is None


def test_github_mode_default() -> None:
    assert github_mode(None, {"GITHUB_ACTIONS": "true"})
    assert not github_mode(None, {})
    assert not github_mode(False, {"GITHUB_ACTIONS": "true"})
    assert github_mode(True, {})


# -- badge -----------------------------------------------------------------------------------


def test_badge_offline(
    pr: Built, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("the badge must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    out = tmp_path / "ai-share.svg"
    res = run(["badge", pr.path, "-q", "--output", out])
    assert res.exit_code == 0, res.stderr
    svg = ET.fromstring(out.read_text(encoding="utf-8"))
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert svg.get("aria-label") == "AI code: 43%"  # 19 / 44 = 43.2 %
    texts = [t.text for t in svg.iterfind(".//s:text", ns)]
    assert texts == ["AI code", "AI code", "43%", "43%"]
    # Verdana 11px: "AI code" = 7739 units -> 41.6 px, "43%" = 4828 -> 25.9 px; 5 px padding.
    assert svg.get("width") == str((42 + 10) + (26 + 10))
    ranged = run(
        ["badge", pr.path, "-q", "--range", RANGE, "--label", "PR AI", "--color", "orange"]
    )
    assert 'aria-label="PR AI: 59%"' in ranged.stdout and 'fill="#fe7d37"' in ranged.stdout


def test_badge_bad_color(pr: Built, run: Run) -> None:
    res = run(["badge", pr.path, "-q", "--color", "plaid"])
    assert res.exit_code == 2
    assert "unknown colour 'plaid'" in res.stderr


def test_badge_pieces() -> None:
    assert text_width("AI code") == pytest.approx(7739 * 11 / 2048)
    assert [share_message(s) for s in (None, 0.0, 0.004, 0.37, 0.996, 1.0)] == [
        "n/a",
        "0%",
        "<1%",
        "37%",
        ">99%",
        "100%",
    ]
    assert parse_color("E05D44") == "#e05d44" and parse_color("green") == "#97ca00"
    svg = badge_svg("a<b", "x&y", "#dfb317")
    assert "a&lt;b" in svg and "x&amp;y" in svg
    assert 'fill="#333"' in svg  # dark text on a light (yellow) background
    ET.fromstring(svg)
    # Inlined side by side in one page, two badges must not share gradient or clip ids.
    ids = [set(re.findall(r'id="([^"]+)"', badge_svg("AI code", m))) for m in ("1%", "2%")]
    assert ids[0] and not ids[0] & ids[1]
