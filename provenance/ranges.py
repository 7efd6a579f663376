"""Revision ranges: ``BASE..HEAD`` for pull requests, and ``auto`` from a CI event."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from provenance.errors import UnknownRevision


def parse_range(value: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Split ``BASE..HEAD`` into ``(base, head)``; ``auto`` reads the GitHub Actions event.

    ``auto`` uses the pull_request payload's base and head SHAs when ``GITHUB_EVENT_PATH``
    holds one, else ``origin/$GITHUB_BASE_REF..HEAD``.
    """
    env = os.environ if env is None else env
    if value == "auto":
        return auto_range(env)
    if "..." in value:
        raise UnknownRevision(f"invalid range {value!r}: use BASE..HEAD (two dots)")
    base, sep, head = value.partition("..")
    if not sep or not base:
        raise UnknownRevision(f"invalid range {value!r}: use BASE..HEAD")
    return base, head or "HEAD"


def auto_range(env: Mapping[str, str]) -> tuple[str, str]:
    """The pull request's range from a GitHub Actions environment."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path:
        try:
            with open(event_path, encoding="utf-8") as fh:
                event = json.load(fh)
        except (OSError, ValueError):
            event = {}
        pr = event.get("pull_request") if isinstance(event, dict) else None
        if isinstance(pr, dict):
            base = (pr.get("base") or {}).get("sha")
            head = (pr.get("head") or {}).get("sha")
            if base and head:
                return str(base), str(head)
    base_ref = env.get("GITHUB_BASE_REF")
    if base_ref:
        return f"origin/{base_ref}", "HEAD"
    raise UnknownRevision(
        "--range auto needs a GitHub Actions pull_request event (GITHUB_EVENT_PATH or "
        "GITHUB_BASE_REF); pass --range BASE..HEAD instead"
    )
