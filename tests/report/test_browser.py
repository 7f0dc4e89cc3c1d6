"""The report in headless Chromium: figures decode, sections show, nothing overflows, the console stays clean.

These read the session's built report (conftest), whose figures are rasterised.
"""

import pytest

from .pages import FIGURES, SECTIONS, png_size

pytestmark = pytest.mark.figures


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
    width, height = png_size(shot.read_bytes())
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
    """The fit check itself can fail: without the scrolling box and the narrow window's cards, a wide table pushes
    past a narrow window, and scrolls inside its box when only the cards are gone."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    no_cards = (built / "report.html").read_text().replace("@media (max-width:1000px)", "@media (max-width:1px)")
    (tmp_path / "scrolls.html").write_text(no_cards)
    page = browser.inspect_page(tmp_path / "scrolls.html", width=800)
    assert any(t.startswith("decision ") for t in page["scrolling"]) and not page["page_overflow"]
    (tmp_path / "wide.html").write_text(no_cards.replace("display:block;overflow-x:auto;max-width:100%", ""))
    page = browser.inspect_page(tmp_path / "wide.html", width=800)
    assert page["page_overflow"] and any(o.startswith("TABLE") for o in page["overflowing"])


def test_browser_check_catches_broken_images_and_console_errors(built, tmp_path):
    """The browser check itself can fail: a damaged copy of the report is caught on both counts."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    text = (built / "report.html").read_text()
    # characters base64 never holds: the data URL is invalid whatever the image's length (a shorter prefix breaks
    # it only when the remaining length is not a multiple of 4)
    damaged = text.replace("data:image/png;base64,iVBOR", "data:image/png;base64,%%%%%", 1)
    damaged = damaged.replace("</body>", "<script>console.error('broken on purpose')</script></body>")
    (tmp_path / "damaged.html").write_text(damaged)
    page = browser.inspect_page(tmp_path / "damaged.html")
    assert page["broken"] == [0]
    # the console reports both: the image that failed to load and the script's error
    assert len(page["errors"]) == 2
    assert sum("broken on purpose" in e for e in page["errors"]) == sum("Failed to load" in e for e in page["errors"]) == 1


def test_the_posteriors_report_and_its_evidence_in_a_real_browser(built_posterior):
    """The report of a posterior (sim report --posterior): the Evidence section shows after the headline with its
    two figures decoded, no tornado or Sobol' figure (they are not drawn on a posterior), nothing overflows."""
    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    page = browser.inspect_page(built_posterior / "report.html", width=1280)
    assert page["errors"] == [] and page["broken"] == []
    assert page["sections"][:3] == ["verdict", "headline", "evidence"]
    assert {"figure-evidence", "figure-moved"} <= set(page["figures"])
    assert not {"figure-tornado", "figure-sobol"} & set(page["figures"])
    assert page["images"] == len(page["figures"])
    assert not page["page_overflow"] and page["overflowing"] == [] and page["clipped"] == []


@pytest.fixture(scope="module")
def shipped(built, tmp_path_factory):
    """Three shipped experiments' reports: the session's default one, and agent_task and gpu_cash_flow (a formula
    model and a cash flow over periods), figures not rasterised (these tests measure the tables and the text)."""
    from sim.cli import main

    root = built.parent.parent
    out = tmp_path_factory.mktemp("shipped")
    for name in ("agent_task", "gpu_cash_flow"):
        assert main(["run", str(root / "experiments" / f"{name}.toml"), "--samples", "3000", "--sobol-n", "256",
                     "--out", str(out)]) == 0
    return [built / "report.html", out / "agent_task" / "report.html", out / "gpu_cash_flow" / "report.html"]


@pytest.mark.parametrize("width", [1400, 800])
def test_every_table_fits_its_column_and_the_verdict_agrees_with_the_headline(shipped, width):
    """No table is wider than its column (none scrolls sideways: intervals sit under their values, headers wrap,
    and below 1,000 px each row reads as a card), no header or caption is cut, and each cell's loss probability
    and interval in the verdict are the headline's."""
    import html
    import re

    from .. import browser

    reason = browser.missing()
    if reason:
        pytest.skip(reason)
    for path in shipped:
        page = browser.inspect_page(path, width=width)
        assert page["scrolling"] == [] and page["clipped"] == [] and not page["page_overflow"], (path, page)
        text = html.unescape(path.read_text())
        verdicts = dict(re.findall(r"<strong>([^<]+):</strong> Deploying loses money in ([\d.]+ % of outcomes "
                                   r"\([^)]*\))", text))
        assert verdicts, path
        for cell, said in verdicts.items():
            share, interval = re.fullmatch(r"([\d.]+ %) of outcomes \((.*)\)", said).groups()
            headline = re.search(rf"<strong>{re.escape(cell)}\.</strong>.*? in {re.escape(share)} of samples \(95 % "
                                 rf"Monte Carlo interval ([^);]*)[);]", text)
            assert headline and headline[1] == interval, (path, cell, said)
