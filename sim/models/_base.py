"""The model type and the registry of models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["Output", "Model", "register", "get_model", "MODELS"]


@dataclass(frozen=True)
class Output:
    """Metadata of one model output: its unit and a readable name."""

    units: str
    long_name: str


@dataclass(frozen=True)
class Model:
    """A model: the priors it reads, the outputs it returns, and the function.

    Attributes
    ----------
    name : str
        Registry key, used by experiment files (``model = "search"``).
    description : str
        One sentence for listings and reports.
    inputs : tuple of str
        Names of the priors ``evaluate`` takes as keyword arguments.
    outputs : mapping of str to Output
        Names, units and long names of the variables ``evaluate`` returns.
    evaluate : callable
        ``evaluate(**inputs) -> dict[str, xarray.DataArray]``. Inputs are
        DataArrays (0-d or with ``sample`` and ``scenario`` dims); outputs
        broadcast by name and may add the model's own dims (``architecture``).
    comparisons : tuple of (str, str)
        Pairs ``(output, threshold)`` for which summaries report
        P(output > threshold), for example cost against revenue per query.
    """

    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: Mapping[str, Output]
    evaluate: Callable[..., Mapping]
    comparisons: tuple[tuple[str, str], ...] = field(default=())


MODELS: dict[str, Model] = {}


def register(model: Model) -> Model:
    """Add ``model`` to the registry under its name (one name, one model)."""
    if model.name in MODELS:
        raise ValueError(f"a model named {model.name!r} is already registered")
    MODELS[model.name] = model
    return model


def get_model(name: str) -> Model:
    """The registered model called ``name``; KeyError listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid: {', '.join(sorted(MODELS))}") from None
