"""Range mode, `provenance check` policies (exit codes and exact messages), shallow clones.

Expected figures come from fixtures/ci_repos.py::build_pull_request: the range
main..feature/parser holds p1..p5 (22 lines added, 13 AI: 8 Claude Code + 5 Cursor, 6 human,
3 bot); the merge and m3 (brought in from main) are not in it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fixtures.builder import RepoBuilder, lines
from fixtures.ci_repos import build_pull_request, pull_request_event, shallow_clone
from fixtures.repos import DEPENDABOT, Built, build_linear
from provenance import audit
from provenance.check import (
    Policies,
    evaluate,
    parse_share,
    policies_from_config,
    tool_matcher,
    unclassified_bots,
)
from provenance.errors import ConfigError, UnknownRevision
from provenance.ranges import parse_range

Run = Callable[..., Result]
RANGE = "main..feature/parser"
PR_SHAS = ("p1", "p2", "p3", "p4", "p5")
COPILOT_VSCODE = "GitHub Copilot"  # tool of the rule (copilot.vscode.coauthor) for that trailer


@pytest.fixture(scope="module")
def pr(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The pull-request scenario (read-only)."""
    return build_pull_request(tmp_path_factory.mktemp("pr") / "repo")


def check(run: Run, pr: Built, *args: str, env: dict[str, str] | None = None) -> Result:
    """`provenance check` on the pull request's range, outside GitHub mode."""
    res = run(["check", pr.path, "--range", RANGE, "--no-github", "-q", *args], env=env)
    if res.exit_code in (0, 1):  # a verdict, not a crash: nothing on stderr
        assert isinstance(res.exception, SystemExit | None) and res.stderr == "", res.exception
    return res


def short(pr: Built, name: str) -> str:
    return pr.sha[name][:7]


# -- range mode ------------------------------------------------------------------------------


def test_range_commits_are_head_not_base(pr: Built, run: Run) -> None:
    res = run(["commits", pr.path, "--range", RANGE, "-q"])
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["sha"] for r in rows} == {pr.sha[n] for n in PR_SHAS}
    by_sha = {r["sha"]: r for r in rows}
    assert by_sha[pr.sha["p1"]]["class"] == "ai" and by_sha[pr.sha["p1"]]["tools"] == "Claude Code"
    assert by_sha[pr.sha["p4"]]["class"] == "bot"
    assert by_sha[pr.sha["p5"]]["excluded_added"] == "20"


def test_range_report_same_classes_tools_and_exclusions(pr: Built, run: Run) -> None:
    res = run(["report", pr.path, "--range", RANGE, "--by", "tool", "--format", "json", "-q"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["base"] == "main" and doc["rev"] == "feature/parser"
    assert doc["tip"] == pr.sha["p5"]
    t = doc["total"]
    assert (t["commits"], t["added"], t["ai_added"], t["human_added"], t["bot_added"]) == (
        5,
        22,
        8 + 5,
        2 + 4,
        3,
    )
    assert {r["tool"]: r["added"] for r in doc["rows"]} == {
        "Claude Code": 8,
        "Cursor": 5,
        "(human)": 6,
        "GitHub App (other)": 3,
    }
    assert doc["excluded"]["lines"] == 20
    assert doc["merge_commits_skipped"] == 1
    assert doc["hints"]["by_confidence"]["medium"] == 1


def test_range_head_defaults_to_HEAD(pr: Built, run: Run) -> None:
    full = run(["commits", pr.path, "--range", RANGE, "-q"]).stdout
    assert run(["commits", pr.path, "--range", "main..", "-q"]).stdout == full


def test_range_auto_reads_the_pull_request_event(pr: Built, run: Run, tmp_path: Path) -> None:
    event = pull_request_event(tmp_path / "event.json", pr.sha["m3"], pr.sha["p5"])
    env = {"GITHUB_EVENT_PATH": str(event), "GITHUB_ACTIONS": "true"}
    res = run(["commits", pr.path, "--range", "auto", "-q"], env=env)
    assert res.exit_code == 0, res.stderr
    assert {r["sha"] for r in csv.DictReader(io.StringIO(res.stdout))} == {
        pr.sha[n] for n in PR_SHAS
    }


def test_range_auto_outside_ci_is_bad_input(pr: Built, run: Run) -> None:
    env = {
        k: "" for k in ("GITHUB_EVENT_PATH", "GITHUB_BASE_REF", "CI_MERGE_REQUEST_DIFF_BASE_SHA")
    }
    res = run(["report", pr.path, "--range", "auto"], env=env)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith("provenance: error: --range auto found no pull request")
    assert len(res.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("main...feature/parser", "two dots"),
        ("main", "use BASE..HEAD"),
        ("..feature/parser", "BASE must name a revision"),
        ("main..--output=x", "HEAD must name a revision"),
    ],
)
def test_range_invalid(pr: Built, run: Run, value: str, message: str) -> None:
    res = run(["report", pr.path, "--range", value])
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.splitlines()) == 1


