"""What-if on common random numbers: change a prior of one scenario and see the results move.

:func:`draws` draws every prior of one scenario of an experiment once, from
the random sampler's stream of that prior (so a prior keeps its numbers
whatever else changes, and a prior made random later finds its own stream
waiting). A :class:`WhatIf` is a value: those draws and the changes made to
the scenario's priors; :meth:`WhatIf.change`, :meth:`~WhatIf.pin` and
:meth:`~WhatIf.reset` return a new one. Each prior's values and ranks are
computed once per form and shared by every what-if of the same draws, so a
change maps one prior's uniforms again and evaluates the model; nothing else
is drawn again. The numbers are those of ``sim run`` of the same experiment
with the same changes as a scenario override (same seed, same samples,
sampler ``random``), so what the explorer shows, a saved scenario
reproduces: :meth:`WhatIf.experiment_text` is that scenario in a copy of the
experiment file, which the store writes, and :meth:`WhatIf.state` the query
of a link that :func:`apply_state` reads back.

The module is long because the what-if keeps together its draws, its changes,
its results and both ways its changes leave the page (a saved scenario, a
link), which write a changed prior the same way.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from .. import _checks as check
from .._files import read_toml, toml_key, toml_value
from ..analysis.decision import evpi, net_benefit
from ..analysis.sensitivity import centred_ranks, rank_correlation
from ..analysis.summary import effective_samples, exceedance, exceedance_interval, output_roles, summary_dataset
from ..engine import evaluate, label_dataset
from ..errors import Location, SimError
from ..experiment import Experiment, with_overrides, with_settings
from ..models import cost_revenue_pairs
from ..priors import Prior, pinned
from ..sampling import uniforms

__all__ = ["Draws", "WhatIf", "draws", "what_if", "apply_state", "STATE_PREFIX"]

#: A link's query key for a changed prior: ``prior.NAME``.
STATE_PREFIX = "prior."

#: Significant digits of a changed prior's point in a saved scenario: its median (0.2, not 0.20000000000000007).
POINT_DIGITS = 12

#: Forms the draws keep beyond one per prior (each form's values and ranks: 1.6 MB at 100,000 samples).
KEEP = 8


@dataclasses.dataclass(frozen=True, eq=False)
class Draws:
    """One scenario of an experiment on uniforms drawn once (see :func:`draws`).

    ``experiment`` holds that scenario alone, with the draws' samples, seed
    and the random sampler; ``uniforms`` one row per prior the scenario
    draws or fixes, in the model's order. Values and ranks of the priors
    mapped through them are kept for reuse, the least recently used given up
    past one form per prior and :data:`KEEP` more.
    """

    experiment: Experiment
    scenario: str
    uniforms: Mapping[str, np.ndarray]
    posterior: xr.Dataset | None = dataclasses.field(default=None, repr=False)
    _kept: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def base(self) -> dict[str, Prior]:
        """The scenario's priors as the experiment gives them."""
        return dict(self.experiment.scenarios[0].priors)

    @property
    def inputs(self) -> list[str]:
        """The priors a change may touch: the model's inputs this scenario draws or fixes, in the model's order."""
        return list(self.uniforms)

    def values(self, prior: Prior) -> np.ndarray | None:
        """The samples of ``prior`` on its uniforms (None when it is fixed)."""
        if prior.is_fixed:
            return None
        return self._keep(("values", prior), lambda: np.asarray(prior.ppf(self.uniforms[prior.name]), dtype=float))

    def ranks(self, prior: Prior) -> xr.DataArray:
        """Centred ranks of ``prior``'s samples (what a rank correlation correlates)."""
        return self._keep(("ranks", prior), lambda: centred_ranks(xr.DataArray(self.values(prior), dims=("sample",))))

    def _keep(self, key, compute):
        value = self._kept.pop(key, None)
        if value is None:
            value = compute()
            while len(self._kept) >= 2 * (len(self.uniforms) + KEEP):
                self._kept.pop(next(iter(self._kept)))  # the least recently used
        self._kept[key] = value  # the most recently used last
        return value


