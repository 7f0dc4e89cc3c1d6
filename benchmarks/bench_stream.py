"""Streaming runs: wall time, throughput and peak memory against the number of samples.

Usage (from the project folder)::

    python benchmarks/bench_stream.py [--sizes 1e6,1e7,1e8] [--dask] [--repeat 3]   # 1e9: 15 minutes on 2 cores

Each size runs ``sim run --stream --samples N`` on the default experiment
(three scenarios, two architectures) in a fresh process and records its wall
time and peak resident memory, which should not grow with N. With
``--dask``, each size also runs ``sim run --dask`` (a local cluster with a
worker process per core) and gives its speed-up over the single process, the
client's peak memory and the largest worker's. With ``--repeat``, the runs of
the two modes alternate and their median times are compared: on a shared
machine one run of either can be 10 % off. Results go to stdout and
``benchmarks/results/stream.csv``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import machine, write_rows

ROOT = Path(__file__).resolve().parents[1]


def measure(n: int, mode: str = "--stream") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("priors", "experiments"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder)
        code = ("import resource, sys; from sim.cli import main; code = main(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
                "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, "run", mode, "--samples", str(n)], cwd=tmp,
                              check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
    peak_kib, worker_kib = map(int, done.stderr.strip().splitlines()[-1].split())
    return {"mode": mode.lstrip("-"), "samples": n, "wall_s": wall, "samples_per_s": n / wall,
            "peak_mib": peak_kib / 1024, "worker_peak_mib": worker_kib / 1024 if mode == "--dask" else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    parser.add_argument("--dask", action="store_true", help="also run each size on a local Dask cluster")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per size and mode, interleaved; the medians are compared")
    args = parser.parse_args()
    machine_text = machine()
    print(f"machine: {machine_text}")
    modes = ("--stream", "--dask") if args.dask else ("--stream",)
    rows = []
    for n in (int(float(s)) for s in args.sizes.split(",")):
        for run in range(1, args.repeat + 1):
            for mode in modes:
                rows.append(measure(n, mode) | {"run": run})
                r = rows[-1]
                workers = f" (workers {r['worker_peak_mib']:.0f} MiB)" if mode == "--dask" else ""
                print(f"{r['mode']:7s} {n:>13,d} samples  {r['wall_s']:8.1f} s  {r['samples_per_s']:12,.0f} "
                      f"samples/s  peak {r['peak_mib']:6.0f} MiB{workers}", flush=True)
        if args.dask:
            median = {m: statistics.median(r["wall_s"] for r in rows if r["samples"] == n and r["mode"] == m)
                      for m in ("stream", "dask")}
            print(f"{n:,d} samples, median of {args.repeat}: stream {median['stream']:.1f} s, dask "
                  f"{median['dask']:.1f} s: {median['stream'] / median['dask']:.2f}x the single process's throughput",
                  flush=True)
    write_rows("stream", rows)


if __name__ == "__main__":
    main()