def test_range_and_rev_conflict(pr: Built, run: Run) -> None:
    res = run(["check", pr.path, "--range", RANGE, "--rev", "main", "--no-github"])
    assert res.exit_code == 2
    assert "use either --rev or --range" in res.stderr


def test_parse_range_sources(tmp_path: Path) -> None:
    assert parse_range("origin/main..HEAD", {}) == ("origin/main", "HEAD")
    assert parse_range(" v1.0..v2.0 ", {}) == ("v1.0", "v2.0")
    event = pull_request_event(tmp_path / "e.json", "a" * 40, "b" * 40)
    assert parse_range("auto", {"GITHUB_EVENT_PATH": str(event)}) == ("a" * 40, "b" * 40)
    group = tmp_path / "g.json"
    group.write_text(json.dumps({"merge_group": {"base_sha": "c" * 40, "head_sha": "d" * 40}}))
    assert parse_range("auto", {"GITHUB_EVENT_PATH": str(group)}) == ("c" * 40, "d" * 40)
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"before": "e" * 40, "after": "f" * 40}))
    env = {"GITHUB_EVENT_PATH": str(push), "GITHUB_BASE_REF": "main"}
    assert parse_range("auto", env) == ("origin/main", "HEAD")
    assert parse_range("auto", {"CI_MERGE_REQUEST_DIFF_BASE_SHA": "1" * 40}) == ("1" * 40, "HEAD")
    with pytest.raises(UnknownRevision, match="found no pull request"):
        parse_range("auto", {"GITHUB_EVENT_PATH": str(push)})


# -- policies: exit codes and exact messages -------------------------------------------------


def test_no_policies_passes_and_says_what_was_measured(pr: Built, run: Run) -> None:
    res = check(run, pr)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == (
        f"check passed: no policies set; {RANGE}: AI share 59.1% of 22 lines added in 5 commits "
        "(high confidence)\n"
    )


def test_max_ai_share_fails(pr: Built, run: Run) -> None:
    res = check(run, pr, "--max-ai-share", "0.5")
    assert res.exit_code == 1
    assert res.stdout.splitlines() == [
        "max-ai-share: 59.1% (13 of 22 lines added) is above the limit of 50.0%",
        f"check failed: 1 of 1 policies; {RANGE}: AI share 59.1% of 22 lines added in 5 commits "
        "(high confidence)",
    ]
    assert res.stderr == ""


@pytest.mark.parametrize("limit", ["0.6", "60%", "0.5909090909090909"])
def test_max_ai_share_passes(pr: Built, run: Run, limit: str) -> None:
    res = check(run, pr, "--max-ai-share", limit)
    assert res.exit_code == 0, res.stdout
    assert res.stdout.startswith("check passed: 1 of 1 policies;")


def test_min_ai_share(pr: Built, run: Run) -> None:
    res = check(run, pr, "--min-ai-share", "60%")
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0] == (
        "min-ai-share: 59.1% (13 of 22 lines added) is below the limit of 60.0%"
    )
    assert check(run, pr, "--min-ai-share", "0.5").exit_code == 0


def test_require_disclosure(pr: Built, run: Run) -> None:
    res = check(run, pr, "--require-disclosure")
    assert res.exit_code == 1
    p3 = short(pr, "p3")
    assert res.stdout.splitlines()[0] == (
        f'require-disclosure: commit {p3} "Tweak docs" has medium-confidence AI evidence but no '
        f"declaration that counts at the high threshold (provenance explain {p3})"
    )
    assert len(res.stdout.splitlines()) == 2
    # At medium confidence the Copilot trailer counts: nothing is left undeclared.
    passed = check(run, pr, "--require-disclosure", "--min-confidence", "medium")
    assert passed.exit_code == 0
    assert "AI share 77.3% of 22 lines" in passed.stdout  # (13 + 4) / 22


def test_forbid_tool(pr: Built, run: Run) -> None:
    res = check(run, pr, "--forbid-tool", "CURSOR")
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0] == (
        f"forbid-tool: CURSOR (Cursor) in 1 commit (5 lines added) is above the limit of 0: "
        f"{short(pr, 'p5')}"
    )
    # Known tools that did not count: Devin is absent, Copilot's hint is below the threshold.
    assert check(run, pr, "--forbid-tool", "devin", "--forbid-tool", "copilot").exit_code == 0
    medium = check(run, pr, "--forbid-tool", "copilot", "--min-confidence", "medium")
    assert medium.exit_code == 1
    assert medium.stdout.startswith(
        f"forbid-tool: copilot ({COPILOT_VSCODE}) in 1 commit (4 lines added) is above the limit "
        f"of 0: {short(pr, 'p3')}\n"
    )


