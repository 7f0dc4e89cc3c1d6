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

Then the page (``sim explore``): typing a new interval into the margin's
card of an :class:`sim.explorer.Explorer` in process, which runs what the
server runs for it (the change, the results, every shown table, plot and
card brought up to date), and, where headless Chromium is installed, the
time from pressing Enter in the browser to the page showing the new
numbers (the change event to the next frame painted with them, timed in the
page), over the WebSocket of a served ``sim explore``; and the first page,
from the request to the first results shown, with the server running, for
the default experiment and ``gpu_cash_flow`` at their own sample counts.

Results go to stdout and ``benchmarks/results/explore.csv``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sim

from _results import best_of, write_timings

ROOT = Path(__file__).resolve().parents[1]
MARGIN = "provider_gross_margin"


def main() -> None:
    experiment = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    rows = []
    for samples in (100_000, 1_000_000):
        rows.append(("build", f"{samples:,} samples", best_of(lambda: sim.what_if(experiment, samples=samples))))
        what_if = sim.what_if(experiment, samples=samples)
        # a new interval each time: the draws keep each form's values, and a form seen before would be free
        intervals = iter([[0.40 + i / 1000, 0.7] for i in range(40)])
        rows.append(("change -> samples", f"{samples:,} samples",
                     best_of(lambda: what_if.change(MARGIN, ci90=next(intervals)).dataset())))
        rows.append(("change -> results", f"{samples:,} samples",
                     best_of(lambda: what_if.change(MARGIN, ci90=next(intervals)).results())))
        rows.append(("change -> page, server side", f"{samples:,} samples", _page(experiment, samples)))
    rows += _browser()
    write_timings("explore", rows)


def _page(experiment, samples: int) -> float:
    from bokeh.document import Document

    from sim.explorer import Explorer

    card = Explorer(Document(), experiment, samples=samples).cards[MARGIN]
    lows = iter([f"{0.40 + i / 1000:.3f}" for i in range(40)])  # new forms each time, as above
    return best_of(lambda: setattr(card.inputs["ci90-low"], "value", next(lows)))


def _browser() -> list[tuple[str, str, float]]:
    """Enter pressed in headless Chromium to the new numbers shown, best of 3, on a served ``sim explore``."""
    sys.path.insert(0, str(ROOT))
    from tests import browser

    if browser.missing():
        print(f"no browser timings: {browser.missing()}")
        return []
    rows = []
    for name in ("search_cost", "gpu_cash_flow"):  # the first page: the request to update 1 shown (server started)
        served = browser.Served(ROOT, name)  # the experiment's own sample count
        try:
            with browser.chrome(1280, 1000) as driver:
                def first_page():
                    driver.get(served.url)
                    browser.Page(driver).updated(1)

                rows.append(("first page", f"{name}, its own samples", best_of(first_page)))
        finally:
            served.stop()
    for samples in (100_000, 1_000_000):
        served = browser.Served(ROOT, "--samples", str(samples))
        try:
            with browser.chrome(1280, 1000) as driver:
                driver.get(served.url)
                page = browser.Page(driver)
                page.updated(1)
                driver.set_script_timeout(120)
                times = [page.time_entry(f"ci90-low-{MARGIN}", low, n)
                         for n, low in enumerate(["0.4", "0.5", "0.45"], start=2)]
        finally:
            served.stop()
        rows.append(("change -> page, in the browser", f"{samples:,} samples", min(times)))
    return rows


if __name__ == "__main__":
    main()
