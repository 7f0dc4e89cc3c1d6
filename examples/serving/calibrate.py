"""Calibrate the serving model's efficiencies on NVIDIA's measurements, and check it on models it did not see.

Run from the project's folder::

    python examples/serving/calibrate.py

1. ``sim calibrate``'s library function conditions the efficiency priors of
   ``priors/serving_2026.toml`` on every measured row of ``measured.csv``
   (figures.md 9a, 10a; the likelihood in ``observations.toml``) through the
   cases of ``experiments/serving_calibration.toml``, and writes the posterior
   as ``priors/serving_calibrated_2026.toml``: each efficiency's posterior
   fitted by ``sim fit``'s maximum likelihood, their rank correlations kept.
2. Leave one model out: for each of the four measured models, calibrate on
   the other three models' rows alone and predict the held-out model's rows
   with ``sim serving``'s function on that posterior. The rows go to
   ``validation.csv`` and the table printed (markdown) is the README's.

Same seed, same numbers; about ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim import api
from sim._files import read_csv, toml_key, toml_value
from sim.experiment import experiment_from_table, load_experiment
from sim.priors.fit import fit_data
from sim.studies.serving import serving

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXPERIMENT = ROOT / "experiments" / "serving_calibration.toml"
OBSERVATIONS = HERE / "observations.toml"
MEASURED = HERE / "measured.csv"
PRIORS = ROOT / "priors" / "serving_2026.toml"
CONFIGURATION = ROOT / "priors" / "serving_configuration.toml"
CALIBRATED = ROOT / "priors" / "serving_calibrated_2026.toml"
VALIDATION = HERE / "validation.csv"
SEED = 20261204
#: The priors the measurements inform (the engine's efficiencies and overheads, its memory); the rest
#: of the serving priors are configuration defaults, copied as they are.
CALIBRATED_PRIORS = ("kv_cache_memory_fraction", "runtime_memory", "bandwidth_utilisation",
                     "gemm_efficiency", "fp4_gemm_efficiency", "grouped_gemm_tokens", "attention_efficiency", "routing_overhead",
                     "collective_efficiency", "layer_overhead", "moe_layer_overhead", "step_overhead",
                     "request_overhead", "admission_overhead", "arm_host_slowdown", "wave_alignment")


def calibrate_on(rows: list[dict], samples: int, seed: int = SEED):
    """The calibration of the serving priors on ``rows`` (rows of measured.csv): the run of their cases, then
    ``sim calibrate`` on their measurements."""
    table = tomllib.loads(EXPERIMENT.read_text())
    table["priors"] = [str(PRIORS), str(CONFIGURATION)]
    table["samples"] = samples
    table["sweep"] = {"case": rows, "catalogues": str(ROOT / "priors" / "catalogues")}
    experiment = experiment_from_table(table, EXPERIMENT)
    labels = {r["case"] for r in rows}
    observations = [o for o in api.load_observations(load_experiment(EXPERIMENT), OBSERVATIONS)
                    if dict(o.select)["case"] in labels]
    ds = api.run(experiment)
    return api.calibrate(experiment, ds, observations, seed=seed)


def posterior_priors(result, label: str) -> str:
    """A priors file: the calibrated priors fitted to their posterior draws (``sim fit``), with their rank
    correlations; the others as in priors/serving_2026.toml."""
    base = tomllib.loads(PRIORS.read_text())["priors"]
    posterior = result.posterior
    draws = {n: np.asarray(posterior[n].isel(scenario=0) if "scenario" in posterior[n].dims else posterior[n],
                           dtype=float).ravel() for n in CALIBRATED_PRIORS}
    lines = ["# Serving efficiencies calibrated on NVIDIA's measured throughput (figures.md 9a, 10a):",
             "# the posterior of `sim calibrate` on examples/serving/measured.csv",
             f"# ({label}), each fitted by maximum likelihood (`sim fit`), their",
             "# rank correlations below. Made by examples/serving/calibrate.py; do not edit.",
             "", 'title = "Serving efficiencies calibrated on measured throughput (2026)"', ""]
    for name, table in base.items():
        if name in CALIBRATED_PRIORS:
            fit = fit_data(draws[name], unit=table["unit"], name=name, gof_samples=0,
                           families=["beta"] if table["unit"] == "fraction" else ["lognormal", "gamma", "loglogistic"],
                           label=f"the posterior of {name} ({label})")
            lines.append(fit.priors_text())
        else:
            lines.append(f"[priors.{name}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
            lines.append("")
    rho = stats.spearmanr(np.column_stack([draws[n] for n in CALIBRATED_PRIORS])).statistic
    lines += ["[correlations]", f"names = {toml_value(list(CALIBRATED_PRIORS))}", "matrix = ["]
    lines += [f"  {toml_value([round(float(v), 3) for v in row])}," for row in rho]
    lines += ["]", ""]
    return "\n".join(lines)


def predict(rows: list[dict], priors_text: str) -> pd.DataFrame:
    """``sim serving --cases`` on ``rows`` with the priors of ``priors_text``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "serving_calibrated.toml"
        path.write_text(priors_text)
        return serving(rows, file=str(MEASURED), priors=str(path), configuration=str(CONFIGURATION),
                       catalogues=str(ROOT / "priors" / "catalogues")).table


