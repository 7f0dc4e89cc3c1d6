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


def predicted() -> pd.DataFrame:
    """The unseen rows with their predictions, each marked by whether its model was calibrated on."""
    seen = {r["model"] for r in read_csv(MEASURED, "measured serving throughput")}
    rows = read_csv(UNSEEN, "serving throughput not calibrated on")
    table = serving(rows, file=str(UNSEEN.relative_to(ROOT)), catalogues=str(ROOT / "priors" / "catalogues"),
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


def main() -> int:
    by_model, by_depth = tables(predicted())
    print(f"{UNSEEN.relative_to(ROOT)}, by model:\n\n{by_model}\n\nand its PCIe rows by pipeline depth:\n\n{by_depth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