def test_forbid_tool_unknown_name_is_bad_input(pr: Built, run: Run) -> None:
    res = check(run, pr, "--forbid-tool", "Cursr")
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr == (
        "provenance: error: forbid-tool 'Cursr' matches no tool of the rule set; see "
        "`provenance rules` for the tool names\n"
    )


def test_max_unclassified_bots(pr: Built, run: Run) -> None:
    res = check(run, pr, "--max-unclassified-bots", "0")
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0] == (
        f"max-unclassified-bots: 1 commit by unclassified bots is above the limit of 0: "
        f"{short(pr, 'p4')} (acme-helper[bot])"
    )
    assert check(run, pr, "--max-unclassified-bots", "1").exit_code == 0


def test_every_policy_passing_together(pr: Built, run: Run) -> None:
    res = check(
        run,
        pr,
        "--max-ai-share",
        "0.8",
        "--min-ai-share",
        "0.5",
        "--require-disclosure",
        "--forbid-tool",
        "devin",
        "--max-unclassified-bots",
        "1",
        "--min-confidence",
        "medium",
    )
    assert res.exit_code == 0, res.stdout
    assert res.stdout.startswith("check passed: 5 of 5 policies;")


def test_every_policy_failing_together(pr: Built, run: Run) -> None:
    res = check(
        run,
        pr,
        "--max-ai-share",
        "0.1",
        "--min-ai-share",
        "0.9",
        "--require-disclosure",
        "--forbid-tool",
        "claude",
        "--max-unclassified-bots",
        "0",
    )
    assert res.exit_code == 1
    out = res.stdout.splitlines()
    assert [line.split(":")[0] for line in out[:-1]] == [
        "max-ai-share",
        "min-ai-share",
        "require-disclosure",
        "forbid-tool",
        "max-unclassified-bots",
    ]
    assert out[-1].startswith("check failed: 5 of 5 policies;")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-ai-share", "1.5"], "'1.5' is not a share"),
        (["--min-ai-share", "lots"], "'lots' is not a share"),
        (["--max-unclassified-bots", "-1"], "--max-unclassified-bots"),
        (["--format", "json"], "--format applies to the --output listing"),
    ],
)
def test_bad_options_exit_2(pr: Built, run: Run, args: list[str], message: str) -> None:
    res = check(run, pr, *args)
    assert res.exit_code == 2
    assert res.stdout == ""
    assert message in res.stderr


def test_policies_from_config_file(pr: Built, run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "ci.toml"
    cfg.write_text(
        "[tool.provenance.check]\nmax_ai_share = 0.5\nforbid_tool = 'cursor'\n"
        "require_disclosure = false\n",
        encoding="utf-8",
    )
    res = check(run, pr, "--config", cfg)
    assert res.exit_code == 1
    assert [line.split(":")[0] for line in res.stdout.splitlines()[:-1]] == [
        "max-ai-share",
        "forbid-tool",
    ]
    # An option replaces the configured limit; forbidden tools add up.
    res = check(run, pr, "--config", cfg, "--max-ai-share", "0.7", "--forbid-tool", "devin")
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0].startswith("forbid-tool: cursor (Cursor) in 1 commit")
    assert res.stdout.splitlines()[1].startswith("check failed: 1 of 2 policies;")


def test_bad_check_config_is_bad_input(pr: Built, run: Run, tmp_path: Path) -> None:
    cfg = tmp_path / "ci.toml"
    cfg.write_text("[tool.provenance.check]\nmax_ai_share = 2\n", encoding="utf-8")
    res = check(run, pr, "--config", cfg)
    assert res.exit_code == 2
    assert res.stderr == (
        f"provenance: error: {cfg}: check.max_ai_share: 2 is not a share: use a fraction from "
        "0 to 1 (0.8) or a percentage (80%)\n"
    )


def test_output_listing_is_written_even_when_failing(pr: Built, run: Run, tmp_path: Path) -> None:
    out = tmp_path / "pr.csv"
    res = check(run, pr, "--max-ai-share", "0.1", "--output", out)
    assert res.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted(int(r["added"]) for r in rows) == [2, 3, 4, 5, 8]


# -- library ---------------------------------------------------------------------------------


def test_evaluate_library(pr: Built) -> None:
    a = audit(pr.path, "feature/parser", base="main")
    result = evaluate(a, Policies(max_ai_share=0.5, max_unclassified_bots=3))
    assert (result.commits, result.added, result.ai_added) == (5, 22, 13)
    assert result.ai_share == pytest.approx(13 / 22)
    assert [r.policy for r in result.results] == ["max-ai-share", "max-unclassified-bots"]
    assert [r.passed for r in result.results] == [False, True]
    assert result.results[0].measured == "59.1%" and result.results[0].limit == "50.0%"
    assert not result.passed and len(result.failures) == 1


