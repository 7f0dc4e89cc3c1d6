"""`sim serving`: one configuration, a table of cases, the errors that name a row; and how the calibrated serving
model meets NVIDIA's measurements."""

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from sim import api

from ..helpers import ROOT, cli, listing, one_line_error, write

CASES = "model,accelerator,tensor_parallel,expert_parallel,precision,input_tokens,output_tokens\n"


@pytest.fixture
def served(project):
    shutil.copytree(ROOT / "examples", project / "examples")
    return project


def test_one_configuration_prints_each_metric_with_its_interval(served, capsys):
    code, out, err = cli(capsys, "serving", "llama33_70b", "h100", "--tp", "2", "--precision", "fp8",
                         "--input-tokens", "1000", "--output-tokens", "1000")
    assert code == 0, err
    assert out.startswith("llama33_70b on 2 x h100 (tensor 2, expert 1, pipeline 1), fp8, 1,000 input and 1,000 "
                          "output tokens per request")
    for label in ("output tokens/s of the group", "output tokens/s per chip", "tokens/s per user",
                  "time to first token, s", "USD per million output tokens (full load)"):
        assert label in out
    # same seed, same numbers
    assert cli(capsys, "serving", "llama33_70b", "h100", "--tp", "2")[1] == out


def test_the_median_sits_inside_its_interval_and_per_chip_is_the_group_over_the_chips(served):
    result = api.serving([{"model": "qwen3_30b_a3b", "accelerator": "b200", "tensor_parallel": 4,
                           "expert_parallel": 4, "attention_data_parallel": 1, "precision": "fp4",
                           "input_tokens": 1000, "output_tokens": 1000}])
    m = result.metrics
    for metric in m.index.get_level_values("metric").unique():
        row = m.loc[metric].iloc[0]
        assert row["p05"] <= row["median"] <= row["p95"], metric
    group, chip = (m.loc[k].iloc[0]["point"] for k in ("output_tokens_per_second", "output_tokens_per_second_chip"))
    assert chip == pytest.approx(group / 4, rel=1e-12)


@pytest.mark.parametrize("args, message", [
    (["llama31_405b", "h100"], "llama31_405b at fp8 on 1 x h100 (pipeline 1) does not fit: 409.2 GB of weights per "
                               "chip of 85.9 GB leave no room for one request's KV cache; use more chips or a "
                               "narrower precision"),
    (["llama3x", "h100"], "MODEL: 'llama3x' is not in priors/catalogues/models.toml; valid: gpt3"),
    (["llama33_70b", "h1000"], "ACCELERATOR: 'h1000' is not in priors/catalogues/accelerators.toml"),
    (["llama33_70b", "h100", "--precision", "fp6"], "--precision: 'fp6' is not in priors/catalogues/precisions.toml; "
                                                    "valid: fp4, fp8, bf16"),
    (["qwen3_30b_a3b", "h100", "--tp", "4", "--ep", "3"], "--ep: expert parallelism (3) must divide --tp (4)"),
    (["llama33_70b"], "name a model and an accelerator"),
    (["--cases", "examples/serving/latency.csv"], "--out: name the folder to write serving.csv in"),
])
def test_a_bad_configuration_is_one_line(served, capsys, args, message):
    assert message in one_line_error(capsys, ["serving", *args])


def test_cases_write_the_inputs_with_their_predictions(served, capsys):
    write(served / "cases.csv", CASES + "llama33_70b,h200,1,1,fp8,1000,1000\nqwen3_30b_a3b,b200,1,1,fp4,128,2048\n")
    code, out, err = cli(capsys, "serving", "--cases", "cases.csv", "--out", "res")
    assert code == 0, err
    table = pd.read_csv(served / "res" / "serving.csv")
    assert list(table["model"]) == ["llama33_70b", "qwen3_30b_a3b"]
    assert {"predicted_point", "predicted_median", "predicted_p05", "predicted_p95", "chips"} <= set(table)
    assert "ratio" not in table  # nothing measured
    assert list(table["architecture"]) == ["dense", "moe"]
    assert "wrote res/serving.csv" in out


