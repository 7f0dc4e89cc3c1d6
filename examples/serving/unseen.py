"""Check the calibrated serving model on NVIDIA's measurements that figures.md does not hold.

Run from the project's folder::

    python examples/serving/unseen.py

``unseen.csv`` holds every row of NVIDIA's TensorRT-LLM performance overview
(``docs/source/performance/perf-overview.md``, the source of figures.md 9a and
10a, grade A) that ``measured.csv`` does not: three models the calibration
never saw (Llama 3.1 405B, Llama 4 Maverick, Qwen3-235B-A22B), shapes and
chips of the four it saw, and pipeline-parallel layouts on PCIe cards, a
kind of layout none of its rows has. ``sim serving``'s function predicts
each row on ``priors/serving_calibrated_2026.toml``; the tables printed
(markdown) are the README's: by model, then by pipeline depth.

``newer.csv`` holds the 150 rows of the overview's next release
(``docs/source/developer-guide/perf-overview.md``, commit 585c756, published
per GPU and multiplied here by the chips): newer software on the same chips,
two more models the calibration never saw (gpt-oss-120b and -20b) and longer
sequences (up to 32,768 tokens). gpt-oss runs its MXFP4 experts with MXFP8
activations on Blackwell and bf16 ones on Hopper (NVIDIA's gpt-oss deployment
guide), the catalogue's ``mxfp4_fp8`` and ``mxfp4_bf16``. Its tables follow:
by model, then by chip.

Last, the Grace host: each release's GB200 throughput over B200's for the
same model, layout, precision and shape, measured and as the model has it
(its ``arm_host_slowdown`` calibrated on ``measured.csv``): shape by shape
for the calibration's release, the range over the shapes for the next.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim._files import read_csv
from sim.studies.serving import serving

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from calibrate import MEASURED, markdown, summary_table  # noqa: E402

UNSEEN = HERE / "unseen.csv"
NEWER = HERE / "newer.csv"


def predicted(path: Path = UNSEEN) -> pd.DataFrame:
    """The rows of ``path`` with their predictions, each marked by whether its model was calibrated on."""
    seen = {r["model"] for r in read_csv(MEASURED, "measured serving throughput")}
    rows = read_csv(path, "serving throughput not calibrated on")
    table = serving(rows, file=str(path.relative_to(ROOT)), catalogues=str(ROOT / "priors" / "catalogues"),
                    priors=str(ROOT / "priors" / "serving_calibrated_2026.toml"),
                    configuration=str(ROOT / "priors" / "serving_configuration.toml")).table
    table["model seen"] = [m if m in seen else f"{m} (new)" for m in table["model"]]
    table["pipeline"] = [f"{p} stage{'s' * (int(p) > 1)}" for p in table["pipeline_parallel"]]
    return table


def tables(table: pd.DataFrame) -> tuple[str, str]:
    by_model = markdown(summary_table(table, "model seen").rename_axis("model"))
    pcie = table[table["accelerator"] == "rtx_pro_6000"].sort_values("pipeline_parallel", key=lambda p: p.astype(int),
                                                                    kind="stable")
    by_depth = markdown(summary_table(pcie, "pipeline").iloc[:-2].rename_axis("RTX PRO 6000 rows, pipeline"))
    return by_model, by_depth


def newer_tables(table: pd.DataFrame) -> tuple[str, str]:
    """The next release's rows by model and by chip."""
    by_model = markdown(summary_table(table, "model seen").rename_axis("model"))
    by_chip = markdown(summary_table(table, "accelerator").iloc[:-2].rename_axis("chip"))
    return by_model, by_chip


def grace_over_blackwell(table: pd.DataFrame) -> pd.DataFrame:
    """GB200's throughput over B200's where a release measured both for the same model, layout, precision and
    shape: ``measured``, and ``predicted`` (of the predicted medians)."""
    key = ["model", "shape", "tensor_parallel", "expert_parallel", "pipeline_parallel", "precision"]
    table = table.assign(shape=table["input_tokens"].astype(str) + "/" + table["output_tokens"].astype(str),
                         measured=pd.to_numeric(table["measured_output_tokens_per_second"], errors="coerce"),
                         predicted=table["predicted_median"].astype(float))
    chip = {name: table[table["accelerator"] == name].set_index(key)[["measured", "predicted"]]
            for name in ("b200", "gb200")}
    return (chip["gb200"] / chip["b200"]).dropna().reset_index()[["model", "shape", "measured", "predicted"]]


def grace_tables(seen: pd.DataFrame, newer: pd.DataFrame) -> tuple[str, str]:
    """GB200 over B200: the calibration's MoE rows shape by shape, and the next release's range by model."""
    old = grace_over_blackwell(seen)
    old = old[old["model"] != "llama33_70b"]
    models = list(dict.fromkeys(old["model"]))
    old = old.pivot(index="shape", columns="model", values=["measured", "predicted"])
    shapes = sorted(old.index, key=lambda s: tuple(int(n) for n in s.split("/")))
    lines = ["| shape | " + " | ".join(f"{m} {what}" for m in models for what in ("measured", "model's")) + " |",
             "|" + "---|" * (2 * len(models) + 1)]
    for shape in shapes:
        cells = [old.loc[shape, (what, m)] for m in models for what in ("measured", "predicted")]
        lines.append("| " + " | ".join([shape, *("" if pd.isna(v) else f"{v:.2f}" for v in cells)]) + " |")
    new = grace_over_blackwell(newer)
    later = ["| model | shapes | measured | model's |", "|---|---|---|---|"]
    for m, part in new.groupby("model", sort=False):
        spans = [f"{part[what].min():.2f}-{part[what].max():.2f}" for what in ("measured", "predicted")]
        later.append(f"| {m} | {len(part)} | {spans[0]} | {spans[1]} |")
    return "\n".join(lines), "\n".join(later)


def main() -> int:
    by_model, by_depth = tables(predicted())
    print(f"{UNSEEN.relative_to(ROOT)}, by model:\n\n{by_model}\n\nand its PCIe rows by pipeline depth:\n\n{by_depth}")
    newer = predicted(NEWER)
    by_model, by_chip = newer_tables(newer)
    print(f"\n{NEWER.relative_to(ROOT)} (the next release), by model:\n\n{by_model}\n\nand by chip:\n\n{by_chip}")
    old, later = grace_tables(predicted(MEASURED), newer)
    print(f"\nGB200 over B200, the calibration's release (MoE rows):\n\n{old}\n\nthe next release:\n\n{later}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
