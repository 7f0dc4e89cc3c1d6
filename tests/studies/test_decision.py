
import numpy as np
import pytest

import sim
from sim.errors import SimError
from sim.studies import decision as sd


def test_goal_seek_matches_the_direct_answer(search_experiment):
    """P(f * cost < revenue) = 0.9 where f is the 10th percentile of revenue / cost (cost is linear in price)."""
    cell = {"scenario": "baseline", "architecture": "two_stage"}
    r = sd.goal_seek(search_experiment, "api_price_per_1k_tokens", 0.9, how="scale", select=cell, samples=20_000)
    ds = sim.run(search_experiment, samples=20_000)
    ratio = ds["revenue_per_query"].sel(scenario="baseline") / ds["cost_per_query"].sel(cell)
    # the statistic is a step function of f with 20,000 steps: f is found between neighbouring order statistics
    lo, hi = np.quantile(ratio, [0.0995, 0.1005])
    assert lo <= r.value <= hi and r.achieved == pytest.approx(0.9, abs=1e-3)
    # a cost is never negative: no margin in [0, 1] gives a mean cost of -1
    none = sd.goal_seek(search_experiment, "provider_gross_margin", -1.0, stat="mean", select=cell, samples=5000)
    assert none.value is None and none.runs == 2
    assert none.message.startswith("no value of provider_gross_margin in [0, 1] reaches mean of cost_per_query = -1")
    with pytest.raises(SimError, match="api_price_per_1k_tokens is fixed at 0.02 in this scenario"):
        sd.goal_seek(search_experiment, "api_price_per_1k_tokens", 0.9, select=cell)


def test_stress_band_is_the_conditional_distribution(search_experiment):
    s = sd.stress(search_experiment, "provider_gross_margin", (0.0, 0.1), samples=20_000)
    margin = search_experiment.base_priors["provider_gross_margin"]
    ds = sim.run(sd.with_prior(search_experiment, "provider_gross_margin",
                               lambda p: sim.priors.banded(p, 0.0, 0.1)), samples=20_000)
    assert float(ds["provider_gross_margin"].max()) <= float(margin.ppf(0.1))
    cell = dict(scenario="baseline", architecture="two_stage")
    assert float(s["cost_per_query"].sel(**cell, case="band", stat="mean")) == pytest.approx(
        float(ds["cost_per_query"].sel(cell).mean()), rel=1e-12)
    # a lower margin raises the provider's cost, so fewer queries pay
    assert s["p_profitable"].sel(**cell, case="band") < s["p_profitable"].sel(**cell, case="all")


def test_a_goal_seek_that_reaches_a_broken_equation_says_so_and_suggests_a_bracket(search_experiment):
    """words_per_token = 0 divides by zero: the seek says the target was not reached in its range and names
    --bracket, not "NaN or infinite in point mode"."""
    cell = {"scenario": "baseline", "architecture": "two_stage"}
    with pytest.raises(SimError, match=r"^the goal seek did not reach its target in \[0, 2\]: at words_per_token = 0 "
                                       r"the model cannot be evaluated \(an output is NaN or infinite there\); give "
                                       r"--bracket LOW HIGH inside the range where the equations hold$"):
        sd.goal_seek(search_experiment, "words_per_token", 0.9, select=cell, samples=2000, bracket=(0.0, 2.0))


def test_a_joint_goal_seek_finds_the_common_step_by_hand():
    """agent_task's cost per task is proportional to its calls per task and to its input price, so scaling both
    by exp(-t) scales the cost's mean (on the same draws) by exp(-2t): a quarter of it is reached at t = log 2,
    each at half its draws. Tolerance: brentq's step tolerance (1e-6 of the searched log(100))."""
    import numpy as np

    import sim
    from sim.studies.decision import goal_seek_joint

    from ..helpers import ROOT

    experiment = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    one = sim.with_overrides(experiment, scenarios=["subscription"])
    mean = float(sim.run(one, samples=2000, seed=3)["cost_per_task"].mean())
    result = goal_seek_joint(experiment, ["calls_per_task", "price_input_usd_per_mtoken"], mean / 4, stat="mean",
                             how="scale", select={"scenario": "subscription"}, samples=2000, seed=3)
    assert result.value == pytest.approx(np.log(2), abs=1e-6 * np.log(100) * 2)
    assert result.achieved == pytest.approx(mean / 4, rel=1e-5)
    assert result.values == "calls_per_task x 0.5, price_input_usd_per_mtoken x 0.5"


def test_a_joint_goal_seek_by_quantiles_keeps_each_prior_in_its_support(search_experiment):
    """--how value holds each prior at its 0.5 + t or 0.5 - t quantile, the way that brings P(profitable) up: more
    cache hits and fewer words read per result both lower the cost."""
    from sim.studies.decision import goal_seek_joint

    cell = {"scenario": "baseline", "architecture": "two_stage"}
    result = goal_seek_joint(search_experiment, ["cache_hit_rate", "section_words"], 0.8, how="value", select=cell,
                             samples=4000, seed=2)
    assert result.achieved == pytest.approx(0.8, abs=1 / 4000)  # a share of 4,000 samples: one sample's width
    t = result.value
    priors = search_experiment.base_priors
    expected = (f"cache_hit_rate = {priors['cache_hit_rate'].ppf(0.5 + t):.6g}, "  # more hits, lower cost
                f"section_words = {priors['section_words'].ppf(0.5 - t):.6g}")      # fewer words read, lower cost
    assert result.values == expected


@pytest.mark.parametrize("argv, said", [
    (["--seek", "a,b,c,d", "--target", "0.9"], "--seek: a goal seek moves at most 3 priors together, got 4"),
    (["--seek", "cache_hit_rate,section_words", "--target", "0.9", "--bracket", "0", "1"],
     "--bracket: a goal seek over several priors searches their common step; leave --bracket out"),
    (["--seek", "cache_hit_rate,section_wordz", "--target", "0.9"], "did you mean 'section_words'?"),
])
def test_joint_goal_seek_errors_are_one_line(project, capsys, argv, said):
    from sim.cli import main

    from ..helpers import one_line_error

    assert main(["run", "--samples", "300", "--no-report"]) == 0
    err = one_line_error(capsys, ["decide", *argv])
    assert said in err, err
