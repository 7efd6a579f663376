"""Time classification of commit metadata: ``collect_evidence`` + ``decide`` per commit.

``python -m bench.classify_bench REPO [--limit 100000]`` reads up to ``limit`` commits'
metadata with one metadata-only ``git log`` (not timed) and prints the seconds spent
classifying them with the shipped rules, as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import time

from provenance.classify import collect_evidence, decide
from provenance.gitlog import _FIELDS, Repository, _Parser
from provenance.rules import Confidence, Field, RuleSet


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--limit", type=int, default=100_000)
    a = ap.parse_args()
    repo = Repository(a.repo)
    nonce = b"\x1eprov-" + secrets.token_hex(8).encode()
    fmt = "%x00" + nonce.decode() + "%x00" + "%x00".join(_FIELDS) + "%x00"
    args = ["log", "-z", "--date=raw", f"--format={fmt}", f"--max-count={a.limit}", "HEAD", "--"]
    recs = [r for r in _Parser(nonce).records(repo.stream(args)) if not r.is_merge]
    rules = RuleSet.builtin()
    # One-time set-up (field indexes, regex compilation) is timed apart from the per-commit work.
    s0 = time.perf_counter()
    for fld in Field:
        rules.index[fld]
    for rule in rules:
        rule.regex  # noqa: B018 - compiles it
    setup = time.perf_counter() - s0
    t0 = time.perf_counter()
    cache: dict[object, object] = {}
    verdicts = [
        decide(collect_evidence(rec, rules, cache=cache), Confidence.HIGH)  # type: ignore[arg-type]
        for rec in recs
    ]
    seconds = time.perf_counter() - t0
    ai = sum(v.cls.value == "ai" for v in verdicts)
    digest = hashlib.sha256(repr(verdicts).encode()).hexdigest()[:16]
    print(json.dumps({"commits": len(recs), "seconds": seconds, "setup": setup, "ai": ai,
                      "verdicts_sha": digest,
                      "per_100k": seconds * 100_000 / max(1, len(recs))}))  # fmt: skip


if __name__ == "__main__":
    main()