def test_empty_range_passes_share_policies(pr: Built) -> None:
    a = audit(pr.path, "main", base="main")
    result = evaluate(a, Policies(max_ai_share=0.0, min_ai_share=1.0))
    assert result.ai_share is None and result.passed
    assert result.results[0].measured == "n/a (no lines added)"


def test_unclassified_bots_definition(tmp_path: Path) -> None:
    b = RepoBuilder(tmp_path / "bots")
    named = b.commit("Bump deps\n", {"a.txt": lines(1)}, author=DEPENDABOT)
    generic = b.commit(
        "Sync\n",
        {"b.txt": lines(1)},
        author=("acme-helper[bot]", "1+acme-helper[bot]@users.noreply.github.com"),
    )
    by_email = b.commit(
        "Release\n",
        {"c.txt": lines(1)},
        author=("Acme CI", "2+acme-ci[bot]@users.noreply.github.com"),
    )
    human = b.commit("Edit\n", {"d.txt": lines(1)})
    a = audit(b.path)
    got = set(unclassified_bots(a.commits)["sha"])
    assert got == {generic, by_email}
    assert named not in got and human not in got


def test_policy_config_validation() -> None:
    assert policies_from_config({}) == Policies()
    p = policies_from_config(
        {
            "max_ai_share": "80%",
            "forbid_tool": ["a", "b"],
            "max_unclassified_bots": 0,
            "require_disclosure": True,
        }
    )
    assert p == Policies(
        max_ai_share=0.8, require_disclosure=True, forbid_tool=("a", "b"), max_unclassified_bots=0
    )
    assert p.active == (
        "max-ai-share",
        "require-disclosure",
        "forbid-tool",
        "max-unclassified-bots",
    )
    for bad in (
        {"max_share": 1},
        {"min_ai_share": True},
        {"require_disclosure": "yes"},
        {"forbid_tool": [1]},
        {"max_unclassified_bots": -1},
    ):
        with pytest.raises(ConfigError):
            policies_from_config(bad, "x.toml")
    assert parse_share(0.25, "x") == 0.25 and parse_share("12.5%", "x") == 0.125


def test_tool_matcher_whole_words() -> None:
    assert tool_matcher("copilot").search("GitHub Copilot (VS Code)")
    assert tool_matcher("claude code").search("Claude Code")
    assert not tool_matcher("amp").search("Example")
    assert not tool_matcher("copilot").search("Copilot-like")


# -- shallow clones --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shallow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `git clone --depth 5` of eight linear commits (c4..c8 fetched)."""
    root = tmp_path_factory.mktemp("shallow")
    src = build_linear(root / "src", n=8)
    return shallow_clone(src.path, root / "clone", 5)


SHALLOW_ERROR = (
    "provenance: error: history is shallow (depth 5): use fetch-depth: 0 or pass "
    "--allow-shallow to measure only what is present\n"
)


@pytest.mark.parametrize("command", ["report", "commits", "check", "badge"])
def test_shallow_clone_is_refused(shallow: Path, run: Run, command: str) -> None:
    res = run([command, shallow, "-q"])
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr == SHALLOW_ERROR


def test_shallow_is_reported_before_a_missing_base(shallow: Path, run: Run, tmp_path: Path) -> None:
    # A pull request whose base was not fetched: the shallow history is the cause to name.
    event = pull_request_event(tmp_path / "e.json", "0" * 40, "1" * 40)
    res = run(
        ["check", shallow, "--range", "auto", "--no-github"], env={"GITHUB_EVENT_PATH": str(event)}
    )
    assert res.exit_code == 2
    assert res.stderr == SHALLOW_ERROR


def test_allow_shallow_says_it_covers_only_fetched_history(shallow: Path, run: Run) -> None:
    res = run(["report", shallow, "--allow-shallow", "--format", "json", "-q"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["shallow_depth"] == 5
    assert doc["notes"] == [
        "history is shallow (depth 5): this covers only the fetched history",
        "1 boundary commit of the shallow history not counted: their parents were not fetched",
    ]
    assert doc["total"]["commits"] == 4
    check_res = run(["check", shallow, "--allow-shallow", "--no-github", "-q"])
    assert check_res.exit_code == 0
    table = run(["report", shallow, "--allow-shallow", "-q"]).stdout
    assert "this covers only the fetched history" in table


def test_allow_shallow_boundary_commit_is_not_its_whole_tree(shallow: Path, run: Run) -> None:
    # The boundary commit c4 has no parent in the clone: git would diff it against the empty
    # tree (its whole tree, 8 lines, as "added"). It is left out; c5..c8 add 2 lines each.
    doc = json.loads(run(["report", shallow, "--allow-shallow", "--format", "json", "-q"]).stdout)
    assert doc["total"]["added"] == 8
