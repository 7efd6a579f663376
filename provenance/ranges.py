"""Revision ranges: ``BASE..HEAD`` for pull requests, and ``auto`` from a CI event.

A range counts the commits reachable from HEAD and not from BASE (``git log HEAD ^BASE``), which
for a pull request is the commits it adds, whatever merges from the base branch it contains.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from provenance.errors import UnknownRevision

AUTO = "auto"


def parse_range(value: str, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Split ``BASE..HEAD`` into ``(base, head)``; ``HEAD`` may be left out (``main..``).

    ``auto`` takes the range from the CI environment (see :func:`auto_range`).
    :class:`~provenance.errors.UnknownRevision` names what is wrong with any other value.
    """
    value = value.strip()
    if value == AUTO:
        return auto_range(os.environ if env is None else env)
    if "..." in value:
        raise UnknownRevision(
            f"invalid range {value!r}: use BASE..HEAD (two dots; BASE...HEAD is not supported)"
        )
    base, sep, head = value.partition("..")
    if not sep:
        raise UnknownRevision(f"invalid range {value!r}: use BASE..HEAD, e.g. origin/main..HEAD")
    head = head or "HEAD"
    for part, name in ((base, "BASE"), (head, "HEAD")):
        if not part or part.startswith("-") or re.search(r"\s", part):
            raise UnknownRevision(f"invalid range {value!r}: {name} must name a revision")
    return base, head


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def _sha(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{7,64}", value) else None


def auto_range(env: Mapping[str, str]) -> tuple[str, str]:
    """The pull (or merge) request's range, read from a CI environment.

    In order:

    1. GitHub Actions ``pull_request`` / ``pull_request_target`` events: the payload's
       ``pull_request.base.sha`` and ``pull_request.head.sha`` (``GITHUB_EVENT_PATH``);
    2. GitHub merge queues (``merge_group``): ``merge_group.base_sha`` and ``head_sha``;
    3. ``GITHUB_BASE_REF`` without a payload: ``origin/$GITHUB_BASE_REF..HEAD``;
    4. GitLab merge request pipelines: ``$CI_MERGE_REQUEST_DIFF_BASE_SHA..HEAD``.

    Anything else (a push, a local shell) is an error: there is no pull request to measure.
    """
    event = _event(env)
    pr = event.get("pull_request")
    base, head = _sha((pr or {}).get("base"), "sha"), _sha((pr or {}).get("head"), "sha")
    if base and head:
        return base, head
    group = event.get("merge_group")
    base, head = _sha(group, "base_sha"), _sha(group, "head_sha")
    if base and head:
        return base, head
    base_ref = env.get("GITHUB_BASE_REF", "").strip()
    if base_ref:
        return f"origin/{base_ref}", "HEAD"
    gitlab_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "").strip()
    if gitlab_base:
        return gitlab_base, "HEAD"
    raise UnknownRevision(
        "--range auto found no pull request: it reads the GitHub Actions pull_request or "
        "merge_group event (GITHUB_EVENT_PATH, GITHUB_BASE_REF) or a GitLab merge request "
        "pipeline (CI_MERGE_REQUEST_DIFF_BASE_SHA); pass --range BASE..HEAD instead"
    )
