"""Workflow benchmark: where the time of a whole command goes, as ratios the one-workflow targets name.

Usage (from the project folder)::

    python benchmarks/bench_workflow.py

On the default experiment, each in a fresh process (best of 3):

* ``sim --help`` and a one-line error (``sim run nope``): start-up alone;
* ``sampling + evaluation``: :func:`sim.run` of 1,000,000 samples in this process;
* ``sim run --samples 1000000 --no-report``: the whole command (imports, run,
  summaries, NetCDF, record);
* ``sim report`` of that 1,000,000-sample run;
* ``sim run --stream --samples 4000000 --no-report``: streaming rate per core,
  and the same with ``--jobs 2``; and the streaming rate in process, after
  start-up (:func:`sim.stream_summary` of 8,000,000 samples, one process and two).

Results go to stdout and ``benchmarks/results/workflow.csv``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import sim

from _results import best_of, write_timings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 1_000_000
STREAMED = 4_000_000
IN_PROCESS = 8_000_000


def main():
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    core = best_of(lambda: sim.run(experiment, samples=SAMPLES))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for folder in ("priors", "experiments"):
            shutil.copytree(ROOT / folder, tmp / folder)
        command = [sys.executable, "-m", "sim"]

        def sim_(*args, check=True):
            return lambda: subprocess.run([*command, *args], cwd=tmp, check=check, capture_output=True)

        rows = [("sim --help", "start-up and help", best_of(sim_("--help"))),
                ("one-line error", "sim run nope (no such experiment)", best_of(sim_("run", "nope", check=False))),
                ("sampling + evaluation", f"sim.run, {SAMPLES:,} samples, in process", core),
                ("sim run --no-report", f"fresh process, {SAMPLES:,} samples",
                 best_of(sim_("run", "--samples", str(SAMPLES), "--no-report")))]
        rows.append(("sim report", f"fresh process, report of the {SAMPLES:,}-sample run",
                     best_of(sim_("report"))))
        streamed = best_of(sim_("run", "--stream", "--samples", str(STREAMED), "--no-report"))
        rows.append(("sim run --stream", f"fresh process, {STREAMED:,} samples", streamed))
        rows.append(("sim run --stream --jobs 2", f"fresh process, {STREAMED:,} samples",
                     best_of(sim_("run", "--stream", "--jobs", "2", "--samples", str(STREAMED), "--no-report"))))
    for jobs in (1, 2):
        rows.append((f"sim.stream_summary, jobs={jobs}", f"in process, {IN_PROCESS:,} samples",
                     best_of(lambda: sim.stream_summary(experiment, samples=IN_PROCESS, jobs=jobs))))
    write_timings("workflow", rows)
    t = dict((b, s) for b, _, s in rows)
    print(f"\nsim run --no-report / sampling + evaluation: {t['sim run --no-report'] / core:.1f}x (target 3x)")
    print(f"streaming: {STREAMED / streamed / 1e6:.2f} million samples per second in one process "
          f"(start-up included; target 2 per core), {STREAMED / t['sim run --stream --jobs 2'] / 1e6:.2f} million "
          "with --jobs 2")
    one, two = (IN_PROCESS / t[f"sim.stream_summary, jobs={j}"] / 1e6 for j in (1, 2))
    print(f"streaming in process, after start-up: {one:.2f} million samples per second with one process, "
          f"{two:.2f} million with two ({two / one:.2f}x)")


if __name__ == "__main__":
    main()
