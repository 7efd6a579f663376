"""Time PyDriller reading per-file added/deleted lines for an evenly strided commit sample.

``python -m bench.pydriller_sample REPO N`` prints ``{"n": N, "seconds": s}``. For each sampled
commit: ``Git(REPO).get_commit(sha).modified_files[*].added_lines / deleted_lines`` (the
per-commit work of a PyDriller traversal, without the traversal's own walk, so the estimate
is a lower bound for PyDriller). ``N = 0`` measures start-up (import + opening the repository).
``N = traverse`` times a whole ``Repository(REPO).traverse_commits()`` reading the same counts
(no sampling, no extrapolation: for histories small enough to afford it).
PyDriller writes into the repository's config: point it at a disposable clone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time


def main() -> None:
    """Command-line entry point."""
    t0 = time.perf_counter()
    if sys.argv[2] == "traverse":
        from pydriller import Repository

        count = total = 0
        for commit in Repository(sys.argv[1]).traverse_commits():
            count += 1
            for mf in commit.modified_files:
                total += mf.added_lines + mf.deleted_lines
        print(json.dumps({"n": count, "total": count, "lines": total,
                          "seconds": time.perf_counter() - t0}))  # fmt: skip
        return
    from pydriller import Git

    repo, n = sys.argv[1], int(sys.argv[2])
    shas = subprocess.run(["git", "-C", repo, "rev-list", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.split()  # fmt: skip
    sample = shas[:: max(1, len(shas) // n)][:n] if n else []
    g = Git(repo)
    lines = 0
    for sha in sample:
        for m in g.get_commit(sha).modified_files:
            lines += m.added_lines + m.deleted_lines
    print(json.dumps({"n": len(sample), "total": len(shas), "lines": lines,
                      "seconds": time.perf_counter() - t0}))  # fmt: skip


if __name__ == "__main__":
    main()
