"""Time classification of commit metadata: ``classify_many`` (what ``audit`` runs).

``python -m bench.classify_bench REPO [--limit 100000] [--runs 5]`` reads up to ``limit``
commits' metadata with one metadata-only ``git log`` (not timed) and prints the median seconds
spent classifying them with the shipped rules, in batches of 1,024 as ``audit`` does, as
JSON; ``one_by_one`` is the same work done commit by commit (``collect_evidence`` +
``decide``), and both must give the same verdicts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import statistics
import time
from typing import Any

from provenance.classify import classify_many, collect_evidence, decide
from provenance.frame import _BATCH
from provenance.gitlog import _FIELDS, Repository, _Parser
from provenance.rules import Confidence, Field, RuleSet


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--limit", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
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
    rules.scan  # noqa: B018 - builds the automaton
    setup = time.perf_counter() - s0
    times = []
    for _ in range(max(1, a.runs)):
        t0 = time.perf_counter()
        # As audit() does: batches of _BATCH commits sharing one cache of repeated values.
        shared: dict[Any, Any] = {}
        verdicts = [v for i in range(0, len(recs), _BATCH)
                    for v in classify_many(recs[i : i + _BATCH], rules, cache=shared)]  # fmt: skip
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    t0 = time.perf_counter()
    cache: dict[object, object] = {}
    singly = [
        decide(collect_evidence(rec, rules, cache=cache), Confidence.HIGH)  # type: ignore[arg-type]
        for rec in recs
    ]
    one_by_one = time.perf_counter() - t0
    if singly != verdicts:
        raise SystemExit("classify_many and collect_evidence disagree")
    ai = sum(v.cls.value == "ai" for v in verdicts)
    digest = hashlib.sha256(repr(verdicts).encode()).hexdigest()[:16]
    per_100k = seconds * 100_000 / max(1, len(recs))
    print(json.dumps({"commits": len(recs), "seconds": seconds, "setup": setup, "ai": ai,
                      "verdicts_sha": digest, "one_by_one": one_by_one, "runs": len(times),
                      "per_100k": per_100k}))  # fmt: skip


if __name__ == "__main__":
    main()
