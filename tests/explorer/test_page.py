"""The what-if explorer's page (`sim explore`): built in process on a Bokeh Document, and served to a real browser.

The in-process tests type into the page's inputs as the browser would (a
value set on a Bokeh model runs the same callbacks) and compare what the page
shows with :class:`sim.studies.explore.WhatIf` and `sim run`. The served
tests start `sim explore` as a process on 127.0.0.1, check the address it
bound in /proc/net/tcp, and drive headless Chromium against it; no test sends
traffic to another address.
"""

import html
import ipaddress
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
import xarray as xr

import sim
from sim.cli import main
from sim.errors import SimError

bokeh = pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")
from bokeh.document import Document

from sim.explorer import Explorer, is_loopback, serve
from sim.report.build import percent
from sim.studies.explore import WhatIf

from .. import browser
from ..helpers import ROOT

N = 20_000  # as the what-if core's tests: P(cost > revenue) well inside (0, 1) in the two-stage cell
MARGIN = "provider_gross_margin"


def _page(path="experiments/search_cost.toml", samples=N) -> Explorer:
    return Explorer(Document(), sim.load_experiment(path), samples=samples)


def _shown_k(page: Explorer, cell: str) -> int:
    """The count of samples with cost above revenue that the measures table shows for ``cell``."""
    match = re.search(rf"data-cell='{cell}' data-k='(\d+)'", page.measures.text)
    assert match, page.measures.text
    return int(match.group(1))


def _k_of_run(summary: xr.Dataset, cell: str, samples: int) -> int:
    name = next(n for n in summary.data_vars if n.startswith("p_") and "_gt_" in n and not n.endswith("_ci"))
    return int(round(float(summary[name].sel(architecture=cell).squeeze()) * samples))


# ---------------------------------------------------------------------------------------------------------------------
# the page, in process


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "experiments").glob("*.toml")))
def test_the_page_builds_for_every_shipped_experiment(name):
    """A card per prior the model draws or fixes, the compared outputs from the roles, a table row per cell."""
    page = _page(ROOT / "experiments" / f"{name}.toml", samples=300)
    assert list(page.cards) == page.what_if.inputs
    assert "update 1:" in page.status.text and page.results is not None
    assert page.roles.text and page.verdict.text and "<table>" in page.measures.text
    cost, revenue = page.pair
    assert page.experiment.model.outputs[cost].role == "cost" or revenue is None
    if revenue:
        assert page.experiment.model.outputs[revenue].role == "revenue"
        assert "P(cost &gt; revenue)" in page.measures.text


def test_a_typed_interval_is_the_what_if_change(project):
    """Typing the margin's 90 % interval shows exactly what WhatIf.change gives (same uniforms, same numbers)."""
    page = _page()
    k_before = _shown_k(page, "two_stage")
    card = page.cards[MARGIN]
    card.inputs["ci90-low"].value = "0.4"
    card.inputs["ci90-high"].value = "0.7"
    assert card.error.text == ""
    assert page.updates == 3 and "(changed)" in card.title.text and "ci90=[0.4, 0.7]" in page.changes.text
    reference = WhatIf(sim.load_experiment("experiments/search_cost.toml"), samples=N)
    reference.change(MARGIN, ci90=[0.4, 0.7])
    p = reference.results()["pairs"][page.pair]["p_loss"].sel(architecture="two_stage").item()
    assert _shown_k(page, "two_stage") == round(p * N) > k_before  # a lower margin loses money more often
    assert "5 % <b>0.4</b>" in card.stats.text and "95 % <b>0.7</b>" in card.stats.text  # the fit, to 4 digits


@pytest.mark.parametrize("box, text, message", [
    ("ci90-low", "0.9", "must be increasing (low < high)"),      # low above high (0.85)
    ("ci90-high", "1.2", "must be inside (0, 1) for a beta prior"),  # a fraction outside [0, 1]
    ("ci90-low", "abc", "'abc' is not a number"),                # text in a number field
    ("pin", "1.5", "needs values in [0, 1]"),                    # a pinned fraction outside [0, 1]
    ("point", "2", "lies outside the prior's support [0, 1]"),
    ("other", "dist = ", "not a TOML table body"),
    ("other", "dist = \"normal\", mean = 0.7", "a normal prior takes (mean, sd) or (ci90)"),
])
def test_bad_input_is_answered_beside_its_field_and_changes_nothing(box, text, message):
    page = _page()
    card = page.cards[MARGIN]
    before, updates = page.measures.text, page.updates
    field = {"pin": card.pin, "other": card.other}.get(box) or card.inputs[box]
    field.value = text
    shown = html.unescape(card.error.text)
    assert message in shown and "Traceback" not in shown
    assert shown.endswith("; kept beta(ci90=[0.55, 0.85])")
    assert page.updates == updates and page.measures.text == before and page.what_if.changed == {}
    assert field.value == text  # left as typed, to be corrected
    # the page goes on: a valid change after the bad one is shown
    card.inputs["ci90-low"].value, card.inputs["ci90-high"].value = "0.5", "0.8"
    assert card.error.text == "" and page.updates > updates
    assert page.what_if.priors[MARGIN].describe() == "beta(ci90=[0.5, 0.8])" and page.measures.text != before


