"""Run one command and report its wall time and peak memory as JSON (one fresh process per run).

``python -m bench.measure [--stdout FILE] -- ARGV...`` prints ``{"wall": s, "rc": n,
"main_kib": k, "max_kib": k}``: ``main_kib`` is the command's own peak RSS (VmHWM polled every
10 ms until it exits), ``max_kib`` the largest peak RSS of it or any of its descendants
(``getrusage(RUSAGE_CHILDREN)``, which this fresh process holds for that one run only).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def _hwm(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def main() -> None:
    """Command-line entry point."""
    args = sys.argv[1:]
    out = "/dev/null"
    if args[:1] == ["--stdout"]:
        out, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    with open(out, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=fh)
        hwm = 0
        while proc.poll() is None:
            hwm = max(hwm, _hwm(proc.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"wall": wall, "rc": proc.returncode, "main_kib": hwm, "max_kib": kids}))


if __name__ == "__main__":
    main()
