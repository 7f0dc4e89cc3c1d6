"""The README's "Evidence" section: the calibration it shows is what the commands print at the experiment's own
sample count, its table of what the evidence changed is the posterior report's, and its priors excerpt loads."""

import contextlib
import io
import re
import shutil

import pandas as pd
import pytest

from sim.cli import main

from .helpers import ROOT, write

README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Evidence"):README.index("## Priors\n")]


def _fenced(kind: str = "") -> list[str]:
    """The section's fenced blocks whose fence names ``kind`` (the empty string: no language)."""
    blocks, current, language = [], None, ""
    for line in SECTION.splitlines():
        if line.startswith("```") and current is None:
            current, language = [], line[3:].strip()
        elif line.startswith("```"):
            if language == kind:
                blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The example at the experiment's sample count: run, calibrate, report of the posterior; what calibrate printed."""
    root = tmp_path_factory.mktemp("evidence")
    for folder in ("experiments", "priors", "examples"):
        shutil.copytree(ROOT / folder, root / folder)
    exp, out = str(root / "experiments" / "chat_subscription_2026.toml"), str(root / "outputs")
    observations = str(root / "examples" / "calibration" / "observations.toml")
    assert main(["run", exp, "--no-report", "--out", out]) == 0
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["calibrate", exp, "--observations", observations, "--out", out]) == 0
    assert main(["report", exp, "--posterior", "--out", out]) == 0
    return stdout.getvalue(), root / "outputs" / "chat_subscription_2026" / "calibration"


@pytest.mark.slow
def test_the_calibration_shown_is_what_calibrate_prints(calibrated):
    printed, _ = calibrated
    shown = next(b for b in _fenced() if b.startswith("importance"))
    for line in shown.splitlines():
        assert line.rstrip() in printed.splitlines(), line


@pytest.mark.slow
def test_what_the_evidence_changed_is_the_posterior_reports(calibrated):
    printed, folder = calibrated
    verdict = pd.read_csv(folder / "tables" / "evidence_verdict.csv").set_index(["scenario", "cost_basis"])
    rows = re.findall(r"^\| (\w+) \| (\w+) \| ([\d.]+) \| ([\d.]+) \| ([-\d.]+) \| ([-\d.]+) \|$", SECTION, flags=re.M)
    assert len(rows) == 4
    for scenario, basis, *numbers in rows:
        row = verdict.loc[(scenario, basis)]
        actual = [row.p_loss_before, row.p_loss_after, row.net_benefit_before, row.net_benefit_after]
        for shown, value in zip(numbers, actual):
            digits = len(shown.replace("-", "").replace(".", "").lstrip("0"))
            assert float(f"{value:.{digits}g}") == pytest.approx(float(shown)), (scenario, basis, shown, value)
    posterior = pd.read_csv(folder / "posterior.csv")
    queries = posterior[(posterior.variable == "queries_per_month") & (posterior.scenario == "plus_20")].iloc[0]
    assert f"median {queries.prior_median:,.0f} a month on the $20 tier before, {queries.posterior_median:,.0f} after" \
        in " ".join(SECTION.split())
    ess = re.search(r"importance sampling of the run's 100,000 samples: effective sample size ([\d,]+)", SECTION)
    assert ess and f"effective sample size {ess.group(1)}" in printed


@pytest.mark.slow
def test_the_fit_of_the_example_prices_is_as_said(tmp_path, capsys):
    code = main(["fit", str(ROOT / "examples" / "calibration" / "price_ratios.csv"), "--column", "output_input_ratio",
                 "--unit", "1"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("23 values")
    rows = [line.split() for line in out.splitlines()[2:9]]
    assert rows[0][0] == "gamma" and all(r[-1] == "0.01" for r in rows)  # every family rejected, as the README says


def test_the_toml_excerpts_load_and_are_the_examples(tmp_path):
    from sim.priors import load_priors

    mixture = next(b for b in _fenced("toml") if "mixture" in b)
    assert load_priors(write(tmp_path / "p.toml", mixture))["queries_per_month"].dist == "mixture"
    excerpt = next(b for b in _fenced("toml") if "[observations." in b)
    shipped = (ROOT / "examples" / "calibration" / "observations.toml").read_text().splitlines()
    for line in excerpt.splitlines():
        key = line.split("#")[0].rstrip()
        if key.split(" = ")[0] in ("output", "select", "likelihood", "low", "sd", "unit"):
            assert key in shipped, key
