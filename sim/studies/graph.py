"""The model's graph: which priors feed which outputs.

A formula model declares its graph: each formula names the inputs and
outputs it reads, and those are its edges (an output computed from another
is drawn from it). A Python model declares only its inputs, so its edges are
found by evaluating it: every input at its point value, then each prior in
turn moved to its 25th and 75th percentiles (a fixed prior to half and one
and a half times its value), the others held; an output that moves depends
on that prior. The edges then go from each prior to every output it
reaches, through other outputs or not. A swept input (a catalogue value)
feeds the outputs that vary along its sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..engine import evaluate
from ..experiment import Experiment

__all__ = ["ModelGraph", "model_graph"]

#: Quantiles a drawn prior is moved to when a Python model's edges are found by evaluation.
PROBES = (0.25, 0.75)


@dataclass(frozen=True)
class ModelGraph:
    """Priors, outputs and the edges between them.

    Attributes
    ----------
    model : str
        The model's name.
    inputs : dict of str to str
        Each model input and its kind: ``"prior"`` (drawn), ``"fixed"`` (a
        fixed prior) or ``"swept"`` (a catalogue value along a sweep).
    outputs : dict of str to str
        Each output and its role ("" for none).
    edges : tuple of (str, str)
        ``(source, target)``: an input or output that the target output reads.
    how : str
        ``"formulas"`` (declared) or ``"evaluation"`` (found by moving each prior).
    """

    model: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    edges: tuple[tuple[str, str], ...]
    how: str

    def sources(self, output: str) -> list[str]:
        """What ``output`` reads, in the order of the inputs and outputs."""
        order = [*self.inputs, *self.outputs]
        found = {s for s, t in self.edges if t == output}
        return [n for n in order if n in found]


def _moved(base: xr.DataArray, probe: xr.DataArray) -> bool:
    return bool(np.any(~np.isclose(probe.values, base.values, rtol=1e-9, atol=0.0, equal_nan=True)))


def _probe_values(experiment: Experiment, names: list[str]) -> tuple[dict, list[tuple[str, int]]]:
    """Input values with a trailing sample per probe: sample 0 every prior at its point value, then two samples
    per prior with that prior moved."""
    priors = experiment.base_priors
    columns: list[tuple[str, int]] = []
    values = {n: [priors[n].point] for n in names}
    for name in names:
        prior = priors[name]
        if prior.is_fixed:
            moved = [prior.point * 0.5, prior.point * 1.5] if prior.point != 0 else [0.5, 1.0]
        else:
            moved = [float(prior.ppf(q)) for q in PROBES]
        for value in moved:
            for n in names:
                values[n].append(value if n == name else priors[n].point)
            columns.append((name, len(values[name]) - 1))
    return {n: np.asarray(v, dtype=float) for n, v in values.items()}, columns


def model_graph(experiment: Experiment) -> ModelGraph:
    """The graph of ``experiment``'s model (see the module): declared by its formulas, or found by evaluation."""
    model = experiment.model
    inputs = {}
    for name in model.inputs:
        if name in experiment.sweeps:
            inputs[name] = "swept"
        elif name in experiment.base_priors:
            inputs[name] = "fixed" if experiment.base_priors[name].is_fixed else "prior"
    outputs = {name: out.role or "" for name, out in model.outputs.items()}
    edges: list[tuple[str, str]] = []
    if model.formula:
        edges = [(n, o) for o in model.outputs for n in model.depends.get(o, ()) if n in inputs or n in outputs]
        return ModelGraph(model.name, inputs, outputs, tuple(edges), "formulas")
    priors = [n for n, kind in inputs.items() if kind != "swept"]
    values, columns = _probe_values(experiment, priors)
    ds = evaluate(experiment, values)
    for name in priors:
        probes = [i for n, i in columns if n == name]
        for output in outputs:
            da = ds[output]
            if any(_moved(da.isel(sample=0), da.isel(sample=i)) for i in probes):
                edges.append((name, output))
    for name, kind in inputs.items():
        if kind == "swept":
            dims = set(experiment.sweeps[name].dims)
            edges += [(name, o) for o in outputs if dims & set(experiment.output_dims.get(o, {}))]
    return ModelGraph(model.name, inputs, outputs, tuple(edges), "evaluation")
