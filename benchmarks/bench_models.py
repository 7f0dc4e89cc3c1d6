"""Open-models benchmark: a formula model against the same equations in Python, and the unit check's cost.

Usage (from the project folder)::

    python benchmarks/bench_models.py [--samples 1000000] [--repeat 7]

* ``formula`` and ``python``: ``sim.run`` of ``experiments/agent_task.toml``
  (its formulas) and of the same experiment with the model written as a
  Python function (:func:`agent_task` below, the same operations in the
  same order), every scenario, sampling and evaluation; the two give equal
  numbers (checked here). Interleaved, median of ``--repeat``.
* ``units``: :func:`sim.experiment.check_units` for every shipped experiment
  and the two examples, after pint's import and the registry (timed apart,
  once per process); median of ``--repeat``.

Results go to stdout and ``benchmarks/results/models.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import sim
from sim.experiment import check_units

from _results import machine, write_rows

ROOT = Path(__file__).resolve().parents[1]
PER_M = sim.Constant(1e6, "token/Mtoken")


@sim.model(name="agent_task", outputs={})  # outputs are copied from the formula model below
def agent_task(*, calls_per_task, input_tokens_first_call, input_tokens_last_call, output_tokens_per_call,
               reasoning_share, reasoning_tokens_per_call, success_rate, price_input_usd_per_mtoken,
               output_input_price_ratio, cache_hit_rate,
               cached_input_price_ratio, subscription_usd_per_month, tasks_per_month, price_per_task_usd,
               tokens_per_mtoken=PER_M):
    """experiments/agent_task.toml's formulas as Python."""
    out = {"input_tokens_per_task": calls_per_task * (input_tokens_first_call + input_tokens_last_call) / 2}
    out["output_tokens_per_task"] = calls_per_task * (output_tokens_per_call + reasoning_share * reasoning_tokens_per_call)
    out["input_cost_per_task"] = (out["input_tokens_per_task"] * price_input_usd_per_mtoken
                                  * (1 - cache_hit_rate + cache_hit_rate * cached_input_price_ratio) / tokens_per_mtoken)
    out["output_cost_per_task"] = (out["output_tokens_per_task"] * price_input_usd_per_mtoken * output_input_price_ratio
                                   / tokens_per_mtoken)
    out["cost_per_task"] = out["input_cost_per_task"] + out["output_cost_per_task"]
    out["cost_per_successful_task"] = out["cost_per_task"] / success_rate
    out["revenue_per_task"] = subscription_usd_per_month / tasks_per_month + price_per_task_usd
    out["monthly_tasks"] = tasks_per_month
    return out


def timed(func) -> float:
    t = time.perf_counter()
    func()
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    t = time.perf_counter()
    import pint  # noqa: F401 - timed: what the first unit check of a process pays

    from sim.units import registry

    t_import = time.perf_counter() - t
    t_registry = timed(registry)

    formula = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    python_model = dataclasses.replace(agent_task, inputs=formula.model.inputs, outputs=formula.model.outputs)
    python = dataclasses.replace(formula, model=python_model)
    a = sim.run(formula, samples=4096)
    b = sim.run(python, samples=4096)
    for name in formula.model.outputs:  # the same numbers, bit for bit
        np.testing.assert_array_equal(a[name].values, b[name].values)

    times = {"formula": [], "python": []}
    for _ in range(args.repeat):  # interleaved, so drifts in the machine's speed fall on both
        for key, exp in (("formula", formula), ("python", python)):
            times[key].append(timed(lambda: sim.run(exp, samples=args.samples)))
    f, p = statistics.median(times["formula"]), statistics.median(times["python"])

    experiments = [sim.load_experiment(path) for path in sorted((ROOT / "experiments").glob("*.toml"))]
    experiments.append(sim.load_experiment(ROOT / "examples" / "user_model" / "experiment.toml"))
    checks = []
    for exp in experiments:
        durations = [timed(lambda: check_units(exp)) for _ in range(args.repeat)]
        checks.append((exp.name, statistics.median(durations)))

    print(f"machine: {machine()}")
    print(f"agent_task, {args.samples:,} samples, 3 scenarios, median of {args.repeat} (interleaved):")
    print(f"  formula model {f:.3f} s, the same equations in Python {p:.3f} s, ratio {f / p:.2f}")
    print(f"unit check (pint import {t_import * 1000:.0f} ms and registry {t_registry * 1000:.0f} ms once per process):")
    for name, seconds in checks:
        print(f"  {name:20s} {seconds * 1000:6.1f} ms")
    rows = [{"benchmark": "formula", "what": f"agent_task formulas, {args.samples} samples", "seconds": round(f, 4)},
            {"benchmark": "python", "what": f"agent_task in Python, {args.samples} samples", "seconds": round(p, 4)},
            {"benchmark": "ratio", "what": "formula / python", "seconds": round(f / p, 3)},
            {"benchmark": "pint_import", "what": "import pint (once per process)", "seconds": round(t_import, 4)},
            {"benchmark": "registry", "what": "the project registry (once per process)", "seconds": round(t_registry, 4)}]
    rows += [{"benchmark": "units", "what": name, "seconds": round(s, 5)} for name, s in checks]
    write_rows("models", rows)


if __name__ == "__main__":
    sys.exit(main())
