"""Draw once, broadcast over scenarios, call the model, label the result.

:func:`run` evaluates an experiment's model on Monte Carlo samples and
:func:`point` on every prior's point value; both return an
:class:`xarray.Dataset` with the same variables and coordinates (``point``
has no ``sample`` dim).

Each prior that some scenario draws gets one row of uniforms; every scenario
maps the same uniforms through its own version of the prior (common random
numbers). A prior that no scenario changes is evaluated once and has no
``scenario`` dim; every output is broadcast to all scenarios.

The module is long because a run's guards (its memory, outputs that are not
finite) sit beside the evaluation they guard, and because samplers that
re-evaluate the model (calibration) draw the run's own uniforms here.
"""

from __future__ import annotations

import json
import sys
import warnings
from datetime import datetime, timezone

import numpy as np
import xarray as xr
from scipy import stats

from ._version import __version__
from . import memory
from .errors import SimError, SimWarning
from .progress import bar_disable
from .experiment import Experiment, with_settings
from .sampling import iter_uniforms

__all__ = ["run", "run_uniforms", "point", "evaluate", "evaluate_uniforms", "drawn_priors", "draw_uniforms",
           "correlated", "label_dataset", "DEFAULT_CHUNK"]

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


def drawn_priors(experiment: Experiment) -> list[str]:
    """Names of the priors a run draws (not fixed in at least one scenario), in model order."""
    return _plan(experiment)[1]


def _input(priors, u, scenarios):
    """DataArray of one input: dims ([scenario], [sample])."""
    if u is None or all(p.is_fixed for p in priors):
        values = [p.point for p in priors]
        if len(priors) == 1:
            return xr.DataArray(values[0])
        return xr.DataArray(values, dims=("scenario",), coords={"scenario": scenarios})
    if len(priors) == 1:
        return xr.DataArray(priors[0].ppf(u), dims=("sample",))
    rows = np.empty((len(priors), *u.shape))
    done: list[tuple] = []  # (prior, its row): a prior several scenarios share is mapped once
    for i, p in enumerate(priors):
        same = next((j for q, j in done if q == p), None)
        if same is not None:
            rows[i] = rows[same]
        else:
            rows[i] = np.full(u.shape, p.point) if p.is_fixed else p.ppf(u)
            done.append((p, i))
    return xr.DataArray(rows, dims=("scenario", "sample"), coords={"scenario": scenarios})


def _evaluate(experiment: Experiment, plan, uniforms: dict | None, m: int | None, values: dict | None = None):
    """Inputs and outputs for one chunk (``uniforms`` None: point mode).

    ``values`` gives some inputs directly (DataArrays with dims
    ``([scenario], sample)``); the rest come from ``uniforms`` or points.
    """
    scenarios = list(experiment.scenario_names)
    inputs = {name: _input(priors, None if uniforms is None else uniforms.get(name), scenarios)
              for name, priors in plan.items()}
    inputs.update(values or {})
    inputs.update(experiment.sweeps)
    outputs = dict(experiment.model.evaluate(**inputs, **experiment.model.constants))
    for name, da in outputs.items():
        if "scenario" not in da.dims:
            da = da.expand_dims(scenario=scenarios)
        if m is not None and "sample" not in da.dims:
            da = da.expand_dims(sample=m, axis=-1)
        outputs[name] = da.transpose("scenario", ..., *(["sample"] if m is not None else []))
    # a swept input named like its dim (``year``) is that dim's coordinate, not a variable
    return {k: v for k, v in inputs.items() if k not in v.dims}, outputs


def label_dataset(experiment: Experiment, data_vars: dict, mode: str, coords: dict) -> xr.Dataset:
    """Samples or point values as a run's Dataset: the scenarios' descriptions, each prior's and sweep's
    attributes, the outputs' units and roles, and the run's provenance (``mode``: ``monte_carlo`` or ``point``)."""
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
    _output_attrs(experiment, ds)
    ds.attrs = provenance(experiment, mode)
    return ds


def _output_attrs(experiment: Experiment, ds: xr.Dataset) -> None:
    """Each output's units, long name and role (``cost``, ``revenue``, ``volume``, or ``output``)."""
    for name, meta in experiment.model.outputs.items():
        ds[name].attrs = {"units": meta.units, "long_name": meta.long_name, "role": meta.role or "output"}


