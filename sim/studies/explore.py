"""What-if on common random numbers: change a prior of one scenario and see the results move.

A :class:`WhatIf` holds one scenario of an experiment. It draws every
prior's uniforms once, from the random sampler's stream of that prior (so a
prior keeps its numbers whatever else changes, and a prior made random later
finds its own stream waiting), maps each through its prior, and caches the
values. A change to one prior maps that prior's uniforms again and evaluates
the model; nothing else is drawn again. The numbers are those of ``sim run``
of the same experiment with the same change as a scenario override (same
seed, same samples, sampler ``random``), so what the explorer shows, a saved
scenario reproduces.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
import uuid
from pathlib import Path

import numpy as np
import xarray as xr

from ..analysis.decision import evpi, net_benefit
from ..analysis.sensitivity import centred_ranks, rank_correlation
from ..analysis.summary import exceedance, exceedance_interval, output_roles, summary_dataset
from ..engine import evaluate, label_dataset
from ..errors import SimError
from .._files import read_toml
from .. import _checks as check
from ..errors import Location
from ..experiment import Experiment, load_experiment, with_overrides, with_settings
from ..models import cost_revenue_pairs
from ..priors import Prior, pinned
from ..sampling import uniforms

__all__ = ["WhatIf"]


class WhatIf:
    """One scenario of ``experiment`` on fixed uniforms; :meth:`change`, :meth:`pin` and :meth:`reset` its priors.

    Parameters
    ----------
    experiment : Experiment
    scenario : str, optional
        The scenario to explore (default: the experiment's first).
    samples, seed : int, optional
        Default: 100,000 samples and the experiment's seed.
    """

    def __init__(self, experiment: Experiment, scenario: str | None = None, *, samples: int = 100_000,
                 seed: int | None = None):
        names = list(experiment.scenario_names)
        scenario = names[0] if scenario is None else scenario
        if scenario not in names:
            raise SimError(f"no scenario {scenario!r} in {experiment.path}; valid: {', '.join(names)}")
        self.experiment = with_overrides(with_settings(experiment, samples=samples, seed=seed, sampler="random"),
                                         scenarios=[scenario])
        self.scenario = scenario
        self.base: dict[str, Prior] = dict(self.experiment.scenarios[0].priors)
        self.priors: dict[str, Prior] = dict(self.base)
        exp = self.experiment
        order = [n for n in exp.model.inputs if n in self.base and n not in exp.sweeps]
        u = uniforms(order, exp.samples, seed=exp.seed, sampler="random")
        if exp.correlation:  # as a run correlates them: the rows of the correlated priors, on their own
            rows = [order.index(n) for n in exp.correlation.names]
            u[rows] = exp.correlation.apply(u[rows])
        self._uniforms = dict(zip(order, u))
        self._ranks: dict[str, xr.DataArray] = {}
        self._values = {name: self._draw(prior) for name, prior in self.priors.items() if name in self._uniforms}

    @property
    def inputs(self) -> list[str]:
        """The priors a change may touch: the model's inputs this scenario draws or fixes, in the model's order."""
        return list(self._uniforms)

    def values(self, name: str) -> np.ndarray | None:
        """The samples of prior ``name`` (None when it is fixed)."""
        self._known(name)
        return self._values[name]

    # --- changes -------------------------------------------------------------------------------------------------

    def _draw(self, prior: Prior) -> np.ndarray | None:
        return None if prior.is_fixed else np.asarray(prior.ppf(self._uniforms[prior.name]), dtype=float)

    def _set(self, prior: Prior) -> Prior:
        self._values[prior.name] = self._draw(prior)
        self._ranks.pop(prior.name, None)  # ranked again when asked: a new form may tie values
        self.priors[prior.name] = prior
        return prior

    def _input_ranks(self) -> dict[str, xr.DataArray]:
        """Centred ranks of the drawn priors' values, kept until the prior changes."""
        for name, values in self._values.items():
            if values is not None and name not in self._ranks:
                self._ranks[name] = centred_ranks(xr.DataArray(values, dims=("sample",)))
        return {n: r for n, r in self._ranks.items() if self._values[n] is not None}

    def _known(self, name: str) -> Prior:
        if name not in self._uniforms:
            raise SimError(f"no prior {name!r} to change in scenario {self.scenario!r}; valid: "
                           f"{', '.join(self._uniforms)}")
        return self.priors[name]

    def change(self, name: str, **params) -> Prior:
        """Give prior ``name`` new parameters (as :meth:`sim.priors.Prior.with_params`); invalid ones raise
        :class:`~sim.errors.ConfigError` and change nothing."""
        return self._set(self._known(name).with_params(**params))

    def pin(self, name: str, value: float) -> Prior:
        """Fix prior ``name`` at ``value`` (as ``--set``); a value outside its unit's range raises and changes nothing."""
        return self._set(pinned(self._known(name), float(value), at=Location("what-if", name)))

    def use(self, prior: Prior) -> Prior:
        """Give the prior of ``prior``'s name this form (one that :meth:`change` or :meth:`pin` returned)."""
        self._known(prior.name)
        return self._set(prior)

    def reset(self, name: str | None = None) -> None:
        """Give prior ``name`` (default: every prior) its value from the experiment back."""
        for n in [name] if name is not None else list(self._uniforms):
            self._known(n)
            self._set(self.base[n])

    def resampled(self, samples: int, seed: int | None = None) -> WhatIf:
        """The same scenario and changes on ``samples`` samples drawn with ``seed`` (default: the same seed)."""
        other = WhatIf(self.experiment, self.scenario, samples=samples, seed=seed)
        for prior in self.changed.values():
            other._set(prior)
        return other

    @property
    def changed(self) -> dict[str, Prior]:
        """The priors that differ from the experiment's, by name."""
        return {n: p for n, p in self.priors.items() if p != self.base[n]}

    # --- results ------------------------------------------------------------------------------------------------

    def scenario_experiment(self) -> Experiment:
        """The experiment of the explored scenario with the changes as its priors."""
        (s,) = self.experiment.scenarios
        changed = self.changed
        scenario = dataclasses.replace(s, priors=dict(self.priors),
                                       overrides=tuple(dict.fromkeys([*s.overrides, *changed])))
        return dataclasses.replace(self.experiment, scenarios=(scenario,))

    def dataset(self) -> xr.Dataset:
        """The outputs and drawn inputs of the explored scenario, labelled as a run's (dims ``scenario``, the
        model's own, ``sample``)."""
        exp = self.scenario_experiment()
        values = {n: v for n, v in self._values.items() if v is not None}
        if not values:  # every prior fixed: one of them carries the sample count
            name = next(iter(self._uniforms))
            values = {name: np.full(exp.samples, self.priors[name].point)}
        outputs = evaluate(exp, values)
        data = {name: (da.dims, da.values) for name, da in outputs.data_vars.items()}
        data |= {n: (("sample",), self._values[n]) if self._values[n] is not None else ((), self.priors[n].point)
                 for n in self._uniforms}
        data |= {n: da for n, da in exp.sweeps.items() if n not in da.dims}  # as a run keeps its swept inputs
        coords = {c: outputs[c].values for c in outputs.coords} | {"sample": np.arange(exp.samples)}
        return label_dataset(exp, data, "monte_carlo", coords)

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
                "p_loss_ci": exceedance_interval(ds, cost, revenue, probability=probability),
                "net_benefit": nb.mean("sample"), "evpi": evpi(nb),
                "drivers": self.drivers(with_nb, "net_benefit")}
        return out

    def drivers(self, ds: xr.Dataset, output: str) -> xr.DataArray:
        """Spearman rank correlations of the drawn priors with ``ds[output]`` (dim ``input``; empty when every
        prior is fixed)."""
        ranks = self._input_ranks()
        if not ranks:
            none = xr.DataArray(np.empty(0), dims=("input",), coords={"input": np.array([], dtype=str)})
            return (ds[output].isel(sample=0, drop=True) * none).rename("rank_correlation")
        return rank_correlation(ds, output, input_ranks=ranks)

    # --- saving ---------------------------------------------------------------------------------------------------

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
                tables[prior_name] = {**prior.table(), "note": "what-if"}
        lines = [f"[scenarios.{name}]", f"description = {_toml(description or self._description())}"]
        if own.get("files"):
            lines.append(f"files = {_toml(own['files'])}")
        if sets:
            lines.append(f"set = {_toml(sets)}")
        for prior_name, table in tables.items():
            lines += ["", f"[scenarios.{name}.priors.{prior_name}]",
                      *(f"{_key(k)} = {_toml(v)}" for k, v in table.items())]
        return "\n".join(lines) + "\n"

    def _description(self) -> str:
        changes = ", ".join(f"{n} {p.describe()}" for n, p in self.changed.items()) or "no change"
        return f"{self.scenario} with {changes}"

    def save(self, path: str | os.PathLike, name: str = "what_if", description: str | None = None) -> Path:
        """Write a copy of the experiment file with the changes as scenario ``name`` appended, as ``path``.

        ``path`` must be a new file in the experiment file's folder (its
        priors paths are relative to it); an existing file is never
        replaced. ``sim run <path> --scenario <name>`` with the explorer's
        samples and seed gives its numbers.
        """
        source, path = Path(self.experiment.path), Path(path)
        if path.resolve().parent != source.resolve().parent:
            raise SimError(f"{path}: save it beside {source} (in {source.parent}): the priors files it names are "
                           "relative to that folder")
        text = _with_random_sampler(source.read_text(encoding="utf-8"))
        text = text + ("" if text.endswith("\n") else "\n") + "\n" + self.scenario_table(name, description)
        if path.exists():
            raise SimError(f"{path} exists; sim does not replace it: give a new file name")
        stage = path.parent / f"{path.stem}.{uuid.uuid4().hex}.staged.toml"  # a valid experiment name, to load
        try:
            stage.write_text(text, encoding="utf-8")
            load_experiment(stage)  # what is written must load: checked before it takes the name
            os.link(stage, path)  # fails if the name exists: never replaces a file
        except FileExistsError:
            raise SimError(f"{path} exists; sim does not replace it: give a new file name") from None
        finally:
            stage.unlink(missing_ok=True)
        return path


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


def _key(key: str) -> str:
    return key if key and all(c.isalnum() or c in "_-" for c in key) and key.isascii() else _toml(key)


def _toml(value) -> str:
    """``value`` (text, number, true/false, list, table) as a TOML value: floats by their shortest round-trip
    text, so that a file read back gives the same numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")
