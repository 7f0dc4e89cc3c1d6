"""``sim fit``: a priors file from data or from quantiles, which validates and runs; bad requests in one line."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from tests.helpers import assert_error, cli, listing, write

EXPERIMENT = """
priors = ["fitted.toml", "elicited.toml"]
samples = 131072
sampler = "sobol"
seed = 1
[model.outputs.cost]
formula = "price"
units = "USD"
role = "cost"
[model.outputs.wait]
formula = "latency"
units = "s"
"""


@pytest.fixture
def data(tmp_path):
    x = stats.gamma(2.5, scale=3.0).rvs(3000, random_state=5)
    return write(tmp_path / "latency.csv", "latency\n" + "\n".join(repr(float(v)) for v in x) + "\n")


def test_fitted_and_elicited_priors_files_validate_and_run(tmp_path, data, capsys):
    code, out, _ = cli(capsys, "fit", data, "--column", "latency", "--unit", "s", "--gof-samples", "19",
                       "--output", tmp_path / "fitted.toml", "--qq", tmp_path / "qq.png")
    assert code == 0
    assert out.splitlines()[2].split()[0] == "gamma"  # the table's first row: the true family
    assert (tmp_path / "qq.png").is_file() and f"wrote {tmp_path / 'fitted.toml'}" in out
    code, out, _ = cli(capsys, "fit", "--quantiles", "0.05=2", "0.5=5", "0.95=20", "--unit", "USD", "--lower", "0",
                       "--name", "price", "--output", tmp_path / "elicited.toml")
    assert code == 0 and 'dist = "metalog"' in out
    code, out, _ = cli(capsys, "validate", tmp_path / "fitted.toml", tmp_path / "elicited.toml")
    assert code == 0 and out.count("ok:") == 2
    exp = write(tmp_path / "e.toml", EXPERIMENT)
    assert cli(capsys, "run", exp, "--no-report", "--out", tmp_path / "out")[0] == 0
    summary = pd.read_csv(tmp_path / "out" / "e" / "summary.csv").set_index("output")
    # the run's quantiles of the elicited price are the expert's within 1 %: a Sobol' design of 2**17 samples puts
    # each marginal quantile within a few thousandths of the prior's own (its ppf passes through them exactly)
    for column, given in (("p05", 2.0), ("p50", 5.0), ("p95", 20.0)):
        assert summary.loc["cost", column] == pytest.approx(given, rel=0.01)
    # the fitted latency's median is the gamma's within 5 % (the fit's standard error is under 2 %)
    assert summary.loc["wait", "p50"] == pytest.approx(stats.gamma(2.5, scale=3.0).median(), rel=0.05)


@pytest.mark.parametrize("args, pattern", [
    (["--unit", "s"], r"give a data file .* or --quantiles"),
    (["DATA", "--unit", "s"], r"--column: name the column"),
    (["DATA", "--column", "nope", "--unit", "s"], r"latency\.csv: nope: no column 'nope'; valid: latency"),
    (["DATA", "--column", "latency", "--unit", "2 USD"], r"--unit: .*has a number inside a unit"),
    (["DATA", "--column", "latency", "--unit", "s", "--families", "beta"], r"--families: beta needs fraction"),
    (["DATA", "--column", "latency", "--unit", "s", "--families", "cauchy"], r"--families: unknown family 'cauchy'"),
    (["--quantiles", "0.05=2", "0.5=1", "0.95=3", "--unit", "USD"], r"--quantiles: values must increase"),
    (["--quantiles", "1.5=2", "--unit", "USD"], r"--quantiles: .*P inside \(0, 1\)"),
    (["DATA", "--column", "latency", "--unit", "s", "--output", "OUT/x.txt"], r"--output: .* must be a file name "
                                                                              r"ending in \.toml"),
])
def test_bad_requests_are_one_line_and_write_nothing(tmp_path, data, capsys, args, pattern):
    args = [str(data) if a == "DATA" else a.replace("OUT", str(tmp_path)) for a in args]
    before = listing(tmp_path)
    assert_error(capsys, ["fit", *args], pattern)
    assert listing(tmp_path) == before


def test_an_existing_file_is_never_replaced(tmp_path, data, capsys):
    write(tmp_path / "fitted.toml", "# mine\n")
    assert_error(capsys, ["fit", data, "--column", "latency", "--unit", "s", "--output", tmp_path / "fitted.toml"],
                 r"--output: .*fitted\.toml exists; sim does not replace it")
    assert (tmp_path / "fitted.toml").read_text() == "# mine\n"
