"""The report's document (sim.report.build) from its content: its sections, and numbers that agree with the run's
tables."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.cli import main
from sim.report.format import display, heading

from .pages import FIGURES, SECTIONS, parse_html


def test_report_files_and_sections(built):
    for name in ("report.html", "report.md", "samples.nc", "summary.csv"):
        assert (built / name).is_file()
    page = parse_html(built / "report.html")
    assert [i for i in page.ids if i in SECTIONS] == SECTIONS
    assert [i[len("figure-"):] for i in page.ids if i.startswith("figure-")] == FIGURES
    # self-contained: every image is embedded, nothing is fetched
    assert len(page.images) == len(FIGURES) and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "http://" not in (built / "report.html").read_text() and "https://" not in (built / "report.html").read_text()
    md = (built / "report.md").read_text()
    assert all(f"](figures/{f}.png)" in md for f in FIGURES)
    assert all(f'<a id="{s}"></a>' in md for s in SECTIONS)
    assert not list(built.glob(".*"))  # no temporary files or folders left behind


def _amount(text: str) -> float:
    number, scale = re.fullmatch(r"(-?\$[0-9.,]+(?:e[-+]\d+)?)(?: (million|billion|trillion))?", text).groups()
    value = float(number.replace("$", "").replace(",", ""))
    return value * {None: 1, "million": 1e6, "billion": 1e9, "trillion": 1e12}[scale]


def _check_percent(text: str, p: float):
    """A percentage as printed (one decimal, or < 0.1 %) against the probability it stands for."""
    if text == "< 0.1 %":
        assert 0 < p < 0.0005
    elif text == "> 99.9 %":
        assert 0.9995 < p < 1
    else:
        assert float(text.rstrip(" %")) == pytest.approx(100 * p, abs=0.05 + 1e-9)


def test_headline_numbers_are_the_summary_tables(built):
    """Every number of the generated text is the summary's, to the 3 significant digits printed (0.5 %)."""
    summary = pd.read_csv(built / "summary.csv")
    md = (built / "report.md").read_text()
    money = r"-?\$[0-9.,]+(?:e[-+]\d+)?(?: (?:million|billion|trillion))?"
    pct = r"(?:< |> )?[0-9.]+ %"
    seen = 0
    for scenario in ("baseline", "gpt35_turbo_2023", "market_2026"):
        for arch in ("chatgpt_equivalent", "two_stage"):
            line = next(li for li in md.splitlines() if li.startswith(f"**{scenario}, {arch}.**"))
            r = summary.query(f"output == 'cost_per_query' and scenario == '{scenario}' and architecture == '{arch}'")
            rev = summary.query(f"output == 'revenue_per_query' and scenario == '{scenario}'")
            amounts = [_amount(a) for a in re.findall(money, line)]
            expected = [r.p50, r.p05, r.p95, r["mean"], 1.96 * r.se_mean, rev.p50, rev.p05, rev.p95]
            assert len(amounts) == len(expected), line
            for got, want in zip(amounts, expected):
                assert got == pytest.approx(want.item(), rel=0.005), line
            p = r[["p_gt_revenue_per_query", "p_gt_revenue_per_query_ci_lower",
                   "p_gt_revenue_per_query_ci_upper"]].to_numpy().ravel()
            tail = line.split("exceeds", 1)[1].replace("95 % Monte Carlo interval", "")
            if p[0] == 0:  # the share as a percentage, as the verdict says it, and the count
                assert "in 0 % of samples" in tail and "none of the 20,000 samples" in tail
            shown = re.findall(pct, tail)
            assert len(shown) == len(p), line
            for text, value in zip(shown, p):
                _check_percent(text, value)
            seen += 1
    assert seen == 6


