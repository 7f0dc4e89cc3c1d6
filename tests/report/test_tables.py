"""Results as tables (sim.report.tables): one row per cell, columns named as the files name them, nothing added."""

import numpy as np
import pandas as pd
import pytest

import sim
from sim.report.tables import decision_files, goal_seek_frame, point_frame, sensitivity_files, summary_table
from sim.studies.decision import GoalSeekResult


@pytest.fixture(scope="module")
def small(search_experiment):
    return sim.run(search_experiment, samples=1000, seed=4)


def test_the_summary_table_is_the_labelled_summary(small):
    summary = sim.summarize_run(small)
    table = summary_table(summary)
    assert list(table.columns[:4]) == ["output", "units", "scenario", "architecture"]
    row = table.query("output == 'cost_per_query' and scenario == 'baseline' and architecture == 'two_stage'")
    at = dict(scenario="baseline", architecture="two_stage")
    assert row["p50"].item() == float(summary["cost_per_query"].sel(stat="p50", **at))
    assert row["p50_ci_lower"].item() == float(summary["cost_per_query_ci"].sel(stat="p50", ci_bound="lower", **at))
    assert row["p_gt_revenue_per_query"].item() == float(summary["p_cost_per_query_gt_revenue_per_query"].sel(at))
    # an output without the architecture dim leaves it empty; and without a revenue, no exceedance
    revenue = table.query("output == 'revenue_per_query'")
    assert revenue["architecture"].isna().all() and revenue["p_gt_revenue_per_query"].isna().all()


def test_point_frame(search_experiment):
    frame = point_frame(sim.point(search_experiment))
    row = frame.query("output == 'cost_per_query' and scenario == 'baseline' and architecture == 'two_stage'")
    assert row["value"].item() == pytest.approx(0.06557, rel=1e-3) and row["units"].item() == "USD/query"


def test_the_files_of_each_analysis(search_experiment, small):
    sens = sim.sensitivity(search_experiment, small, methods=["rank", "spider"])
    files = sensitivity_files(sens)
    assert list(files) == ["sensitivity.csv", "spider.csv", "sensitivity.nc"]
    spider = files["spider.csv"]
    assert list(spider.columns) == ["scenario", "architecture", "input", "percentile", "value"]
    assert len(spider) == 3 * 2 * 15 * 7
    only = sim.sensitivity(search_experiment, small, methods=["spider"])
    assert list(sensitivity_files(only)) == ["spider.csv", "sensitivity.nc"]
    decided = sim.decide(search_experiment, small)
    files = decision_files(decided)
    assert list(files) == ["decision.csv", "evppi.csv", "acceptability.csv", "decision.nc"]
    table = files["decision.csv"]
    np.testing.assert_array_equal(table["p_profitable"], decided.measures["p_profitable"].values.ravel())
    evppi = files["evppi.csv"]
    first = evppi.groupby(["scenario", "architecture"], sort=False).head(1)
    assert (first.set_index(["scenario", "architecture"])["evppi"] ==
            evppi.groupby(["scenario", "architecture"])["evppi"].max()).all()  # largest first in each cell


def test_a_goal_seek_is_one_row():
    result = GoalSeekResult("margin", "value", "p_profitable", 0.9, 0.4, 0.9, (0.0, 1.0), (0.2, 0.95), 12, "found")
    frame = goal_seek_frame(result)
    assert frame.to_dict("records") == [{"prior": "margin", "how": "value", "statistic": "p_profitable",
                                         "target": 0.9, "value": 0.4, "achieved": 0.9, "runs": 12,
                                         "message": "found", "values": "", "bracket_low": 0.0, "bracket_high": 1.0,
                                         "at_bracket_low": 0.2, "at_bracket_high": 0.95}]
    assert isinstance(frame, pd.DataFrame)
