"""Which assumptions drive an output: variance-based, one-run, one-at-a-time and target-region sensitivity.

* :func:`sobol` -- first- and total-order Sobol' indices with bootstrap
  intervals, from a Saltelli design on the experiment's own model and priors
  (estimator: :func:`scipy.stats.sobol_indices`). Needs independent priors.
* :func:`rank_correlation` and :func:`first_order_given` -- from one ordinary
  run (any sampler, correlated priors allowed): Spearman's rank correlation of
  each input with the output, and a first-order index from binned
  conditional means of the output given the input.
* :func:`one_at_a_time` and :func:`tornado` -- each prior moved through its
  percentiles with the others at their point values (spider and tornado).
* :func:`target_region` -- how each input's distribution differs between
  the samples inside a region of the output (``cost > revenue``) and outside.

Every result is an :class:`xarray.Dataset` with an ``input`` dim (the drawn
priors) and the output's cell dims (``scenario``, ``architecture``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import stats
from scipy.stats import qmc

from ..engine import drawn_priors, evaluate, evaluate_uniforms, point
from ..errors import SimError
from ..experiment import Experiment
from ..sampling import _TINY, stream
from .summary import CI_BOUND, check_probability, output_names

__all__ = ["sobol", "sobol_arrays", "rank_correlation", "first_order_given", "one_at_a_time", "tornado",
           "target_region", "drawn_inputs", "check_output"]


def check_output(names: Sequence[str], output: str, what: str = "output") -> str:
    if output not in names:
        raise SimError(f"unknown {what} {output!r}; valid: {', '.join(names)}")
    return output


def drawn_inputs(ds: xr.Dataset, dim: str = "sample") -> list[str]:
    """Inputs of a run that vary across samples (the drawn priors)."""
    return [n for n, da in ds.data_vars.items() if da.attrs.get("role") == "input" and dim in da.dims]


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
    np.clip(A_B, _TINY, 1.0 - _TINY, out=A_B)
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
    seed = experiment.seed if seed is None else seed

    def func(u):
        da = evaluate_uniforms(experiment, dict(zip(names, u)))[output].transpose(..., "sample")
        return da.values.reshape(-1, u.shape[1])

    rng = np.random.Generator(stream(seed, "sobol_indices"))
    res = sobol_arrays(func, len(names), n, rng=rng, n_resamples=n_resamples, probability=probability)
    cell = point(experiment)[output]  # the output's cells, in the order ``func`` flattened them
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


# --- from one ordinary run ----------------------------------------------------

def _centred_ranks(x: np.ndarray) -> np.ndarray:
    r = stats.rankdata(x, axis=-1)
    return r - r.mean(axis=-1, keepdims=True)


def _pearson_centred(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Correlation of centred data (ranks), sample axis last; 0 where either is constant."""
    num = (rx * ry).sum(axis=-1)
    den = np.sqrt((rx * rx).sum(axis=-1) * (ry * ry).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def default_bins(n: int) -> int:
    """Bins for the given-data first-order index: 2 sqrt(n), between 10 and 1000.

    Fine bins keep the variation of the conditional mean inside each bin
    small (it matters for heavy-tailed inputs, whose top bin spans decades);
    the noise of the many small bins is corrected for.
    """
    return int(np.clip(round(2.0 * np.sqrt(n)), 10, 1000))


def _first_order_binned(x: np.ndarray, y: np.ndarray, bins: int) -> np.ndarray:
    """Var(E[y | bin of x]) / Var(y) over equal-count bins of x, sample axis last.

    The between-bin variance of the bin means is corrected for its noise,
    (bins - 1) / n times the pooled within-bin variance (one-way ANOVA).
    """
    n = x.shape[-1]
    order = np.argsort(x, axis=-1, kind="stable")
    ys = np.take_along_axis(np.broadcast_to(y, np.broadcast_shapes(x.shape, y.shape)),
                            np.broadcast_to(order, np.broadcast_shapes(x.shape, y.shape)), axis=-1)
    starts = (np.arange(bins) * n) // bins
    counts = np.diff(np.append(starts, n))
    sums = np.add.reduceat(ys, starts, axis=-1)
    means = sums / counts
    total_mean = ys.mean(axis=-1, keepdims=True)
    between = (counts * (means - total_mean) ** 2).sum(axis=-1) / n
    within = (np.add.reduceat(ys**2, starts, axis=-1) - counts * means**2).sum(axis=-1) / (n - bins)
    var = ys.var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, (between - (bins - 1) / n * within) / np.where(var > 0, var, 1.0), 0.0)


def _one_run(ds: xr.Dataset, output: str, names: list[str], kernel, dim: str, **kwargs) -> xr.DataArray:
    """``kernel(x, y)`` for each input in ``names`` against ``output``, stacked along ``input``."""
    if not names:
        raise SimError("the run has no drawn inputs (every prior is fixed)")
    y = ds[output]
    parts = [xr.apply_ufunc(kernel, ds[name], y, input_core_dims=[[dim], [dim]], kwargs=kwargs) for name in names]
    out = xr.concat(parts, dim="input", coords="minimal", compat="override", join="outer")
    return out.assign_coords(input=names).transpose(..., "input")


