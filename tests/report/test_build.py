"""The scenario report: its sections, numbers that agree with the run's tables, bad input, and a real browser."""

import html.parser
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sim
from sim.cli import main
from sim.report.build import percent, quantity
from sim.report.document import display, heading

from ..helpers import ROOT

SECTIONS = ["verdict", "headline", "distributions", "decision", "scenarios", "sensitivity", "convergence", "outputs", "priors",
            "reproduce"]
FIGURES = ["distributions", "exceedance", "acceptability", "tornado", "sobol", "rank", "evppi", "convergence",
           "assumptions"]


def _project(root: Path) -> Path:
    for folder in ("priors", "experiments"):
        shutil.copytree(ROOT / folder, root / folder)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The default experiment run (20,000 samples) with its report, in a project copy."""
    root = _project(tmp_path_factory.mktemp("report"))
    code = main(["run", str(root / "experiments" / "search_cost.toml"), "--samples", "20000", "--sobol-n", "2048",
                 "--out", str(root / "outputs")])
    assert code == 0
    return root / "outputs" / "search_cost"


class _Tables(html.parser.HTMLParser):
    """Cells of every ``<table data-table=...>``, rows marked when highlighted; ids of sections and figures."""

    def __init__(self):
        super().__init__()
        self.tables, self.ids, self.images = {}, [], []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "table":
            self._table = self.tables.setdefault(a["data-table"], [])
        elif tag == "tr" and self._table is not None:
            self._row = {"highlight": a.get("class") == "highlight", "cells": []}
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a["src"])

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None


def parse_html(path: Path) -> _Tables:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_files_and_sections(built):
    for name in ("report.html", "report.md", "samples.nc", "summary.csv"):
        assert (built / name).is_file()
    assert sorted(p.stem for p in (built / "figures").glob("*.png")) == sorted(FIGURES)
    for png in (built / "figures").glob("*.png"):
        width, height = _png_size(png.read_bytes())
        assert width >= 400 and height >= 200, png
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
            if p[0] == 0:
                assert "in none of the 20,000 samples" in tail
                p = p[1:]
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
    page = parse_html(built / "report.html")
    for name in ("scenarios", "decision", "sobol", "evppi", "tornado"):
        frame = pd.read_csv(built / "tables" / f"{name}.csv", keep_default_na=False)
        rows = page.tables[name]
        assert rows[0]["cells"] == [heading(c) for c in frame.columns]  # readable names of the CSV's columns
        assert len(rows) - 1 == len(frame) > 0
        for row, values in zip(rows[1:], frame.itertuples(index=False)):
            expected = [display(v) if not isinstance(v, str) else v for v in values]
            assert row["cells"] == expected


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
         ("market_2026", "inhouse_factor")])
    gpt = next(r for r in marked if r["scenario"] == "gpt35_turbo_2023")
    assert gpt["distribution"] == "fixed(0.002)" and gpt["point"] == "0.002"
    base = next(dict(zip(header, r["cells"])) for r in rows[1:]
                if r["cells"][header.index("prior")] == "provider_gross_margin")
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


def test_report_command_rebuilds_from_the_saved_run(built, capsys):
    experiment = built.parents[1] / "experiments" / "search_cost.toml"
    before = (built / "tables" / "scenarios.csv").read_text()
    assert main(["report", str(experiment), "--out", str(built.parent), "--sobol-n", "512"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (built / "tables" / "scenarios.csv").read_text() == before  # same run, same numbers


def bad(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and re.search(pattern, err), err


def test_no_run_or_a_stale_run_is_refused(project, capsys):
    bad(capsys, ["report"], r"^sim: error: no saved run of experiment 'search_cost' \(outputs/search_cost/samples\.nc "
                            r"does not exist\); run `sim run experiments/search_cost\.toml` first$")
    assert not (project / "outputs").exists()
    assert main(["run", "--samples", "500", "--no-report"]) == 0
    priors = project / "priors" / "seed_2023.toml"
    priors.write_text(priors.read_text().replace("ci90 = [0.55, 0.85]", "ci90 = [0.5, 0.85]"))
    folder = project / "outputs" / "search_cost"
    listing = sorted(p.name for p in folder.iterdir())
    bad(capsys, ["report"], r"^sim: error: outputs/search_cost/samples\.nc was made with priors hash [0-9a-f]{12}, "
                            r"but the priors of experiments/search_cost\.toml now hash [0-9a-f]{12}; run "
                            r"`sim run experiments/search_cost\.toml` to update it$")
    assert sorted(p.name for p in folder.iterdir()) == listing  # no report of stale numbers
    (folder / "samples.nc").write_bytes(b"not a netcdf file")
    bad(capsys, ["report"], r"^sim: error: outputs/search_cost/samples\.nc: cannot read the saved run .*; run "
                            r"`sim run experiments/search_cost\.toml` again$")


def test_bad_report_arguments(project, capsys):
    assert main(["run", "--samples", "300", "--no-report"]) == 0
    bad(capsys, ["report", "--output", "price"], r"^sim: error: --output: unknown output 'price'; valid: ")
    bad(capsys, ["report", "--select", "hardware=h100"], r"^sim: error: --select: cost_per_query has no dim "
                                                          r"'hardware'; valid: architecture$")
    bad(capsys, ["report", "--select", "architecture=moe"], r"^sim: error: --select: architecture has no value 'moe'; "
                                                            r"valid: chatgpt_equivalent, two_stage$")
    bad(capsys, ["report", "--sobol-n", "1000"], r"--sobol-n must be a power of 2")
    text = (project / "experiments" / "search_cost.toml").read_text()
    (project / "experiments" / "search_cost.toml").write_text(text.replace(
        'sampler = "random"', 'sampler = "random"\nreport = { select = { year = 2030 } }'))
    bad(capsys, ["report"], r"^sim: error: experiments/search_cost\.toml: report\.select\.year: cost_per_query has "
                            r"no dim 'year'; valid: architecture$")
    (project / "experiments" / "search_cost.toml").write_text(text.replace(
        'sampler = "random"', 'sampler = "random"\nreport = { output = "price" }'))
    bad(capsys, ["report"], r"^sim: error: experiments/search_cost\.toml: report\.output: must be an output of model "
                            r"'search'")
    assert not (project / "outputs" / "search_cost" / "report.html").exists()


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


def test_prose_numbers():
    assert quantity(0.06557, "USD/query") == "$0.0656 per query"
    assert quantity(0.06557, "USD/query", per=False) == "$0.0656"
    assert quantity(1.736e10, "USD/year") == "$17.4 billion per year"
    assert quantity(-4.6e6, "USD") == "-$4.6 million"
    assert quantity(4321.0, "USD") == "$4,321"
    assert quantity(2.32e-05, "USD/query", per=False) == "$0.0000232"
    assert quantity(0.02, "USD/query") == "$0.02 per query"
    assert quantity(3.14e23, "FLOP") == "3.14e+23 FLOP"
    assert quantity(0.5, "1") == "0.5"
    assert percent(0.5616) == "56.2 %" and percent(0.0002) == "< 0.1 %" and percent(0.99991) == "> 99.9 %"
    assert percent(0.0) == "0 %" and percent(1.0) == "100 %"


def test_report_in_a_real_browser(built, tmp_path):
    """Headless Chromium: every figure decodes, every section shows, the console stays clean; a screenshot."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    shot = tmp_path / "report.png"
    page = browser.inspect_page(built / "report.html", shot)
    assert page["errors"] == []
    assert page["images"] == len(FIGURES) and page["broken"] == []
    assert [s for s in page["sections"] if s in SECTIONS] == SECTIONS
    assert page["figures"] == [f"figure-{f}" for f in FIGURES]
    width, height = _png_size(shot.read_bytes())
    assert width == 1280 and height > 3000  # the whole page, not just the first screen
    print(f"screenshot: {shot}")


