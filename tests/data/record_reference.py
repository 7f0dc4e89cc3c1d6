"""Record every output of every shipped experiment (2,000 samples, seed 7) for the same-numbers test.

Run from the project folder after a change that is meant to change numbers, and say in the commit which
numbers changed and why::

    python tests/data/record_reference.py
"""

import hashlib
import json
from pathlib import Path

import numpy as np

import sim
from sim.analysis.summary import output_names

ROOT = Path(__file__).resolve().parents[2]
SAMPLES, SEED = 2000, 7


def record(experiment: sim.Experiment) -> dict:
    ds = sim.run(experiment, samples=SAMPLES, seed=SEED)
    summary = sim.summarize(ds)
    out = {}
    for name in output_names(ds):
        da = ds[name].transpose("scenario", ..., "sample")
        first = {d: 0 for d in da.dims if d != "sample"}
        out[name] = {"dims": list(da.dims),
                     "sha256": hashlib.sha256(np.ascontiguousarray(da.values, dtype=np.float64).tobytes()).hexdigest(),
                     "mean": float(summary[name].sel(stat="mean").isel(first)),
                     "p50": float(summary[name].sel(stat="p50").isel(first))}
    return out


def main():
    paths = sorted((ROOT / "experiments").glob("*.toml")) + [ROOT / "examples" / "user_model" / "experiment.toml"]
    data = {"samples": SAMPLES, "seed": SEED,
            "experiments": {str(p.relative_to(ROOT)): record(sim.load_experiment(p)) for p in paths}}
    target = Path(__file__).with_name("reference_runs.json")
    target.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
