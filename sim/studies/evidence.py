"""What observations say against a run: each observed variable's values, the observations' likelihood, the
prior and posterior predictive checks, how far each variable moved, and the ArviZ tree of a calibration.

:mod:`sim.studies.calibrate` weighs a run by :func:`log_likelihood`; the
report of a posterior reads :func:`shift` and the checks that
:func:`predictive_checks` makes.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from .. import _checks as check
from ..observations import Observation
from ..sampling import stream

__all__ = ["observed_values", "log_likelihood", "predictive_checks", "with_posterior", "shift", "moved", "sampled_variables", "arviz_tree",
           "CONFLICT", "MOVED", "KS_SAMPLES", "SHIFT_SAMPLES", "SHIFT_STATS"]

#: Central probability of the prior predictive range outside which an observation conflicts with the priors.
CONFLICT = 0.999
#: Kolmogorov-Smirnov distance between a prior's and its posterior's samples from which the prior has moved.
MOVED = 0.1
#: Samples of each the distance compares (its sampling error is about 1.36 sqrt(2 / KS_SAMPLES), 0.014).
KS_SAMPLES = 20_000
#: Rows of a run and its posterior whose quantiles :func:`shift` gives (the posterior's rows are in random order).
SHIFT_SAMPLES = 200_000
#: What :func:`shift` holds per variable.
SHIFT_STATS = ("prior_median", "posterior_mean", "posterior_median", "posterior_p05", "posterior_p95", "ks_distance")


def observed_values(ds: xr.Dataset, obs: Observation) -> np.ndarray:
    """The values of the variable ``obs`` observes at its cell, one per sample of run ``ds``.

    A dim the selection leaves open is no ambiguity where the variable is the
    same along it (an output no scenario changes). An observation of one
    scenario's cell weighs the samples of every scenario: they share their
    draws.

    Raises
    ------
    ConfigError
        At the observation's file and key: a selection outside the run's
        coordinates, a cell left ambiguous, or a prior the run does not draw.
    """
    at = obs.location
    da = ds[obs.variable]
    if "sample" not in da.dims:
        raise at.error(f"prior {obs.variable} is fixed in this run: an observation cannot change it")
    chosen = {}
    for dim, label in obs.select:
        if dim not in ds.dims or dim == "sample":
            dims = [d for d in ds.dims if d != "sample"]
            raise at.error(f"select: no dim {dim!r} in the run; {check.choices(dim, dims)}")
        labels = [str(v) for v in ds[dim].values]
        if label not in labels:
            raise at.error(f"select: {dim} has no value {label!r}; {check.choices(label, labels)}")
        if dim in da.dims:
            chosen[dim] = ds[dim].values[labels.index(label)]
    da = da.sel(chosen)
    da = da.squeeze([d for d in da.dims if d != "sample" and da.sizes[d] == 1])  # one scenario, one cell
    for dim in [d for d in da.dims if d != "sample"]:
        if bool((da == da.isel({dim: 0})).all()):  # the same in every scenario (or cell): any one of them
            da = da.isel({dim: 0}, drop=True)
    left = [d for d in da.dims if d != "sample"]
    if left:
        raise at.error(f"select one cell of {obs.variable}: it has dims {', '.join(left)} left; give select = "
                       f"{{ {left[0]} = \"...\" }}")
    return np.asarray(da.values, dtype=float)


def log_likelihood(ds: xr.Dataset, observations) -> np.ndarray:
    return np.sum([obs.loglik(observed_values(ds, obs)) for obs in observations], axis=0)


def _quantiles(x: np.ndarray) -> np.ndarray:
    """The 5th, 50th and 95th percentiles of ``x``."""
    return np.quantile(x, [0.05, 0.5, 0.95])


def predictive_checks(prior: xr.Dataset, observations, rng: np.random.Generator) -> xr.Dataset:
    """Each observation against its prior predictive distribution: the figure drawn from its likelihood around
    each sample's value. :func:`with_posterior` adds the posterior predictive's columns.

    Returns
    -------
    xarray.Dataset
        Dim ``observation``: ``variable``, ``observed`` (the value, an
        interval's midpoint, or a one-sided interval's bound),
        ``prior_p05``, ``prior_p50``, ``prior_p95``, ``posterior_p05``,
        ``posterior_p50``, ``posterior_p95`` (NaN until
        :func:`with_posterior`), ``pit`` (the share of prior predictive draws
        at or below the figure) and ``conflict`` (the figure outside the
        prior predictive 99.9 % range).
    """
    rows = {k: [] for k in ("variable", "observed", *_columns("prior"), *_columns("posterior"), "pit", "conflict")}
    tail = (1 - CONFLICT) / 2
    for obs in observations:
        before = obs.draws(observed_values(prior, obs), rng)
        pit = float(np.mean(before <= obs.observed))
        if obs.likelihood == "interval":
            conflict = bool(np.mean((obs.low <= before) & (before <= obs.high)) < 1 - CONFLICT)
        else:
            conflict = not tail <= pit <= 1 - tail
        for column, q in zip(_columns("prior"), _quantiles(before)):
            rows[column].append(float(q))
        for column in _columns("posterior"):
            rows[column].append(np.nan)
        rows["variable"].append(obs.variable)
        rows["observed"].append(float(obs.observed))
        rows["pit"].append(pit)
        rows["conflict"].append(conflict)
    out = xr.Dataset({k: ("observation", np.asarray(v)) for k, v in rows.items()},
                     coords={"observation": [o.name for o in observations]})
    out["observed"].attrs["units"] = "the variable's"
    return out


def with_posterior(checks: xr.Dataset, posterior: xr.Dataset, observations, rng: np.random.Generator) -> xr.Dataset:
    """``checks`` (:func:`predictive_checks`) with the posterior predictive's median and 90 % interval."""
    quantiles = np.array([_quantiles(obs.draws(observed_values(posterior, obs), rng)) for obs in observations])
    return checks.assign({column: ("observation", quantiles[:, i])
                          for i, column in enumerate(_columns("posterior"))})


