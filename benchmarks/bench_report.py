"""Report benchmark: how long the default experiment's report takes to build.

Usage (from the project folder)::

    python benchmarks/bench_report.py

Times, on the default experiment (100,000 samples, three scenarios, two
architectures, every section):

* ``content``: :func:`sim.report_content` on a finished run: summary,
  decision measures with EVPPI, tornado, Sobol' indices at n = 2**14, rank
  correlations, target region, convergence;
* ``document``: :func:`sim.report.build_report`, drawing the figures;
* ``render and write``: rendering the figures to PNG and the pages
  (:func:`sim.report.render`), and the store writing report.html,
  report.md, figures/ and tables/;
* ``sim run``: the whole command in a fresh process (imports, the run, its
  NetCDF and summary, and the report);
* ``sim report``: the report command in a fresh process, from the saved run.

Each is the best of three. Results go to stdout and ``benchmarks/results/report.csv``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import sim
from sim import store
from sim.report import build_report, render

from _results import best_of, write_timings

ROOT = Path(__file__).resolve().parents[1]



def main():
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    ds = sim.run(experiment)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for folder in ("priors", "experiments"):
            shutil.copytree(ROOT / folder, tmp / folder)
        content = sim.report_content(experiment, ds)
        document = build_report(content)
        (tmp / "out" / experiment.name).mkdir(parents=True)  # the run folder the report is written into
        command = [sys.executable, "-m", "sim"]
        rows = [
            ("content", "every number, 100,000 samples, all sections",
             best_of(lambda: sim.report_content(experiment, ds))),
            ("document", "sections and figures drawn", best_of(lambda: build_report(content))),
            ("render and write", "PNG rendering, pages and files",
             best_of(lambda: store.write_report(tmp / "out", experiment, render(document)))),
            ("sim run", "fresh process: run, NetCDF, summary and report",
             best_of(lambda: subprocess.run([*command, "run"], cwd=tmp, check=True, capture_output=True))),
            ("sim report", "fresh process: report of the saved run",
             best_of(lambda: subprocess.run([*command, "report"], cwd=tmp, check=True, capture_output=True))),
        ]
    write_timings("report", rows)


if __name__ == "__main__":
    main()