def test_report_tables_agree_with_the_run(built):
    summary = pd.read_csv(built / "summary.csv")
    # the report's own summary table is the run's, row for row
    shown = pd.read_csv(built / "tables" / "summary.csv")
    merged = shown.merge(summary, on=["output", "scenario", "architecture"], suffixes=("", "_run"), how="left")
    assert len(merged) == len(summary) and np.allclose(merged["p50"], merged["p50_run"], rtol=1e-9)
    # scenario comparison: quantiles from the summary, P(profitable) = 1 - P(cost > revenue)
    sc = pd.read_csv(built / "tables" / "scenarios.csv")
    both = sc.merge(summary[summary.output == "cost_per_query"], on=["scenario", "architecture"], suffixes=("", "_s"))
    assert len(both) == 6
    np.testing.assert_allclose(both["p50"], both["p50_s"], rtol=1e-9)
    np.testing.assert_allclose(both["p_profitable"], 1 - both["p_gt_revenue_per_query"], atol=1e-12)
    # gpt-3.5-turbo's price is a tenth of Davinci's and cost is proportional to price, so on common random
    # numbers every sample is cheaper and the median falls by exactly 90 %
    g = sc[sc.scenario == "gpt35_turbo_2023"]
    np.testing.assert_allclose(g["median_change_pct"], -90.0, rtol=1e-9)
    assert (g["p_below_baseline"] == 1).all()
    base = sc[sc.scenario == "baseline"]
    assert (base[["paired_difference_p05", "paired_difference_p50", "paired_difference_p95"]] == 0).all().all()
    # decision: the same probability computed from the net benefit
    d = pd.read_csv(built / "tables" / "decision.csv").merge(sc, on=["scenario", "architecture"])
    np.testing.assert_allclose(d["p_profitable_x"], d["p_profitable_y"], atol=1e-12)
    ds = xr.load_dataset(built / "samples.nc")
    cost = ds["cost_per_query"].sel(scenario="baseline", architecture="two_stage")
    be = d.query("scenario == 'baseline' and architecture == 'two_stage'")["breakeven_revenue"].item()
    assert be == pytest.approx(float(cost.mean()), rel=1e-9)  # CSV holds 10 significant digits


def test_html_tables_show_the_csv_values(built):
    """Each CSV column shown under its readable name (a unit after it where the table gives one), a value's 95 %
    interval columns folded into its cell, under the value: ``0.6008`` then ``0.5872 to 0.6143``."""
    import re

    page = parse_html(built / "report.html")
    for name in ("scenarios", "decision", "sobol", "evppi", "tornado"):
        frame = pd.read_csv(built / "tables" / f"{name}.csv", keep_default_na=False)
        folded = {c[:-len("_ci_lower")] for c in frame.columns if c.endswith("_ci_lower")}
        columns = [c for c in frame.columns if not c.endswith(("_ci_lower", "_ci_upper"))]
        rows = page.tables[name]
        shown = [re.sub(r" \((95 % interval|[^()]*/[^()]*|USD)\)", "", h) for h in rows[0]["cells"]]
        assert shown == [heading(c) for c in columns]  # readable names of the CSV's columns
        assert len(rows) - 1 == len(frame) > 0
        for row, (_, values) in zip(rows[1:], frame.iterrows()):
            def cell(c):
                v = values[c]
                text = v if isinstance(v, str) else display(v)
                return text + (f"{display(values[c + '_ci_lower'])} to {display(values[c + '_ci_upper'])}"
                               if c in folded else "")
            assert row["cells"] == [cell(c) for c in columns]
    decision = page.tables["decision"][0]["cells"]
    assert "expected net benefit (USD/query) (95 % interval)" in decision and "evpi per year (USD/year)" in decision


def test_priors_table_highlights_each_scenarios_overrides(built):
    page = parse_html(built / "report.html")
    rows = page.tables["priors"]
    header = rows[0]["cells"]
    marked = [dict(zip(header, r["cells"])) for r in rows[1:] if r["highlight"]]
    assert sorted((r["scenario"], r["prior"]) for r in marked) == sorted(
        [("gpt35_turbo_2023", "api_price_per_1k_tokens"), ("market_2026", "api_price_per_1k_tokens"),
         ("market_2026", "output_input_price_ratio"), ("market_2026", "search_revenue"),
         ("market_2026", "searches_per_month_2012"), ("market_2026", "internet_penetration_2012"),
         ("market_2026", "internet_penetration_2020"), ("market_2026", "optimization_factor"),
         ("market_2026", "inhouse_factor"), ("market_2026", "provider_gross_margin")])
    gpt = next(r for r in marked if r["scenario"] == "gpt35_turbo_2023")
    assert gpt["distribution"] == "fixed(0.002)" and gpt["point"] == "0.002"
    base = next(dict(zip(header, r["cells"])) for r in rows[1:]
                if r["cells"][header.index("prior")] == "provider_gross_margin" and not r["highlight"])
    assert base["p05"] == "0.55" and base["p95"] == "0.85" and base["unit"] == "fraction" and base["source"]


def test_metadata_reproduces_the_run(built, tmp_path, monkeypatch):
    ds = xr.load_dataset(built / "samples.nc")
    meta = dict(pd.read_csv(built / "tables" / "run.csv").to_numpy())
    assert meta["priors hash (SHA-256)"] == ds.attrs["priors_hash"] and meta["seed"] == "20230201"
    assert meta["samples"] == "20,000" and meta["sampler"] == "random"
    command = meta["reproduce with"].split()
    assert command[:2] == ["sim", "run"]
    out = tmp_path / "again"
    args = command[1:command.index("--out")] + ["--out", str(out), "--no-report"]
    assert main(args) == 0
    again = xr.load_dataset(out / "search_cost" / "samples.nc")
    for name in ("cost_per_query", "revenue_per_query"):
        np.testing.assert_array_equal(again[name].values, ds[name].values)


