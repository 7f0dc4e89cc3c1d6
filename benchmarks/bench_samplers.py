"""Samplers compared by error per sample: random, Latin hypercube and scrambled Sobol'.

Usage (from the project folder)::

    python benchmarks/bench_samplers.py [--seeds 50]

For the default experiment's baseline scenario (two-stage answer), the
root-mean-square error over ``--seeds`` seeds of the mean and of the 95th
percentile of cost_per_query, at 2**10 to 2**16 samples, against a reference
from 2**22 Sobol' samples (seed 0). Also: how many fewer samples Sobol' needs
to reach the random sampler's RMSE of the mean at 2**16 (interpolated on the
log-log curve).

Results go to stdout and to ``benchmarks/results/samplers.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

import sim
from _results import machine, write_rows

ROOT = Path(__file__).resolve().parents[1]
SAMPLERS = ("random", "lhs", "sobol")
POWERS = range(10, 17)


def cost(experiment, n: int, seed: int, sampler: str) -> np.ndarray:
    ds = sim.run(experiment, samples=n, seed=seed, sampler=sampler)
    return ds["cost_per_query"].sel(scenario="baseline", architecture="two_stage").values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    experiment = dataclasses.replace(experiment, scenarios=experiment.scenarios[:1])
    start = time.perf_counter()
    ref = cost(experiment, 2**22, 0, "sobol")
    truth = {"mean": ref.mean(), "p95": np.quantile(ref, 0.95)}
    rows = []
    for sampler in SAMPLERS:
        for k in POWERS:
            estimates = np.array([[c.mean(), np.quantile(c, 0.95)]
                                  for c in (cost(experiment, 2**k, seed + 1, sampler) for seed in range(args.seeds))])
            rmse = np.sqrt(((estimates - [truth["mean"], truth["p95"]]) ** 2).mean(axis=0))
            rows.append({"sampler": sampler, "samples": 2**k, "rmse_mean": rmse[0], "rmse_p95": rmse[1],
                         "rel_rmse_mean": rmse[0] / truth["mean"], "rel_rmse_p95": rmse[1] / truth["p95"]})
    elapsed = time.perf_counter() - start
    machine_text = machine()
    print(f"machine: {machine_text}; {args.seeds} seeds; reference: 2**22 Sobol' samples; {elapsed:.0f} s")
    print(f"{'sampler':8s} {'samples':>8s} {'rel RMSE mean':>14s} {'rel RMSE p95':>13s}")
    for r in rows:
        print(f"{r['sampler']:8s} {r['samples']:8d} {r['rel_rmse_mean']:14.2e} {r['rel_rmse_p95']:13.2e}")
    target = next(r["rmse_mean"] for r in rows if r["sampler"] == "random" and r["samples"] == 2**16)
    sobol = [(r["samples"], r["rmse_mean"]) for r in rows if r["sampler"] == "sobol"]
    needed = _samples_for(sobol, target)
    if needed is None:
        print("Sobol' does not reach random's RMSE of the mean at 2**16 within 2**16 samples")
    elif needed == sobol[0][0]:
        print(f"Sobol' is below random's RMSE of the mean at 2**16 already at {needed:,.0f} samples: at least "
              f"{2**16 / needed:.0f}x fewer")
    else:
        print(f"Sobol' reaches random's RMSE of the mean at 2**16 with about {needed:,.0f} samples: "
              f"{2**16 / needed:.1f}x fewer")
    write_rows("samplers", rows)


def _samples_for(curve, target):
    """Samples at which a decreasing RMSE curve reaches ``target`` (log-log interpolation), or None."""
    n, e = np.log([c[0] for c in curve]), np.log([c[1] for c in curve])
    if e[-1] > np.log(target):
        return None
    if e[0] <= np.log(target):
        return float(np.exp(n[0]))
    i = int(np.argmax(e <= np.log(target)))
    t = (np.log(target) - e[i - 1]) / (e[i] - e[i - 1])
    return float(np.exp(n[i - 1] + t * (n[i] - n[i - 1])))


if __name__ == "__main__":
    main()
