"""Analysis benchmark: Sobol' indices with bootstrap intervals, EVPPI, one-run sensitivity.

Usage (from the project folder)::

    python benchmarks/bench_analysis.py

Times, on the default experiment (every scenario):

* ``sobol``: Sobol' indices of cost_per_query for every drawn prior at
  n = 2**14 with 300 bootstrap resamples (model evaluations included);
* ``decide``: EVPI and EVPPI for every drawn prior, per query and per year,
  from a 100,000-sample run (the run itself excluded);
* ``rank`` and ``given``: rank correlation and the given-data first-order
  index from the same run;
* ``summary``: the labelled summary of a 1,000,000-sample run (moments,
  quantiles and their Monte Carlo intervals, P(cost > revenue)).

Each is the best of three. Results go to stdout and ``benchmarks/results/analysis.csv``.
"""

from __future__ import annotations

from pathlib import Path

import sim
from sim.analysis import decision, sensitivity
from sim.analysis.summary import summarize_run
from sim.studies import sensitivity as studies

from _results import best_of, write_timings

ROOT = Path(__file__).resolve().parents[1]



def main():
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    ds = sim.run(experiment, samples=100_000)
    d = len(sensitivity.drawn_inputs(ds))
    rows = [
        ("sobol", f"n=2**14, {d} priors, 3 scenarios x 2 architectures, 300 resamples",
         best_of(lambda: studies.sobol(experiment, "cost_per_query", n=2**14, n_resamples=300))),
        ("decide", f"EVPI + EVPPI of {d} priors x 6 cells, per query and per year, 100,000 samples",
         best_of(lambda: decision.decide(ds))),
        ("rank", "rank correlation, 100,000 samples", best_of(lambda: sensitivity.rank_correlation(ds, "cost_per_query"))),
        ("given", "given-data first order, 100,000 samples",
         best_of(lambda: sensitivity.first_order_given(ds, "cost_per_query"))),
    ]
    big = sim.run(experiment, samples=1_000_000)
    rows.append(("summary", "summary of a 1,000,000-sample run, every output and cell",
                 best_of(lambda: summarize_run(big))))
    write_timings("analysis", rows)


if __name__ == "__main__":
    main()
