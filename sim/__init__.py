"""sim: Monte Carlo uncertainty for the economics of large language models.

Typical use::

    import sim
    exp = sim.load_experiment("experiments/search_cost.toml")
    ds = sim.run(exp, samples=100_000, seed=1)      # xarray.Dataset
    sim.summarize(ds)                               # stat x scenario x ...
    sim.point(exp)                                  # every prior at its point value

Every command is a function of :mod:`sim.api` (``sim.sensitivity``,
``sim.decide``, ``sim.report_content`` ...), available here too.

A model of one's own::

    @sim.model(outputs={"cost_per_task": sim.Output("USD/task", "cost per task", role="cost")})
    def my_model(*, calls, tokens_per_call, usd_per_mtoken, per_m=sim.Constant(1e6, "token/Mtoken")):
        return {"cost_per_task": calls * tokens_per_call * usd_per_mtoken / per_m}
"""

from ._version import __version__
from .errors import ConfigError, SimError, SimWarning

#: Public names and the modules they live in, imported when first used: ``sim --help`` then needs
#: neither scipy nor xarray.
_LAZY = {"exceedance": "analysis", "summarize": "analysis", "Experiment": "experiment", "Scenario": "experiment",
         "load_experiment": "experiment", "with_overrides": "experiment", "Constant": "models", "Model": "models",
         "Output": "models", "model": "models", "Prior": "priors", "load_priors": "priors",
         **{name: "api" for name in ("run", "point", "summarize_run", "run_to_precision", "stream_summary",
                                     "dask_summary", "sensitivity", "sensitivity_options", "decide",
                                     "decision_options", "report_content", "check", "validate", "what_if",
                                     "calibrate", "load_observations", "export_samples", "samples_table")}}

__all__ = [
    "__version__", "load_experiment", "load_priors", "run", "point", "summarize", "summarize_run", "exceedance",
    "with_overrides", "run_to_precision", "stream_summary", "dask_summary", "sensitivity", "sensitivity_options",
    "decide", "decision_options", "report_content", "check", "validate", "what_if", "calibrate", "load_observations",
    "model", "Model", "Output", "Constant", "Experiment", "Scenario", "Prior", "SimError", "ConfigError", "SimWarning",
    "export_samples", "samples_table",
]


def __getattr__(name):
    if name in _LAZY:
        from . import analysis, api, experiment, models, priors

        modules = {"analysis": analysis, "api": api, "experiment": experiment, "models": models, "priors": priors}
        value = getattr(modules[_LAZY[name]], name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