def leave_one_model_out(rows: list[dict], samples: int) -> pd.DataFrame:
    """Each measured model's rows predicted by a calibration on the other models' rows."""
    parts = []
    for model in dict.fromkeys(r["model"] for r in rows):
        print(f"calibrating without {model} ...", file=sys.stderr)
        result = calibrate_on([r for r in rows if r["model"] != model], samples)
        table = predict([r for r in rows if r["model"] == model], posterior_priors(result, f"without {model}"))
        parts.append(table.assign(held_out=model))
    return pd.concat(parts, ignore_index=True)


def summary_table(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per group: rows, the share within 1.5x, the geometric mean of predicted over measured, the share of 90 %
    intervals that cover the measurement, the worst factor (a row's throughput, or its speed per user where
    that is what was measured)."""
    table = table.assign(figure_ratio=table["ratio"].fillna(table["user_ratio"]),
                         figure_covered=table["covered"].fillna(table["user_covered"]))

    def one(part):
        ratio = part["figure_ratio"].astype(float)
        return pd.Series({"rows": len(part), "within 1.5x": ((ratio <= 1.5) & (ratio >= 1 / 1.5)).mean(),
                          "geometric mean": float(np.exp(np.log(ratio).mean())),
                          "90 % intervals covering": part["figure_covered"].astype(bool).mean(),
                          "worst factor": float(np.exp(np.abs(np.log(ratio)).max()))})

    groups = [(name, one(part)) for name, part in table.groupby(by, sort=False)]
    groups += [(f"all {kind}", one(table[table["architecture"] == kind])) for kind in ("dense", "moe")]
    return pd.DataFrame({name: s for name, s in groups}).T


def markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join([frame.index.name or "", *frame.columns]) + " |"
    lines = [header, "|" + "---|" * (len(frame.columns) + 1)]
    for name, row in frame.iterrows():
        cells = [f"{int(v)}" if k == "rows" else f"{v:.0%}" if k in ("within 1.5x", "90 % intervals covering")
                 else f"{v:.2f}" for k, v in row.items()]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000, help="samples of each calibration's run")
    parser.add_argument("--no-cross-validation", action="store_true", help="calibrate on every row only")
    args = parser.parse_args(argv)
    rows = read_csv(MEASURED, "measured serving throughput")
    print("calibrating on every measured row ...", file=sys.stderr)
    result = calibrate_on(rows, args.samples)
    CALIBRATED.write_text(posterior_priors(result, "every row"))
    print(f"wrote {CALIBRATED.relative_to(ROOT)} ({result.method}, effective sample size {result.ess:,.0f})")
    fitted = predict(rows, CALIBRATED.read_text())
    print("\nCalibrated on every row, predicting them:\n")
    print(markdown(summary_table(fitted, "model").rename_axis("model")))
    if args.no_cross_validation:
        return 0
    held = leave_one_model_out(rows, args.samples)
    held.to_csv(VALIDATION, index=False)
    print(f"\nLeave one model out (wrote {VALIDATION.relative_to(ROOT)}):\n")
    print(markdown(summary_table(held, "held_out").rename_axis("held-out model")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
