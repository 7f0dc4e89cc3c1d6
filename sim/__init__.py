"""sim: Monte Carlo uncertainty for the economics of large language models.

Typical use::

    import sim
    exp = sim.load_experiment("experiments/search_cost.toml")
    ds = sim.run(exp, samples=100_000, seed=1)      # xarray.Dataset
    sim.summarize(ds)                               # stat x scenario x ...
    sim.point(exp)                                  # every prior at its point value

A model of one's own::

    @sim.model(outputs={"cost_per_task": sim.Output("USD/task", "cost per task", role="cost")})
    def my_model(*, calls, tokens_per_call, usd_per_mtoken, per_m=sim.Constant(1e6, "token/Mtoken")):
        return {"cost_per_task": calls * tokens_per_call * usd_per_mtoken / per_m}
"""

from ._version import __version__
from .analysis import exceedance, summarize
from .engine import point, run
from .errors import ConfigError, SimError, SimWarning
from .experiment import Experiment, Scenario, load_experiment, with_overrides
from .models import Constant, Model, Output, model
from .priors import Prior, load_priors

__all__ = [
    "__version__", "load_experiment", "load_priors", "run", "point", "summarize", "exceedance", "with_overrides",
    "model", "Model", "Output", "Constant", "Experiment", "Scenario", "Prior", "SimError", "ConfigError", "SimWarning",
]
