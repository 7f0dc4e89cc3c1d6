"""Numbers as text (sim.report.format): amounts, probabilities, table cells and the verdict sentence."""

import pandas as pd
import pytest

from sim.analysis.decision import Verdict
from sim.report.format import display, format_table, heading, percent, quantity, verdict_sentence


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


def test_verdict_sentences():
    """The sentence says the loss probability with its interval, the expected gain or loss and what would settle it."""
    v = Verdict(0.4321, (0.42, 0.44), -0.0123, "USD/query", ("cache_hit_rate", "provider_gross_margin"))
    names = {"cache_hit_rate": "cache hit rate", "provider_gross_margin": "provider's gross margin"}
    assert verdict_sentence(v, names) == ("Deploying loses money in 43.2 % of outcomes (42.0 % to 44.0 %); the expected "
                                          "loss is $0.0123 per query; what would settle it is cache hit rate and "
                                          "provider's gross margin.")
    # none of the samples, or all: said with the interval, not as "never" or "every outcome"
    assert verdict_sentence(Verdict(0.0, (0.0, 3.7e-5), 0.02, "USD/query", ())) == (
        "Deploying loses money in 0 % of outcomes (0 % to < 0.1 %); the expected gain is $0.02 per query; no single "
        "assumption would change the decision.")
    assert verdict_sentence(Verdict(1.0, (0.9999, 1.0), -5e6, "USD", None)) == (
        "Deploying loses money in 100 % of outcomes (> 99.9 % to 100 %); the expected loss is $5 million.")


def test_table_cells_and_headings():
    assert [display(v) for v in (True, 12_345, 42, 0.000123456, float("nan"), None, "x")] == [
        "yes", "12,345", "42", "0.0001235", "", "", "x"]
    assert heading("p_profitable_ci_lower") == "p profitable, 95 % low"
    assert heading("evpi_ci_upper") == "evpi, 95 % high"


def test_plain_text_tables_fold_zeros_and_cut_rows():
    frame = pd.DataFrame({"output": ["a", "b", "c", "d"], "value": [1.23456, 0.0, 0.0, 2.0]})
    text = format_table(frame, max_rows=1, more="x.csv has them", fold_zeros=True)
    assert text.splitlines()[1].split() == ["a", "1.235"]
    assert "(1 more row(s); x.csv has them)" in text and "(2 row(s) of exact zeros folded: output b, c)" in text


@pytest.mark.parametrize("value, shown", [
    (883297.4, "883,300"), (2664.2, "2,664"), (-15085.7, "-15,090"), (0.60081, "0.6008"), (6.654e-05, "6.654e-05"),
    (29067831617.98, "29,070,000,000"), (1.5e16, "1.5e+16"), (0.0, "0"), (12.3456, "12.35"), (float("inf"), "inf"),
])
def test_numbers_read_by_their_magnitude(value, shown):
    """Four significant digits; thousands separated from 1,000 up; scientific only below 0.0001 and from 1e15."""
    from sim.report.format import number

    assert number(value) == shown