def test_a_change_the_model_cannot_evaluate_is_undone_and_the_page_goes_on(monkeypatch, capsys):
    """An unexpected failure after a valid change (here the evaluation raising) is one line beside the field and on
    the server's stderr, and the change is undone; the next change works."""
    page = _page()
    card, updates = page.cards[MARGIN], page.updates

    def broken(*args, **kwargs):
        raise RuntimeError("the model failed")

    monkeypatch.setattr(page.what_if, "results", broken)
    card.inputs["ci90-low"].value = "0.4"
    assert html.unescape(card.error.text) == ("unexpected error: RuntimeError: the model failed; "
                                              "kept beta(ci90=[0.55, 0.85])")
    assert page.what_if.changed == {} and page.updates == updates
    assert capsys.readouterr().err == "sim explore: unexpected error: RuntimeError: the model failed\n"
    monkeypatch.undo()
    card.inputs["ci90-low"].value = "0.45"
    assert card.error.text == "" and page.updates == updates + 1


def test_samples_seed_scenario_and_reset(project):
    page = _page()
    page.cards[MARGIN].pin.value = "0.5"
    page.sample_box.value = "lots"
    assert "'lots' is not a number" in html.unescape(page.settings_error.text)
    page.sample_box.value = "1"
    assert "from 2 to 2,000,000" in page.settings_error.text
    page.sample_box.value = "5000"
    assert page.settings_error.text == "" and page.what_if.experiment.samples == 5000
    assert list(page.what_if.changed) == [MARGIN]  # the change is kept on the new samples
    page.seed_box.value = "-1"
    assert "seed: must be a whole number from 0 to 2**63 - 1, got '-1'" in html.unescape(page.settings_error.text)
    k = _shown_k(page, "two_stage")
    page.seed_box.value = "7"
    assert page.settings_error.text == "" and page.what_if.experiment.seed == 7
    reference = WhatIf(sim.load_experiment("experiments/search_cost.toml"), samples=5000, seed=7)
    reference.pin(MARGIN, 0.5)
    p = reference.results()["pairs"][page.pair]["p_loss"].sel(architecture="two_stage").item()
    assert _shown_k(page, "two_stage") == round(p * 5000) != k  # new random numbers, the same change
    page.scenario.value = "market_2026"
    assert page.what_if.scenario == "market_2026" and page.what_if.changed == {}
    assert "market_2026" in page.status.text
    page.scenario.value = "baseline"
    assert list(page.what_if.changed) == [MARGIN]  # each scenario keeps its own changes
    page._reset_all()
    assert page.what_if.changed == {} and "(changed)" not in page.cards[MARGIN].title.text


def test_two_costs_against_one_revenue_are_chosen_in_the_page(tmp_path):
    """The compared pair comes from the roles: with two costs, a selector chooses which one the verdict, table and
    drivers are about (3 x the price against 2.5 x never pays; 2 x always does)."""
    from ..helpers import write
    from .test_open_models import TWO_COSTS

    write(tmp_path / "priors.toml", '[priors.usd_per_mtoken]\ndist = "lognormal"\nci90 = [1, 4]\npoint = 2\n'
                                    'unit = "USD/Mtoken"\nnote = "a price"\n')
    page = _page(write(tmp_path / "two.toml", TWO_COSTS), samples=1000)
    assert page.compare.visible and page.compare.options == ["cost_a against income", "cost_b against income"]
    assert "never loses money" in page.verdict.text and "(<code>cost_a</code>, role cost)" in page.roles.text
    page.compare.value = "cost_b against income"
    assert "loses money in every outcome" in page.verdict.text and "(<code>cost_b</code>, role cost)" in page.roles.text
    assert "data-k='1000'" in page.measures.text


def test_save_as_scenario_writes_a_new_file_that_sim_run_reproduces(project, capsys):
    page = _page()
    card = page.cards[MARGIN]
    card.inputs["ci90-low"].value, card.inputs["ci90-high"].value = "0.4", "0.7"
    shown = _shown_k(page, "two_stage")
    page.save_file.value = "../elsewhere.toml"
    page.save_clicked()
    assert "without a folder" in page.saved.text
    (project / "experiments" / "taken.toml").write_text("kept\n")
    page.save_file.value = "taken.toml"
    page.save_clicked()
    assert "exists; sim does not replace it" in html.unescape(page.saved.text)
    assert (project / "experiments" / "taken.toml").read_text() == "kept\n"
    page.save_file.value = "lower_margin.toml"
    page.save_clicked()
    command = re.search(r"<code>(sim run [^<]+)</code>", page.saved.text).group(1)
    assert command == f"sim run experiments/lower_margin.toml --scenario what_if --samples {N} --seed 20230201"
    assert main([*command.split()[1:], "--no-report"]) == 0
    capsys.readouterr()
    summary = xr.load_dataset(project / "outputs" / "lower_margin" / "summary.nc")
    assert _k_of_run(summary, "two_stage", N) == shown