@pytest.mark.parametrize("row, message", [
    ("llama33_70b,h100,1,1,bf16,1000,1000", "cases.csv: row 3: llama33_70b at bf16 on 1 x h100 (pipeline 1) does "
                                            "not fit"),
    ("llama33_70b,h100,2,1,fp8,1000,lots", "cases.csv: row 3: output_tokens must be a number, got 'lots'"),
    ("llama33_70b,h100,2.5,1,fp8,1000,10", "cases.csv: row 3: tensor_parallel must be a whole number of at least 1"),
    ("llama33_70b,tpu9,2,1,fp8,1000,10", "cases.csv: row 3: accelerator 'tpu9' is not in the accelerator catalogue"),
])
def test_a_bad_row_is_named_and_nothing_is_written(served, capsys, row, message):
    write(served / "cases.csv", CASES + "llama33_70b,h200,1,1,fp8,1000,1000\n" + row + "\n")
    before = listing(served)
    assert message in one_line_error(capsys, ["serving", "--cases", "cases.csv", "--out", "res"])
    assert listing(served) == before


@pytest.mark.parametrize("column, value", [("synchronised_arrivals", "2"), ("prefix_cache_hit_rate", "-0.1"),
                                           ("acceptance_rate", "1.5")])
def test_a_share_outside_0_to_1_is_named(served, capsys, column, value):
    write(served / "cases.csv", CASES.rstrip("\n") + f",{column}\nllama33_70b,h100,2,1,fp8,1000,1000,{value}\n")
    before = listing(served)
    assert one_line_error(capsys, ["serving", "--cases", "cases.csv", "--out", "res"]).endswith(
        f"cases.csv: row 2: {column} must be a share from 0 to 1, got '{value}'")
    assert listing(served) == before


def test_an_unknown_column_is_named(served, capsys):
    write(served / "cases.csv", "model,accelerator,tp\nllama33_70b,h100,2\n")
    assert one_line_error(capsys, ["serving", "--cases", "cases.csv", "--out", "res"]).endswith(
        "cases.csv: tp: unknown column; valid: model, accelerator, tensor_parallel, precision, input_tokens, "
        "output_tokens, expert_parallel, pipeline_parallel, attention_data_parallel, draft_tokens, acceptance_rate, "
        "prefix_cache_hit_rate, synchronised_arrivals, max_batch, price_per_chip_hour, case, "
        "measured_output_tokens_per_second, measured_tokens_per_second_user, source")


def test_the_calibrated_model_on_nvidias_measurements(served):
    """The calibrated serving model on the rows it was calibrated on (figures.md 9a, 10a), issue's thresholds: the
    geometric mean of predicted over measured within 0.8-1.25 for dense and for MoE models, 90 % intervals covering
    at least 75 %, and every row within a factor of 1.5 (README, serving validation)."""
    from sim._files import read_csv

    result = api.serving(read_csv("examples/serving/measured.csv"), file="examples/serving/measured.csv")
    s = result.summary()
    assert s["rows"] == 117
    assert 0.8 <= s["geomean_dense"] <= 1.25 and 0.8 <= s["geomean_moe"] <= 1.25
    assert s["covered"] >= 0.75 and s["within_1_5x"] == 1.0 and s["worst"] < 1.5


def test_deepseek_r1_per_user_speed_at_batch_1(served):
    """NVIDIA's DeepSeek-R1 on 8 B200 at batch 1: 67 tokens/s (its first software), 111 (the kernels of its
    record, calibrated on) and 253 with three drafted tokens (out of sample): each within 1.5x."""
    from sim._files import read_csv

    table = api.serving(read_csv("examples/serving/latency.csv"), file="examples/serving/latency.csv").table
    ratio = dict(zip(table["case"], table["user_ratio"]))
    assert all(1 / 1.5 <= r <= 1.5 for r in ratio.values()), ratio
    speed = dict(zip(table["case"], table["user_median"]))
    gain = speed["deepseek_r1/b200/tp8/fp4/batch1/mtp3"] / speed["deepseek_r1/b200/tp8/fp4/batch1"]
    # NVIDIA measured 2.28x from three drafts at its record's kernels; the model's drafts and acceptance give
    assert gain == pytest.approx(2.28, rel=0.1)
    assert math.isfinite(float(np.mean(table["user_p95"])))


