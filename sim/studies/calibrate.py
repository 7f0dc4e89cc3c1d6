"""Calibration: a run's priors conditioned on observed figures, as a posterior run.

:func:`calibrate` weighs the samples of a saved run by the likelihood of the
observations (:mod:`sim.observations`), smooths the weights' tail with
Pareto-smoothed importance sampling (``arviz_stats``: the smoothed weights and
the Pareto k diagnostic) and resamples them into an equally weighted
posterior run. Where the weights are too uneven for that (an effective
sample size below ``min_ess``, or Pareto k above 0.7), it runs a sequential
Monte Carlo sampler instead: the likelihood tempered from 0 to 1 in stages
chosen so that each keeps half the particles' effective size, each stage
resampled and moved by random-walk Metropolis steps in the space of the
priors' normal scores, every step a fresh evaluation of the model through
the engine.

The posterior is a run like any other (the run's variables, labels and
attrs) with ``effective_samples`` in its attrs: its summaries' Monte Carlo
intervals are those of that many independent samples, not of its rows.
Before anything is reweighed, each observation is set against its prior
predictive distribution: one outside the prior predictive 99.9 % range is a
prior-data conflict, said, and refused with ``strict``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time

import numpy as np
import xarray as xr
from scipy import special, stats

from ..engine import correlated, draw_uniforms, run_uniforms
from ..errors import SimError
from ..experiment import Experiment, with_settings
from ..observations import Observation
from ..sampling import stream

__all__ = ["calibrate", "CalibrationResult", "Stage", "predictive_checks", "observed_values", "arviz_tree", "shift", "KHAT_LIMIT",
           "CONFLICT", "MOVED", "SHIFT_STATS"]

#: Pareto k above which importance weights are not to be trusted (Vehtari et al. 2024).
KHAT_LIMIT = 0.7
#: Central probability of the prior predictive range outside which an observation conflicts with the priors.
CONFLICT = 0.999
#: Kolmogorov-Smirnov distance between a prior's and its posterior's samples from which the prior has moved.
MOVED = 0.1
#: Samples of each the distance compares (its sampling error is about 1.36 sqrt(2 / KS_SAMPLES), 0.006).
KS_SAMPLES = 100_000
#: What :attr:`CalibrationResult.shift` holds per variable.
SHIFT_STATS = ("prior_median", "posterior_mean", "posterior_median", "posterior_p05", "posterior_p95", "ks_distance")


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of the sequential Monte Carlo sampler: the likelihood's tempering exponent reached, the
    particles' effective size before they were resampled, the share of Metropolis proposals accepted and the
    model evaluations the stage made."""

    exponent: float
    ess: float
    acceptance: float
    evaluations: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate` gives.

    Attributes
    ----------
    posterior : xarray.Dataset
        The posterior run: the run's variables on equally weighted rows,
        ``effective_samples`` and ``calibration`` (JSON: the method, effective
        sample size, Pareto k, observations) in its attrs.
    method : str
        ``importance`` or ``smc``.
    ess : float
        The posterior's effective sample size.
    khat : float
        Pareto k of the importance weights (of the run's samples).
    stages : tuple of Stage
        The sequential Monte Carlo stages (empty for importance sampling).
    evaluations : int
        Model evaluations beyond the run.
    checks : xarray.Dataset
        Per observation (dim ``observation``): the observed figure, the prior
        and posterior predictive median and 90 % interval, the figure's PIT
        value under the prior predictive, and whether it conflicts.
    shift : xarray.Dataset
        Per prior the run draws and per output: the prior median, the
        posterior mean, median, 5th and 95th percentiles and the
        Kolmogorov-Smirnov distance between prior and posterior (dim ``stat``,
        :data:`SHIFT_STATS`).
    notes : tuple of str
        How the posterior was made: the sampler, its effective sample size.
    warnings : tuple of str
        What a reader must know before trusting it, each with what to do:
        prior-data conflicts, too few effective samples.
    observations : tuple of Observation
    """

    posterior: xr.Dataset
    method: str
    ess: float
    khat: float
    stages: tuple[Stage, ...]
    evaluations: int
    checks: xr.Dataset
    shift: xr.Dataset
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    observations: tuple[Observation, ...]

    @property
    def moved(self) -> list[str]:
        """The priors the evidence moved: a Kolmogorov-Smirnov distance of at least :data:`MOVED` in some cell."""
        return [name for name, da in self.shift.data_vars.items() if da.attrs.get("role") == "input"
                and float(da.sel(stat="ks_distance").max()) >= MOVED]

    @property
    def conflicts(self) -> list[str]:
        return [str(n) for n in self.checks["observation"].values[self.checks["conflict"].values]]


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
            raise at.error(f"select: no dim {dim!r} in the run; valid: {', '.join(dims)}")
        labels = [str(v) for v in ds[dim].values]
        if label not in labels:
            raise at.error(f"select: {dim} has no value {label!r}; valid: {', '.join(labels)}")
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


def _loglik(ds: xr.Dataset, observations) -> np.ndarray:
    return np.sum([obs.loglik(observed_values(ds, obs)) for obs in observations], axis=0)


def _quantiles(x: np.ndarray) -> np.ndarray:
    """The 5th, 50th and 95th percentiles of ``x``."""
    return np.quantile(x, [0.05, 0.5, 0.95])


def predictive_checks(prior: xr.Dataset, posterior: xr.Dataset | None, observations,
                      rng: np.random.Generator) -> xr.Dataset:
    """Each observation against its prior (and posterior) predictive distribution: the figure drawn from its
    likelihood around each sample's value.

    Returns
    -------
    xarray.Dataset
        Dim ``observation``: ``variable``, ``observed`` (the value, or an
        interval's midpoint), ``prior_p05``, ``prior_p50``, ``prior_p95``
        (and ``posterior_...``), ``pit`` (the share of prior predictive draws
        at or below the figure) and ``conflict`` (the figure outside the prior
        predictive 99.9 % range).
    """
    rows = {k: [] for k in ("variable", "observed", "prior_p05", "prior_p50", "prior_p95", "posterior_p05",
                            "posterior_p50", "posterior_p95", "pit", "conflict")}
    tail = (1 - CONFLICT) / 2
    for obs in observations:
        before = obs.draws(observed_values(prior, obs), rng)
        observed = obs.value if obs.likelihood != "interval" else (obs.low + obs.high) / 2
        if obs.likelihood == "interval":
            pit = float(np.mean(before <= observed))
            conflict = bool(np.mean((obs.low <= before) & (before <= obs.high)) < 1 - CONFLICT)
        else:
            pit = float(np.mean(before <= observed))
            conflict = not tail <= pit <= 1 - tail
        after = obs.draws(observed_values(posterior, obs), rng) if posterior is not None else np.full(3, np.nan)
        for prefix, x in (("prior", before), ("posterior", after)):
            for key, q in zip(("p05", "p50", "p95"), _quantiles(x)):
                rows[f"{prefix}_{key}"].append(float(q))
        rows["variable"].append(obs.variable)
        rows["observed"].append(float(observed))
        rows["pit"].append(pit)
        rows["conflict"].append(conflict)
    out = xr.Dataset({k: ("observation", np.asarray(v)) for k, v in rows.items()},
                     coords={"observation": [o.name for o in observations]})
    out["observed"].attrs["units"] = "the variable's"
    return out


def _ess(log_weights: np.ndarray) -> float:
    """Effective sample size of normalised log weights."""
    return float(1.0 / np.exp(special.logsumexp(2 * log_weights)))


def _normalised(log_weights: np.ndarray) -> np.ndarray:
    return log_weights - special.logsumexp(log_weights)


def _resample(log_weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: ``n`` indices drawn in proportion to the weights, with the least variance."""
    cum = np.cumsum(np.exp(log_weights))
    cum[-1] = 1.0
    return np.searchsorted(cum, (rng.random() + np.arange(n)) / n)


def _variables(ds: xr.Dataset) -> list[str]:
    """The drawn priors and the outputs of a run."""
    return [n for n, da in ds.data_vars.items() if "sample" in da.dims]


def _ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Kolmogorov-Smirnov distance between two samples (their first :data:`KS_SAMPLES` each)."""
    return float(stats.ks_2samp(a[:KS_SAMPLES], b[:KS_SAMPLES]).statistic)


def shift(prior: xr.Dataset, posterior: xr.Dataset) -> xr.Dataset:
    """Per variable: the prior median; the posterior mean, median, 5th and 95th percentiles; and the
    Kolmogorov-Smirnov distance between prior and posterior (dim ``stat``)."""
    out = xr.Dataset()
    for name in _variables(posterior):
        before, after = prior[name], posterior[name]
        distance = xr.apply_ufunc(_ks_distance, before, after, input_core_dims=[["sample"], ["sample"]],
                                  exclude_dims={"sample"}, vectorize=True)
        parts = [before.median("sample"), after.mean("sample"), after.median("sample"),
                 after.quantile(0.05, "sample").drop_vars("quantile"),
                 after.quantile(0.95, "sample").drop_vars("quantile"), distance]
        out[name] = xr.concat(parts, dim="stat").assign_coords(stat=list(SHIFT_STATS))
        out[name].attrs = {"units": prior[name].attrs.get("units", ""), "role": prior[name].attrs.get("role", "")}
    return out


def calibrate(experiment: Experiment, ds: xr.Dataset, observations, *, min_ess: float | None = None,
              particles: int | None = None, strict: bool = False, seed: int | None = None,
              files: tuple[str, ...] = ()) -> CalibrationResult:
    """The posterior of ``experiment``'s priors given ``observations``, from its saved run ``ds``.

    Parameters
    ----------
    experiment : Experiment
        As the run was made (:func:`sim.experiment.as_run`).
    ds : xarray.Dataset
        The run.
    observations : sequence of Observation
        From :func:`sim.observations.load_observations`.
    min_ess : float, optional
        The smallest effective sample size importance sampling may give;
        below it (or with Pareto k above 0.7) the sequential Monte Carlo
        sampler runs. Default: a tenth of the run's samples, at most 2,000.
    particles : int, optional
        The sequential Monte Carlo sampler's particles (default: the run's
        samples, at most 20,000), the first of the run's own draws.
    strict : bool
        Refuse observations that conflict with the priors instead of saying so.
    seed : int, optional
        Of the resampling and the sampler's moves (default: the run's seed).
    files : tuple of str
        The observations files, recorded in the posterior's attrs.

    Raises
    ------
    SimError
        When no sample of the run is consistent with the observations, or
        (``strict``) an observation conflicts with the priors.
    """
    if not observations:
        raise SimError("no observations to calibrate with")
    a = ds.attrs
    n = ds.sizes["sample"]
    settled = with_settings(experiment, samples=int(a["samples"]), seed=int(a["seed"]), sampler=a["sampler"])
    rng = np.random.Generator(stream(int(a["seed"]) if seed is None else seed, "calibration"))
    loglik = _loglik(ds, observations)
    checks = predictive_checks(ds, None, observations, rng)
    conflicts = [str(o) for o in checks["observation"].values[checks["conflict"].values]]
    notes, warned = [], []
    if conflicts:
        pits = {str(o): float(p) for o, p in zip(checks["observation"].values, checks["pit"].values)}
        said = "; ".join(f"{c} (the figure sits at the prior predictive's {100 * pits[c]:.3g}th percentile)"
                         for c in conflicts)
        if strict:
            raise SimError(f"--strict: observation(s) outside the prior predictive {100 * CONFLICT:g} % range: "
                           f"{said}; widen the priors or the observations' sd, or leave out --strict")
        warned.append(f"prior-data conflict: {said}; the posterior leans on the observation there: check the "
                      "figure and its unit, or widen the priors it informs")
    if not np.isfinite(loglik).any():
        raise SimError("no sample of the run is consistent with the observations (every one has likelihood 0): the "
                       "priors put no mass where the figures are; widen them, or the observations' interval or sd")
    min_ess = min(n / 10, 2000) if min_ess is None else float(min_ess)
    if particles is not None and not 2 <= particles <= n:
        raise SimError(f"--particles: need 2 to {n:,} (the run's samples, whose first draws start the sampler), got "
                       f"{particles:,}")
    from arviz_stats.base import array_stats

    # arviz_stats takes what leave-one-out cross-validation has, the log-likelihood of the left-out figure, and
    # weighs by its inverse: the observations' log-likelihood enters negated, to weigh by the likelihood itself
    with np.errstate(all="ignore"):
        smoothed, khat = array_stats.psislw(-np.where(np.isfinite(loglik), loglik, -np.inf))
    smoothed, khat = _normalised(np.asarray(smoothed, dtype=float)), float(khat)
    ess = _ess(smoothed)
    if ess >= min_ess and khat <= KHAT_LIMIT:
        rows = rng.permutation(_resample(smoothed, n, rng))  # in random order: any first rows are a posterior sample
        posterior = ds.isel(sample=rows).assign_coords(sample=np.arange(n))
        method, stages, evaluations = "importance", (), 0
        notes.append(f"importance sampling of the run's {n:,} samples: effective sample size {ess:,.0f}, Pareto k "
                     f"{khat:.2f}")
    else:
        why = (f"effective sample size {ess:,.0f} below {min_ess:,.0f}" if ess < min_ess else
               f"Pareto k {khat:.2f} above {KHAT_LIMIT}")
        posterior, stages, ess = _smc(settled, observations, particles or min(n, 20_000), rng)
        method, evaluations = "smc", sum(s.evaluations for s in stages)
        notes.append(f"importance weights too uneven ({why}): sequential Monte Carlo, {len(stages)} stages, "
                     f"{evaluations:,} model evaluations, effective sample size {ess:,.0f}")
        if ess < min_ess:
            warned.append(f"effective sample size {ess:,.0f} below {min_ess:,.0f}: the posterior's Monte Carlo "
                          "intervals are wide; give more --particles")
    record = {"method": method, "effective_samples": ess, "pareto_k": khat, "samples_of_run": n,
              "observations": [o.name for o in observations], "files": list(files)}
    posterior.attrs = {**ds.attrs, "samples": posterior.sizes["sample"], "effective_samples": ess,
                       "calibration": json.dumps(record)}
    checks = predictive_checks(ds, posterior, observations, np.random.Generator(stream(int(a["seed"]), "checks")))
    return CalibrationResult(posterior, method, ess, khat, stages, evaluations, checks, shift(ds, posterior),
                             tuple(notes), tuple(warned), tuple(observations))


def _smc(experiment: Experiment, observations, particles: int, rng: np.random.Generator):
    """Sequential Monte Carlo from the run's first ``particles`` draws: the likelihood tempered in stages, each
    resampled and moved by Metropolis steps in the priors' normal scores. Returns the posterior run, the stages
    and the final effective sample size."""
    u = draw_uniforms(experiment, 0, particles, correlate=False)
    names = list(u)
    if not names:
        raise SimError("every prior is fixed: there is nothing for the observations to move")
    z = special.ndtri(np.stack([u[name] for name in names], axis=1))  # particles x priors

    def evaluate(points: np.ndarray) -> np.ndarray:
        """Log-likelihood at each point; -inf where the model gives NaN or infinite values (weighed out)."""
        uniforms = correlated(experiment, dict(zip(names, special.ndtr(points).T)))
        with np.errstate(all="ignore"):
            ll = _loglik(run_uniforms(experiment, uniforms, check=False), observations)
        return np.where(np.isnan(ll), -np.inf, ll)

    start = time.perf_counter()
    ll = evaluate(z)
    stages, phi = [], 0.0
    target = particles / 2
    while phi < 1.0:
        step = _next_exponent(ll, phi, target)
        log_w = _normalised(np.where(np.isfinite(ll), (step - phi) * ll, -np.inf))
        ess = _ess(log_w)
        rows = _resample(log_w, particles, rng)
        z, ll, phi = z[rows], ll[rows], step
        z, ll, acceptance, made = _move(z, ll, phi, evaluate, rng)
        stages.append(Stage(phi, ess, acceptance, made + (particles if not stages else 0),
                            time.perf_counter() - start))
        start = time.perf_counter()
        if len(stages) > 200:
            raise SimError("the sequential Monte Carlo sampler did not reach the observations' likelihood in 200 "
                           "stages; the observations may contradict each other or the priors")
    z = z[rng.permutation(particles)]  # resampling left them by ancestor: in random order, any first rows will do
    posterior = run_uniforms(experiment, correlated(experiment, dict(zip(names, special.ndtr(z).T))))
    return posterior, tuple(stages), stages[-1].ess


def _next_exponent(ll: np.ndarray, phi: float, target: float) -> float:
    """The next tempering exponent: the largest up to 1 whose incremental weights keep ``target`` effective
    particles (bisection)."""
    finite = np.where(np.isfinite(ll), ll, -np.inf)

    def ess(step):
        return _ess(_normalised(np.where(np.isfinite(finite), (step - phi) * finite, -np.inf)))

    if ess(1.0) >= target:
        return 1.0
    lo, hi = phi, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if ess(mid) >= target:
            lo = mid
        else:
            hi = mid
    return max(lo, phi + 1e-12)


def _move(z: np.ndarray, ll: np.ndarray, phi: float, evaluate, rng: np.random.Generator):
    """Random-walk Metropolis steps on the tempered posterior, proposals scaled to the particles' covariance;
    steps are taken until nearly every particle would have moved once (at most 20). Returns the particles,
    their log-likelihoods, the acceptance rate and the evaluations made."""
    d = z.shape[1]
    cov = np.atleast_2d(np.cov(z, rowvar=False)) + 1e-9 * np.eye(d)
    chol = np.linalg.cholesky(cov) * (2.38 / math.sqrt(d))
    accepted, steps, made = 0, 0, 0
    stay = 1.0  # the chance a particle has not moved yet
    while steps < 20 and (steps < 2 or stay > 0.01):
        proposal = z + rng.standard_normal(z.shape) @ chol.T
        ll_new = evaluate(proposal)
        made += len(z)
        with np.errstate(invalid="ignore"):
            log_alpha = phi * (ll_new - ll) - 0.5 * ((proposal**2).sum(1) - (z**2).sum(1))
        take = np.log(rng.random(len(z))) < np.where(np.isnan(log_alpha), -np.inf, log_alpha)
        z, ll = np.where(take[:, None], proposal, z), np.where(take, ll_new, ll)
        rate = take.mean()
        accepted += take.sum()
        stay *= 1 - rate
        steps += 1
        if rate == 0 and steps >= 5:
            break
    return z, ll, accepted / (steps * len(z)), made


def _group(ds: xr.Dataset, names) -> xr.Dataset:
    """Variables ``names`` of a run with ArviZ's dims: ``sample`` as one ``chain`` of ``draw``s, ahead of the rest."""
    out = ds[list(names)].rename({"sample": "draw"}).expand_dims(chain=[0])
    out = out.assign_coords(draw=np.arange(out.sizes["draw"]))
    return out.transpose("chain", "draw", ...).drop_attrs(deep=False)


def _key(name: str) -> str:
    """An observation's name as a variable name (``prices[3]`` as ``prices_3``)."""
    return name.replace("[", "_").replace("]", "")


def arviz_tree(result: CalibrationResult, prior: xr.Dataset) -> xr.DataTree:
    """The calibration as ArviZ reads it: a tree of groups ``prior`` and ``posterior`` (the drawn priors and the
    outputs), ``observed_data`` (each observed figure), ``prior_predictive`` and ``posterior_predictive`` (the
    figure drawn from its likelihood around each sample's value), each with ``chain`` and ``draw`` dims.

    ``prior`` is the run the calibration was made from."""
    posterior = result.posterior
    names = _variables(posterior)
    rng = np.random.Generator(stream(int(prior.attrs["seed"]), "arviz"))
    predictive = {}
    for label, ds in (("prior_predictive", prior), ("posterior_predictive", posterior)):
        draws = {_key(o.name): ("draw", o.draws(observed_values(ds, o), rng)) for o in result.observations}
        predictive[label] = xr.Dataset(draws).expand_dims(chain=[0]).assign_coords(
            draw=np.arange(ds.sizes["sample"]))
    observed = xr.Dataset({_key(o.name): o.value if o.likelihood != "interval" else (o.low + o.high) / 2
                           for o in result.observations})
    for o in result.observations:
        observed[_key(o.name)].attrs = {"variable": o.variable, "units": o.unit, "likelihood": o.describe(),
                                        "source": o.source}
    groups = {"prior": _group(prior, names), "posterior": _group(posterior, names), "observed_data": observed,
              **predictive}
    groups["posterior"].attrs = {"method": result.method, "effective_samples": result.ess, "pareto_k": result.khat,
                                 "experiment": str(posterior.attrs.get("experiment", ""))}
    return xr.DataTree.from_dict(groups)
