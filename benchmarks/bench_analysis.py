"""Analysis benchmark: Sobol' indices with bootstrap intervals, EVPPI, one-run sensitivity.

Usage (from the project folder)::

    python benchmarks/bench_analysis.py

Times, on the default experiment (every scenario):

* ``sobol``: Sobol' indices of cost_per_query for every drawn prior at
  n = 2**14 with 300 bootstrap resamples (model evaluations included);
* ``decide``: EVPI and EVPPI for every drawn prior, per query and per year,
  from a 100,000-sample run (the run itself excluded);
* ``rank`` and ``given``: rank correlation and the given-data first-order
  index from the same run.

Each is the best of three. Results go to stdout and ``benchmarks/results/analysis.csv``.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from pathlib import Path

import sim
from sim.analysis import decision, sensitivity

ROOT = Path(__file__).resolve().parents[1]


def best_of(func, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        func()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    ds = sim.run(experiment, samples=100_000)
    d = len(sensitivity.drawn_inputs(ds))
    rows = [
        ("sobol", f"n=2**14, {d} priors, 3 scenarios x 2 architectures, 300 resamples",
         best_of(lambda: sensitivity.sobol(experiment, "cost_per_query", n=2**14, n_resamples=300))),
        ("decide", f"EVPI + EVPPI of {d} priors x 6 cells, per query and per year, 100,000 samples",
         best_of(lambda: decision.decide(ds))),
        ("rank", "rank correlation, 100,000 samples", best_of(lambda: sensitivity.rank_correlation(ds, "cost_per_query"))),
        ("given", "given-data first order, 100,000 samples",
         best_of(lambda: sensitivity.first_order_given(ds, "cost_per_query"))),
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}")
    for name, what, seconds in rows:
        print(f"{name:8s} {seconds:8.2f} s   {what}")
    out = ROOT / "benchmarks" / "results" / "analysis.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["task", "what", "seconds", "machine"])
        writer.writerows([(n, w, f"{s:.3f}", machine) for n, w, s in rows])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