def test_the_readme_cross_validation_table_is_the_shipped_validation():
    """The README's leave-one-model-out table is what examples/serving/calibrate.py makes of validation.csv, the
    predictions it wrote (remaking them takes ten minutes: the script is run by hand after a change of physics)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("calibrate", ROOT / "examples" / "serving" / "calibrate.py")
    calibrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calibrate)
    held = pd.read_csv(ROOT / "examples" / "serving" / "validation.csv")
    table = calibrate.markdown(calibrate.summary_table(held, "held_out").rename_axis("held-out model"))
    assert table in (ROOT / "README.md").read_text()


def test_deepseek_r1_on_eight_gpus_out_of_sample(served):
    """NVIDIA's DeepSeek-R1 runs of its performance blog (examples/serving/deepseek_r1.csv), none of which the
    calibration saw: at maximum throughput on 8 H200 (fp8) and 8 B200 (fp4), expert parallel with attention data
    parallelism, and at batch 1 on 8 H200 with three drafted tokens. Every figure (total and per-user throughput)
    within the issue's 1.5x, and every 90 % interval covering its measurement."""
    from sim._files import read_csv

    table = api.serving(read_csv("examples/serving/deepseek_r1.csv"), file="examples/serving/deepseek_r1.csv").table
    ratios = pd.concat([table["ratio"], table["user_ratio"]]).dropna()
    covered = pd.concat([table["covered"], table["user_covered"]]).dropna()
    assert len(ratios) == 5 and all(1 / 1.5 <= r <= 1.5 for r in ratios), ratios.tolist()
    assert len(covered) == 5 and covered.astype(bool).all()


def test_nvidia_rows_the_calibration_never_saw(served, capsys, monkeypatch):
    """examples/serving/unseen.py on every row of NVIDIA's performance overview that figures.md does not hold: three
    models the calibration never saw (Llama 3.1 405B, Llama 4 Maverick, Qwen3-235B-A22B), other shapes and chips of
    the four it saw, and pipelines on PCIe cards; and the 150 rows of the overview's next release; and GB200 over
    B200 in both releases. Its six tables are the README's. Off pipelines of four or more
    stages (which the model is known to put too fast: the README says so), the issue's thresholds hold out of
    sample: every row within 1.5x, the geometric mean of dense and of MoE rows within 0.8-1.25, and the 90 %
    intervals covering at least 75 %."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("unseen", ROOT / "examples" / "serving" / "unseen.py")
    unseen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unseen)
    table, newer, seen = (unseen.predicted(path) for path in (unseen.UNSEEN, unseen.NEWER, unseen.MEASURED))
    # predicted once: the command prints the same rows
    by_path = {unseen.UNSEEN: table, unseen.NEWER: newer, unseen.MEASURED: seen}
    monkeypatch.setattr(unseen, "predicted", lambda path=unseen.UNSEEN: by_path[path])
    assert unseen.main() == 0  # the README's command: it prints the README's six tables
    printed = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text()
    for shown in (*unseen.tables(table), *unseen.newer_tables(newer), *unseen.grace_tables(seen, newer)):
        assert shown in readme and shown in printed
    # GB200 over B200 in the calibration's release: Scout's 1,000/1,000 lies below both shapes beside it, on
    # the chips the model follows at every other shape within 10 %
    grace = unseen.grace_over_blackwell(seen).set_index(["model", "shape"])
    scout = grace.loc["llama4_scout"]
    assert scout.loc["1000/1000", "measured"] < 0.8 * scout.loc[["1000/2000", "500/2000"], "measured"].min()
    others = scout.drop(index="1000/1000")
    assert (np.abs(np.log(others["predicted"] / others["measured"])) < np.log(1.1)).all(), others
    # the next release (newer software, gpt-oss new): the README's count of rows within 1.5x, and the issue's
    # geometric-mean and coverage thresholds, which hold there too
    ratio = newer["ratio"].astype(float)
    within = int(((ratio <= 1.5) & (ratio >= 1 / 1.5)).sum())
    assert f"{within} of the {len(newer)} rows lie within 1.5x" in " ".join(readme.split())
    for kind in ("dense", "moe"):
        assert 0.8 <= float(np.exp(np.log(ratio[newer["architecture"] == kind]).mean())) <= 1.25
    assert newer["covered"].astype(bool).mean() >= 0.75
    shallow = table[table["pipeline_parallel"].astype(int) < 4]
    assert {"llama31_405b", "llama4_maverick", "qwen3_235b_a22b"} <= set(shallow["model"])
    ratio = shallow["ratio"].astype(float)
    assert ((ratio <= 1.5) & (ratio >= 1 / 1.5)).all(), shallow.loc[(ratio > 1.5) | (ratio < 1 / 1.5), "case"].tolist()
    for kind in ("dense", "moe"):
        geomean = float(np.exp(np.log(ratio[shallow["architecture"] == kind]).mean()))
        assert 0.8 <= geomean <= 1.25, (kind, geomean)
    assert shallow["covered"].astype(bool).mean() >= 0.75
