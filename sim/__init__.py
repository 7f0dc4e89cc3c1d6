"""sim: Monte Carlo uncertainty for the economics of large language models.

Typical use::

    import sim
    exp = sim.load_experiment("experiments/search_cost.toml")
    ds = sim.run(exp, samples=100_000, seed=1)      # xarray.Dataset
    sim.summarize(ds)                               # stat x scenario x ...
    sim.point(exp)                                  # every prior at its point value
"""

from ._version import __version__
from .analysis import exceedance, summarize
from .engine import point, run
from .errors import ConfigError, SimError, SimWarning
from .experiment import Experiment, Scenario, load_experiment
from .priors import Prior, load_priors

__all__ = [
    "__version__", "load_experiment", "load_priors", "run", "point", "summarize", "exceedance",
    "Experiment", "Scenario", "Prior", "SimError", "ConfigError", "SimWarning",
]
