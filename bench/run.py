"""Benchmark runner: git's own ``git log --numstat`` floor vs provenance vs PyDriller.

``python -m bench [--repo PATH ...] [--synthetic N] [--runs 5] [--out bench/RESULTS.md]``

For every repository (the synthetic one, built once with ``git fast-import`` by
:mod:`fixtures.big` into ``--repos-dir``, plus every ``--repo``), the variants run interleaved
round by round (one warm-up round, then ``--runs`` counted rounds), each in a fresh measuring
process (:mod:`bench.measure`), so the ratios compare medians taken under the same machine load:

- ``floor``: ``git -C REPO log --numstat`` (default format, one process), stdout to /dev/null;
- ``provenance``: ``python -m provenance commits --format csv --no-cache -q REPO`` (default
  ``--jobs``), the same with ``--jobs 1``, and with all defaults (the cache on, starting empty:
  a first run, which also writes the cache);
- ``cache, warm``: ``--cache`` with the cache already holding the tip;
- ``cache, +1 commit``: ``--cache --rev C`` where C is the newest non-merge commit of the
  first-parent chain and the cache holds C's parent (copied fresh before every run);
- the same two cache variants of ``provenance report`` (the main job: a small table instead
  of one CSV row per commit);
- PyDriller (:mod:`bench.pydriller_sample`) on an evenly strided sample, extrapolated;
- classification alone (:mod:`bench.classify_bench`) over up to 100k commits' metadata;
- for reference, not a target: the floor with the glibc malloc settings provenance gives its
  git processes (:data:`provenance.gitlog.MALLOC_TUNABLES`).

The outputs of the provenance variants are compared once (they must be identical). Nothing is
written into the measured repositories: caches live in a temporary directory and PyDriller
(which writes its repository's config) runs on a ``git clone --bare --shared`` copy.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.gitlog import malloc_tunables

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Variant:
    """One command measured on one repository."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    prepare: list[list[str]] = field(default_factory=list)  # untimed, before every run
    walls: list[float] = field(default_factory=list)
    main_kib: list[int] = field(default_factory=list)
    max_kib: list[int] = field(default_factory=list)