def rank_correlation(ds: xr.Dataset, output: str, *, dim: str = "sample") -> xr.DataArray:
    """Spearman's rank correlation of each drawn input with ``output``.

    Returns
    -------
    xarray.DataArray
        Dims: the output's cell dims, then ``input``. 0 where the output or
        input is constant.
    """
    check_output(output_names(ds), output)
    ranks = lambda da: xr.apply_ufunc(_centred_ranks, da, input_core_dims=[[dim]], output_core_dims=[[dim]])  # noqa: E731
    names = drawn_inputs(ds, dim)
    ranked = xr.Dataset({name: ranks(ds[name]) for name in [*names, output]})
    out = _one_run(ranked, output, names, _pearson_centred, dim)
    out.attrs = {"long_name": f"Spearman rank correlation with {output}", "units": "1"}
    return out.rename("rank_correlation")


def first_order_given(ds: xr.Dataset, output: str, *, bins: int | None = None, dim: str = "sample") -> xr.DataArray:
    """First-order index of each drawn input, estimated from one ordinary run.

    The variance of the output's mean within equal-count bins of the input,
    over the output's variance, corrected for the noise of the bin means. It
    needs no special design and holds for correlated inputs (where it is the
    share of variance explained by the input alone, its effects through
    correlated inputs included).

    Parameters
    ----------
    bins : int, optional
        Number of equal-count bins; default :func:`default_bins` of the run's size.
    """
    bins = default_bins(ds.sizes[dim]) if bins is None else bins
    if not 2 <= bins <= ds.sizes[dim] // 2:
        raise SimError(f"bins must be between 2 and half the samples ({ds.sizes[dim] // 2}), got {bins}")
    check_output(output_names(ds), output)
    out = _one_run(ds, output, drawn_inputs(ds, dim), _first_order_binned, dim, bins=bins)
    out.attrs = {"long_name": f"first-order index of {output} from one run (binned conditional means)",
                 "units": "1", "bins": bins}
    return out.rename("first_order_given")


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


# --- target region -------------------------------------------------------------

def target_region(ds: xr.Dataset, output: str, threshold: str | float, *, above: bool = True,
                  dim: str = "sample") -> xr.Dataset:
    """How each drawn input differs inside the region ``output > threshold`` (or below) from outside.

    Returns
    -------
    xarray.Dataset
        Dims: the cell dims, then ``input``. ``share`` (P(region)),
        ``median_shift`` (median inside minus median outside, in the input's
        standard deviations; NaN when the region or its complement is empty)
        and ``ks_distance`` (two-sample Kolmogorov-Smirnov statistic between
        the inside and outside distributions, 0 to 1).
    """
    check_output(output_names(ds), output)
    if isinstance(threshold, str):
        check_output(list(ds.data_vars), threshold, "threshold variable")
        bound = ds[threshold]
    else:
        bound = threshold
    region = ds[output] > bound if above else ds[output] < bound
    names = drawn_inputs(ds, dim)
    if not names:
        raise SimError("the run has no drawn inputs (every prior is fixed)")

    def kernel(x, inside):
        x, inside = np.broadcast_arrays(x, inside)
        lead = x.shape[:-1]
        x2, in2 = x.reshape(-1, x.shape[-1]), inside.reshape(-1, x.shape[-1])
        res = np.full((len(x2), 2), np.nan)
        for j, (xs, m) in enumerate(zip(x2, in2)):
            if m.all() or not m.any():
                continue
            sd = xs.std()
            res[j, 0] = (np.median(xs[m]) - np.median(xs[~m])) / sd if sd > 0 else 0.0
            res[j, 1] = stats.ks_2samp(xs[m], xs[~m]).statistic
        return res.reshape(*lead, 2)

    parts = [xr.apply_ufunc(kernel, ds[name], region, input_core_dims=[[dim], [dim]], output_core_dims=[["measure"]])
             for name in names]
    both = xr.concat(parts, dim="input", coords="minimal", compat="override", join="outer").assign_coords(input=names)
    label = threshold if isinstance(threshold, str) else format(threshold, "g")
    out = xr.Dataset({"share": region.mean(dim),
                      "median_shift": both.isel(measure=0, drop=True).transpose(..., "input"),
                      "ks_distance": both.isel(measure=1, drop=True).transpose(..., "input")})
    out["median_shift"].attrs = {"units": "sd", "long_name": "median inside minus outside the region, in sd"}
    out["ks_distance"].attrs = {"units": "1", "long_name": "Kolmogorov-Smirnov distance, inside vs outside"}
    out.attrs = {"output": output, "region": f"{output} {'>' if above else '<'} {label}"}
    return out
