"""The search model three ways: sim, hand-written numpy, and squigglepy's distribution algebra.

Usage (from the project folder, after ``pip install -e '.[bench]'``)::

    python benchmarks/bench_peers.py [--sizes 1e4,1e5,1e6,1e7] [--squiggle-max 1e6]

For each sample count, each implementation runs in a fresh process that
reports its time for sampling plus evaluation (the best of three after one
warm-up) and its peak resident memory. All three compute every output of the
search model for both architectures, for the default experiment's baseline
scenario with its priors (lognormal, beta, choice and log-uniform):

* ``sim``: ``sim.run`` on that scenario;
* ``numpy``: the equations in plain numpy, drawing with numpy's generators
  (``benchmarks/bench_core.py``'s ``hand_written``), the practical floor;
* ``squigglepy``: each output an expression of squigglepy distributions,
  sampled with ``sq.sample`` (squigglepy draws each expression's tree anew).

Times are given as a ratio to numpy's at the same size, from the same run of
this script. squigglepy is skipped above ``--squiggle-max`` samples (its 1e7
runs take minutes). Results go to stdout and ``benchmarks/results/peers.csv``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _results import machine, write_rows

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import dataclasses, json, resource, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
import sim
from bench_core import hand_written

impl, n = sys.argv[1], int(sys.argv[2])
exp = sim.load_experiment({experiment!r})
exp = dataclasses.replace(exp, scenarios=exp.scenarios[:1])
priors = exp.base_priors


def squiggle(n):
    import squigglepy as sq

    def lognormal(name):
        f = priors[name].impl.frozen
        return sq.lognorm(norm_mean=float(np.log(f.kwds["scale"])), norm_sd=float(f.args[0]))

    def beta(name):
        f = priors[name].impl.frozen
        return f.kwds.get("loc", 0.0) + f.kwds.get("scale", 1.0) * sq.beta(*map(float, f.args[:2]))

    def choice(name):
        c = priors[name].impl
        return sq.discrete({{float(v): float(p) for v, p in zip(c.values, c.probabilities)}})

    lo, hi = (dict(priors["optimization_factor"].params)[k] for k in ("low", "high"))
    prompt, response, section = lognormal("prompt_words"), lognormal("response_words"), lognormal("section_words")
    samples, k = choice("samples_per_query"), choice("results_k")
    keep = (1 - beta("cache_hit_rate")) * (1 - beta("provider_gross_margin"))
    searches = lognormal("searches_per_month_2012") * 12 * beta("internet_penetration_2020") / beta(
        "internet_penetration_2012")
    revenue = lognormal("search_revenue") / searches
    factor = sq.dist_fn(sq.uniform(float(np.log(lo)), float(np.log(hi))), fn=np.exp) * beta("inhouse_factor")
    wpt, price = priors["words_per_token"].point, priors["api_price_per_1k_tokens"].point
    ratio = priors["output_input_price_ratio"].point
    out = {{"annual_searches": searches, "revenue_per_query": revenue}}
    for arch, words, written in (("chatgpt_equivalent", prompt + response * samples, response * samples),
                                 ("two_stage", prompt + k * (section + response), k * response)):
        tokens = words / wpt
        share = written / words
        api = tokens * price / 1000.0 * (1 + (ratio - 1) * share)
        cost = api * keep
        out |= {{f"tokens_per_query_{{arch}}": tokens, f"output_token_share_{{arch}}": share,
                 f"api_cost_per_query_{{arch}}": api,
                 f"cost_per_query_{{arch}}": cost, f"cost_to_revenue_ratio_{{arch}}": cost / revenue,
                 f"optimized_cost_per_query_{{arch}}": cost * factor,
                 f"optimized_share_of_revenue_{{arch}}": cost * factor / revenue,
                 f"annual_incremental_cost_{{arch}}": cost * factor * searches}}
    return {{name: sq.sample(d, n=n) for name, d in out.items()}}


run = {{"sim": lambda n, seed: sim.run(exp, samples=n, seed=seed),
        "numpy": lambda n, seed: hand_written(priors, n, seed),
        "squigglepy": lambda n, seed: squiggle(n)}}[impl]
run(min(n, 1000), 0)
times = []
for seed in range(3):
    t = time.perf_counter()
    result = run(n, seed + 1)
    times.append(time.perf_counter() - t)
    del result
print(json.dumps({{"seconds": min(times), "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(impl: str, n: int) -> dict:
    code = CHILD.format(bench=str(ROOT / "benchmarks"), experiment=str(ROOT / "experiments" / "search_cost.toml"))
    out = subprocess.run([sys.executable, "-c", code, impl, str(n)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    parser.add_argument("--squiggle-max", type=float, default=1e6)
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    machine_text = machine()
    print(f"machine: {machine_text}")
    print(f"{'samples':>10s} {'implementation':>14s} {'seconds':>9s} {'x numpy':>8s} {'peak MiB':>9s}")
    rows = []
    for n in sizes:
        base = measure("numpy", n)
        for impl in ("numpy", "sim", "squigglepy"):
            if impl == "squigglepy" and n > args.squiggle_max:
                continue
            r = base if impl == "numpy" else measure(impl, n)
            rows.append({"samples": n, "implementation": impl, "seconds": r["seconds"],
                         "ratio_to_numpy": r["seconds"] / base["seconds"], "peak_mib": r["peak_mib"]})
            row = rows[-1]
            print(f"{n:10d} {impl:>14s} {row['seconds']:9.3f} {row['ratio_to_numpy']:8.2f} {row['peak_mib']:9.0f}",
                  flush=True)
    write_rows("peers", rows)


if __name__ == "__main__":
    main()
