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
from scipy import special

from ..engine import correlated, draw_uniforms, run_uniforms
from ..errors import SimError
from ..experiment import Experiment, with_settings
from ..observations import Observation
from ..sampling import stream
from .evidence import CONFLICT, log_likelihood, moved, predictive_checks, shift, with_posterior

__all__ = ["calibrate", "importance_weights", "resample", "CalibrationResult", "Stage", "KHAT_LIMIT"]

#: Pareto k above which importance weights are not to be trusted (Vehtari et al. 2024).
KHAT_LIMIT = 0.7
#: Fewest particles the sampler starts a stage from (what hard interval edges may leave).
MIN_SURVIVORS = 20


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
        """The priors the evidence moved (:func:`sim.studies.evidence.moved`)."""
        return moved(self.shift)

    @property
    def conflicts(self) -> list[str]:
        return [str(n) for n in self.checks["observation"].values[self.checks["conflict"].values]]


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
    checks = predictive_checks(ds, observations, rng)  # what the strict check and the warnings read, kept
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
    min_ess = min(n / 10, 2000) if min_ess is None else float(min_ess)
    if particles is not None and not 2 <= particles <= n:
        raise SimError(f"--particles: need 2 to {n:,} (the run's samples, whose first draws start the sampler), got "
                       f"{particles:,}")
    smoothed, khat, ess = importance_weights(ds, observations)
    if ess >= min_ess and khat <= KHAT_LIMIT:
        posterior = resample(ds, smoothed, rng)
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
    checks = with_posterior(checks, posterior, observations, np.random.Generator(stream(int(a["seed"]), "checks")))
    return CalibrationResult(posterior, method, ess, khat, stages, evaluations, checks, shift(ds, posterior),
                             tuple(notes), tuple(warned), tuple(observations))


def importance_weights(ds: xr.Dataset, observations) -> tuple[np.ndarray, float, float]:
    """The samples of run ``ds`` weighed by the observations' likelihood: their Pareto-smoothed, normalised log
    weights (``arviz_stats``), the Pareto k of the weights' tail and the weights' effective sample size (Kish's).

    Raises
    ------
    SimError
        When no sample has a likelihood above 0.
    """
    from arviz_stats.base import array_stats

    loglik = log_likelihood(ds, observations)
    if not np.isfinite(loglik).any():
        raise SimError("no sample of the run is consistent with the observations (every one has likelihood 0): the "
                       "priors put no mass where the figures are; widen them, or the observations' interval or sd")
    # arviz_stats takes what leave-one-out cross-validation has, the log-likelihood of the left-out figure, and
    # weighs by its inverse: the observations' log-likelihood enters negated, to weigh by the likelihood itself
    with np.errstate(all="ignore"):
        smoothed, khat = array_stats.psislw(-np.where(np.isfinite(loglik), loglik, -np.inf))
    smoothed = _normalised(np.asarray(smoothed, dtype=float))
    return smoothed, float(khat), _ess(smoothed)


def resample(ds: xr.Dataset, log_weights: np.ndarray, rng: np.random.Generator) -> xr.Dataset:
    """As many rows of run ``ds`` as it has, drawn in proportion to the weights (systematic resampling): an equally
    weighted posterior. The rows keep the run's order, so any first rows are the resample of the run's first
    samples, a posterior sample too."""
    return _rows(ds, _resample(log_weights, ds.sizes["sample"], rng))


def _rows(ds: xr.Dataset, rows: np.ndarray) -> xr.Dataset:
    """Run ``ds`` at sample rows ``rows`` (numpy's ``take`` on each variable: five times faster than ``isel``)."""
    data = {name: (da.dims, np.take(da.values, rows, axis=da.dims.index("sample")) if "sample" in da.dims else da.values,
                   da.attrs) for name, da in ds.data_vars.items()}
    return xr.Dataset(data, coords={**ds.drop_dims("sample").coords, "sample": np.arange(len(rows))}, attrs=ds.attrs)


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
            ll = log_likelihood(run_uniforms(experiment, uniforms, check=False), observations)
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
    least = ess(phi + (1.0 - phi) * 1e-9)  # what the hard edges (likelihood 0) leave, whatever the exponent
    if least < MIN_SURVIVORS:
        raise SimError(f"only about {least:.0f} of the sampler's particles lie inside the observations' hard interval "
                       "edges, too few to start from: give the intervals an sd (soft edges), or more --particles")
    if least < target and math.isclose(ess(1.0), least, rel_tol=1e-9):
        return 1.0  # hard edges alone: nothing to temper; the survivors are resampled and moved
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

