"""User configuration: [tool.provenance] / .provenance.toml / --config."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st

import provenance
from fixtures.builder import RepoBuilder, lines
from provenance.config import parse_config, read_config_file
from provenance.errors import ConfigError
from provenance.rules import Confidence

Run = Callable[..., Result]

AGENT_MSG = "Add parser\n\nAcme-Agent: run 42\n"


@pytest.fixture
def cfg_repo(tmp_path: Path) -> RepoBuilder:
    b = RepoBuilder(tmp_path / "cfg")
    b.commit(AGENT_MSG, {"src/a.py": lines(4)}, date="2025-04-01T10:00:00+00:00")
    b.commit("Docs\n\nCo-authored-by: Copilot <copilot@github.com>\n", {"docs/x.md": lines(2)},
             date="2025-04-02T10:00:00+00:00")  # fmt: skip
    b.commit("Deploy\n", {"deploy.txt": lines(1)}, author=("Deploy Robot", "deploy@example.com"),
             date="2025-04-03T10:00:00+00:00")  # fmt: skip
    return b


def classes(path: Path, **kw: object) -> list[str]:
    a = provenance.audit(path, **kw)  # type: ignore[arg-type]
    return list(a.commits.sort_values("authored_at")["class"].astype(str))


def test_defaults_without_config(cfg_repo: RepoBuilder) -> None:
    assert classes(cfg_repo.path) == ["human", "human", "human"]


def test_pyproject_section(cfg_repo: RepoBuilder) -> None:
    (cfg_repo.path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.provenance]\nbots = ["deploy@example.com"]\n'
        'exclude = ["docs/**"]\n\n[tool.provenance.confidence]\n'
        '"copilot.vscode.coauthor" = "high"\n\n'
        '[[tool.provenance.rule]]\nid = "acme.agent"\ntool = "Acme Agent"\nkind = "ai"\n'
        'field = "trailer"\npattern = \'(?i)^acme-agent:\'\nconfidence = "high"\n'
        'source = "our agent"\n'
    )
    a = provenance.audit(cfg_repo.path)
    c = a.commits.sort_values("authored_at")
    assert list(c["class"].astype(str)) == ["ai", "ai", "bot"]
    assert list(c["tool"].astype(str)) == ["Acme Agent", "GitHub Copilot", "deploy@example.com"]
    assert list(c["added"]) == [4, 0, 1]  # docs/** excluded by the config


def test_provenance_toml_wins_and_disables(cfg_repo: RepoBuilder) -> None:
    (cfg_repo.path / "pyproject.toml").write_text('[tool.provenance]\nmin_confidence = "low"\n')
    (cfg_repo.path / ".provenance.toml").write_text(
        'min_confidence = "medium"\ndisable = ["copilot.vscode.coauthor"]\n'
    )
    assert classes(cfg_repo.path) == ["human", "human", "human"]
    assert classes(cfg_repo.path, min_confidence="medium") == ["human", "human", "human"]


def test_config_option_file(cfg_repo: RepoBuilder, tmp_path: Path, run: Run) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('min_confidence = "medium"\n')
    out = run(["commits", cfg_repo.path, "--config", cfg])
    assert out.exit_code == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert sorted(r["class"] for r in rows) == ["ai", "human", "human"]


@pytest.mark.parametrize(("text", "fragment"), [
    ('min_confidence = "very"\n', "key 'min_confidence': confidence must be high, medium or low"),
    ("exclude = 3\n", "key 'exclude' must be a list of strings"),
    ("colour = true\n", "unknown key 'colour'"),
    ('disable = ["no.such.rule"]\n', "disable names unknown rule id 'no.such.rule'"),
    ('[[rule]]\nid = "x"\ntool = "X"\nkind = "ai"\nfield = "trailer"\npattern = "("\n',
     "rule 'x': invalid pattern"),
    ('[[rule]]\nid = "x"\ntool = "X"\nkind = "maybe"\nfield = "trailer"\npattern = "a"\n',
     "kind must be 'ai' or 'bot'"),
    ('[[rule]]\nid = "x"\ntool = "X"\nkind = "ai"\nfield = "diff"\npattern = "a"\n',
     "field must be one of"),
    ("this is = not toml =\n", "invalid TOML"),
])  # fmt: skip
def test_invalid_config_one_line(cfg_repo: RepoBuilder, tmp_path: Path, run: Run, text: str,
                                 fragment: str) -> None:  # fmt: skip
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    result = run(["report", cfg_repo.path, "--config", cfg])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert str(cfg) in result.stderr
    assert fragment in result.stderr


def test_missing_config_file(cfg_repo: RepoBuilder, tmp_path: Path, run: Run) -> None:
    result = run(["report", cfg_repo.path, "--config", tmp_path / "nope.toml"])
    assert result.exit_code == 2
    assert "cannot read config file" in result.stderr


def test_parse_config_values() -> None:
    cfg = parse_config({"min_confidence": "Medium", "include": "src/**"}, "x")
    assert cfg.min_confidence is Confidence.MEDIUM
    assert cfg.include == ("src/**",)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_config_loader_only_raises_config_error(tmp_path_factory: pytest.TempPathFactory,
                                                text: str) -> None:  # fmt: skip
    p = tmp_path_factory.mktemp("fuzz") / ".provenance.toml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ConfigError):
        read_config_file(p)
