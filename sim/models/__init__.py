"""The models: sim's own equations, models from a user's code, and formula models.

Equations are plain arithmetic on keyword arguments named like the priors, so
each serves floats, numpy arrays and xarray DataArrays alike. Each model is
declared once with :func:`model` (inputs from the signature, outputs with
units and roles). Besides sim's own, a model may come from an installed
package's entry point (group ``sim.models``), from an importable module
(``"package.module:name"``), from a Python file, or from formulas in an
experiment file (:mod:`.formula`). This package imports nothing from the rest
of ``sim`` but its errors and units.
"""

from . import answer, compute, constants, ownership, revenue, roofline, scaling, search, serving, trajectory
from ._base import CATALOGUE, ROLES, Constant, Field, Model, Output, catalogue_binding, choose, cost_revenue_pairs, model
from .user import ENTRY_POINT_GROUP, available, get_model, load_origin, load_reference

#: sim's own models, by name.
MODELS: dict[str, Model] = {m.name: m for m in (search.MODEL, compute.SEARCH_COST_BASIS, compute.INFERENCE,
                                                  roofline.MODEL, serving.MODEL, compute.TRAINING, compute.INHOUSE, scaling.MODEL,
                                                  trajectory.MODEL, ownership.MODEL, answer.answer_engine,
                                                  answer.chat_subscription)}

__all__ = ["MODELS", "Model", "Output", "Constant", "Field", "CATALOGUE", "catalogue_binding", "model", "choose",
           "cost_revenue_pairs", "ROLES", "get_model",
           "available", "load_reference", "load_origin", "ENTRY_POINT_GROUP", "answer", "compute", "constants",
           "ownership", "revenue", "roofline", "scaling", "search", "serving", "trajectory"]
