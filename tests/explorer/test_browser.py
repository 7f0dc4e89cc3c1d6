"""The explorer served to headless Chromium: typing into the page gives `sim run`'s numbers, bad input is answered
beside its field, and every request goes to 127.0.0.1."""

import os
import re
import shutil

import pytest
import xarray as xr

from sim.cli import main

from .. import browser
from ..helpers import ROOT

pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")

from sim.report.format import percent  # noqa: E402

from .test_page import k_of_run  # noqa: E402


def test_the_explorer_in_a_real_browser(project, capsys, tmp_path):
    """Change the margin's 90 % interval in the page; the P(cost > revenue) shown is `sim run`'s for that change as
    a scenario, and so is the saved scenario's; bad input is answered beside its field and the server goes on; the
    console stays clean and every request goes to 127.0.0.1."""
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    served = browser.Served(project)  # the default: 100,000 samples, the experiment's seed
    samples = 100_000
    try:
        with browser.chrome(1280, 1000, network=True) as driver:
            driver.get(served.url)
            page = browser.Page(driver)
            page.updated(1)
            baseline = page.k("two_stage")
            page.type("ci90-low-provider_gross_margin", "0.4")
            page.updated(2)
            page.type("ci90-high-provider_gross_margin", "0.7")
            page.updated(3)
            shown = page.k("two_stage")
            assert shown > baseline
            assert "provider_gross_margin beta(ci90=[0.4, 0.7])" in page.text("changes")
            page.choose("cell-architecture", "two_stage")  # the cell whose verdict, densities and drivers show
            assert re.match(r"two_stage: Deploying loses money in \d+\.\d % of outcomes",
                            page.wait(lambda: page.text("verdict").startswith("two_stage:") and page.text("verdict")))
            shot = tmp_path / "explorer.png"
            browser.capture(driver, shot, 1280, 1000)

            # bad input: a message beside the field, the last valid state kept, the server still answering
            for widget, text, message in [
                ("ci90-low-provider_gross_margin", "0.9", "must be increasing (low < high), got [0.9, 0.7]"),
                ("ci90-high-provider_gross_margin", "1.2", "must be inside (0, 1) for a beta prior, got 1.2"),
                ("ci90-low-provider_gross_margin", "abc", "'abc' is not a number"),
                ("pin-provider_gross_margin", "1.5", "needs values in [0, 1]"),
            ]:
                page.type(widget, text)
                error = page.wait(lambda: message in (page.text("error-provider_gross_margin") or "")
                                  and page.text("error-provider_gross_margin"))
                assert error.endswith("; kept beta(ci90=[0.4, 0.7])") and "Traceback" not in error
                assert page.k("two_stage") == shown and page.text("status").startswith("update 3:")
            page.type("samples", "lots")
            assert "must be an integer from 2 to 2,000,000" in page.wait(lambda: page.text("settings-error"))
            page.type("ci90-low-provider_gross_margin", "0.4")  # the fields typed right again: the same state
            page.type("ci90-high-provider_gross_margin", "0.7")
            page.updated(4)
            assert page.k("two_stage") == shown and page.text("error-provider_gross_margin") == ""

            page.type("save-file", "lower_margin.toml")
            page.click("save")
            saved = page.wait(lambda: "Saved" in (page.text("saved") or "") and page.text("saved"))
            errors, urls = browser.console_errors(driver), browser.requested(driver)
    finally:
        code, out, err = served.stop()
    assert code == 0 and "Traceback" not in err, err
    assert errors == []
    # data: URLs (Bokeh's icons) are read from the page itself, not the network
    assert urls and [u for u in urls if not re.match(rf"((http|ws)://127\.0\.0\.1:{served.port}/|data:)", u)] == []

    # sim run of the same change as a scenario override, same seed and samples
    experiment = project / "experiments" / "search_cost.toml"
    (project / "experiments" / "by_hand.toml").write_text(experiment.read_text() + (
        '\n[scenarios.by_hand]\ndescription = "the margin typed in the explorer"\n\n'
        '[scenarios.by_hand.priors.provider_gross_margin]\ndist = "beta"\nci90 = [0.4, 0.7]\n'))
    assert main(["run", "experiments/by_hand.toml", "--scenario", "by_hand", "--samples", str(samples),
                 "--no-report"]) == 0
    assert k_of_run(xr.load_dataset(project / "outputs" / "by_hand" / "summary.nc"), "two_stage", samples) == shown
    # and the saved scenario, run as the page says
    command = re.search(r"(sim run \S+ --scenario \S+ --samples \d+ --seed \d+)", saved).group(1)
    assert command == f"sim run experiments/lower_margin.toml --scenario what_if --samples {samples} --seed 20230201"
    assert main([*command.split()[1:], "--no-report"]) == 0
    capsys.readouterr()
    assert k_of_run(xr.load_dataset(project / "outputs" / "lower_margin" / "summary.nc"), "two_stage",
                     samples) == shown
    # the README quotes the change: P(cost > revenue) of two_stage before and after
    assert f"P(cost > revenue) goes from {percent(baseline / samples)} to {percent(shown / samples)}" in " ".join(
        (ROOT / "README.md").read_text().split())
    if os.environ.get("SIM_EXPLORER_SCREENSHOT"):  # the README's picture: SIM_EXPLORER_SCREENSHOT=<absolute path>
        shutil.copyfile(shot, os.environ["SIM_EXPLORER_SCREENSHOT"])


