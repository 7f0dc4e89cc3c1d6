"""Core benchmark: sim's sampling plus evaluation against hand-written numpy.

Usage (from the project folder)::

    python benchmarks/bench_core.py              # both parts
    python benchmarks/bench_core.py --skip-large # only the 1e6 comparison

Part 1 times, in one process and interleaved, ``sim.run`` on the default
experiment's baseline scenario at 1,000,000 samples and a plain-numpy version
of the same equations that draws from the same distribution families with
numpy's own generators (``rng.lognormal``, ``rng.beta``, ``rng.choice``), with
the same parameters. Both produce every output for both architectures.

Part 2 runs ``sim run --samples 10000000`` on the default experiment in a
subprocess and reports its wall time and peak resident memory.

Results go to stdout and to ``benchmarks/results/core.csv``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import sim

ROOT = Path(__file__).resolve().parents[1]


def hand_written(priors, n: int, seed: int) -> dict[str, np.ndarray]:
    """The search model in plain numpy, drawing with numpy's generators."""
    rng = np.random.default_rng(seed)

    def lognormal(name):
        f = priors[name].impl.frozen  # scipy lognorm(s=sigma, scale=median)
        return rng.lognormal(np.log(f.kwds["scale"]), f.args[0], n)

    def beta(name):
        f = priors[name].impl.frozen  # scipy beta(a, b, loc, scale)
        return f.kwds.get("loc", 0.0) + f.kwds.get("scale", 1.0) * rng.beta(*f.args[:2], n)

    def choice(name):
        c = priors[name].impl
        return rng.choice(c.values, size=n, p=c.probabilities)

    lo, hi = (dict(priors["optimization_factor"].params)[k] for k in ("low", "high"))
    prompt, response, section = lognormal("prompt_words"), lognormal("response_words"), lognormal("section_words")
    samples, k = choice("samples_per_query"), choice("results_k")
    cache, margin = beta("cache_hit_rate"), beta("provider_gross_margin")
    searches = lognormal("searches_per_month_2012")
    pen12, pen20 = beta("internet_penetration_2012"), beta("internet_penetration_2020")
    revenue_total = lognormal("search_revenue")
    optimization = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    inhouse = beta("inhouse_factor")
    words_per_token = priors["words_per_token"].point
    price, ratio = priors["api_price_per_1k_tokens"].point, priors["output_input_price_ratio"].point

    out = {}
    words = np.stack([prompt + response * samples, prompt + k * (section + response)])
    out["tokens_per_query"] = words / words_per_token
    out["output_token_share"] = np.stack([response * samples, k * response]) / words
    out["api_cost_per_query"] = out["tokens_per_query"] * price / 1000.0 * (1 + (ratio - 1) * out["output_token_share"])
    out["cost_per_query"] = out["api_cost_per_query"] * (1 - cache) * (1 - margin)
    out["annual_searches"] = searches * 12 * pen20 / pen12
    out["revenue_per_query"] = revenue_total / out["annual_searches"]
    out["cost_to_revenue_ratio"] = out["cost_per_query"] / out["revenue_per_query"]
    out["optimized_cost_per_query"] = out["cost_per_query"] * optimization * inhouse
    out["optimized_share_of_revenue"] = out["optimized_cost_per_query"] / out["revenue_per_query"]
    out["annual_incremental_cost"] = out["optimized_cost_per_query"] * out["annual_searches"]
    return out


def compare(n: int, repeats: int) -> dict:
    exp = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    exp = dataclasses.replace(exp, scenarios=exp.scenarios[:1])
    # warm up both (imports, allocator)
    hand_written(exp.base_priors, 1000, 0)
    sim.run(exp, samples=1000, seed=0)
    t_hand, t_sim = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        hand = hand_written(exp.base_priors, n, i)
        t_hand.append(time.perf_counter() - t0)
        del hand
        t0 = time.perf_counter()
        ds = sim.run(exp, samples=n, seed=i)
        t_sim.append(time.perf_counter() - t0)
        del ds
    med_hand, med_sim = statistics.median(t_hand), statistics.median(t_sim)
    return {"samples": n, "repeats": repeats, "hand_median_s": med_hand, "sim_median_s": med_sim,
            "hand_min_s": min(t_hand), "sim_min_s": min(t_sim), "ratio_median": med_sim / med_hand,
            "ratio_min": min(t_sim) / min(t_hand)}


def large_run(n: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "sim", "run", "--samples", str(n), "--out", out]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"samples": n, "wall_s": wall, "peak_rss_gib": peak_kib / 2**20, "output_gib": size / 2**30}


def all_scenarios(n: int, repeats: int) -> dict:
    """``sim.run`` of the default experiment with all its scenarios (priors shared by several scenarios are mapped
    through their inverse CDFs once)."""
    exp = sim.load_experiment(ROOT / "experiments" / "search_cost.toml")
    sim.run(exp, samples=1000)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim.run(exp, samples=n)
        times.append(time.perf_counter() - t0)
    return {"samples": n, "scenarios": len(exp.scenarios), "repeats": repeats, "median_s": float(np.median(times)),
            "min_s": min(times)}


def training_sweep(n: int) -> dict:
    """Training cost of every catalogue model on every offering (one run)."""
    exp = sim.load_experiment(ROOT / "experiments" / "training_cost.toml")
    sim.run(exp, samples=100)
    t0 = time.perf_counter()
    ds = sim.run(exp, samples=n)
    wall = time.perf_counter() - t0
    return {"samples": n, "cells": ds.sizes["model"] * ds.sizes["hardware"], "wall_s": wall,
            "dataset_gib": ds.nbytes / 2**30}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    rows = []
    c = compare(args.samples, args.repeats)
    print(f"\nsampling + evaluation, search model, baseline scenario, {c['samples']:,} samples "
          f"(median of {c['repeats']} interleaved repeats)")
    print(f"  hand-written numpy  {c['hand_median_s']:.3f} s  (min {c['hand_min_s']:.3f})")
    print(f"  sim.run             {c['sim_median_s']:.3f} s  (min {c['sim_min_s']:.3f})")
    print(f"  ratio sim / hand    {c['ratio_median']:.2f}  (of minima {c['ratio_min']:.2f}; target <= 1.5)")
    rows.append({"benchmark": "run_vs_numpy", **c})
    a = all_scenarios(args.samples, args.repeats)
    print(f"\nsampling + evaluation, default experiment, all {a['scenarios']} scenarios, {a['samples']:,} samples: "
          f"{a['median_s']:.3f} s (median of {a['repeats']}, min {a['min_s']:.3f})")
    rows.append({"benchmark": "run_all_scenarios", **a})
    t = training_sweep(100_000)
    print(f"\ntraining cost sweep: {t['cells']} model x offering cells, {t['samples']:,} samples: "
          f"{t['wall_s']:.2f} s, dataset {t['dataset_gib']:.2f} GiB")
    rows.append({"benchmark": "training_sweep", **t})
    if not args.skip_large:
        r = large_run(args.large)
        print(f"\nsim run --samples {r['samples']:,} (default experiment, 2 scenarios, writes NetCDF and CSV)")
        print(f"  wall {r['wall_s']:.1f} s, peak RSS {r['peak_rss_gib']:.2f} GiB, output {r['output_gib']:.2f} GiB")
        rows.append({"benchmark": "cli_large_run", **r})

    out = ROOT / "benchmarks" / "results" / "core.csv"
    out.parent.mkdir(exist_ok=True)
    keys = sorted({k for row in rows for k in row})
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["machine", *keys])
        writer.writeheader()
        for row in rows:
            writer.writerow({"machine": machine(), **row})
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
