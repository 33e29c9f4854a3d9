"""Run every benchmark: `make bench` (quick sizes, about a minute each) or
`make bench BENCH_SIZE=--full` (the sizes recorded in docs/benchmarks.md).

Each benchmark is its own module with its own size argument; this runner only calls them in turn,
each in a fresh process, and stops at the first failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("PATRON_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# (module, quick arguments, full arguments)
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("bench.imports", ["--lines", "20000"], ["--lines", "1000000"]),
    ("bench.ledger", ["--size", "10"], ["--size", "200"]),
    ("bench.checkout", ["--size", "6", "--rounds", "2"], ["--size", "60"]),
    ("bench.coupons_bulk", ["--size", "5000", "--pg", PG], ["--size", "100000", "--pg", PG]),
    ("bench.webhooks", ["--size", "200", "--pg", PG], ["--size", "2000", "--pg", PG]),
    ("bench.load", ["--seconds", "5"], ["--seconds", "30"]),
    ("bench.soak", ["--minutes", "2", "--pg", PG], ["--minutes", "30", "--pg", PG]),
    ("bench.segments", ["--members", "20000"], ["--members", "1000000"]),
    ("bench.messages", ["--members", "500"], ["--members", "100000"]),
    ("bench.analytics", ["--lines", "200000"], ["--lines", "10000000"]),
    ("bench.bench_clv", ["--customers", "23570", "--no-peers"], ["--customers", "1000000"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="the full sizes of docs/benchmarks.md")
    parser.add_argument("--only", default="", help="comma-separated module names to run")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    for module, quick, full in BENCHMARKS:
        if only and module.split(".")[-1] not in only and module not in only:
            continue
        if not (ROOT / (module.replace(".", "/") + ".py")).exists():
            print(f"-- {module}: not present, skipped")
            continue
        cmd = [sys.executable, "-m", module, *(full if args.full else quick)]
        print(f"== {' '.join(cmd[2:])}", flush=True)
        started = time.perf_counter()
        result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        print(
            f"-- {module}: {time.perf_counter() - started:.1f} s, exit {result.returncode}",
            flush=True,
        )
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
