"""`provenance explain` on one commit per AI tool: tool, model, confidence and matched text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from fixtures.tools_repo import TOOLS, ToolCommit, build_tools
from provenance.rules import RuleSet

RULES = RuleSet.builtin()


@pytest.fixture(scope="module")
def tools_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ToolCommit]]:
    path = tmp_path_factory.mktemp("tools") / "tools"
    mapping = {r.id: (r.tool, r.confidence.label) for r in RULES}
    return path, build_tools(path, mapping)


def test_one_commit_per_tool(tools_repo: tuple[Path, list[ToolCommit]]) -> None:
    assert [c.tool for c in tools_repo[1]] == list(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_explain_names_tool_model_confidence_and_text(
    tools_repo: tuple[Path, list[ToolCommit]], run: Callable[..., Result], tool: str
) -> None:
    path, commits = tools_repo
    c = next(x for x in commits if x.tool == tool)
    rule = RULES.get(c.rule)
    assert rule is not None
    result = run(["explain", c.sha, path, "--min-confidence", "low", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    ev = next(e for e in doc["evidence"] if e["rule"] == c.rule)
    assert ev["tool"] == tool
    assert ev["confidence"] == rule.confidence.label
    assert ev["counted"] is True
    assert doc["class"] == "ai"
    # The matched text is exactly what stands in the commit: a line of the message or an identity.
    sources = [c.example["message"], c.example.get("author_name", ""),
               c.example.get("author_email", ""), c.example.get("committer_name", ""),
               c.example.get("committer_email", "")]  # fmt: skip
    assert ev["matched"]
    assert any(ev["matched"] in s for s in sources)
    if "model" in c.example:
        assert ev["model"] == c.example["model"]
        assert c.example["model"] in doc["models"]
    text = run(["explain", c.sha, path, "--min-confidence", "low"]).stdout
    assert f"  {c.rule}  [ai, {rule.confidence.label}" in text
    assert f"matched: {ev['matched']}" in text
