"""The benchmark runner itself works (one run of each variant on a tiny synthetic repository)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bench.run import main
from fixtures.big import build


def test_runner_writes_results(tmp_path: Path) -> None:
    repo = build(tmp_path / "tiny.git", commits=40)
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ)
    main(["--repo", str(repo), "--synthetic", "0", "--runs", "1", "--warmup", "0",
          "--pydriller-sample", "3", "--out", str(out)])  # fmt: skip
    assert dict(os.environ) == env, "the runner left its bytecode settings behind"
    text = out.read_text(encoding="utf-8")
    assert "40 commits" in text
    assert "identical: **yes**" in text
    for name in ("floor: git log --numstat", "provenance --no-cache (default jobs)",
                 "provenance --jobs 1", "provenance --cache, warm", "provenance --cache, +1 commit",
                 "provenance report --cache, warm", "provenance report --cache, +1 commit",
                 "provenance, all defaults (cache on, empty)"):  # fmt: skip
        assert re.search(rf"\| {re.escape(name)} \| \d+\.\d+ \|", text), name
    assert "PyDriller" in text and "Classification alone" in text
    assert not list(repo.rglob("provenance*")), "the benchmark wrote into the repository"


def test_synthetic_history_is_deterministic(tmp_path: Path) -> None:
    a = build(tmp_path / "a.git", commits=30, seed=7)
    b = build(tmp_path / "b.git", commits=30, seed=7)
    assert (a / "refs/heads/main").exists() or (a / "packed-refs").exists()
    from provenance.gitlog import Repository

    ra, rb = Repository(a), Repository(b)
    assert ra.resolve("main") == rb.resolve("main")
    assert ra.run(["rev-list", "--count", "main"]).strip() == "30"