# ---------------------------------------------------------------------------------------------------------------------
# the server


def _listening(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port``, read from /proc/net/tcp and tcp6 (no traffic)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(str(ipaddress.IPv6Address(words)))
    return found


def test_it_binds_loopback_refuses_other_origins_opens_nothing_and_stops_on_ctrl_c(project, tmp_path):
    """Bound to 127.0.0.1 alone (read from /proc: nothing on 0.0.0.0 or another address); a WebSocket from a page
    served elsewhere (its Origin) is refused, so another site open in the same browser cannot drive the explorer;
    no browser is opened without --open; Ctrl-C stops it with status 0 and no traceback."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    record = tmp_path / "opened.txt"
    served = browser.Served(project, "--samples", "1000", env={"BROWSER": f"sh -c 'echo %s >> {record}'"})
    try:
        assert served.url.startswith("http://127.0.0.1:")
        assert _listening(served.port) == {"127.0.0.1"}
        request = HTTPRequest(f"ws://127.0.0.1:{served.port}/ws", headers={"Origin": "http://example.com"})

        async def connect():
            return await websocket_connect(request)

        with pytest.raises(HTTPClientError, match="403"):
            asyncio.run(connect())
    finally:
        code, out, err = served.stop(signal.SIGINT)
    assert "Refusing websocket connection from Origin 'http://example.com'" in err  # refused for its origin
    assert code == 0 and "sim explore: stopped" in out and "Traceback" not in err, err
    assert _listening(served.port) == set() and not record.exists()


def test_a_non_local_bind_needs_host_and_warns(project):
    """serve() refuses an address that is not loopback unless asked (the command line's --host); with --host the
    command warns that the page has no authentication and binds that address (read from /proc, no traffic); SIGTERM
    stops it as Ctrl-C does."""
    experiment = sim.load_experiment("experiments/search_cost.toml")
    with pytest.raises(SimError, match="0.0.0.0 is not a loopback address: the explorer has no authentication"):
        serve(experiment, host="0.0.0.0", port=0)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("no such host.invalid")
    served = browser.Served(project, "--host", "0.0.0.0", "--samples", "1000")
    try:
        assert _listening(served.port) == {"0.0.0.0"}
    finally:
        code, out, err = served.stop(signal.SIGTERM)
    assert code == 0 and "sim explore: stopped" in out and "Traceback" not in err
    assert err.startswith("sim: warning: the explorer has no authentication: whoever reaches 0.0.0.0"), err


def test_open_hands_the_address_to_the_browser(project, tmp_path):
    """--open gives the URL to the default browser (here a command that writes it down)."""
    record = tmp_path / "opened.txt"
    served = browser.Served(project, "--samples", "1000", "--open",
                            env={"BROWSER": f"sh -c 'echo %s >> {record}'"})
    deadline = time.monotonic() + 20
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    served.stop()
    assert record.read_text().strip() == served.url


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "argument --port: must be a port number from 0 (a free one) to 65535, got '70000'"),
    (["--port", "http"], "argument --port: must be a port number"),
    (["--host", ""], "argument --host: must be an address"),
    (["--samples", "1"], "argument --samples: must be an integer of at least 2"),
    (["--samples", "3000000"], "--samples: the explorer takes 2 to 2,000,000 samples, got 3,000,000"),
    (["nope"], "experiments/nope.toml"),
])
def test_bad_arguments_are_one_line(project, capsys, args, message):
    from ..helpers import one_line_error

    assert message in one_line_error(capsys, ["explore", *args])


def test_a_port_in_use_is_one_line(project, capsys):
    import socket

    from ..helpers import one_line_error

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert f"cannot listen on 127.0.0.1 port {port}" in one_line_error(capsys, ["explore", "--port", port])


# ---------------------------------------------------------------------------------------------------------------------
# the served page in headless Chromium

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
            assert "'lots' is not a number" in page.wait(lambda: page.text("settings-error"))
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
    assert _k_of_run(xr.load_dataset(project / "outputs" / "by_hand" / "summary.nc"), "two_stage", samples) == shown
    # and the saved scenario, run as the page says
    command = re.search(r"(sim run \S+ --scenario \S+ --samples \d+ --seed \d+)", saved).group(1)
    assert command == f"sim run experiments/lower_margin.toml --scenario what_if --samples {samples} --seed 20230201"
    assert main([*command.split()[1:], "--no-report"]) == 0
    capsys.readouterr()
    assert _k_of_run(xr.load_dataset(project / "outputs" / "lower_margin" / "summary.nc"), "two_stage",
                     samples) == shown
    # the README quotes the change: P(cost > revenue) of two_stage before and after
    assert f"P(cost > revenue) goes from {percent(baseline / samples)} to {percent(shown / samples)}" in " ".join(
        (ROOT / "README.md").read_text().split())
    if os.environ.get("SIM_EXPLORER_SCREENSHOT"):  # the README's picture: SIM_EXPLORER_SCREENSHOT=<absolute path>
        shutil.copyfile(shot, os.environ["SIM_EXPLORER_SCREENSHOT"])
