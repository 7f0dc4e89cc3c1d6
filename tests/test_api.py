"""Every command is a library function (sim.api): called directly, each gives what the command line wrote or printed.

One project copy is run through the command line once (the default
experiment, 3,000 samples: a run, its sensitivity, its decision with a stress
test and a goal seek, its report); each test calls the command's function on
the same experiment and saved run and compares with the files the command
wrote, or with what it printed.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim import store
from sim.cli import main
from sim.report import build_report, decision_files, render, sensitivity_files, summary_table
from sim.report.tables import calibration_files
from sim.report.console import check_view, models_view, point_view

from .helpers import ROOT

SAMPLES = 3000
SENSITIVITY = dict(methods=["rank", "given", "tornado", "spider", "target", "sobol"], sobol_n=64, resamples=20)
DECISION = dict(stress=("provider_gross_margin", 0.0, 0.1), seek="api_price_per_1k_tokens", target=0.9,
                how="scale")
SELECT = [("scenario", "baseline"), ("architecture", "two_stage")]
OBSERVATIONS = "examples/calibration/searches_2022.toml"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The project copy, after `sim run`, `sim sensitivity`, `sim decide` and `sim report` (in that order)."""
    root = tmp_path_factory.mktemp("api")
    for folder in ("priors", "experiments", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert main(["run", "--samples", str(SAMPLES), "--sobol-n", "64", "--no-report"]) == 0
        assert main(["sensitivity", "--method", ",".join(SENSITIVITY["methods"]), "--sobol-n", "64",
                     "--resamples", "20"]) == 0
        assert main(["decide", "--stress", "provider_gross_margin", "0", "10", "--seek", "api_price_per_1k_tokens",
                     "--how", "scale", "--target", "0.9", "--select", "scenario=baseline",
                     "--select", "architecture=two_stage"]) == 0
        assert main(["report", "--sobol-n", "64"]) == 0
        assert main(["calibrate", "--observations", OBSERVATIONS]) == 0
    return root


@pytest.fixture(autouse=True)
def _in_project(made, monkeypatch):
    monkeypatch.chdir(made)  # paths as the command line gave them: relative to the project


@pytest.fixture(scope="module")
def experiment(made):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(made)
        return sim.load_experiment("experiments/search_cost.toml")


@pytest.fixture(scope="module")
def saved(made, experiment):
    """The experiment as the run was made, and the saved run, as the store reads them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(made)
        return store.load_run(experiment, "outputs")


def _folder(made):
    return made / "outputs" / "search_cost"


def _same_files(written: dict, folder):
    """Tables equal to the CSV files (as CSV text, full precision) and Datasets equal to the NetCDF files."""
    for name, value in written.items():
        if isinstance(value, pd.DataFrame):
            assert value.to_csv(index=False) == (folder / name).read_text(), name
        else:
            on_disk = xr.load_dataset(folder / name)
            flags = [n for n, v in value.data_vars.items() if v.dtype == bool]
            xr.testing.assert_identical(value.assign({n: value[n].astype("i1") for n in flags}), on_disk)


def test_run_is_the_saved_run(made, experiment):
    ds = sim.run(experiment, samples=SAMPLES)
    summary = sim.summarize_run(ds)
    folder = _folder(made)
    on_disk = xr.load_dataset(folder / "samples.nc")
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].values, on_disk[name].values)
    assert {k: v for k, v in ds.attrs.items() if k != "created"} == \
        {k: v for k, v in on_disk.attrs.items() if k != "created"}
    xr.testing.assert_allclose(summary.drop_attrs(), xr.load_dataset(folder / "summary.nc").drop_attrs(), rtol=0,
                               atol=0)
    assert summary_table(summary).to_csv(index=False) == (folder / "summary.csv").read_text()


def test_streamed_and_precise_runs_are_the_commands(made, experiment, capsys, tmp_path):
    assert main(["run", "--stream", "--samples", "4096", "--no-report", "--out", str(tmp_path / "s")]) == 0
    streamed = sim.stream_summary(experiment, samples=4096)
    xr.testing.assert_identical(streamed.drop_attrs(), xr.load_dataset(tmp_path / "s" / "search_cost" / "summary.nc")
                                .drop_attrs())
    assert main(["run", "--precision", "0.05", "--max-samples", "16384", "--no-report", "--out",
                 str(tmp_path / "p")]) == 0
    result = sim.run_to_precision(experiment, 0.05, max_samples=16384)
    assert result.message in capsys.readouterr().out
    on_disk = xr.load_dataset(tmp_path / "p" / "search_cost" / "samples.nc")
    np.testing.assert_array_equal(result.dataset["cost_per_query"].values, on_disk["cost_per_query"].values)


def test_sensitivity_is_the_commands_files(made, saved):
    recorded, ds = saved
    result = sim.sensitivity(recorded, ds, **SENSITIVITY)
    assert list(result.results) == SENSITIVITY["methods"]
    # 15 drawn priors (the API price is fixed): 2 d + 1 tornado runs, 7 d + 1 spider runs, n (d + 2) Sobol' points
    assert result.drawn == 15 and result.evaluations == ("tornado 31", "spider 106", "Sobol' 1,088")
    _same_files(sensitivity_files(result), _folder(made) / "sensitivity")


def test_sensitivity_options_are_checked_before_a_run_is_read(experiment):
    opts = sim.sensitivity_options(experiment, methods=["rank", "target"])
    assert opts.output == "cost_per_query" and opts.region.threshold == "revenue_per_query" and opts.region.above
    with pytest.raises(sim.SimError, match="--method: unknown method 'nope'"):
        sim.sensitivity_options(experiment, methods=["nope"])


def test_decide_is_the_commands_files(made, saved):
    recorded, ds = saved
    result = sim.decide(recorded, ds, select=SELECT, **DECISION)
    assert result.seek.value is not None and result.seek.achieved == pytest.approx(0.9, abs=0.01)
    _same_files(decision_files(result), _folder(made) / "decision")


def test_calibrate_is_the_commands_files(made, saved):
    recorded, ds = saved
    result = sim.calibrate(recorded, ds, [OBSERVATIONS])
    assert result.method == "importance" and result.conflicts == []
    files = calibration_files(result)
    posterior = files.pop("posterior.nc")
    # the posterior run as written, its attrs (JSON text, numbers) as NetCDF keeps them
    on_disk = xr.load_dataset(_folder(made) / "calibration" / "posterior.nc")
    xr.testing.assert_equal(posterior, on_disk)
    assert on_disk.attrs["calibration"] == posterior.attrs["calibration"]
    _same_files(files, _folder(made) / "calibration")


def test_report_content_renders_the_commands_report(made, saved):
    """The same content gives the same document: every table file, and the Markdown but for its build time."""
    recorded, ds = saved
    summary = store.saved_summary(_folder(made), ds.attrs)
    content = sim.report_content(recorded, ds, summary=summary, sobol_n=64, out="outputs")
    rendered = render(build_report(content))
    folder = _folder(made)
    assert sorted(rendered.tables) == sorted(p.stem for p in (folder / "tables").glob("*.csv"))
    built = [line for line in rendered.markdown.splitlines() if "report built" not in line]
    on_disk = [line for line in (folder / "report.md").read_text().splitlines() if "report built" not in line]
    assert built == on_disk
    _same_files({f"{name}.csv": frame for name, frame in rendered.tables.items() if name != "run"}, folder / "tables")


def test_point_check_validate_and_models_print_what_the_functions_return(made, experiment, capsys):
    assert main(["point"]) == 0
    assert capsys.readouterr().out == point_view(experiment, sim.point(experiment)) + "\n"
    assert main(["check", "--root", str(ROOT)]) == 0
    assert capsys.readouterr().out == check_view(sim.check(root=ROOT)) + "\n"
    assert main(["validate", "experiments/search_cost.toml"]) == 0
    assert capsys.readouterr().out == f"ok: experiments/search_cost.toml: {sim.validate('experiments/search_cost.toml')}\n"
    assert main(["models"]) == 0
    assert capsys.readouterr().out == models_view(sim.api.models()) + "\n"


def test_a_what_if_is_the_run_of_its_scenario(made, experiment):
    """sim explore's function: unchanged, a what-if of the saved run's size and seed is that run's baseline."""
    shown = sim.what_if(experiment, "baseline", samples=SAMPLES).results()
    on_disk = xr.load_dataset(_folder(made) / "summary.nc")
    (cost, revenue), measures = next(iter(shown["pairs"].items()))
    np.testing.assert_array_equal(measures["p_loss"].values,
                                  on_disk[f"p_{cost}_gt_{revenue}"].sel(scenario=["baseline"]).values)
