"""The JSON outputs are a contract: every one validates against the shipped JSON Schema.

The schema is strict (no unknown fields), so a new field fails here until the schema (and its
docs) describe it. A command that gains a JSON format fails `test_every_json_output_is_covered`
until a case below exercises it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import Result
from jsonschema import Draft202012Validator

from fixtures.builder import base_env
from fixtures.ci_repos import build_pull_request
from fixtures.repos import Built
from provenance.cli import load_all_commands

cli = load_all_commands()

Run = Callable[..., Result]
SCHEMA = json.loads(
    resources.files("provenance").joinpath("data/report.schema.json").read_text("utf-8")
)
VALIDATOR = Draft202012Validator(SCHEMA)

#: (command, extra arguments, format): every JSON output; explain, check and blame run on the
#: PR scenario (tagged v1 at main and v2 at feature/parser), the rest on the core scenario.
CASES: list[tuple[str, list[str], str]] = [
    ("report", [], "json"),
    ("report", ["--freq", "week"], "json"),
    ("report", ["--freq", "quarter", "--by", "tool"], "json"),
    *[("report", ["--by", by], "json") for by in ("tool", "author", "model", "path", "ext")],
    ("report", ["--since", "2030-01-01"], "json"),  # no commits: empty table
    ("report", ["--min-confidence", "low", "--no-default-excludes"], "json"),
    ("commits", [], "json"),
    ("commits", [], "jsonl"),
    ("commits", ["--since", "2030-01-01"], "json"),
    ("explain", ["<ai>"], "json"),
    ("explain", ["<bot>"], "json"),
    ("explain", ["<human>"], "json"),
    ("rules", [], "json"),
    ("blame", [], "json"),
    ("blame", ["--by", "tool"], "json"),
    ("blame", ["--releases", "--tags", "v*"], "json"),
    ("blame", ["--releases", "--tags", "v*", "--by", "author"], "json"),
    ("blame", ["--since-rev", "main", "--by", "path"], "json"),
    ("check", ["--output", "<out>"], "json"),
    ("check", ["--output", "<out>"], "jsonl"),
]


@pytest.fixture(scope="module")
def pr(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The pull-request scenario, with two release tags (this module's own copy)."""
    built = build_pull_request(tmp_path_factory.mktemp("pr") / "repo")
    for tag, rev in (("v1", "main"), ("v2", "feature/parser")):
        subprocess.run(["git", "tag", tag, rev], cwd=built.path, env=base_env(), check=True)
    return built


def documents(text: str, fmt: str) -> Iterator[Any]:
    if fmt == "jsonl":
        for line in text.splitlines():
            yield json.loads(line)
    else:
        yield json.loads(text)


def assert_valid(doc: Any) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


def invoke(run: Run, repo: Built, command: str, extra: list[str], fmt: str, tmp: Path) -> str:
    names = {"<ai>": "p1", "<bot>": "p4", "<human>": "p3"}
    args = [repo.sha[names[a]] if a in names else a for a in extra]
    out = tmp / f"out.{fmt}"
    args = [str(out) if a == "<out>" else a for a in args]
    if command == "explain":
        argv = ["explain", args[0], repo.path, *args[1:], "--format", fmt]
    elif command == "check":
        argv = [
            "check",
            repo.path,
            "--range",
            "main..feature/parser",
            "--no-github",
            "-q",
            *args,
            "--format",
            fmt,
        ]
    elif command == "rules":
        argv = ["rules", repo.path, "--format", fmt]
    else:
        argv = [command, repo.path, "-q", *args, "--format", fmt]
    res = run(argv)
    assert res.exit_code == 0, (argv, res.stderr)
    return out.read_text(encoding="utf-8") if command == "check" else res.stdout


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    for kind in ("merged_share", "surviving_share", "explain", "rules", "commit_row"):
        assert kind in SCHEMA["$defs"]
    assert SCHEMA["$defs"]["schema_version"] == {
        "const": 1,
        "description": SCHEMA["$defs"]["schema_version"]["description"],
    }


@pytest.mark.parametrize(("command", "extra", "fmt"), CASES)
def test_json_output_validates(
    pr: Built, core_repo: Built, run: Run, tmp_path: Path, command: str, extra: list[str], fmt: str
) -> None:
    repo = pr if command in ("explain", "check", "blame") else core_repo
    text = invoke(run, repo, command, extra, fmt, tmp_path)
    docs = list(documents(text, fmt))
    assert docs
    for doc in docs:
        assert_valid(doc)
        if isinstance(doc, dict) and "kind" in doc:
            assert doc["schema_version"] == 1


def test_every_json_output_is_covered() -> None:
    """Each command offering a JSON format has a case above."""
    covered = {(c, f) for c, _, f in CASES}
    for name, command in cli.commands.items():
        for param in command.params:
            if "--format" in getattr(param, "opts", ()) and isinstance(param.type, click.Choice):
                for fmt in param.type.choices:
                    if str(fmt).startswith("json"):
                        assert (name, str(fmt)) in covered, f"{name} --format {fmt}"


def test_invalid_documents_fail() -> None:
    """The schema has teeth: a missing field, an unknown field, a wrong type each fail."""
    row = {
        "sha": "a" * 40,
        "landed_sha": "a" * 40,
        "authored_at": "2025-01-01T00:00:00+00:00",
        "landed_at": "2025-01-01T00:00:00+00:00",
        "author": "A",
        "author_email": "a@x",
        "subject": "s",
        "class": "ai",
        "tool": "T",
        "tools": "T",
        "models": "",
        "confidence": "high",
        "rules": "r",
        "evidence_scope": "commit",
        "hint": None,
        "files": 1,
        "added": 1,
        "deleted": 0,
        "excluded_added": 0,
    }
    assert_valid(row)
    assert_valid([row])
    for broken in (
        {k: v for k, v in row.items() if k != "added"},
        {**row, "extra": 1},
        {**row, "class": "robot"},
        {**row, "added": -1},
    ):
        assert list(VALIDATOR.iter_errors(broken))


def test_schema_command_prints_the_shipped_file(run: Run) -> None:
    res = run(["schema"])
    assert res.exit_code == 0
    assert json.loads(res.stdout) == SCHEMA