def sh(argv: list[str], **kw: object) -> str:
    """Run a helper command; return its stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kw).stdout  # type: ignore[call-overload, no-any-return]


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{mem_kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        ram = "unknown"
    try:
        from importlib.metadata import version

        import pydriller  # noqa: F401

        pyd = version("pydriller")
    except ImportError:
        pyd = "not installed"
    return {
        "cores (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU": cpu,
        "RAM": ram,
        "OS": platform.platform(),
        "git": sh(["git", "--version"]).strip(),
        "Python": platform.python_version(),
        "PyDriller": pyd,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def measure(argv: list[str], env: dict[str, str], stdout: str = "/dev/null") -> dict[str, float]:
    """One run of ``argv`` in a fresh measuring process."""
    out = sh([sys.executable, "-m", "bench.measure", "--stdout", stdout, "--", *argv],
             cwd=ROOT, env={**os.environ, **env})  # fmt: skip
    res: dict[str, float] = json.loads(out)
    if res["rc"] != 0:
        raise SystemExit(f"benchmark command failed (exit {res['rc']}): {' '.join(argv)}")
    return res


def prov(repo: Path, *extra: str, command: str = "commits") -> list[str]:
    """The provenance command line measured (``commits --format csv`` unless told)."""
    fmt = ["--format", "csv"] if command == "commits" else []
    return [sys.executable, "-m", "provenance", command, *fmt, "-q", *extra, str(repo)]


def pydriller(repo: Path, sample: int, runs: int, tmp: Path) -> dict[str, float] | None:
    """Median PyDriller time on a strided sample, and the extrapolation to the whole history."""
    try:
        import pydriller  # noqa: F401
    except ImportError:
        return None
    clone = tmp / "pydriller-clone.git"
    if not clone.exists():
        sh(["git", "clone", "-q", "--bare", "--shared", str(repo), str(clone)])

    def timed(n: int) -> dict[str, float]:
        out = sh([sys.executable, "-m", "bench.pydriller_sample", str(clone), str(n)], cwd=ROOT)
        return json.loads(out)  # type: ignore[no-any-return]

    start = statistics.median(timed(0)["seconds"] for _ in range(runs))
    runs_n = [timed(sample) for _ in range(runs)]
    t_n = statistics.median(r["seconds"] for r in runs_n)
    n, total = runs_n[0]["n"], runs_n[0]["total"]
    est = start + (t_n - start) * total / max(1, n)
    return {"n": n, "total": total, "start": start, "t_n": t_n, "estimate": est,
            "measured_in_full": float(n >= total)}  # fmt: skip


def bench_repo(repo: Path, runs: int, warmup: int, sample: int, tmp: Path,
               log: list[str]) -> dict[str, object]:  # fmt: skip
    """All variants on one repository."""
    commits = int(sh(["git", "-C", str(repo), "rev-list", "--count", "HEAD"]))
    merges = int(sh(["git", "-C", str(repo), "rev-list", "--count", "--merges", "HEAD"]))
    one = sh(["git", "-C", str(repo), "rev-list", "--first-parent", "--no-merges", "-n1",
              "HEAD"]).strip()  # fmt: skip
    cdir = tmp / "cache"
    warm, base, incr, incr2 = cdir / "warm", cdir / "base", cdir / "incr", cdir / "incr2"
    cold = cdir / "cold"
    env_of = {d: {"PROVENANCE_CACHE_DIR": str(d)} for d in (warm, base, incr, incr2, cold)}
    variants = [
        Variant("floor: git log --numstat", ["git", "-C", str(repo), "log", "--numstat"]),
        Variant("provenance --no-cache (default jobs)", prov(repo, "--no-cache")),
        Variant("provenance --jobs 1", prov(repo, "--no-cache", "--jobs", "1")),
        Variant("provenance --cache, warm", prov(repo, "--cache"), env_of[warm]),
        Variant("provenance --cache, +1 commit", prov(repo, "--cache", "--rev", one),
                env_of[incr], [["rm", "-rf", str(incr)], ["cp", "-a", str(base), str(incr)]]),
        Variant("provenance report --cache, warm", prov(repo, "--cache", command="report"),
                env_of[warm]),
        Variant("provenance report --cache, +1 commit",
                prov(repo, "--cache", "--rev", one, command="report"), env_of[incr2],
                [["rm", "-rf", str(incr2)], ["cp", "-a", str(base), str(incr2)]]),
        Variant("provenance, all defaults (cache on, empty)", prov(repo), env_of[cold],
                [["rm", "-rf", str(cold)]]),
        # Not a target: the floor as provenance runs git (its glibc malloc settings), to show
        # how much of the ratio they account for.
        Variant("reference: git log --numstat with provenance's malloc settings",
                ["git", "-C", str(repo), "log", "--numstat"],
                {"GLIBC_TUNABLES": malloc_tunables(os.environ.get("GLIBC_TUNABLES"))}),
    ]  # fmt: skip
    # Fill the caches (untimed) and check that every variant prints the same rows.
    digests = {}
    for v in [*variants[1:4], variants[7]]:
        out = tmp / "out.csv"
        measure(v.argv, v.env, str(out))
        digests[v.name] = hashlib.sha256(out.read_bytes()).hexdigest()
    measure(prov(repo, "--cache", "--rev", f"{one}^"), env_of[base])
    ref = tmp / "ref.csv"
    measure(prov(repo, "--no-cache", "--rev", one), {}, str(ref))
    out = tmp / "out.csv"
    shutil.rmtree(incr, ignore_errors=True)
    shutil.copytree(base, incr)
    measure(variants[4].argv, variants[4].env, str(out))
    same_incr = out.read_bytes() == ref.read_bytes()
    identical = len(set(digests.values())) == 1 and same_incr
    for r in range(warmup + runs):
        for v in variants:
            for cmd in v.prepare:
                sh(cmd)
            res = measure(v.argv, v.env)
            log.append(f"{_label(repo)} round {r} {v.name}: {res['wall']:.3f} s")
            if r >= warmup:
                v.walls.append(res["wall"])
                v.main_kib.append(int(res["main_kib"]))
                v.max_kib.append(int(res["max_kib"]))
    return {
        "repo": repo, "commits": commits, "merges": merges, "one": one,
        "head": sh(["git", "-C", str(repo), "rev-parse", "HEAD"]).strip(),
        "variants": variants, "identical": identical,
        "pydriller": pydriller(repo, min(sample, commits), max(1, min(runs, 3)), tmp),
        "classify": json.loads(sh([sys.executable, "-m", "bench.classify_bench", str(repo)],
                                  cwd=ROOT)),
    }  # fmt: skip


def _label(repo: Path) -> str:
    """A readable name: mirrors are stored as ``<owner>+<name>/repo``."""
    return repo.parent.name if repo.name == "repo" else repo.name


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def render(info: dict[str, str], results: list[dict[str, object]], args: argparse.Namespace,
           started: str) -> str:  # fmt: skip
    """RESULTS.md."""
    lines = [
        "# Miner benchmark results", "",
        f"Generated by `python -m bench {' '.join(args.argv)}` on {started} "
        f"({args.runs} counted runs after {args.warmup} warm-up round(s), variants interleaved "
        "round by round; medians; ratios are to the floor's median from the same session). "
        "provenance runs with its bytecode compiled once and cached, as `pip install` leaves it "
        "(in a private `PYTHONPYCACHEPREFIX`, whatever `PYTHONDONTWRITEBYTECODE` says).", "",
        "## Machine", "",
        "| | |", "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info.items()), "",
    ]  # fmt: skip
    for res in results:
        repo = res["repo"]
        variants: list[Variant] = res["variants"]  # type: ignore[assignment]
        floor = _med(variants[0].walls)
        lines += [
            f"## {_label(Path(str(repo)))}", "",
            f"`{repo}` at `{res['head']}`: {res['commits']:,} commits "
            f"({res['merges']:,} merges). Outputs of all provenance variants identical: "
            f"**{'yes' if res['identical'] else 'NO'}**.", "",
            "| variant | median wall s | min–max s | × floor | peak RSS, main process MiB "
            "| peak RSS, largest process MiB |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]  # fmt: skip
        for v in variants:
            med = _med(v.walls)
            lines.append(
                f"| {v.name} | {med:.3f} | {min(v.walls):.3f}–{max(v.walls):.3f} | "
                f"{med / floor:.3f} | {max(v.main_kib) / 1024:.0f} | {max(v.max_kib) / 1024:.0f} |"
            )
        pd = res["pydriller"]
        prov_med = _med(variants[1].walls)
        if pd:
            how = ("measured on the whole history" if pd["measured_in_full"] else
                   f"**extrapolated** from an evenly strided sample of {pd['n']:,.0f} commits: "
                   f"start-up {pd['start']:.2f} s + ({pd['t_n']:.2f} − {pd['start']:.2f}) s × "
                   f"{pd['total']:,.0f} / {pd['n']:,.0f}")  # fmt: skip
            lines += [
                "", f"PyDriller `modified_files[*].added_lines/deleted_lines` "
                f"(`Git.get_commit` per commit, no traversal walk: a lower bound): "
                f"≈ {pd['estimate']:.1f} s ({how}) = **{pd['estimate'] / prov_med:.1f}×** "
                f"provenance's median, {pd['estimate'] / floor:.1f}× the floor.",
            ]  # fmt: skip
        c: dict[str, Any] = res["classify"]  # type: ignore[assignment]
        lines += ["", f"Classification alone (`classify_many`, shipped rules, median of "
                  f"{c.get('runs', 1)} runs): {c['commits']:,} non-merge commits in "
                  f"{c['seconds']:.3f} s (= {c['per_100k']:.3f} s per 100k commits), after a "
                  f"one-time set-up of {c.get('setup', 0.0):.3f} s (field indexes, regex "
                  f"compilation, automaton); commit by commit (`collect_evidence` + `decide`) "
                  f"the same verdicts take {c.get('one_by_one', float('nan')):.3f} s.",
                  ""]  # fmt: skip
        lines += ["Commands:", "", "```"]
        lines += [" ".join(v.argv) + (f"   # env {v.env}" if v.env else "") for v in variants]
        lines += [f"python -m bench.pydriller_sample <shared clone> {args.pydriller_sample}",
                  f"python -m bench.classify_bench {repo}", "```", ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def _restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Benchmark the miner (see bench/run.py).")
    ap.add_argument("--repo", action="append", type=Path, default=[],
                    help="a repository to measure (repeatable)")
    ap.add_argument("--synthetic", type=int, default=200_000,
                    help="commits in the synthetic repository (0: none)")
    ap.add_argument("--repos-dir", type=Path,
                    default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                    / "provenance-bench", help="where the synthetic repository is built")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--pydriller-sample", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = ap.parse_args(argv)  # fmt: skip
    args.argv = list(sys.argv[1:] if argv is None else argv)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    repos = [r.resolve() for r in args.repo]
    if args.synthetic:
        from fixtures.big import build

        syn = args.repos_dir / f"synthetic-{args.synthetic}.git"
        if not (syn / "HEAD").exists():
            args.repos_dir.mkdir(parents=True, exist_ok=True)
            build(syn, args.synthetic)
        repos.insert(0, syn)
    info = machine()
    results, log = [], []
    saved = {k: os.environ.get(k) for k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    with tempfile.TemporaryDirectory(prefix="provenance-bench-") as t, contextlib.ExitStack() as st:
        # Measure provenance as installed: pip compiles the package's bytecode at install time,
        # so no run compiles its sources (the warm-up round fills this private cache).
        st.callback(_restore_env, saved)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(t) / "pycache")
        for i, repo in enumerate(repos):
            tmp = Path(t) / str(i)
            tmp.mkdir()
            results.append(bench_repo(repo, args.runs, args.warmup, args.pydriller_sample, tmp,
                                      log))  # fmt: skip
            args.out.write_text(render(info, results, args, started), encoding="utf-8")
            print(f"{repo}: done", file=sys.stderr)
    args.out.with_suffix(".log").write_text("\n".join(log) + "\n", encoding="utf-8")
    print(args.out)
