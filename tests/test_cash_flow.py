"""Cash flows over periods: the ``period`` sweep, ``cumsum`` and ``total`` in formulas, and the GPU purchase
experiment (experiments/gpu_cash_flow.toml) through every command."""

import urllib.request

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.cli import main

from . import browser
from .helpers import ROOT, cli, one_line_error, write

EXPERIMENT = ROOT / "experiments" / "gpu_cash_flow.toml"


def _by_hand(p: dict) -> dict:
    """The experiment's cash flows at given prior values, written out year by year."""
    purchase = p["chip_price"] * p["server_multiplier"] * (1 + p["networking_markup"])
    used_hours = p["utilisation"] * 8760
    running = p["chip_power_kw"] * (used_hours * p["pue"] * p["electricity_price_per_kwh"]
                                    + p["colocation_usd_per_kw_month"] * 12)
    rent = [0.0] + [p["price_per_chip_hour"] * (1 - p["rental_decline_per_year"]) ** (t - 1) * used_hours
                    for t in range(1, 6)]
    flows = [-purchase] + [rent[t] - running for t in range(1, 6)]
    npv = sum(f / (1 + p["cost_of_capital"]) ** t for t, f in enumerate(flows))
    cumulative = np.cumsum(flows)
    first = next((t for t in range(1, 6) if cumulative[t] >= 0), None)
    payback = 5.0 if first is None else first - 1 + -cumulative[first - 1] / flows[first]
    return {"npv": npv, "payback_years": payback, "cumulative": cumulative, "repaid": float(cumulative[-1] >= 0)}


@pytest.mark.parametrize("scenario", ["h100", "b200"])
def test_npv_and_payback_at_point_values_are_the_hand_calculation(scenario):
    """Rounding only (rtol 1e-12): the same arithmetic in another order."""
    experiment = sim.load_experiment(EXPERIMENT)
    s = next(x for x in experiment.scenarios if x.name == scenario)
    expected = _by_hand({name: prior.point for name, prior in s.priors.items()})
    ds = sim.point(experiment).sel(scenario=scenario)
    assert float(ds["npv"]) == pytest.approx(expected["npv"], rel=1e-12)
    assert float(ds["payback_years"]) == pytest.approx(expected["payback_years"], rel=1e-12)
    np.testing.assert_allclose(ds["cumulative_cash_flow"].values, expected["cumulative"], rtol=1e-12)
    assert float(ds["repaid"]) == expected["repaid"]
    assert ds["pv_rent_saved"] - ds["pv_cost_of_owning"] == pytest.approx(float(ds["npv"]), rel=1e-12)


