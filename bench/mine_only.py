"""Mining alone (no classification, frames or rendering), in one process per variant and round.

``python -m bench.mine_only REPO [--runs 3]`` prints a Markdown table: git's ``git log
--numstat`` floor, :func:`provenance.gitlog.mine` with the default jobs and with one job, and
:func:`provenance.cache.cached_history` warm and one commit ahead of the cached tip (the
newest non-merge commit of the first-parent chain, cached at its parent). Each value is the
median wall time of draining the record iterator, interpreter start-up excluded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = """
import json, sys, time, shutil
from pathlib import Path
from provenance.gitlog import Repository, mine
from provenance.cache import cached_history
repo_path, variant, one, root = sys.argv[1:5]
repo = Repository(repo_path)
if variant == "+1":
    shutil.rmtree(root + "/incr", ignore_errors=True)
    shutil.copytree(root + "/base", root + "/incr")
t0 = time.perf_counter()
if variant == "j0":
    n = sum(1 for _ in mine(repo, repo.resolve("HEAD"), jobs=0))
elif variant == "j1":
    n = sum(1 for _ in mine(repo, repo.resolve("HEAD"), jobs=1))
elif variant == "warm":
    n = sum(1 for _ in cached_history(repo, repo.resolve("HEAD"), jobs=0, root=Path(root) / "warm"))
elif variant == "+1":
    n = sum(1 for _ in cached_history(repo, one, jobs=0, root=Path(root) / "incr"))
elif variant == "fill-base":
    n = sum(1 for _ in cached_history(repo, one + "^", jobs=0, root=Path(root) / "base"))
print(json.dumps({"wall": time.perf_counter() - t0, "n": n}))
"""


def child(repo: str, variant: str, one: str, root: str) -> float:
    """One timed run in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _CHILD, repo, variant, one, root],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return float(json.loads(out)["wall"])


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    one = subprocess.run(["git", "-C", a.repo, "rev-list", "--first-parent", "--no-merges",
                          "-n1", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory() as root:
        child(a.repo, "fill-base", one, root)
        child(a.repo, "warm", one, root)
        walls: dict[str, list[float]] = {}
        for _ in range(a.runs):
            t0 = time.perf_counter()
            subprocess.run(["git", "-C", a.repo, "log", "--numstat"], stdout=subprocess.DEVNULL,
                           check=True)  # fmt: skip
            walls.setdefault("floor", []).append(time.perf_counter() - t0)
            for v in ("j0", "j1", "warm", "+1"):
                walls.setdefault(v, []).append(child(a.repo, v, one, root))
    floor = statistics.median(walls["floor"])
    names = {"floor": "git log --numstat", "j0": "mine(jobs=0)", "j1": "mine(jobs=1)",
             "warm": "cached_history, warm", "+1": "cached_history, +1 commit"}  # fmt: skip
    print(f"| mining only: {Path(a.repo)} | median s | min–max s | × floor |")
    print("| --- | ---: | ---: | ---: |")
    for k, ws in walls.items():
        m = statistics.median(ws)
        print(f"| {names[k]} | {m:.3f} | {min(ws):.3f}–{max(ws):.3f} | {m / floor:.3f} |")


if __name__ == "__main__":
    main()
