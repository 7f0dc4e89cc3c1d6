"""The library behind every command: one function per ``sim`` command, values in and values out.

The command line and the explorer call these and render what they return;
a script calls them the same way. None writes a file: the store
(:mod:`sim.store`) writes what they return, and the report
(:mod:`sim.report`) turns it into tables, text and figures.

========================  =============================================================================
command                   function
========================  =============================================================================
``sim run``               :func:`run` (or :func:`run_to_precision`, :func:`stream_summary`,
                          :func:`dask_summary`), then :func:`summarize_run`
``sim sensitivity``       :func:`sensitivity` (options checked first by :func:`sensitivity_options`)
``sim decide``            :func:`decide` (options checked first by :func:`decision_options`)
``sim report``            :func:`report_content`, rendered by :func:`sim.report.build_report`
``sim point``             :func:`point`
``sim check``             :func:`check`
``sim validate``          :func:`validate`
``sim models``            :func:`models`
``sim explore``           :func:`what_if`
``sim calibrate``         :func:`calibrate` (observations read by :func:`load_observations`; ``--arviz``:
                          :func:`arviz_tree`)
``sim fit``               :func:`fit_data` (a column read by :func:`read_column`), :func:`fit_quantiles`
``sim serving``           :func:`serving`
========================  =============================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

from ._files import read_toml
from .analysis.summary import summarize_run
from .catalogue import catalogue_kind, load_catalogue
from .engine import check_memory, point, run
from .experiment import Experiment, load_experiment
from .export import export_samples, samples_table
from .models import Model, available
from .models.user import user_code
from .observations import Observation, load_observations
from .priors import load_priors
from .priors.fit import PriorFit, fit_data, fit_quantiles, read_column
from .studies.article import check_figures
from .studies.calibrate import CalibrationResult
from .studies.calibrate import calibrate as _calibrate
from .studies.content import ReportContent, report_content
from .studies.dask import connect, dask_summary
from .studies.evidence import arviz_tree
from .studies.explore import WhatIf, apply_state, what_if
from .studies.graph import ModelGraph, model_graph
from .studies.precision import PrecisionResult, run_to_precision
from .studies.serving import ServingResult, serving
from .studies.stream import stream_summary
from .studies.suite import (
    DecisionOptions,
    DecisionResult,
    SensitivityOptions,
    SensitivityResult,
    check_sobol_n,
    decide,
    decision_options,
    sensitivity,
    sensitivity_options,
)

__all__ = ["run", "run_to_precision", "stream_summary", "dask_summary", "connect", "summarize_run", "sensitivity",
           "sensitivity_options", "decide", "decision_options", "report_content", "point", "check", "validate",
           "models", "what_if", "check_memory", "check_sobol_n", "PrecisionResult", "SensitivityOptions",
           "SensitivityResult", "DecisionOptions", "DecisionResult", "ReportContent", "WhatIf", "calibrate",
           "load_observations", "Observation", "CalibrationResult", "arviz_tree", "fit_data",
           "fit_quantiles", "read_column", "PriorFit", "serving", "ServingResult", "user_code", "export_samples",
           "samples_table", "model_graph", "ModelGraph",
           "apply_state"]


def check(figures: str | os.PathLike | None = None, *, root: str | os.PathLike = "."):
    """Point mode against the figures the article printed (``sim check``): one row per figure with the value,
    the tolerance and whether it is met (:func:`sim.studies.article.check_figures`)."""
    return check_figures(figures, root=root)


def validate(path: str | os.PathLike, *, import_code: bool = True) -> str:
    """Check a priors file, an experiment file or a catalogue without running (``sim validate``).

    An experiment that names a Python model imports it, which runs its code, and evaluates it once on its
    priors' point values to check its units; with ``import_code=False`` the model is not imported and
    everything else is checked (its inputs, outputs and units are not).

    Returns
    -------
    str
        What the file is, such as ``experiment 'search_cost', model 'search',
        3 scenario(s), 16 priors``.

    Raises
    ------
    SimError
        With the file and key of the first problem found.
    """
    data = read_toml(path)
    kind = catalogue_kind(data)
    if kind is not None and "model" not in data:
        return f"{kind} catalogue, {len(load_catalogue(Path(path).parent, kind, path))} entries"
    if "model" in data:
        with user_code(run=import_code):
            exp = load_experiment(path)
        if not exp.model.imported:
            return (f"experiment {exp.name!r}, Python model {exp.model.name} not imported (its inputs, outputs and "
                    f"units unchecked), {len(exp.scenarios)} scenario(s), {len(exp.base_priors)} priors")
        return (f"experiment {exp.name!r}, model {exp.model.name!r}, {len(exp.scenarios)} scenario(s), "
                f"{len(exp.base_priors)} priors")
    return f"{len(load_priors(path))} priors"


def models(experiments: list[Experiment] | None = None) -> list[tuple[Model, str]]:
    """The models ``sim models`` lists: every model sim knows by name (its own and installed packages'), or
    the given experiments' models, each with where it was read (an experiment, or nothing)."""
    if not experiments:
        return [(m, "") for m in available().values()]
    return [(e.model, f" (experiment {e.path})") for e in experiments]


def calibrate(experiment: Experiment, ds, observations, *, min_ess: float | None = None, particles: int | None = None,
              strict: bool = False, seed: int | None = None) -> CalibrationResult:
    """The posterior of run ``ds`` of ``experiment`` given observed figures (``sim calibrate``).

    ``observations`` are paths of observations files (read against the
    experiment by :func:`load_observations`) or :class:`Observation` objects.
    The rest is :func:`sim.studies.calibrate.calibrate`'s.
    """
    observations = list(observations)
    paths = [str(o) for o in observations if not isinstance(o, Observation)]
    read = [*(o for o in observations if isinstance(o, Observation)), *load_observations(experiment, *paths)]
    return _calibrate(experiment, ds, read, min_ess=min_ess, particles=particles, strict=strict, seed=seed,
                      files=tuple(paths))