@pytest.mark.parametrize("width", [1280, 800])
def test_report_fits_the_page_in_a_real_browser(built, width):
    """No table or figure reaches past the window (wide tables scroll inside their own box), no title or caption is
    cut off, and the sources column keeps a readable width; on a laptop's and on a narrow window."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    page = browser.inspect_page(built / "report.html", width=width)
    assert not page["page_overflow"], page["overflowing"]
    assert page["overflowing"] == [] and page["clipped"] == []
    assert 150 <= page["source_width"] < 1e9  # CSS pixels: 25 characters of the sources a line, or more


def test_fit_check_catches_a_table_wider_than_the_page(built, tmp_path):
    """The fit check itself can fail: without the scrolling box, a wide table pushes past a narrow window."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    text = (built / "report.html").read_text().replace("display:block;overflow-x:auto;max-width:100%", "")
    (tmp_path / "wide.html").write_text(text)
    page = browser.inspect_page(tmp_path / "wide.html", width=800)
    assert page["page_overflow"] and any(o.startswith("TABLE") for o in page["overflowing"])


def test_figure_titles_and_labels_lie_inside_their_figures(tmp_path):
    """Every text of every figure (titles, axis labels, legends) is drawn inside the figure: nothing is clipped.

    Compares each text's rendered extent with the figure's, in pixels, on the default experiment and on one whose
    priors have long names (the assumptions figure) and whose outputs sweep years (the fan chart)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.report import build_report
    from sim.report.document import Plot

    for name in ("search_cost", "agent_task", "trajectory"):
        experiment = sim.load_experiment(ROOT / "experiments" / f"{name}.toml")
        ds = sim.run(experiment, samples=2000, seed=3)
        document = build_report(experiment, ds, sobol_n=64, sensitivity=name == "search_cost")  # its ranked charts
        plots = [b for section in document.sections for b in section.blocks if isinstance(b, Plot)]
        assert plots
        for plot in plots:
            fig = plot.figure
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            renderer = canvas.get_renderer()
            box = fig.bbox
            texts = [t for ax in fig.axes if ax.get_visible() for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
            texts += [t for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if legend
                      for t in legend.get_texts()]
            for text in texts:
                if not text.get_visible() or not text.get_text().strip():
                    continue
                e = text.get_window_extent(renderer)
                assert box.x0 - 1 <= e.x0 and e.x1 <= box.x1 + 1 and box.y0 - 1 <= e.y0 and e.y1 <= box.y1 + 1, \
                    (name, plot.name, text.get_text())


def test_browser_check_catches_broken_images_and_console_errors(built, tmp_path):
    """The browser check itself can fail: a damaged copy of the report is caught on both counts."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    text = (built / "report.html").read_text()
    damaged = text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
    damaged = damaged.replace("</body>", "<script>console.error('broken on purpose')</script></body>")
    (tmp_path / "damaged.html").write_text(damaged)
    page = browser.inspect_page(tmp_path / "damaged.html")
    assert page["broken"] == [0]
    # the console reports both: the image that failed to load and the script's error
    assert len(page["errors"]) == 2
    assert sum("broken on purpose" in e for e in page["errors"]) == sum("Failed to load" in e for e in page["errors"]) == 1


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


def test_large_runs_estimate_shapes_from_their_first_samples(built, monkeypatch):
    """Above ESTIMATE_SAMPLES the figures and EVPPI use the first samples; headline and decision use all."""
    import sim
    from sim.analysis import decision
    from sim.report import build as report_build

    monkeypatch.setattr(report_build, "ESTIMATE_SAMPLES", 5000)
    experiment = sim.load_experiment(built.parents[1] / "experiments" / "search_cost.toml")
    ds = xr.load_dataset(built / "samples.nc")
    doc = report_build.build_report(experiment, ds, sobol_n=256)
    texts = [b.text for s in doc.sections for b in s.blocks if isinstance(b, report_build.Text)]
    assert any("use the first 5,000 of the 20,000 samples" in t for t in texts)
    table = next(b.frame for s in doc.sections for b in s.blocks
                 if isinstance(b, report_build.Table) and b.name == "decision")
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
        odds = re.search(r"Deploying (never loses money|loses money in every outcome|loses money in ([<> 0-9.]+ %) "
                         r"of outcomes(?: \(([<> 0-9.]+ %) to ([<> 0-9.]+ %)\))?);", line)
        assert odds, line
        if p == 0:
            assert odds.group(1) == "never loses money"
        else:
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
