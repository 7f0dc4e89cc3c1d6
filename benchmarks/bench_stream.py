"""Streaming runs: wall time, throughput and peak memory against the number of samples.

Usage (from the project folder)::

    python benchmarks/bench_stream.py [--sizes 1e6,1e7,1e8]     # 1e9 takes about half an hour on 2 cores

Each size runs ``sim run --stream --samples N`` on the default experiment
(three scenarios, two architectures) in a fresh process and records its wall
time and peak resident memory, which should not grow with N. Results go to
stdout and ``benchmarks/results/stream.csv``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import machine, write_rows

ROOT = Path(__file__).resolve().parents[1]


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("priors", "experiments"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder)
        code = ("import resource, sys; from sim.cli import main; code = main(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, "run", "--stream", "--samples", str(n)], cwd=tmp,
                              check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return {"samples": n, "wall_s": wall, "samples_per_s": n / wall, "peak_mib": peak_kib / 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    args = parser.parse_args()
    machine_text = machine()
    print(f"machine: {machine_text}")
    rows = []
    for n in (int(float(s)) for s in args.sizes.split(",")):
        rows.append(measure(n))
        r = rows[-1]
        print(f"{n:>13,d} samples  {r['wall_s']:8.1f} s  {r['samples_per_s']:12,.0f} samples/s  "
              f"peak {r['peak_mib']:6.0f} MiB", flush=True)
    write_rows("stream", rows)


if __name__ == "__main__":
    main()
