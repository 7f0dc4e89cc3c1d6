"""Calibration benchmark: importance weighting of a large saved run against reading it; the sequential Monte Carlo
sampler's model evaluations, counted and timed.

Usage (from the project folder)::

    python benchmarks/bench_calibrate.py [--samples 1000000]

Times, in a scratch copy of the project:

* ``read``: reading the default experiment's saved run of ``--samples``
  samples (``sim.store.load_run``, the run's check included);
* ``weighing``: the importance weighting of it by one observed figure
  (Google's searches in 2022, lognormal, sd of the log 0.2): the likelihood,
  the Pareto-smoothed weights and the resampled posterior run; the target is
  at most twice ``read``;
* ``importance``: all of ``sim.calibrate`` on the same: the weighing, the
  predictive checks and the shift of every variable (posterior.csv);
* ``smc``: ``sim.calibrate`` of the serving calibration's run (4,000 samples
  of 118 measured configurations) to NVIDIA's measurements, whose weights are
  too uneven: the sampler's stages, model evaluations and time.

Each is the best of three. Results go to stdout and ``benchmarks/results/calibrate.csv``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import sim
from sim import store
from sim.studies.calibrate import importance_weights, resample
from sim.report import summary_table

from _results import best_of, write_rows

ROOT = Path(__file__).resolve().parents[1]
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("experiments", "priors", "examples"):
            shutil.copytree(ROOT / folder, root / folder)
        out = root / "outputs"

        experiment = sim.load_experiment(root / "experiments" / "search_cost.toml")
        ds = sim.run(experiment, samples=args.samples)
        summary = sim.summarize_run(ds)
        store.write_run(experiment, out, summary, summary_table(summary), samples=ds)
        del ds
        read = best_of(lambda: store.load_run(experiment, out))
        recorded, ds = store.load_run(experiment, out)
        observations = sim.load_observations(recorded, root / "examples" / "calibration" / "searches_2022.toml")
        result = sim.calibrate(recorded, ds, observations)
        rng = np.random.default_rng(0)
        weighing = best_of(lambda: resample(ds, importance_weights(ds, observations)[0], rng))
        calibrate = best_of(lambda: sim.calibrate(recorded, ds, observations))
        cells = f"{args.samples:,} samples, 3 scenarios x 2 architectures, {ds.nbytes / 2**20:,.0f} MiB"
        rows += [{"benchmark": "read", "what": f"load_run, {cells}", "seconds": round(read, 3)},
                 {"benchmark": "weighing", "what": f"importance weights and the resampled posterior run (effective "
                                                   f"sample size {result.ess:,.0f}), {cells}",
                  "seconds": round(weighing, 3), "ratio_to_read": round(weighing / read, 2)},
                 {"benchmark": "importance", "what": f"calibrate ({result.method}: the weighing, the predictive "
                                                     f"checks, the shift of every variable), {cells}",
                  "seconds": round(calibrate, 3), "ratio_to_read": round(calibrate / read, 2)}]
        del ds

        serving = sim.load_experiment(root / "experiments" / "serving_calibration.toml")
        run = sim.run(serving)
        figures = sim.load_observations(serving, root / "examples" / "serving" / "observations.toml")
        times, results = [], []
        for _ in range(3):
            t = time.perf_counter()
            results.append(sim.calibrate(serving, run, figures))
            times.append(time.perf_counter() - t)
        smc = results[0]
        seconds = min(times)
        rows.append({"benchmark": "smc", "what": f"calibrate (sequential Monte Carlo, {len(smc.stages)} stages, "
                                                f"{smc.evaluations:,} model evaluations of "
                                                f"{min(run.sizes['sample'], 20_000):,} particles, effective sample "
                                                f"size {smc.ess:,.0f}), serving_calibration (118 cases, 118 "
                                                f"measurements), {run.sizes['sample']:,}-sample run",
                     "seconds": round(seconds, 3),
                     "evaluations_per_second": round(smc.evaluations / sum(s.seconds for s in smc.stages))})
    for row in rows:
        print(f"{row['benchmark']:10s} {row['seconds']:8.2f} s   {row['what']}"
              + (f"; {row['ratio_to_read']} x read" if "ratio_to_read" in row else "")
              + (f"; {row['evaluations_per_second']:,} evaluations per second" if "evaluations_per_second" in row
                 else ""))
    write_rows("calibrate", [{k: row.get(k, "") for k in ("benchmark", "what", "seconds", "ratio_to_read",
                                                          "evaluations_per_second")} for row in rows])


if __name__ == "__main__":
    main()