def _columns(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{key}" for key in ("p05", "p50", "p95"))


def moved(shifted: xr.Dataset) -> list[str]:
    """The priors the evidence moved: in :func:`shift`'s result, those with a Kolmogorov-Smirnov distance of at
    least :data:`MOVED` in some cell."""
    return [name for name, da in shifted.data_vars.items() if da.attrs.get("role") == "input"
            and float(da.sel(stat="ks_distance").max()) >= MOVED]


def sampled_variables(ds: xr.Dataset) -> list[str]:
    """The drawn priors and the outputs of a run: its variables with a ``sample`` dim."""
    return [n for n, da in ds.data_vars.items() if "sample" in da.dims]


def _ks_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Kolmogorov-Smirnov distance between two samples along the last axis (their first :data:`KS_SAMPLES`
    each), every cell in one call."""
    return np.asarray(stats.ks_2samp(a[..., :KS_SAMPLES], b[..., :KS_SAMPLES], axis=-1).statistic, dtype=float)


def shift(prior: xr.Dataset, posterior: xr.Dataset) -> xr.Dataset:
    """Per variable: the prior median; the posterior mean, median, 5th and 95th percentiles; and the
    Kolmogorov-Smirnov distance between prior and posterior (dim ``stat``).

    The mean reads every row; the quantiles the first :data:`SHIFT_SAMPLES`
    rows of each (a posterior's rows are in random order, so they are a
    sample of it), the distance the first :data:`KS_SAMPLES`.
    """
    first = {"sample": slice(0, SHIFT_SAMPLES)}
    out = xr.Dataset()
    for name in sampled_variables(posterior):
        before, after = prior[name].isel(first), posterior[name].isel(first)
        distance = xr.apply_ufunc(_ks_distance, before, after, input_core_dims=[["sample"], ["sample"]],
                                  exclude_dims={"sample"})
        q = after.quantile([0.05, 0.5, 0.95], "sample")  # one partition for the three
        parts = [before.median("sample"), posterior[name].mean("sample", skipna=False), *(q.sel(quantile=p, drop=True)
                                                                          for p in (0.5, 0.05, 0.95)), distance]
        out[name] = xr.concat(parts, dim="stat").assign_coords(stat=list(SHIFT_STATS))
        out[name].attrs = {"units": prior[name].attrs.get("units", ""), "role": prior[name].attrs.get("role", "")}
    return out


def _group(ds: xr.Dataset, names) -> xr.Dataset:
    """Variables ``names`` of a run with ArviZ's dims: ``sample`` as one ``chain`` of ``draw``s, ahead of the rest."""
    out = ds[list(names)].rename({"sample": "draw"}).expand_dims(chain=[0])
    out = out.assign_coords(draw=np.arange(out.sizes["draw"]))
    return out.transpose("chain", "draw", ...).drop_attrs(deep=False)


def _key(name: str) -> str:
    """An observation's name as a variable name (``prices[3]`` as ``prices_3``)."""
    return name.replace("[", "_").replace("]", "")


def arviz_tree(result, prior: xr.Dataset) -> xr.DataTree:
    """The calibration as ArviZ reads it: a tree of groups ``prior`` and ``posterior`` (the drawn priors and the
    outputs), ``observed_data`` (each observed figure), ``prior_predictive`` and ``posterior_predictive`` (the
    figure drawn from its likelihood around each sample's value), each with ``chain`` and ``draw`` dims.

    ``prior`` is the run the calibration was made from."""
    posterior = result.posterior
    names = sampled_variables(posterior)
    rng = np.random.Generator(stream(int(prior.attrs["seed"]), "arviz"))
    predictive = {}
    for label, ds in (("prior_predictive", prior), ("posterior_predictive", posterior)):
        draws = {_key(o.name): ("draw", o.draws(observed_values(ds, o), rng)) for o in result.observations}
        predictive[label] = xr.Dataset(draws).expand_dims(chain=[0]).assign_coords(
            draw=np.arange(ds.sizes["sample"]))
    observed = xr.Dataset({_key(o.name): o.observed for o in result.observations})
    for o in result.observations:
        observed[_key(o.name)].attrs = {"variable": o.variable, "units": o.unit, "likelihood": o.describe(),
                                        "source": o.source}
    groups = {"prior": _group(prior, names), "posterior": _group(posterior, names), "observed_data": observed,
              **predictive}
    groups["posterior"].attrs = {"method": result.method, "effective_samples": result.ess, "pareto_k": result.khat,
                                 "experiment": str(posterior.attrs.get("experiment", ""))}
    return xr.DataTree.from_dict(groups)