def draws(experiment: Experiment, scenario: str | None = None, *, samples: int = 100_000,
          seed: int | None = None, posterior: xr.Dataset | None = None) -> Draws:
    """The uniforms of scenario ``scenario`` (default: the experiment's first) of ``experiment``, drawn once.

    Each prior's row comes from the random sampler's stream of that prior at
    ``seed`` (default: the experiment's), correlated as a run correlates them.

    On a ``posterior`` (``sim calibrate``; ``experiment`` as its run was
    made), the rows are its first ``samples`` rows instead: each prior's
    uniforms are where its posterior values sit in the prior (its CDF at
    them), so the scenario's priors give the posterior's values back, and a
    changed prior maps the same uniforms: the evidence's dependence between
    priors is kept, the changed prior's marginal replaced.
    """
    names = list(experiment.scenario_names)
    scenario = names[0] if scenario is None else scenario
    if scenario not in names:
        raise SimError(f"no scenario {scenario!r} in {experiment.path}; {check.choices(scenario, names)}")
    if posterior is not None:
        samples = min(samples, posterior.sizes["sample"])
    exp = with_overrides(with_settings(experiment, samples=samples, seed=seed, sampler="random"), scenarios=[scenario])
    base = exp.scenarios[0].priors
    order = [n for n in exp.model.inputs if n in base and n not in exp.sweeps]
    u = uniforms(order, exp.samples, seed=exp.seed, sampler="random")
    if exp.correlation:  # as a run correlates them: the rows of the correlated priors, on their own
        rows = [order.index(n) for n in exp.correlation.names]
        u[rows] = exp.correlation.apply(u[rows])
    if posterior is not None:
        first = posterior.isel(sample=slice(0, samples))
        for i, name in enumerate(order):
            da = first[name] if name in first else None
            if da is not None and "sample" in da.dims and not base[name].is_fixed:
                values = da.sel(scenario=scenario).values if "scenario" in da.dims else da.values
                # a value at the edge of the prior's support maps back to it from inside (0, 1)
                u[i] = np.clip(base[name].cdf(values), 1e-12, 1 - 1e-12)
    return Draws(exp, scenario, dict(zip(order, u)), posterior)


def what_if(experiment: Experiment, scenario: str | None = None, *, samples: int = 100_000,
            seed: int | None = None, posterior: xr.Dataset | None = None) -> WhatIf:
    """A what-if of scenario ``scenario`` of ``experiment`` with no change yet (see :func:`draws`); on the first
    ``samples`` rows of a ``posterior``, if given."""
    return WhatIf(draws(experiment, scenario, samples=samples, seed=seed, posterior=posterior))