def provenance(experiment: Experiment, mode: str) -> dict:
    """What a run's outputs record of where they came from (a Dataset's ``attrs``)."""
    attrs = {
        "experiment": experiment.name, "experiment_file": experiment.path, "title": experiment.title,
        "model": experiment.model.name, "model_source": experiment.model.source, "mode": mode,
        "priors_files": ", ".join(experiment.prior_files), "priors_hash": experiment.priors_hash(),
        "sim_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if experiment.set_values:
        attrs["overrides"] = "; ".join(f"{name} = {value!r}" for name, value in experiment.set_values)
    if experiment.only:
        attrs["scenarios_run"] = ", ".join(experiment.only)
    if experiment.set_values or experiment.only:  # read back as data (sim.experiment.as_run), never parsed from text
        attrs["run_overrides"] = json.dumps({"set": dict(experiment.set_values), "scenarios": list(experiment.only)})
    return attrs


def _outputs_dataset(experiment: Experiment, outputs: dict) -> xr.Dataset:
    ds = xr.Dataset(outputs)
    _output_attrs(experiment, ds)
    return ds


def evaluate(experiment: Experiment, values: dict) -> xr.Dataset:
    """The model's outputs with some inputs given and the rest at their point values.

    Parameters
    ----------
    experiment : Experiment
    values : dict of str to array_like or DataArray
        Input values with a trailing ``sample`` dim: 1-d arrays (the same in
        every scenario) or DataArrays with dims ``([scenario], sample)``.
        Every given input must have the same number of samples.

    Returns
    -------
    xarray.Dataset
        The outputs, dims ``scenario``, the model's own and ``sample``.
    """
    values = {k: v if isinstance(v, xr.DataArray) else xr.DataArray(np.asarray(v, dtype=float), dims=("sample",))
              for k, v in values.items()}
    m = {v.sizes["sample"] for v in values.values()}
    if len(m) != 1:
        raise ValueError(f"every input needs the same number of samples, got {sorted(m)}")
    plan, _ = _plan(experiment)
    _, outputs = _evaluate(experiment, plan, None, m.pop(), values)
    return _outputs_dataset(experiment, outputs)


def evaluate_uniforms(experiment: Experiment, uniforms: dict, *, chunk_size: int = DEFAULT_CHUNK) -> xr.Dataset:
    """The model's outputs with the given priors drawn at the given uniforms.

    Each scenario maps the uniforms through its own priors; priors not in
    ``uniforms`` stay at their point values. No rank correlation is applied:
    the uniforms are used as given.

    Parameters
    ----------
    uniforms : dict of str to ndarray, shape (m,)
        Values in (0, 1) per prior name; all of one length ``m``.

    Returns
    -------
    xarray.Dataset
        The outputs, dims ``scenario``, the model's own and ``sample``.
    """
    names = list(uniforms)
    u = np.asarray([uniforms[n] for n in names], dtype=float).reshape(len(names), -1)
    plan, _ = _plan(experiment)
    n = u.shape[1]
    parts = [_evaluate(experiment, plan, dict(zip(names, u[:, a:b])), b - a)[1]
             for a, b in ((a, min(a + chunk_size, n)) for a in range(0, n, chunk_size))]
    outputs = parts[0] if len(parts) == 1 else {k: xr.concat([p[k] for p in parts], dim="sample") for k in parts[0]}
    return _outputs_dataset(experiment, outputs)


def run_bytes(experiment: Experiment, samples: int) -> int:
    """Bytes the stored samples of a run take: every output and drawn input, per cell and sample (float64).

    The outputs' cells come from the dims the experiment's unit check found
    (:meth:`~sim.experiment.Experiment.output_cells`): the model is not
    evaluated again.
    """
    plan, drawn = _plan(experiment)
    cells = sum(experiment.output_cells().values())
    cells += sum(len(plan[name]) for name in drawn)  # a drawn input: one row, or one per scenario
    return np.dtype(float).itemsize * cells * samples


def check_memory(experiment: Experiment, samples: int, *, design: str | None = None, work: str = "run",
                 saved: bool = False) -> None:
    """Refuse, before allocating anything, a command whose samples would not fit in the memory it may use.

    ``work`` is the command (see :data:`sim.memory.MEMORY_USE`), ``saved`` whether it
    reads a saved run rather than making one; ``design`` names a study's
    design of ``samples`` evaluations (such as ``--sobol-n 16384``) for the
    message, in place of a run's sample count.
    """
    room = memory.available_memory()
    if room is None:
        return
    available, what = room
    factor, extra = memory.MEMORY_USE[work]
    need = extra + factor * run_bytes(experiment, samples)
    if need <= available:
        return
    fit = max(int(samples * (available - extra) / (need - extra)), 0)
    gib = (f"would need about {need / 2**30:{'.3g' if design else '.1f'}} GiB of memory, more than the "
           f"{available / 2**30:.1f} GiB {what}")
    if design:
        raise SimError(f"{design}: its {samples:,} model evaluations {gib}; at most about {fit:,} fit")
    if saved:
        raise SimError(f"{experiment.path}: sim {work} of the saved run of {samples:,} samples {gib}; it can read a "
                       f"run of at most about {fit:,} samples")
    if work == "report":
        raise SimError(f"{experiment.path}: {samples:,} samples with the report {gib}; run at most about {fit:,} "
                       "samples, or add --no-report (or --stream, to keep only summaries)")
    raise SimError(f"{experiment.path}: {samples:,} samples {gib}; run at most about {fit:,} samples, or add --stream "
                   "to keep only summaries")


def _first_cell(dims, bad: np.ndarray, coords: dict) -> str:
    """``scenario baseline, model gpt3``: the cell of the first True of ``bad`` (its sample left out)."""
    cell = np.unravel_index(np.argmax(bad), bad.shape)
    return ", ".join(f"{d} {np.asarray(getattr(coords[d], 'values', coords[d]))[i]}"
                     for d, i in zip(dims, cell) if d != "sample" and d in coords)


def _check_finite(experiment: Experiment, data_vars: dict, coords: dict) -> None:
    """Stop the run if an output is NaN or infinite, naming the priors at extreme values in those samples."""
    for name in experiment.model.outputs:
        dims, values = data_vars[name]
        bad = ~np.isfinite(values)
        if not bad.any():
            continue
        where = _first_cell(dims, bad, coords)
        if "sample" not in dims:  # point mode: one value per cell
            raise SimError(f"{experiment.path}: output {name} is NaN or infinite in point mode in {int(bad.sum()):,} "
                           f"cell(s) (first in {where or 'the only cell'}); check the point values and catalogue "
                           "entries it reads for values the equations cannot take (zero, negative, or too large)")
        per_sample = bad.any(axis=tuple(i for i, d in enumerate(dims) if d != "sample"))
        n, k = per_sample.size, int(per_sample.sum())
        culprits = []
        for prior, (pdims, x) in data_vars.items():
            if prior in experiment.model.outputs or "sample" not in pdims:
                continue
            for row in x.reshape(-1, n):  # each scenario's version of the prior
                # how far the prior's values in the failing samples lie from its values in all samples
                distance = stats.ks_2samp(row[per_sample], row).statistic
                if distance >= 0.3:
                    culprits.append((distance, f"{prior} ({row[per_sample].min():.3g} to {row[per_sample].max():.3g} "
                                               f"there, {row.min():.3g} to {row.max():.3g} in all samples)"))
                    break
        blame = ("; in those samples these priors sit at the edge of their range: "
                 + ", ".join(text for _, text in sorted(culprits, reverse=True)) if culprits else
                 "; no prior stands out in those samples")
        raise SimError(f"{experiment.path}: output {name} is NaN or infinite in {k:,} of {n:,} samples "
                       f"(first in {where or 'the run'}){blame}. Check that those priors cannot reach values the "
                       "equations cannot take (zero or negative amounts, fractions of 0 or 1); truncate them if so")


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
    _check_finite(experiment, {name: (da.dims, da.values) for name, da in outputs.items()},
                  {**coords, **{c: da[c].variable for da in outputs.values() for c in da.coords}})  # a run's guard
    return label_dataset(experiment, {**inputs, **outputs}, "point", coords)


def _drawn(experiment: Experiment) -> tuple[dict, list[str]]:
    """The evaluation plan and the priors drawn, correlated ones included (a scenario may pin a correlated prior;
    its row is drawn all the same)."""
    plan, drawn = _plan(experiment)
    if experiment.correlation:
        drawn = drawn + [n for n in experiment.correlation.names if n not in drawn]
    return plan, drawn


def iter_chunks(experiment: Experiment, *, chunk_size: int = DEFAULT_CHUNK, progress: bool = False,
                start: int = 0, stop: int | None = None):
    """Yield ``(start, stop, inputs, outputs)`` for consecutive chunks of the experiment's samples.

    ``inputs`` and ``outputs`` map names to DataArrays with a ``sample`` dim
    of ``stop - start`` (inputs fixed in every scenario have none). The
    values do not depend on ``chunk_size`` (see :func:`sim.sampling.uniforms`),
    nor on which range ``[start, stop)`` of the design a caller asks for, so
    ranges can be evaluated apart (on a cluster) and give the same numbers.
    """
    n = experiment.samples
    stop = n if stop is None else stop
    plan, drawn = _drawn(experiment)

    from tqdm import tqdm

    with tqdm(total=stop - start, unit="sample", unit_scale=True, delay=2.0, disable=bar_disable(progress),
              file=sys.stderr, desc=experiment.name) as bar:
        for a, b, u in iter_uniforms(drawn, n, seed=experiment.seed, sampler=experiment.sampler,
                                     chunk_size=chunk_size, start=start, stop=stop):
            inputs, outputs = _evaluate(experiment, plan, correlated(experiment, dict(zip(drawn, u))), b - a)
            yield a, b, inputs, outputs
            bar.update(b - a)


def draw_uniforms(experiment: Experiment, start: int = 0, stop: int | None = None, *,
                  correlate: bool = True) -> dict[str, np.ndarray]:
    """The uniforms of samples ``start`` to ``stop`` of ``experiment``'s run, by prior, as :func:`run` draws and
    correlates them: :func:`run_uniforms` of them is that part of the run. ``correlate=False`` gives them before
    the priors' rank correlation is applied (:func:`correlated` applies it)."""
    n = experiment.samples
    stop = n if stop is None else stop
    _, drawn = _drawn(experiment)
    u = next(iter_uniforms(drawn, n, seed=experiment.seed, sampler=experiment.sampler, chunk_size=max(stop - start, 1),
                           start=start, stop=stop))[2]
    out = dict(zip(drawn, u))
    return correlated(experiment, out) if correlate else out


def correlated(experiment: Experiment, uniforms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Independent uniforms by prior with the experiment's rank correlation applied to the correlated priors."""
    correlation = experiment.correlation
    if not correlation:
        return uniforms
    rows = correlation.apply(np.stack([uniforms[name] for name in correlation.names]))
    return {**uniforms, **dict(zip(correlation.names, rows))}


def run_uniforms(experiment: Experiment, uniforms: dict[str, np.ndarray], attrs: dict | None = None, *,
                 check: bool = True) -> xr.Dataset:
    """A run of ``experiment`` on given uniforms (by prior, each of one length; priors left out at their point
    values), labelled as :func:`run` labels its runs, with ``attrs`` added to the run's provenance.
    ``check=False`` leaves NaN or infinite outputs in place (a sampler that weighs them out) instead of stopping."""
    plan, _ = _plan(experiment)
    m = len(next(iter(uniforms.values())))
    inputs, outputs = _evaluate(experiment, plan, uniforms, m)
    coords: dict = {"scenario": list(experiment.scenario_names), "sample": np.arange(m)}
    data_vars = {}
    for name, da in {**inputs, **outputs}.items():
        coords.update({c: da[c].variable for c in da.coords if c not in ("scenario", "sample")})
        data_vars[name] = (da.dims, da.values)
    if check:
        _check_finite(experiment, data_vars, coords)
    ds = label_dataset(experiment, data_vars, "monte_carlo", coords)
    ds.attrs.update({"seed": experiment.seed, "sampler": experiment.sampler, "samples": m, **(attrs or {})})
    return ds


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
    check_memory(experiment, n)
    if experiment.sampler == "sobol" and n & (n - 1):
        warnings.warn(f"Sobol' balance needs a power of 2 samples; {n} is not "
                      f"(nearest: {2 ** round(np.log2(n))})", SimWarning, stacklevel=2)
    store: dict[str, np.ndarray] = {}
    dims: dict[str, tuple] = {}
    coords: dict = {"scenario": list(experiment.scenario_names), "sample": np.arange(n)}
    for start, stop, inputs, outputs in iter_chunks(experiment, chunk_size=chunk_size, progress=progress):
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

    data_vars = {name: (dims[name], store[name]) for name in store}
    _check_finite(experiment, data_vars, coords)
    ds = label_dataset(experiment, data_vars, "monte_carlo", coords)
    ds.attrs.update({"seed": experiment.seed, "sampler": experiment.sampler, "samples": n})
    if experiment.correlation:
        ds.attrs["rank_correlations"] = "; ".join(f"{a} ~ {b}: {r:g}"
                                                  for (a, b), r in experiment.correlation.pairs().items())
    return ds
