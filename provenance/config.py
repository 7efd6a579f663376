"""User configuration: ``[tool.provenance]`` in ``pyproject.toml``, or ``.provenance.toml``.

Looked up in the audited repository's working tree (``.provenance.toml`` first, then
``pyproject.toml``), or read from the file given with ``--config``. In ``.provenance.toml`` the
keys may sit at the top level or under ``[tool.provenance]``. Any problem is a
:class:`~provenance.errors.ConfigError` naming the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.errors import ConfigError
from provenance.rules import Confidence, Field, Kind, Rule, RuleSet

if TYPE_CHECKING:
    from provenance.gitlog import Repository

_KEYS = {
    "min_confidence", "include", "exclude", "default_excludes", "disable", "confidence",
    "rule", "rules", "bots", "check",
}  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Validated user configuration. The empty ``Config()`` changes nothing."""

    source: str = ""
    min_confidence: Confidence | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    default_excludes: bool = True
    disable: tuple[str, ...] = ()
    confidence: Mapping[str, Confidence] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    check: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, rules: RuleSet) -> RuleSet:
        """The rule set with this configuration's additions, removals and re-grades."""
        if not (self.rules or self.disable or self.confidence):
            return rules
        return rules.customised(
            add=self.rules,
            disable=self.disable,
            confidence=self.confidence,
            origin=self.source or "config",
        )


def _strings(src: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{src}: key {key!r} must be a list of strings")
    return tuple(value)


def _bot_rules(src: str, bots: tuple[str, ...]) -> list[Rule]:
    out = []
    for i, ident in enumerate(bots, 1):
        is_email = "@" in ident
        out.append(
            Rule(
                id=f"config.bot.{i}",
                tool=ident,
                kind=Kind.BOT,
                field=Field.AUTHOR_EMAIL if is_email else Field.AUTHOR_NAME,
                pattern=f"(?i)^{re.escape(ident)}$",
                confidence=Confidence.HIGH,
                source=f"{src}: bots",
                origin=src,
            )
        )
    return out


def parse_config(data: Mapping[str, Any], src: str) -> Config:
    """Validate a ``[tool.provenance]`` table."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{src}: unknown key {unknown[0]!r}")
    kw: dict[str, Any] = {"source": src}
    if "min_confidence" in data:
        try:
            kw["min_confidence"] = Confidence.parse(data["min_confidence"])
        except ValueError as exc:
            raise ConfigError(f"{src}: key 'min_confidence': {exc}") from None
    for key in ("include", "exclude", "disable"):
        if key in data:
            kw[key] = _strings(src, key, data[key])
    if "default_excludes" in data:
        if not isinstance(data["default_excludes"], bool):
            raise ConfigError(f"{src}: key 'default_excludes' must be true or false")
        kw["default_excludes"] = data["default_excludes"]
    if "confidence" in data:
        table = data["confidence"]
        if not isinstance(table, dict):
            raise ConfigError(f"{src}: key 'confidence' must be a table of rule id = level")
        conf = {}
        for rid, level in table.items():
            try:
                conf[rid] = Confidence.parse(level)
            except ValueError as exc:
                raise ConfigError(f"{src}: key 'confidence.{rid}': {exc}") from None
        kw["confidence"] = conf
    rules: list[Rule] = []
    raw_rules = data.get("rule", data.get("rules", []))
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise ConfigError(
            f"{src}: key 'rule' must be an array of tables ([[tool.provenance.rule]])"
        )
    rules.extend(Rule.from_mapping(r, src) for r in raw_rules)
    if "bots" in data:
        rules.extend(_bot_rules(src, _strings(src, "bots", data["bots"])))
    kw["rules"] = tuple(rules)
    if "check" in data:
        if not isinstance(data["check"], dict):
            raise ConfigError(f"{src}: key 'check' must be a table")
        kw["check"] = dict(data["check"])
    return Config(**kw)


def read_config_file(path: str | os.PathLike[str]) -> Config:
    """Read ``path``: ``[tool.provenance]`` if present, else the top level (.provenance.toml)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: config file is not UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    section = tool.get("provenance") if isinstance(tool, dict) else None
    if section is not None:
        if not isinstance(section, dict):
            raise ConfigError(f"{p}: [tool.provenance] must be a table")
        return parse_config(section, str(p))
    if p.name == "pyproject.toml":
        return Config()
    return parse_config({k: v for k, v in data.items() if k != "tool"}, str(p))


def load_config(repo: Repository | None, config_file: str | os.PathLike[str] | None) -> Config:
    """The configuration in effect: ``config_file`` if given, else the repository's own."""
    if config_file is not None:
        return read_config_file(config_file)
    if repo is None or repo.work_tree is None:
        return Config()
    for name in (".provenance.toml", "pyproject.toml"):
        candidate = repo.work_tree / name
        if candidate.is_file():
            cfg = read_config_file(candidate)
            if name == ".provenance.toml" or cfg.source:
                return cfg
    return Config()
