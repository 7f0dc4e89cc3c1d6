"""Point mode reproduces every figure of SPEC sections 1 to 3.

The expected values and tolerances below are copied from ../shared/SPEC.md
(not read from the package's data file), so this test also catches an edit to
that file.
"""

import pytest

import sim
from sim.studies.article import check_figures

from ..helpers import ROOT

# (output, architecture or None, SPEC's "point mode gives", check)
SPEC = [
    ("cost_per_query", "chatgpt_equivalent", lambda x: abs(x - 0.00957) <= 0.02 * 0.00957),
    ("cost_per_query", "two_stage", lambda x: abs(x - 0.06557) <= 0.02 * 0.06557),
    ("annual_searches", None, lambda x: abs(x - 2.118e12) <= 0.01 * 2.118e12),
    ("revenue_per_query", None, lambda x: abs(x - 0.0476) <= 0.02 * 0.0476),
    ("cost_to_revenue_ratio", "two_stage", lambda x: abs(x - 1.39) <= 0.03 * 1.39),
    ("optimized_cost_per_query", "two_stage", lambda x: abs(x - 0.0082) <= 0.02 * 0.0082),
    ("optimized_share_of_revenue", "two_stage", lambda x: 0.15 <= x <= 0.18),
    ("annual_incremental_cost", "two_stage", lambda x: x > 1e10),
]


@pytest.fixture(scope="module")
def point():
    return sim.point(sim.load_experiment(ROOT / "experiments" / "search_cost.toml")).sel(scenario="baseline")


@pytest.mark.parametrize("output, architecture, ok", SPEC, ids=[f"{o}-{a}" for o, a, _ in SPEC])
def test_point_mode_reproduces_spec(point, output, architecture, ok):
    da = point[output]
    value = float(da.sel(architecture=architecture) if architecture else da)
    assert ok(value), f"{output} ({architecture}) = {value:.6g}"


def test_check_command_table_agrees():
    table = check_figures(root=ROOT)
    assert len(table) == 30  # 8 figures of sections 1-3, 22 of sections 4-7 and 9
    assert table["ok"].all()


def test_check_reports_failure(tmp_path):
    (tmp_path / "figs.toml").write_text(
        '[[figure]]\nsection = "1"\nexperiment = "experiments/search_cost.toml"\nscenario = "baseline"\n'
        'output = "cost_per_query"\nselect = { architecture = "two_stage" }\narticle = "$1"\n'
        'expected = 1.0\nrtol = 0.02\n')
    table = check_figures(tmp_path / "figs.toml", root=ROOT)
    assert not table["ok"].any()
    assert table["point_mode"][0] == pytest.approx(0.0655667, rel=1e-5)
