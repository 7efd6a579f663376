"""The README cannot drift: commands, options, the Quick start and the signature table."""

from __future__ import annotations

import re
from pathlib import Path

import click

from provenance.cli import load_all_commands
from scripts.update_readme import updated

cli = load_all_commands()

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_has_help_and_is_documented() -> None:
    for name, cmd in cli.commands.items():
        assert cmd.help, name
        assert f"provenance {name}" in README, name


def test_every_long_option_is_documented() -> None:
    missing = []
    for name, cmd in cli.commands.items():
        for param in cmd.params:
            if not isinstance(param, click.Option):
                continue
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            if longs and not any(o in README for o in longs):
                missing.append(f"{name} {longs[0]}")
    assert missing == []


def test_quick_start_has_exactly_two_sh_blocks() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)
    sh = [body for lang, body in blocks if lang == "sh"]
    assert len(sh) == 2
    assert "provenance report" in sh[0]
    assert "pytest" in sh[1]


def test_ci_runs_the_readme_test_command() -> None:
    section = README.split("## Quick start", 1)[1]
    test_cmd = re.findall(r"```sh\n(.*?)```", section, flags=re.S)[1].strip().splitlines()[-1]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert test_cmd in ci


def test_signature_table_matches_the_shipped_rules() -> None:
    assert updated(README) == README, "run: python scripts/update_readme.py"


def test_readme_ci_section_is_docs_ci() -> None:
    # docs/ci.md is checked against the tool's real output by tests/test_action.py.
    ci = (Path(__file__).resolve().parent.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    assert ci.strip() in README
