"""The article's equations, one module per topic, and the model registry.

Equations are plain arithmetic on keyword arguments named like the priors, so
each serves floats, numpy arrays and xarray DataArrays alike. This package
imports nothing from the rest of ``sim``.
"""

from . import compute, roofline, scaling, search, trajectory
from ._base import MODELS, Model, Output, get_model, register

__all__ = ["MODELS", "Model", "Output", "get_model", "register", "compute", "roofline", "scaling", "search", "trajectory"]
