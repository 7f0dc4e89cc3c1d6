"""Cost trajectories over years (SPEC section 8).

From the base year's costs, the provider's compute cost per query falls each
year by ``hardware_cost_factor * param_efficiency_factor`` (cheaper FLOP,
fewer parameters at equal quality) and by the gain in utilisation, which
compounds by ``mfu_gain_factor`` a year but stops at ``mfu_ceiling`` (from
``mfu_base``). The list price follows the cost: the cost over the cached
share and the provider's margin, as in the search model, so the provider's
cost never exceeds its list price. Years before the base year are the same
path extrapolated back. ``share_below_threshold`` is 1 from the first year the
optimized share of revenue per query falls below ``share_threshold`` on, so
its mean over samples is the probability that the threshold has been crossed
by that year.
"""

from __future__ import annotations

import numpy as np

from . import search
from ._base import Output, model
from .constants import ONE_YEAR


def utilisation_gain(*, mfu_gain_factor, mfu_base, mfu_ceiling, elapsed):
    """Utilisation relative to the base year: compounding by the yearly gain until it reaches the ceiling."""
    return np.minimum(mfu_gain_factor ** elapsed, mfu_ceiling / mfu_base)


def compute_cost_factor(*, hardware_cost_factor, param_efficiency_factor, mfu_gain_factor, mfu_base, mfu_ceiling,
                        elapsed):
    """Compute cost relative to the base year."""
    return (hardware_cost_factor * param_efficiency_factor) ** elapsed / utilisation_gain(
        mfu_gain_factor=mfu_gain_factor, mfu_base=mfu_base, mfu_ceiling=mfu_ceiling, elapsed=elapsed)


@model(name="trajectory",
       description="Cost per query and training cost by year under uncertain yearly improvement factors",
       uses=search.MODEL,
       outputs={
           "api_cost_per_query": Output("USD/query", "list price of a query's tokens (cost over cache and margin)"),
           **{name: search.MODEL.outputs[name] for name in ("cost_per_query", "revenue_per_query",
                                                            "optimized_cost_per_query", "optimized_share_of_revenue")},
           "share_below_threshold": Output("1", "1 once the optimized share has fallen below the threshold"),
           "training_cost": Output("USD", "training cost of a model of fixed capability"),
       })
def evaluate(*, year, base_year, hardware_cost_factor, param_efficiency_factor, mfu_gain_factor, mfu_base, mfu_ceiling,
             share_threshold, training_cost_base, one_year=ONE_YEAR, **p):
    base = search.evaluate(**p)
    elapsed = (year - base_year) / one_year
    compute = compute_cost_factor(hardware_cost_factor=hardware_cost_factor,
                                  param_efficiency_factor=param_efficiency_factor, mfu_gain_factor=mfu_gain_factor,
                                  mfu_base=mfu_base, mfu_ceiling=mfu_ceiling, elapsed=elapsed)
    out = {"cost_per_query": base["cost_per_query"] * compute}
    out["api_cost_per_query"] = out["cost_per_query"] / ((1.0 - p["cache_hit_rate"])
                                                         * (1.0 - p["provider_gross_margin"]))
    out["revenue_per_query"] = base["revenue_per_query"]
    out["optimized_cost_per_query"] = base["optimized_cost_per_query"] * compute
    out["optimized_share_of_revenue"] = out["optimized_cost_per_query"] / out["revenue_per_query"]
    below = out["optimized_share_of_revenue"] < share_threshold
    out["share_below_threshold"] = (below.cumsum("year") > 0) * 1.0
    out["training_cost"] = training_cost_base * compute
    return out


MODEL = evaluate
