"""Which assumptions drive an output, by evaluating the model again: Sobol' indices, tornado and spider.

* :func:`sobol` -- first- and total-order Sobol' indices with bootstrap
  intervals, from a Saltelli design on the experiment's own model and priors
  (estimator: :func:`scipy.stats.sobol_indices`). Needs independent priors.
* :func:`one_at_a_time` and :func:`tornado` -- each prior moved through its
  percentiles with the others at their point values (spider and tornado).

Every result is an :class:`xarray.Dataset` with an ``input`` dim (the drawn
priors) and the output's cell dims (``scenario``, ``architecture``, ...).
The measures read from one run's samples are in :mod:`sim.analysis.sensitivity`;
:func:`sim.studies.suite.sensitivity` computes every method ``sim sensitivity`` asks for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import stats
from scipy.stats import qmc

from ..analysis.sensitivity import check_output
from ..analysis.summary import CI_BOUND, check_probability
from ..engine import check_memory, drawn_priors, evaluate, evaluate_uniforms, point
from ..errors import SimError
from ..experiment import Experiment
from ..sampling import open_unit, stream

__all__ = ["sobol", "sobol_arrays", "one_at_a_time", "tornado"]


# --- variance-based: Sobol' indices -----------------------------------------

def sobol_arrays(func, d: int, n: int, *, rng: np.random.Generator, n_resamples: int = 300,
                 probability: float = 0.95, max_bytes: int = 2**28) -> dict[str, np.ndarray]:
    """Sobol' indices with percentile-bootstrap intervals for a function of uniforms.

    Parameters
    ----------
    func : callable
        ``func(u) -> y`` with ``u`` of shape (d, m), values in (0, 1), and
        ``y`` of shape (s, m): ``s`` outputs for each of the ``m`` points.
    d, n : int
        Number of inputs and base sample size (a power of 2); ``func`` is
        called once on ``n * (d + 2)`` points.
    rng : numpy.random.Generator
        Seeds the scrambling and the bootstrap.
    n_resamples, probability
        Bootstrap resamples of the ``n`` rows and the interval's probability.
    max_bytes : int
        Bound on the memory of one batch of bootstrap resamples.

    Returns
    -------
    dict
        ``first_order``, ``total_order``: shape (s, d); ``first_order_ci``,
        ``total_order_ci``: shape (s, d, 2).

    Notes
    -----
    The design is Saltelli's: matrices A and B from one scrambled Sobol'
    sequence of 2 d dimensions, and A with column i from B for each i, as in
    :func:`scipy.stats.sobol_indices`, which computes the indices from the
    evaluations (Saltelli 2010 first order, Jansen total order). The bootstrap
    resamples the rows of the stored evaluations; as every term of the
    estimator is a mean over rows, a resample's estimate is a weighted mean
    with the resample's row counts as weights, one matrix product per batch
    (see ``_bootstrap``; a test checks it against scipy's estimator on the
    resampled rows). Nothing is re-evaluated.
    """
    if n < 2 or n & (n - 1):
        raise SimError(f"Sobol' indices need a power of 2 base samples, got {n} (nearest: {2 ** round(np.log2(max(n, 2)))})")
    A_B = qmc.Sobol(d=2 * d, scramble=True, rng=rng).random(n).T.reshape(2, d, n)
    open_unit(A_B)
    A, B = A_B
    pages = []
    for i in range(d):
        page = A.copy()
        page[i] = B[i]
        pages.append(page)
    y = np.asarray(func(np.concatenate([A, B, *pages], axis=1)), dtype=float)
    y = y.reshape(-1, n * (d + 2))
    s = y.shape[0]
    f_A, f_B = y[:, :n], y[:, n:2 * n]
    f_AB = y[:, 2 * n:].reshape(s, d, n).transpose(1, 0, 2)
    if not np.all(np.isfinite(y)):
        raise SimError("the model gave NaN or infinite values on the Sobol' design; check the priors' supports")
    # scipy's sobol_indices fails on one input and one output (its 1 x 1 index becomes a scalar); each index is
    # estimated from its own column of f_AB, so a duplicated column gives the same estimate
    pad = f_AB if d > 1 else np.concatenate([f_AB, f_AB])
    res = stats.sobol_indices(func={"f_A": f_A, "f_B": f_B, "f_AB": pad}, n=n)
    first, total = (np.reshape(v, (s, len(pad)))[:, :d] for v in (res.first_order, res.total_order))

    boot_first, boot_total = _bootstrap(f_A, f_B, f_AB, rng=rng, n_resamples=n_resamples, max_bytes=max_bytes)
    tail = (1.0 - probability) / 2.0

    def ci(boot):
        return np.moveaxis(np.quantile(boot, [tail, 1.0 - tail], axis=0), 0, -1)

    return {"first_order": first, "total_order": total, "first_order_ci": ci(boot_first),
            "total_order_ci": ci(boot_total)}


def _bootstrap(f_A, f_B, f_AB, *, rng, n_resamples, max_bytes):
    """Bootstrap replicates of scipy's ``saltelli_2010`` indices: shape (n_resamples, s, d) each.

    Each estimator term is a mean over the ``n`` rows of a per-row quantity,
    so a resample's estimate is a weighted mean with the resample's row
    counts as weights: one matrix product per batch of resamples instead of
    gathering ``n_resamples`` copies of the evaluations. The mean is taken out
    per resample, as scipy does on each resample it evaluates.
    """
    d, s, n = f_AB.shape
    centre = np.mean([f_A, f_B], axis=(0, -1))[:, None]
    f_A, f_B, f_AB = f_A - centre, f_B - centre, f_AB - centre
    diff = f_AB - f_A
    terms = np.concatenate([(f_B * diff).reshape(d * s, n), diff.reshape(d * s, n), (diff**2).reshape(d * s, n),
                            f_A, f_B, f_A**2, f_B**2]).T  # (n, 3 d s + 4 s)
    batch = max(1, min(n_resamples, max_bytes // (8 * n * 2)))
    first, total = [], []
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        weights = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n) / n
        means = weights @ terms
        a, c, c2 = (means[:, k * d * s:(k + 1) * d * s].reshape(b, d, s) for k in range(3))
        mA, mB, mA2, mB2 = (means[:, 3 * d * s + k * s: 3 * d * s + (k + 1) * s][:, None, :] for k in range(4))
        m = (mA + mB) / 2.0
        var = (mA2 + mB2) / 2.0 - m**2
        with np.errstate(invalid="ignore", divide="ignore"):
            s1 = (a - m * c) / var
            st = 0.5 * c2 / var
        first.append(np.where(np.isfinite(s1), s1, 0.0).transpose(0, 2, 1))
        total.append(np.where(np.isfinite(st), st, 0.0).transpose(0, 2, 1))
    return np.concatenate(first), np.concatenate(total)


def sobol(experiment: Experiment, output: str, *, n: int = 2**14, seed: int | None = None, n_resamples: int = 300,
          probability: float = 0.95) -> xr.Dataset:
    """First- and total-order Sobol' indices of ``output`` for every drawn prior.

    One Saltelli design over the drawn priors is evaluated in every scenario
    (common random numbers), so each scenario and cell gets its own indices.

    Parameters
    ----------
    experiment : Experiment
    output : str
        One of the model's outputs.
    n : int
        Base sample size, a power of 2; the model is evaluated on
        ``n * (d + 2)`` points for ``d`` drawn priors.
    seed : int, optional
        Default: the experiment's seed.
    n_resamples, probability
        Bootstrap resamples and the intervals' probability.

    Returns
    -------
    xarray.Dataset
        ``first_order`` and ``total_order`` with dims (``scenario``, cell
        dims, ``input``), and ``first_order_ci``, ``total_order_ci`` with a
        trailing ``ci_bound`` dim.

    Raises
    ------
    SimError
        If the experiment correlates priors: variance-based indices assume
        independent inputs (use :func:`first_order_given` and
        :func:`rank_correlation` instead), or if ``output`` is unknown.
    """
    check_output(list(experiment.model.outputs), output)
    probability = check_probability(probability)
    if experiment.correlation is not None:
        pairs = ", ".join(f"{a} ~ {b}" for a, b in experiment.correlation.pairs())
        raise SimError(f"{experiment.path}: Sobol' indices are not defined in the usual sense for correlated "
                       f"priors ({pairs}): the variance cannot be split among dependent inputs. Use the one-run "
                       "methods (rank correlation, given-data first order), which allow for correlation")
    names = drawn_priors(experiment)
    if not names:
        raise SimError(f"{experiment.path}: every prior is fixed; there is nothing to attribute the variance to")
    check_memory(experiment, n * (len(names) + 2), design=f"--sobol-n {n}: the Sobol' design")
    seed = experiment.seed if seed is None else seed

    cells = {}

    def func(u):
        da = evaluate_uniforms(experiment, dict(zip(names, u)))[output].transpose(..., "sample")
        cells["template"] = da.isel(sample=0, drop=True)  # the output's cells, in the order flattened here
        return da.values.reshape(-1, u.shape[1])

    rng = np.random.Generator(stream(seed, "sobol_indices"))
    res = sobol_arrays(func, len(names), n, rng=rng, n_resamples=n_resamples, probability=probability)
    cell = cells["template"]
    shape, dims, coords = cell.shape, cell.dims, {k: v.variable for k, v in cell.coords.items()}
    out = xr.Dataset(coords={**coords, "input": names, "ci_bound": CI_BOUND})
    for key, values in res.items():
        extra = ("ci_bound",) if key.endswith("_ci") else ()
        out[key] = (dims + ("input",) + extra, values.reshape(*shape, len(names), *values.shape[2:]))
    out["first_order"].attrs = {"long_name": "first-order Sobol' index", "units": "1"}
    out["total_order"].attrs = {"long_name": "total-order Sobol' index", "units": "1"}
    out.attrs = {"output": output, "experiment": experiment.name, "n": n, "evaluations": n * (len(names) + 2),
                 "seed": seed, "n_resamples": n_resamples, "probability": probability,
                 "method": "Saltelli design; scipy.stats.sobol_indices; percentile bootstrap over rows"}
    return out


# --- one at a time: spider and tornado ----------------------------------------

def one_at_a_time(experiment: Experiment, output: str,
                  percentiles: Sequence[float] = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)) -> xr.Dataset:
    """``output`` with each drawn prior at its percentiles and every other prior at its point value.

    Returns
    -------
    xarray.Dataset
        ``value`` (the output) and ``input_value`` (the prior's value), dims
        (``scenario``, cell dims, ``input``, ``percentile``), and ``base``:
        the output in point mode.
    """
    check_output(list(experiment.model.outputs), output)
    ps = np.asarray([check_probability(p, "a percentile") for p in percentiles])
    names = drawn_priors(experiment)
    if not names:
        raise SimError(f"{experiment.path}: every prior is fixed; there is nothing to vary")
    d, k = len(names), len(ps)
    scenarios = list(experiment.scenario_names)
    values, varied = {}, []
    for i, name in enumerate(names):
        rows, moved = [], []
        for s in experiment.scenarios:
            prior = s.priors[name]
            row = np.full(d * k, prior.point)
            row[i * k:(i + 1) * k] = prior.ppf(ps)
            rows.append(row)
            moved.append(row[i * k:(i + 1) * k])
        values[name] = xr.DataArray(np.array(rows), dims=("scenario", "sample"), coords={"scenario": scenarios})
        varied.append(moved)
    result = evaluate(experiment, values)[output]
    base = point(experiment)[output]
    value = result.transpose(..., "sample").values.reshape(*result.shape[:-1], d, k)
    cells = [c for c in result.dims if c != "sample"]
    coords = {c: result[c].variable for c in result.coords if c != "sample"}
    out = xr.Dataset(coords={**coords, "input": names, "percentile": ps})
    out["value"] = ((*cells, "input", "percentile"), value, result.attrs)
    out["input_value"] = (("scenario", "input", "percentile"), np.array(varied).transpose(1, 0, 2))
    out["base"] = base
    out.attrs = {"output": output, "experiment": experiment.name,
                 "method": "one at a time: one prior at its percentiles, the others at their point values"}
    return out


def tornado(experiment: Experiment, output: str, *, low: float = 0.1, high: float = 0.9) -> xr.Dataset:
    """The swing of ``output`` as each prior moves from its ``low`` to its ``high`` percentile.

    Returns
    -------
    xarray.Dataset
        ``low`` and ``high`` (the output at each end), ``swing`` (``high -
        low``: negative where the output falls as the prior rises) and
        ``base``, dims (``scenario``, cell dims, ``input``); ``order`` of the
        inputs by largest absolute swing over all cells is in the attrs.
    """
    low, high = check_probability(low, "the low percentile"), check_probability(high, "the high percentile")
    if not low < high:
        raise SimError(f"the low percentile must be below the high one, got {low:g} and {high:g}")
    oat = one_at_a_time(experiment, output, (low, high))
    out = xr.Dataset({"low": oat["value"].isel(percentile=0, drop=True),
                      "high": oat["value"].isel(percentile=1, drop=True), "base": oat["base"]})
    out["swing"] = out["high"] - out["low"]
    out["input_low"] = oat["input_value"].isel(percentile=0, drop=True)
    out["input_high"] = oat["input_value"].isel(percentile=1, drop=True)
    worst = abs(out["swing"]).max([d for d in out["swing"].dims if d != "input"])
    out.attrs = {**oat.attrs, "low": low, "high": high,
                 "order": list(out["input"].values[np.argsort(-worst.values, kind="stable")])}
    return out