def test_a_hostile_unit_is_text_in_the_page(tmp_path):
    """A unit that carries markup (the unit parser refuses it in files; here it is put straight into the run the
    page shows): the measures table, the roles and the verdict show it as text, and Chromium finds no image in
    them and runs nothing."""
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    from bokeh.document import Document

    import sim
    from sim.explorer import Explorer

    page = Explorer(Document(), sim.load_experiment(ROOT / "experiments" / "search_cost.toml"), samples=2_000)
    hostile = "USD/<img src=x onerror=\"document.title='ran'\">"
    cost, _ = page.pair
    page.results["dataset"][cost].attrs["units"] = hostile
    page.show()
    shown = tmp_path / "page.html"
    shown.write_text("<!doctype html><title>explorer</title>" + page.roles.text + page.verdict.text
                     + page.measures.text)
    state = browser.inspect_page(shown)
    assert state["images"] == 0 and not state["errors"], state
    assert "&lt;img" in page.measures.text


def test_a_shared_link_opened_in_a_fresh_browser_shows_the_same_page(project):
    """Change two priors and the samples; the page's link, opened in a second browser (a new session), shows the
    same changes and the same count of samples with cost above revenue in every cell."""
    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    served = browser.Served(project, "--samples", "20000")
    try:
        with browser.chrome(1280, 1000) as driver:
            driver.get(served.url)
            page = browser.Page(driver)
            page.updated(1)
            page.type("ci90-low-provider_gross_margin", "0.4")
            page.updated(2)
            page.type("pin-cache_hit_rate", "0.5")
            page.updated(3)
            page.type("samples", "30000")
            page.updated(4)
            shown = {cell: page.k(cell) for cell in ("chatgpt_equivalent", "two_stage")}
            changes = page.text("changes")
            link = driver.execute_script(browser.FIND + "return find(document, '.sim-share').shadowRoot"
                                         ".querySelector('a').href")
        assert link.startswith(served.url + "?scenario=baseline&samples=30000&seed=")
        with browser.chrome(1280, 1000) as fresh:
            fresh.get(link)
            again = browser.Page(fresh)
            again.updated(1)
            assert again.text("changes") == changes
            assert {cell: again.k(cell) for cell in shown} == shown
            assert again.text("status").startswith("update 1: 30,000 samples of baseline")
    finally:
        code, _, err = served.stop()
    assert code == 0 and "Traceback" not in err, err
