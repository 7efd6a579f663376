"""The composite action: its run steps, read from action.yml, executed by bash on a fixture PR.

GitHub's expression syntax is substituted the way the runner does it for the only expressions
action.yml may use (``inputs.*`` and ``github.action_path``); the install step is not run (it
would pip-install the project again): its venv is stood in for by this test's own
``provenance``. Everything else is the step text exactly as action.yml has it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from fixtures.builder import base_env
from fixtures.ci_repos import build_pull_request, pull_request_event
from fixtures.repos import Built

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
Run = Callable[..., Result]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@pytest.fixture(scope="module")
def pr(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The pull-request scenario (read-only)."""
    return build_pull_request(tmp_path_factory.mktemp("pr") / "repo")


def substitute(text: str, inputs: dict[str, str]) -> str:
    """Replace ``${{ inputs.x }}`` and ``${{ github.action_path }}`` as the runner would."""

    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "github.action_path":
            return str(ROOT)
        if expr.startswith("inputs.") and expr[7:] in inputs:
            return inputs[expr[7:]]
        raise AssertionError(f"action.yml uses an expression this test cannot evaluate: {expr}")

    return EXPRESSION.sub(one, text)


def run_action(
    repo: Path, tmp: Path, event: Path, **given: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """Run the action's steps in order, as GitHub would, until one fails.

    Returns the last step's process, the step outputs and the step summary.
    """
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    unknown = set(given) - set(inputs)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    inputs.update(given)
    runner_temp = tmp / "runner"
    venv_bin = runner_temp / "provenance-venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "provenance").symlink_to(Path(sys.executable).parent / "provenance")
    outputs, summary = tmp / "output.txt", tmp / "summary.md"
    env = {
        **base_env(),
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(repo),
        "RUNNER_TEMP": str(runner_temp),
    }
    proc: subprocess.CompletedProcess[str] | None = None
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash"
        if step["id"] == "install":
            continue
        step_env = {k: substitute(str(v), inputs) for k, v in step.get("env", {}).items()}
        script = substitute(step["run"], inputs)
        # What the runner runs for `shell: bash`.
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env={**env, **step_env},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            break
    assert proc is not None
    values = (
        dict(line.split("=", 1) for line in outputs.read_text().splitlines())
        if (outputs.exists())
        else {}
    )
    return proc, values, summary.read_text(encoding="utf-8") if summary.exists() else ""


def test_action_shape() -> None:
    """A composite action whose every input reaches the check step, and outputs map to it."""
    assert ACTION["runs"]["using"] == "composite"
    steps = {s["id"]: s for s in ACTION["runs"]["steps"]}
    assert list(steps) == ["install", "check"]
    assert (
        'pip install --quiet --disable-pip-version-check "$ACTION_PATH"' in steps["install"]["run"]
    )
    assert steps["install"]["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    used = {m.group(1) for m in EXPRESSION.finditer(yaml.safe_dump(steps["check"]["env"]))}
    assert used == {f"inputs.{name}" for name in ACTION["inputs"]}
    for name in ACTION["inputs"]:
        env_name = "INPUT_" + name.upper().replace("-", "_")
        assert steps["check"]["env"][env_name] == "${{ inputs." + name + " }}"
        assert f'"${env_name}"' in steps["check"]["run"]
    assert set(ACTION["outputs"]) == {"ai-share", "ai-lines", "total-lines", "commits", "passed"}
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == "${{ steps.check.outputs." + name + " }}"
    assert not any("uses" in s for s in steps.values())  # uploads nothing, calls no action


def test_inputs_map_to_cli_options() -> None:
    """Each input is the name of a `provenance check` option (path is its argument)."""
    from provenance.cli import load_all_commands

    cli = load_all_commands()

    options = {o.lstrip("-") for p in cli.commands["check"].params for o in p.opts}
    assert set(ACTION["inputs"]) - {"path"} <= options


def test_action_on_a_pull_request(pr: Built, tmp_path: Path) -> None:
    event = pull_request_event(tmp_path / "event.json", pr.sha["m3"], pr.sha["p5"])
    proc, outputs, summary = run_action(
        pr.path,
        tmp_path,
        event,
        range="auto",
        **{
            "max-ai-share": "0.5",
            "require-disclosure": "true",
            "forbid-tool": "devin, amp\nwarp",
            "output": str(tmp_path / "pr.csv"),
        },
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    p3 = pr.sha["p3"][:7]
    assert proc.stdout.splitlines()[:2] == [
        "::error title=provenance check%3A max-ai-share::max-ai-share: 59.1%25 (13 of 22 lines "
        "added) is above the limit of 50.0%25",
        f"::error title=provenance check%3A require-disclosure::require-disclosure: commit {p3} "
        f'"Tweak docs" has medium-confidence AI evidence but no declaration that counts at the '
        f"high threshold (provenance explain {p3})",
    ]
    assert outputs == {
        "ai-share": "0.5909",
        "ai-lines": "13",
        "total-lines": "22",
        "commits": "5",
        "passed": "false",
    }
    assert (
        f"| range (`{pr.sha['m3'][:12]}..{pr.sha['p5'][:12]}`) | **59.1%** | 13 | 22 | 5 |"
        in summary
    )
    assert "| `forbid-tool` | 0 commits | 0 commits using devin, amp, warp | ✅ pass |" in summary
    rows = list(csv.DictReader(io.StringIO((tmp_path / "pr.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 5


def test_action_passing_with_json_output(pr: Built, tmp_path: Path) -> None:
    event = pull_request_event(tmp_path / "event.json", pr.sha["m3"], pr.sha["p5"])
    out = tmp_path / "pr.jsonl"
    proc, outputs, summary = run_action(
        pr.path,
        tmp_path,
        event,
        range="auto",
        **{
            "max-ai-share": "80%",
            "min-confidence": "medium",
            "format": "jsonl",
            "output": str(out),
            "exclude": "docs/**\n",
        },
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # docs/parser.md (p3's 4 lines) excluded: 18 lines, 13 AI.
    assert outputs["total-lines"] == "18" and outputs["ai-lines"] == "13"
    assert outputs["passed"] == "true"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 5
    assert summary.startswith("## AI share of ")


def test_action_rejects_a_bad_boolean(pr: Built, tmp_path: Path) -> None:
    event = pull_request_event(tmp_path / "event.json", pr.sha["m3"], pr.sha["p5"])
    proc, outputs, _ = run_action(pr.path, tmp_path, event, **{"require-disclosure": "yes"})
    assert proc.returncode == 2
    assert proc.stdout == (
        "::error title=provenance::--require-disclosure must be true or false, not 'yes'\n"
    )
    assert outputs == {}


# -- docs/ci.md (the README's CI section) works as written ----------------------------------

DOCS = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def fenced(lang: str) -> list[str]:
    """The bodies of the fenced blocks tagged ``lang`` ("" for untagged) in docs/ci.md."""
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in DOCS.splitlines():
        if current is None and line.startswith("```"):
            current = []
            blocks.append((line[3:].strip(), current))
        elif current is not None and line == "```":
            current = None
        elif current is not None:
            current.append(line)
    return ["\n".join(body) + "\n" for tag, body in blocks if tag == lang]


def test_docs_workflow_matches_the_action() -> None:
    (workflow,) = [yaml.safe_load(b) for b in fenced("yaml") if "jobs:" in b]
    steps = workflow["jobs"]["ai-share"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    action = next(s for s in steps if s.get("uses", "").split("@")[0].endswith("/provenance"))
    assert set(action["with"]) <= set(ACTION["inputs"])
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == action["with"]["output"]
    assert action["with"]["format"] == "csv"
    used = set(re.findall(r"steps\.provenance\.outputs\.([\w-]+)", yaml.safe_dump(workflow)))
    assert used <= set(ACTION["outputs"])
    # Every input the docs list is an input of action.yml.
    listed = re.search(r"every input passed as the option of the same name \((.*?)\)", DOCS, re.S)
    assert listed is not None
    names = set(re.findall(r"`([\w-]+)`", listed.group(1)))
    assert names == set(ACTION["inputs"])


def test_docs_gitlab_job_runs(pr: Built, tmp_path: Path) -> None:
    (job,) = [yaml.safe_load(b)["provenance"] for b in fenced("yaml") if "script:" in b]
    assert job["variables"]["GIT_DEPTH"] == "0"
    work = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(pr.path), str(work)], env=base_env(), check=True)
    env = {
        **base_env(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITLAB_CI": "true",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": pr.sha["m3"],
    }
    for command in job["before_script"]:
        if command.startswith("git fetch"):  # pip install is this test's own venv
            subprocess.run(["bash", "-c", command], cwd=work, env=env, check=True)
    for command in job["script"]:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        # The scenario has one commit with an undeclared (medium) Copilot hint.
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout.splitlines()[0].startswith("require-disclosure: commit ")
    for artifact in job["artifacts"]["paths"]:
        assert (work / artifact).stat().st_size > 0


def test_docs_examples_are_real_output(pr: Built, run: Run, tmp_path: Path) -> None:
    """The `$ provenance check ...` transcript and the step summary are what the tool prints."""
    (transcript,) = [b for b in fenced("") if b.startswith("$ provenance check")]
    command, *expected = transcript.splitlines()
    res = run([*shlex.split(command)[2:], pr.path, "--no-github", "-q"])
    assert res.exit_code == 1, res.stderr
    assert res.stdout.splitlines() == expected
    (summary,) = fenced("markdown")
    argv = ["check", pr.path, "--range", "main..feature/parser", "--max-ai-share", "0.8"]
    run([*argv, "--require-disclosure", "--no-github", "-q", "--summary", tmp_path / "s.md"])
    assert (tmp_path / "s.md").read_text(encoding="utf-8") == summary
