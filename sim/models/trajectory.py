"""Cost trajectories over years (SPEC section 8).

From the base year's costs, each year multiplies

* the provider's compute cost by ``hardware_cost_factor * param_efficiency_factor
  / mfu_gain_factor`` (cheaper FLOP, fewer parameters at equal quality, higher
  utilisation), and
* the API list price by ``api_price_factor``,

each an uncertain yearly factor. ``share_below_threshold`` is 1 from the first
year the optimized share of revenue per query falls below
``share_threshold`` on, so its mean over samples is the probability that the
threshold has been crossed by that year.
"""

from __future__ import annotations

from . import search
from ._base import Constant, Output, model

#: Yearly factors compound once per year elapsed.
ONE_YEAR = Constant(1.0, "year")


def yearly_compute_cost_factor(*, hardware_cost_factor, param_efficiency_factor, mfu_gain_factor):
    return hardware_cost_factor * param_efficiency_factor / mfu_gain_factor


@model(name="trajectory",
       description="Cost per query and training cost by year under uncertain yearly improvement factors",
       uses=search.MODEL,
       outputs={
           **{name: search.MODEL.outputs[name] for name in ("api_cost_per_query", "cost_per_query", "revenue_per_query",
                                                            "optimized_cost_per_query", "optimized_share_of_revenue")},
           "share_below_threshold": Output("1", "1 once the optimized share has fallen below the threshold"),
           "training_cost": Output("USD", "training cost of a model of fixed capability"),
       })
def evaluate(*, year, base_year, hardware_cost_factor, param_efficiency_factor, mfu_gain_factor, api_price_factor,
             share_threshold, training_cost_base, one_year=ONE_YEAR, **p):
    base = search.evaluate(**p)
    elapsed = (year - base_year) / one_year
    compute = yearly_compute_cost_factor(hardware_cost_factor=hardware_cost_factor,
                                         param_efficiency_factor=param_efficiency_factor,
                                         mfu_gain_factor=mfu_gain_factor) ** elapsed
    out = {"api_cost_per_query": base["api_cost_per_query"] * api_price_factor**elapsed,
           "cost_per_query": base["cost_per_query"] * compute,
           "revenue_per_query": base["revenue_per_query"]}
    out["optimized_cost_per_query"] = base["optimized_cost_per_query"] * compute
    out["optimized_share_of_revenue"] = out["optimized_cost_per_query"] / out["revenue_per_query"]
    below = out["optimized_share_of_revenue"] < share_threshold
    out["share_below_threshold"] = (below.cumsum("year") > 0) * 1.0
    out["training_cost"] = training_cost_base * compute
    return out


MODEL = evaluate
