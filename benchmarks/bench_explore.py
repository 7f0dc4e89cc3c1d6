"""What-if benchmark: time from a changed prior to updated numbers, on the default experiment.

Usage (from the project folder)::

    python benchmarks/bench_explore.py

At 100,000 and 1,000,000 samples (best of 3): building the what-if (drawing
every prior's uniforms once), a change of the provider's margin interval
with the samples it gives (:meth:`sim.studies.explore.WhatIf.dataset`: one
prior mapped again, the model evaluated), and the same change with every
measure the explorer shows (:meth:`~sim.studies.explore.WhatIf.results`:
summary of the compared outputs, P(cost > revenue) with its interval, net
benefit, EVPI, rank correlations with the net benefit).

Results go to stdout and ``benchmarks/results/explore.csv``.
"""

from __future__ import annotations

from pathlib import Path

import sim
from sim.studies.explore import WhatIf

from _results import best_of, write_timings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    rows = []
    for samples in (100_000, 1_000_000):
        rows.append(("build", f"{samples:,} samples", best_of(lambda: WhatIf(experiment, samples=samples))))
        what_if = WhatIf(experiment, samples=samples)
        intervals = iter([[0.4, 0.7], [0.5, 0.8]] * 10)
        rows.append(("change -> samples", f"{samples:,} samples",
                     best_of(lambda: (what_if.change("provider_gross_margin", ci90=next(intervals)),
                                      what_if.dataset()))))
        rows.append(("change -> results", f"{samples:,} samples",
                     best_of(lambda: (what_if.change("provider_gross_margin", ci90=next(intervals)),
                                      what_if.results()))))
    for name, what, seconds in rows:
        print(f"{name:20s} {what:20s} {seconds:8.3f} s")
    write_timings("explore", rows)


if __name__ == "__main__":
    main()
