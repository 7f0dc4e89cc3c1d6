"""Draw once, broadcast over scenarios, call the model, label the result.

:func:`run` evaluates an experiment's model on Monte Carlo samples and
:func:`point` on every prior's point value; both return an
:class:`xarray.Dataset` with the same variables and coordinates (``point``
has no ``sample`` dim).

Each prior that some scenario draws gets one row of uniforms; every scenario
maps the same uniforms through its own version of the prior (common random
numbers). A prior that no scenario changes is evaluated once and has no
``scenario`` dim; every output is broadcast to all scenarios.
"""

from __future__ import annotations

import sys
import warnings
from datetime import datetime, timezone

import numpy as np
import xarray as xr

from ._version import __version__
from .errors import SimWarning
from .experiment import Experiment, with_settings
from .sampling import iter_uniforms

__all__ = ["run", "point", "DEFAULT_CHUNK"]

#: Samples evaluated at a time: bounds the model's temporaries (8 MB per
#: intermediate array and coordinate cell); runs up to this size are
#: evaluated in one piece with no copy.
DEFAULT_CHUNK = 2**20


def _plan(experiment: Experiment):
    """Per model input: the priors to evaluate (one if shared by all scenarios)."""
    plan = {}
    for name in experiment.model.inputs:
        if name in experiment.sweeps:
            continue
        per = [s.priors[name] for s in experiment.scenarios]
        plan[name] = per[:1] if all(p == per[0] for p in per) else per
    drawn = [n for n, ps in plan.items() if any(not p.is_fixed for p in ps)]
    return plan, drawn


def _input(priors, u, scenarios):
    """DataArray of one input: dims ([scenario], [sample])."""
    if u is None or all(p.is_fixed for p in priors):
        values = [p.point for p in priors]
        if len(priors) == 1:
            return xr.DataArray(values[0])
        return xr.DataArray(values, dims=("scenario",), coords={"scenario": scenarios})
    if len(priors) == 1:
        return xr.DataArray(priors[0].ppf(u), dims=("sample",))
    rows = np.stack([p.ppf(u) if not p.is_fixed else np.full(u.shape, p.point) for p in priors])
    return xr.DataArray(rows, dims=("scenario", "sample"), coords={"scenario": scenarios})


def _evaluate(experiment: Experiment, plan, uniforms: dict | None, m: int | None):
    """Inputs and outputs for one chunk (``uniforms`` None: point mode)."""
    scenarios = list(experiment.scenario_names)
    inputs = {name: _input(priors, None if uniforms is None else uniforms.get(name), scenarios)
              for name, priors in plan.items()}
    inputs.update(experiment.sweeps)
    outputs = dict(experiment.model.evaluate(**inputs))
    for name, da in outputs.items():
        if "scenario" not in da.dims:
            da = da.expand_dims(scenario=scenarios)
        if m is not None and "sample" not in da.dims:
            da = da.expand_dims(sample=m, axis=-1)
        outputs[name] = da.transpose("scenario", ..., *(["sample"] if m is not None else []))
    # a swept input named like its dim (``year``) is that dim's coordinate, not a variable
    return {k: v for k, v in inputs.items() if k not in v.dims}, outputs


def _label(experiment: Experiment, data_vars: dict, mode: str, coords: dict) -> xr.Dataset:
    ds = xr.Dataset(data_vars, coords=coords)
    ds = ds.assign_coords(scenario_description=("scenario", [s.description for s in experiment.scenarios]))
    base = experiment.base_priors
    for name in base:
        prior = base[name]
        changed_in = [s.name for s in experiment.scenarios if name in s.overrides]
        ds[name].attrs = {"units": prior.unit, "long_name": prior.long_name or name.replace("_", " "),
                          "role": "input", "distribution": prior.describe(), "point": prior.point,
                          "source": prior.source or prior.note, "overridden_in": ", ".join(changed_in)}
    for name, da in experiment.sweeps.items():
        (ds[name] if name in ds.data_vars else ds[name].variable).attrs.update(da.attrs)
    for name, meta in experiment.model.outputs.items():
        ds[name].attrs = {"units": meta.units, "long_name": meta.long_name, "role": "output"}
    ds.attrs = {
        "experiment": experiment.name, "experiment_file": experiment.path, "title": experiment.title,
        "model": experiment.model.name, "mode": mode, "priors_files": ", ".join(experiment.prior_files),
        "priors_hash": experiment.priors_hash(), "sim_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return ds


def point(experiment: Experiment) -> xr.Dataset:
    """Evaluate the model once, every prior at its point value.

    Returns
    -------
    xarray.Dataset
        Dims ``scenario`` and the model's own (``architecture``); no
        ``sample`` dim. Inputs and outputs as variables, as in :func:`run`.
    """
    plan, _ = _plan(experiment)
    inputs, outputs = _evaluate(experiment, plan, None, None)
    coords = {"scenario": list(experiment.scenario_names)}
    return _label(experiment, {**inputs, **outputs}, "point", coords)


def run(experiment: Experiment, *, samples: int | None = None, seed: int | None = None,
        sampler: str | None = None, chunk_size: int = DEFAULT_CHUNK, progress: bool = False) -> xr.Dataset:
    """Monte Carlo run of an experiment.

    Parameters
    ----------
    experiment : Experiment
        From :func:`sim.load_experiment`.
    samples, seed, sampler : optional
        Override the experiment file's settings.
    chunk_size : int
        Samples evaluated at a time; the result does not depend on it.
    progress : bool
        Show a progress bar on stderr for runs longer than two seconds.

    Returns
    -------
    xarray.Dataset
        Dims ``scenario``, the model's own (``architecture``) and
        ``sample`` (last). Outputs have every scenario; inputs have the
        ``scenario`` dim only where a scenario changes them. Run settings and
        provenance are in ``attrs``.
    """
    experiment = with_settings(experiment, samples=samples, seed=seed, sampler=sampler)
    n = experiment.samples
    if experiment.sampler == "sobol" and n & (n - 1):
        warnings.warn(f"Sobol' balance needs a power of 2 samples; {n} is not "
                      f"(nearest: {2 ** round(np.log2(n))})", SimWarning, stacklevel=2)
    plan, drawn = _plan(experiment)
    store: dict[str, np.ndarray] = {}
    dims: dict[str, tuple] = {}
    coords: dict = {"scenario": list(experiment.scenario_names), "sample": np.arange(n)}

    from tqdm import tqdm

    with tqdm(total=n, unit="sample", unit_scale=True, delay=2.0, disable=None if progress else True, file=sys.stderr,
              desc=experiment.name) as bar:
        for start, stop, u in iter_uniforms(drawn, n, seed=experiment.seed, sampler=experiment.sampler,
                                            chunk_size=chunk_size):
            inputs, outputs = _evaluate(experiment, plan, dict(zip(drawn, u)), stop - start)
            for name, da in {**inputs, **outputs}.items():
                if name not in store:
                    dims[name] = da.dims
                    coords.update({c: da[c].variable for c in da.coords if c not in ("scenario", "sample")})
                    if "sample" not in da.dims or stop - start == n:  # nothing to assemble
                        store[name] = da.values
                        continue
                    store[name] = np.empty(tuple(n if d == "sample" else s for d, s in zip(da.dims, da.shape)))
                if "sample" in da.dims:
                    store[name][..., start:stop] = da.values
            bar.update(stop - start)

    data_vars = {name: (dims[name], store[name]) for name in store}
    ds = _label(experiment, data_vars, "monte_carlo", coords)
    ds.attrs.update({"seed": experiment.seed, "sampler": experiment.sampler, "samples": n})
    return ds