@dataclasses.dataclass(frozen=True)
class WhatIf:
    """The draws of one scenario and the changes made to its priors: a value.

    Parameters
    ----------
    draws : Draws
    changes : mapping of str to Prior
        The priors that differ from the scenario's, by name.
    """

    draws: Draws
    changes: Mapping[str, Prior] = dataclasses.field(default_factory=dict)

    @property
    def experiment(self) -> Experiment:
        return self.draws.experiment

    @property
    def scenario(self) -> str:
        return self.draws.scenario

    @property
    def inputs(self) -> list[str]:
        return self.draws.inputs

    @property
    def priors(self) -> dict[str, Prior]:
        """Every prior of the scenario with the changes made."""
        return self.draws.base | dict(self.changes)

    @property
    def changed(self) -> dict[str, Prior]:
        """The priors that differ from the experiment's, by name."""
        return dict(self.changes)

    def values(self, name: str) -> np.ndarray | None:
        """The samples of prior ``name`` (None when it is fixed)."""
        return self.draws.values(self._known(name))

    # --- changes: each returns a new what-if --------------------------------------------------------------------

    def _known(self, name: str) -> Prior:
        if name not in self.draws.uniforms:
            raise SimError(f"no prior {name!r} to change in scenario {self.scenario!r}; valid: "
                           f"{', '.join(self.draws.uniforms)}")
        return self.priors[name]

    def use(self, prior: Prior) -> WhatIf:
        """This what-if with the prior of ``prior``'s name in this form."""
        base = self._known(prior.name)
        if prior.unit != base.unit:  # the model reads the prior in its unit; a saved scenario keeps no other
            raise SimError(f"unit: a what-if keeps {prior.name}'s unit, {base.unit!r}; give its values in it, not "
                           f"in {prior.unit!r}")
        changes = {n: p for n, p in self.changes.items() if n != prior.name}
        if prior != self.draws.base[prior.name]:
            changes[prior.name] = prior
        return dataclasses.replace(self, changes=changes)

    def change(self, name: str, **params) -> WhatIf:
        """Prior ``name`` with new parameters (as :meth:`sim.priors.Prior.with_params`); invalid ones raise
        :class:`~sim.errors.ConfigError`."""
        return self.use(self._known(name).with_params(**params))

    def pin(self, name: str, value: float) -> WhatIf:
        """Prior ``name`` fixed at ``value`` (as ``--set``); a value outside its unit's range raises."""
        return self.use(pinned(self._known(name), float(value), at=Location("what-if", name)))

    def reset(self, name: str | None = None) -> WhatIf:
        """Prior ``name`` (default: every prior) as the experiment gives it."""
        if name is None:
            return dataclasses.replace(self, changes={})
        self._known(name)
        return dataclasses.replace(self, changes={n: p for n, p in self.changes.items() if n != name})

    def resampled(self, samples: int, seed: int | None = None) -> WhatIf:
        """The same scenario and changes on ``samples`` samples drawn with ``seed`` (default: the same seed); on a
        posterior, its first ``samples`` rows."""
        other = draws(self.experiment, self.scenario, samples=samples,
                      seed=self.experiment.seed if seed is None else seed, posterior=self.draws.posterior)
        return WhatIf(other, dict(self.changes))

    # --- results ------------------------------------------------------------------------------------------------

    def scenario_experiment(self) -> Experiment:
        """The experiment of the explored scenario with the changes as its priors."""
        (s,) = self.experiment.scenarios
        scenario = dataclasses.replace(s, priors=self.priors, overrides=tuple(dict.fromkeys([*s.overrides,
                                                                                              *self.changes])))
        return dataclasses.replace(self.experiment, scenarios=(scenario,))

    def dataset(self) -> xr.Dataset:
        """The outputs and drawn inputs of the explored scenario, labelled as a run's (dims ``scenario``, the
        model's own, ``sample``)."""
        exp, priors = self.scenario_experiment(), self.priors
        drawn = {n: self.draws.values(priors[n]) for n in self.inputs}
        values = {n: v for n, v in drawn.items() if v is not None}
        if not values:  # every prior fixed: one of them carries the sample count
            name = next(iter(self.inputs))
            values = {name: np.full(exp.samples, priors[name].point)}
        outputs = evaluate(exp, values)
        for name, da in outputs.data_vars.items():  # as sim run refuses them, so that a saved change runs
            bad = ~np.isfinite(da.values)
            if bad.any():
                raise SimError(f"with this change, output {name} is NaN or infinite in {int(bad.sum()):,} of "
                               f"{bad.size:,} values, which sim run refuses; keep the prior inside the values its "
                               "equations can take")
        data = {name: (da.dims, da.values) for name, da in outputs.data_vars.items()}
        data |= {n: (("sample",), drawn[n]) if drawn[n] is not None else ((), priors[n].point) for n in self.inputs}
        data |= {n: da for n, da in exp.sweeps.items() if n not in da.dims}  # as a run keeps its swept inputs
        coords = {c: outputs[c].values for c in outputs.coords} | {"sample": np.arange(exp.samples)}
        ds = label_dataset(exp, data, "monte_carlo", coords)
        posterior = self.draws.posterior
        if posterior is not None:  # its rows are worth fewer independent samples: the intervals say so
            ds.attrs.update({k: posterior.attrs[k] for k in ("effective_samples", "samples", "calibration")})
        return ds

    def results(self, probability: float = 0.95) -> dict:
        """What the explorer shows, per compared (cost, revenue) pair of the model's roles.

        Returns
        -------
        dict
            ``dataset`` (the samples), ``summary`` (the labelled summary of
            the compared outputs, as ``sim run`` writes it), and per pair ``(cost, revenue)``:
            ``p_loss`` (P(cost > revenue) per cell) with ``p_loss_ci`` (its
            Monte Carlo interval), ``net_benefit`` (expected revenue - cost),
            ``evpi`` and ``drivers`` (Spearman rank correlations of the drawn
            priors with the net benefit).
        """
        ds = self.dataset()
        pairs = cost_revenue_pairs(output_roles(ds))
        compared = list(dict.fromkeys(name for pair in pairs for name in pair))
        out = {"dataset": ds, "summary": summary_dataset(ds[compared] if compared else ds, pairs,
                                                         probability=probability), "pairs": {}}
        for cost, revenue in pairs:
            nb = net_benefit(ds, cost=cost, revenue=revenue)
            with_nb = ds.assign(net_benefit=nb.assign_attrs(role="output"))
            out["pairs"][(cost, revenue)] = {
                "p_loss": exceedance(ds, cost, revenue),
                "p_loss_ci": exceedance_interval(ds, cost, revenue, probability=probability,
                                                 n_eff=effective_samples(ds)),
                "net_benefit": nb.mean("sample"), "evpi": evpi(nb),
                "drivers": self.drivers(with_nb, "net_benefit")}
        return out

    def drivers(self, ds: xr.Dataset, output: str) -> xr.DataArray:
        """Spearman rank correlations of the drawn priors with ``ds[output]`` (dim ``input``; empty when every
        prior is fixed)."""
        priors = self.priors
        ranks = {n: self.draws.ranks(priors[n]) for n in self.inputs if not priors[n].is_fixed}
        if not ranks:
            none = xr.DataArray(np.empty(0), dims=("input",), coords={"input": np.array([], dtype=str)})
            return (ds[output].isel(sample=0, drop=True) * none).rename("rank_correlation")
        return rank_correlation(ds, output, input_ranks=ranks)

    # --- as a scenario ------------------------------------------------------------------------------------------

    def scenario_table(self, name: str, description: str | None = None) -> str:
        """TOML text of scenario ``name``: the explored scenario's own table (its ``files``, ``set`` and
        ``priors``) with the changed priors as ``priors`` tables (pins in ``set``), to append to the experiment
        file."""
        path = str(self.experiment.path)
        check.name(name, Location(path, f"scenarios.{name}"))
        scenarios = read_toml(path, "experiment file").get("scenarios", {})
        if name in scenarios:
            raise SimError(f"{path} has a scenario {name!r} already; give the new scenario another name")
        own, changed = scenarios.get(self.scenario, {}), self.changed
        sets = {k: v for k, v in own.get("set", {}).items() if k not in changed}
        tables = {k: v for k, v in own.get("priors", {}).items() if k not in changed}
        for prior_name, prior in changed.items():
            if prior.is_fixed:
                sets[prior_name] = prior.point
            else:
                tables[prior_name] = {**_written(prior), "note": "what-if"}
        lines = [f"[scenarios.{name}]", f"description = {toml_value(description or self._description())}"]
        if own.get("files"):
            lines.append(f"files = {toml_value(own['files'])}")
        if sets:
            lines.append(f"set = {toml_value(sets)}")
        for prior_name, table in tables.items():
            lines += ["", f"[scenarios.{name}.priors.{prior_name}]",
                      *(f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    def state(self) -> list[tuple[str, str]]:
        """The changes as the query of a link that reproduces them (:func:`apply_state` reads it back): each
        changed prior as ``prior.NAME`` and the body of its TOML table, to 12 significant digits."""
        return [(f"{STATE_PREFIX}{name}", ", ".join(f"{toml_key(k)} = {toml_value(v)}"
                                                    for k, v in _written(prior).items()))
                for name, prior in self.changed.items()]

    def _description(self) -> str:
        changes = ", ".join(f"{n} {p.describe()}" for n, p in self.changed.items()) or "no change"
        return f"{self.scenario} with {changes}"

    def experiment_text(self, path: str | Path, name: str = "what_if", description: str | None = None) -> str:
        """A copy of the experiment file with the changes appended as scenario ``name``, to be written as ``path``.

        ``path`` must be in the experiment file's folder (its priors paths are
        relative to it). ``sim run <path> --scenario <name>`` with the
        what-if's samples and seed gives its numbers: the copy draws with the
        random sampler, as the what-if does.
        """
        source, path = Path(self.experiment.path), Path(path)
        if path.resolve().parent != source.resolve().parent:
            raise SimError(f"{path}: save it beside {source} (in {source.parent}): the priors files it names are "
                           "relative to that folder")
        text = _with_random_sampler(source.read_text(encoding="utf-8"))
        return text + ("" if text.endswith("\n") else "\n") + "\n" + self.scenario_table(name, description)


def _with_random_sampler(text: str) -> str:
    """An experiment file's text drawing with the random sampler, the explorer's: a top-level ``sampler`` line
    naming another is replaced, saying why (the lines before the first table are the top level)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            break
        if re.match(r"sampler\s*=", stripped) and tomllib.loads(stripped).get("sampler") != "random":
            lines[i] = 'sampler = "random"  # the what-if explorer\'s: common random numbers need it\n'
    return "".join(lines)


def _written(prior: Prior) -> dict:
    """A changed prior's table as a saved scenario or a link writes it: its point to :data:`POINT_DIGITS` digits
    (a moved point is a median computed to rounding noise)."""
    table = prior.table()
    if isinstance(table.get("point"), float):
        table["point"] = float(f"{table['point']:.{POINT_DIGITS}g}")
    return table


def apply_state(what: WhatIf, pairs) -> WhatIf:
    """``what`` with the changes of a link's query (:meth:`WhatIf.state`): each ``prior.NAME`` pair's TOML table
    body read as data (never run) and applied as the page applies a typed table; other keys are left to the caller.

    Raises
    ------
    SimError
        Naming the key, for a prior not in the scenario or a table that is not valid for it.
    """
    for key, body in pairs:
        if not key.startswith(STATE_PREFIX):
            continue
        name = key[len(STATE_PREFIX):]
        try:
            table = tomllib.loads(f"x = {{{body}}}")["x"]
        except tomllib.TOMLDecodeError as exc:
            raise SimError(f"link: {key}: not a TOML table body ({exc})") from None
        try:
            what = what.pin(name, table["point"]) if table.get("dist") == "fixed" and "point" in table else \
                what.change(name, **table)
        except (SimError, TypeError) as exc:
            raise SimError(f"link: {key}: {exc}") from None
    return what