def test_report_command_rebuilds_from_the_saved_run(built, capsys, tmp_path):
    copy = shutil.copytree(built.parents[1], tmp_path / "project")  # the session's report stays as it was
    folder = copy / "outputs" / "search_cost"
    before = (folder / "tables" / "scenarios.csv").read_text()
    assert main(["report", str(copy / "experiments" / "search_cost.toml"), "--out", str(copy / "outputs"),
                 "--sobol-n", "512"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (folder / "tables" / "scenarios.csv").read_text() == before  # same run, same numbers


def test_one_scenario_no_revenue_no_sensitivity_states_what_is_absent(project, capsys):
    assert main(["run", "inference_cost", "--samples", "1000", "--no-sensitivity"]) == 0
    folder = project / "outputs" / "inference_cost"
    page = parse_html(folder / "report.html")
    assert [i for i in page.ids if i in SECTIONS] == SECTIONS
    text = (folder / "report.md").read_text()
    assert "> Only one scenario (baseline): there is nothing to compare it with." in text
    assert "> No profitability measures: model 'inference' compares the inference cost per 1,000 tokens with no revenue" in text
    assert "> Sensitivity was not computed for this report (--no-sensitivity)" in text
    # the experiment's [report] select: six offerings, in the file's order
    assert page.tables["summary"][0]["cells"][:3] == ["output", "units", "scenario"]
    heads = [li for li in text.splitlines() if li.startswith("**baseline, ")]
    assert [h.split(".**")[0][len("**baseline, "):] for h in heads] == [
        "a100_aws_1yr", "tpu_v4_gcp_1yr", "h100_lambda", "h200_aws_ondemand", "b200_aws_ondemand", "mi300x_market"]


def test_years_get_a_fan_chart_and_a_table(project, capsys):
    assert main(["run", "trajectory", "--samples", "2000", "--sobol-n", "256"]) == 0
    folder = project / "outputs" / "trajectory"
    page = parse_html(folder / "report.html")
    assert "years" in page.ids and "figure-fan" in page.ids
    years = pd.read_csv(folder / "tables" / "years.csv")
    summary = pd.read_csv(folder / "summary.csv").query("output == 'cost_per_query'")
    assert sorted(years["year"].unique()) == list(range(2023, 2031)) and len(years) == 2 * 2 * 8
    merged = years.merge(summary, on=["scenario", "architecture", "year"], suffixes=("", "_s"))
    np.testing.assert_allclose(merged["p50"], merged["p50_s"], rtol=1e-9)
    assert "The per-cell sections show the final year, 2030" in (folder / "report.md").read_text()


@pytest.mark.parametrize("name", ["inhouse_training", "roofline", "scaling_loss", "search_cost_basis",
                                  "training_cost"])
def test_every_shipped_experiment_reports(project, capsys, name):
    assert main(["run", name, "--samples", "400", "--sobol-n", "256"]) == 0, capsys.readouterr().err
    page = parse_html(project / "outputs" / name / "report.html")
    assert [i for i in page.ids if i in SECTIONS] == SECTIONS
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)


def test_correlated_or_fixed_priors_still_report(project, capsys):
    """Sobol' indices are left out for correlated priors, sensitivity altogether when nothing is drawn."""
    (project / "experiments" / "corr.toml").write_text(
        'model = "search"\npriors = ["../priors/seed_2023.toml"]\n'
        '[correlations]\npairs = [["response_words", "section_words", 0.5]]\n')
    assert main(["run", "corr", "--samples", "1000", "--sobol-n", "256"]) == 0
    text = (project / "outputs" / "corr" / "report.md").read_text()
    assert "> No Sobol' indices: the priors are rank-correlated" in text
    assert "](figures/tornado.png)" in text and "](figures/sobol.png)" not in text
    meta = dict(pd.read_csv(project / "outputs" / "corr" / "tables" / "run.csv").to_numpy())
    assert meta["rank correlations"] == "response_words ~ section_words: 0.5"
    pins = ("prompt_words = 50, response_words = 400, samples_per_query = 5, results_k = 10, section_words = 1000, "
            "cache_hit_rate = 0.3, provider_gross_margin = 0.75, searches_per_month_2012 = 1e11, "
            "internet_penetration_2012 = 0.34, internet_penetration_2020 = 0.6, search_revenue = 1e11, "
            "optimization_factor = 0.25, inhouse_factor = 0.5")
    (project / "experiments" / "fixed.toml").write_text(
        f'model = "search"\npriors = ["../priors/seed_2023.toml"]\n[scenarios.baseline]\nset = {{ {pins} }}\n')
    assert main(["run", "fixed", "--samples", "100"]) == 0
    text = (project / "outputs" / "fixed" / "report.md").read_text()
    assert "> Every prior is fixed: nothing is uncertain, so nothing drives the spread." in text
    # a fixed run is point mode: the headline's median is the article's $0.0656 for the two-stage answer
    assert "**baseline, two_stage.** Median provider's cost per query $0.0656 (90 % interval $0.0656 to $0.0656" in text


def test_large_runs_estimate_shapes_from_their_first_samples(built):
    """Above estimate_samples the figures and EVPPI use the first samples; headline and decision use all."""
    from sim.analysis import decision
    from sim.report import build_report
    from sim.report.document import Table, Text

    experiment = sim.load_experiment(built.parents[1] / "experiments" / "search_cost.toml")
    ds = xr.load_dataset(built / "samples.nc")
    doc = build_report(sim.report_content(experiment, ds, sobol_n=256, estimate_samples=5000))
    texts = [b.text for s in doc.sections for b in s.blocks if isinstance(b, Text)]
    assert any("use the first 5,000 of the 20,000 samples" in t for t in texts)
    table = next(b.frame for s in doc.sections for b in s.blocks if isinstance(b, Table) and b.name == "decision")
    full = decision.decide(ds, evppi_samples=5000)
    np.testing.assert_allclose(table["p_profitable"], full["p_profitable"].transpose("scenario", "architecture")
                               .values.ravel(), atol=1e-12)
    part = decision.evppi(ds.isel(sample=slice(0, 5000)),
                          decision.net_benefit(ds.isel(sample=slice(0, 5000))))
    np.testing.assert_allclose(full["evppi"].values, part.transpose(*full["evppi"].dims).values, atol=1e-15)


def test_verdict_sentences_are_the_decision_datasets(built):
    """One sentence per decision cell, generated from numbers: the loss probability and its interval are the
    summary's P(cost > revenue), the expected gain or loss the decision Dataset's expected net benefit, and what
    would settle it the two priors of largest EVPPI (by their long names), to the digits printed."""
    from sim.analysis import decision as da

    ds = xr.load_dataset(built / "samples.nc")
    d = da.decide(ds, evppi_samples=200_000)  # what the report computes on the same samples
    summary = xr.load_dataset(built / "summary.nc")
    experiment = sim.load_experiment(built.parents[1] / "experiments" / "search_cost.toml")
    md = (built / "report.md").read_text()
    verdict = md.split('<a id="verdict"></a>')[1].split('<a id="headline"></a>')[0]
    lines = [li for li in verdict.splitlines() if li.startswith("**")]
    assert len(lines) == 6  # three scenarios by two architectures
    for line in lines:
        scenario, arch = re.match(r"\*\*(\w+), (\w+):\*\* ", line).groups()
        cell = {"scenario": scenario, "architecture": arch}
        p = float(summary["p_cost_per_query_gt_revenue_per_query"].sel(cell))
        ci = summary["p_cost_per_query_gt_revenue_per_query_ci"].sel(cell).values
        odds = re.search(r"Deploying (loses money in ([<> 0-9.]+ %) "
                         r"of outcomes(?: \(([<> 0-9.]+ %) to ([<> 0-9.]+ %)\))?);", line)
        assert odds, line
        _check_percent(odds.group(2), p)
        if odds.group(3):
            _check_percent(odds.group(3), ci[0])
            _check_percent(odds.group(4), ci[1])
        enb = float(d["expected_net_benefit"].sel(cell))
        money = re.search(r"the expected (gain|loss) is (\$[0-9.,]+(?:e[-+]\d+)?) per query", line)
        assert money.group(1) == ("gain" if enb >= 0 else "loss")
        assert _amount(money.group(2)) == pytest.approx(abs(enb), rel=0.005), line
        ev = d["evppi"].sel(cell)
        ranked = [str(n) for n in ev["input"].values[np.argsort(-ev.values, kind="stable")] if float(ev.sel(input=n)) > 0]
        if ranked:
            names = [experiment.base_priors[n].long_name or n for n in ranked[:2]]
            assert line.endswith(f"; what would settle it is {' and '.join(names)}."), line
        else:
            assert line.endswith("; no single assumption would change the decision."), line