def test_it_runs_through_every_command(project, capsys):
    """run (its report with the periods' fan chart), decide (P(NPV < 0) is P(loss)), sensitivity and explore."""
    assert main(["run", "gpu_cash_flow", "--samples", "2000", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "gpu_cash_flow"
    md = (folder / "report.md").read_text()
    assert "## Cumulative net cash flow over the years" in md and "(figures/periods.png)" in md
    ds = xr.load_dataset(folder / "samples.nc")
    capsys.readouterr()
    code, out, _ = cli(capsys, "decide", "gpu_cash_flow")
    assert code == 0 and "The outputs that sum up the periods" in out
    decision = xr.load_dataset(folder / "decision" / "decision.nc")
    periods = pd.read_csv(folder / "decision" / "periods.csv").set_index(["output", "scenario"])
    assert set(periods.index.get_level_values("output")) == {"npv", "payback_years", "repaid"}
    for scenario in ("h100", "b200"):
        npv = ds["npv"].sel(scenario=scenario).values
        assert float(decision["p_profitable"].sel(scenario=scenario)) == pytest.approx(np.mean(npv > 0), abs=1e-12)
        assert float(decision["expected_net_benefit"].sel(scenario=scenario)) == pytest.approx(npv.mean(), rel=1e-9)
        assert periods.loc[("npv", scenario), "p_below_0"] == np.mean(npv < 0)  # P(NPV < 0)
        payback = ds["payback_years"].sel(scenario=scenario).values
        assert periods.loc[("payback_years", scenario), "p50"] == pytest.approx(np.median(payback), rel=1e-12)
    capsys.readouterr()
    code, out, _ = cli(capsys, "sensitivity", "gpu_cash_flow", "--output", "payback_years", "--method", "rank")
    assert code == 0 and "utilisation" in out
    what_if = sim.what_if(sim.load_experiment("experiments/gpu_cash_flow.toml"), "b200", samples=2000)
    p_loss = what_if.change("utilisation", ci90=[0.85, 0.95]).results()["pairs"][("pv_cost_of_owning",
                                                                                  "pv_rent_saved")]["p_loss"]
    # the explorer's change: a fleet used 85-95 % of its hours loses far less often than the run's 50-80 %
    assert float(p_loss.squeeze()) < 0.5 * (1 - float(decision["p_profitable"].sel(scenario="b200")))
    served = browser.Served(project, "gpu_cash_flow", "--samples", "2000")
    try:
        with urllib.request.urlopen(served.url, timeout=60) as page:
            assert page.status == 200
    finally:
        code, _, err = served.stop()
    assert code == 0 and "Traceback" not in err, err


def test_cumsum_outside_the_periods_is_one_line(project, capsys):
    text = EXPERIMENT.read_text().replace('formula = "cumsum(cash_flow)"', 'formula = "cumsum(pv_rent_saved)"')
    write(project / "experiments" / "bad.toml", text)
    err = one_line_error(capsys, ["validate", "experiments/bad.toml"])
    assert "model.outputs.cumulative_cash_flow.formula" in err
    assert "cumsum: works along the period dim ([sweep] period = [first, last]), and its argument has none" in err


@pytest.mark.parametrize("value, said", [
    ("[3, 3]", r"sweep\.period: \[3, 3\] has fewer than two periods"),
    ("[-1, 3]", r"sweep\.period: must be \[first, last\], two whole numbers of periods from 0"),
    ('{ first = 0, last = 12, unit = "mnth" }', r"sweep\.period\.unit: unknown period unit 'mnth'; did you mean "
                                                r"'month'\?"),
])
def test_a_bad_period_sweep_is_one_line(project, capsys, value, said):
    import re

    text = EXPERIMENT.read_text().replace("period = [0, 5]", f"period = {value}")
    write(project / "experiments" / "bad.toml", text)
    assert re.search(said, one_line_error(capsys, ["validate", "experiments/bad.toml"]))


def test_monthly_periods(project):
    """A table gives periods in months: here a discount factor per month, summed over two years, by hand."""
    write(project / "experiments" / "monthly.toml", """priors = ["../priors/ownership_2026.toml"]
[sweep]
period = { first = 0, last = 24, unit = "month" }
[model.constants]
per_year = { value = 1, units = "1/year" }
months_per_year = { value = 12, units = "month/year" }
[model.outputs.discount_factor]
formula = "(1 + cost_of_capital) ** (-period / months_per_year * per_year)"
units = "1"
[model.outputs.months_discounted]
formula = "total(discount_factor)"
units = "1"
""")
    experiment = sim.load_experiment("experiments/monthly.toml")
    assert experiment.sweeps["period"].attrs["units"] == "month" and experiment.sweeps["period"].size == 25
    point = sim.point(experiment)
    expected = sum(1.1 ** (-m / 12) for m in range(25))
    assert float(point["months_discounted"].squeeze()) == pytest.approx(expected, rel=1e-12)


def test_an_exponent_in_a_unit_that_is_not_one_is_refused(project, capsys):
    """Months times 1/year is a pure number of 1/12 per month: the plain evaluation would raise to the months."""
    write(project / "experiments" / "bad.toml", """priors = ["../priors/ownership_2026.toml"]
[sweep]
period = { first = 0, last = 24, unit = "month" }
[model.constants]
per_year = { value = 1, units = "1/year" }
[model.outputs.discount_factor]
formula = "(1 + cost_of_capital) ** (-period * per_year)"
units = "1"
""")
    err = one_line_error(capsys, ["validate", "experiments/bad.toml"])
    assert "** of a number in month/year (1 month/year is 0.0833333): the bare number would be used as it is; " \
           "convert it to a pure number first" in err


@pytest.mark.slow
def test_the_readme_numbers_are_what_the_commands_print(project, capsys):
    """At the experiment's 50,000 samples: the decide lines the README shows, and the numbers it quotes."""
    import re

    import pandas as pd

    readme = (ROOT / "README.md").read_text()
    shown = re.search(r"```console\n\$ sim decide gpu_cash_flow\n(.*?)\.\.\.\n```", readme, re.S)[1].splitlines()
    assert main(["run", "gpu_cash_flow", "--no-report"]) == 0
    capsys.readouterr()
    code, out, _ = cli(capsys, "decide", "gpu_cash_flow")
    assert code == 0 and out.splitlines()[:len(shown)] == shown
    summary = pd.read_csv(project / "outputs" / "gpu_cash_flow" / "summary.csv").set_index(["output", "scenario"])
    text = " ".join(readme.split())
    assert f"a median of {summary.loc[('payback_years', 'b200'), 'p50']:.1f} years for a B200" in text
    assert (f"({summary.loc[('repaid', 'h100'), 'mean']:.2f} for an H100, "
            f"{summary.loc[('repaid', 'b200'), 'mean']:.2f} for a B200)") in text
    npv = summary.loc[("npv", "h100"), "mean"]
    assert f"expected NPV -${-round(npv, -1):,.0f} per GPU" in text
