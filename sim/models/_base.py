"""The model type: equations declared once, with units and roles.

A model is a function of keyword arguments named like the priors::

    @model(outputs={
        "cost_per_task": Output("USD/task", "cost per task", role="cost"),
        "revenue_per_task": Output("USD/task", "revenue per task", role="revenue"),
    })
    def agent_task(*, calls_per_task, tokens_per_call, price_per_mtoken, subscription_usd_per_month,
                   tasks_per_month, tokens_per_mtoken=Constant(1e6, "token/Mtoken")):
        cost = calls_per_task * tokens_per_call * price_per_mtoken / tokens_per_mtoken
        return {"cost_per_task": cost, "revenue_per_task": subscription_usd_per_month / tasks_per_month}

The inputs come from the signature: every keyword parameter without a
default is an input (a prior, or a catalogue or year sweep); a parameter
whose default is a :class:`Constant` is a number with units (a unit
conversion, or the 2 in "2N FLOP per token"). Each output declares its
units, a readable name and a role: ``cost``, ``revenue``, ``volume`` (how
many per period, for yearly figures) or none. Comparisons of cost against
revenue, and every command's defaults, come from the roles.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .. import _checks as check
from ..errors import SimError

__all__ = ["Output", "Constant", "Model", "model", "ROLES", "choose", "cost_revenue_pairs", "Field", "CATALOGUE",
           "catalogue_binding"]

#: The roles an output may have (besides none).
ROLES = ("cost", "revenue", "volume")


@dataclass(frozen=True)
class Field:
    """A catalogue field that feeds a model input, and the unit of that input."""

    field: str
    units: str


#: The inputs sim's catalogues can feed, by swept dim (``model``: models.toml; ``hardware``: offerings.toml and
#: the accelerator each offering names): the parameters used per token (the active ones of a mixture of experts),
#: all parameters held, training tokens, the attention shape; peak FLOP/s at each precision, memory, bandwidth and
#: price. A model reads those of its inputs that are named here, unless it declares its own binding.
CATALOGUE: dict[str, dict[str, Field]] = {
    "model": {"params": Field("active_params", "parameters"), "total_params": Field("total_params", "parameters"),
              "tokens": Field("tokens", "tokens"), "routed_expert_fraction": Field("routed_expert_fraction", "fraction"),
              "kv_values_per_token": Field("kv_values_per_token", "values/token"),
              "attention_flops_per_context_token": Field("attention_flops_per_context_token", "FLOP/token/token")},
    "hardware": {"peak_flops": Field("peak_flops", "FLOP/s/chip"), "peak_flops_fp8": Field("peak_flops_fp8", "FLOP/s/chip"),
                 "peak_flops_fp4": Field("peak_flops_fp4", "FLOP/s/chip"),
                 "price_per_chip_hour": Field("price_per_chip_hour", "USD/chip-hour"),
                 "accelerator_memory_bytes": Field("memory_bytes", "bytes/chip"),
                 "memory_bandwidth": Field("memory_bandwidth", "bytes/s/chip")},
}


def catalogue_binding(inputs, catalogue: Mapping[str, Mapping[str, Field]] = CATALOGUE) -> dict[str, dict[str, Field]]:
    """Per swept dim, the catalogue fields that feed ``inputs`` (those of a model's inputs ``catalogue`` names)."""
    return {dim: {name: f for name, f in fields.items() if name in inputs} for dim, fields in catalogue.items()}


@dataclass(frozen=True)
class Output:
    """Metadata of one model output.

    Attributes
    ----------
    units : str
        Unit text pint can read (``USD/query``, ``token``, ``1``).
    long_name : str
        A readable name (``provider's cost per query``).
    role : {"cost", "revenue", "volume"} or None
        What the output is in the economics: the cost compared with the
        revenue, the revenue, or a volume (queries or tokens per period).
    """

    units: str
    long_name: str
    role: str | None = None

    def __post_init__(self):
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; valid: {', '.join(ROLES)} or None")


class Constant(float):
    """A number with units inside a model: ``Constant(1e6, "token/Mtoken")``.

    It is a plain ``float`` to the equations (no cost in the hot path); the
    unit check passes it as a pint quantity, so that a conversion factor is
    checked like any input.
    """

    units: str

    def __new__(cls, value: float, units: str):
        obj = super().__new__(cls, value)
        obj.units = units
        return obj

    def __reduce__(self):
        return (Constant, (float(self), self.units))

    def __repr__(self) -> str:
        return f"Constant({float(self)!r}, {self.units!r})"


@dataclass(frozen=True, eq=False)
class Model:
    """A model: the inputs it reads, the outputs it returns, and the function.

    Attributes
    ----------
    name : str
        The model's name, as experiment files and listings show it.
    description : str
        One sentence for listings and reports.
    inputs : tuple of str
        Names of the priors (or swept catalogue values) ``evaluate`` takes.
    outputs : mapping of str to Output
        Names, units, long names and roles of the variables it returns.
    evaluate : callable
        ``evaluate(**inputs) -> dict[str, xarray.DataArray]``. Inputs are
        DataArrays (0-d, or with ``sample``, ``scenario`` and swept dims);
        outputs broadcast by name and may add the model's own dims.
    constants : mapping of str to Constant
        Numbers with units the function takes besides its inputs.
    origin : tuple
        How to load the model again (for pickling to other processes):
        ``("sim", name)``, ``("module", "pkg.mod:name")``,
        ``("file", path, name)`` or ``("formula", file, table)``.
    digest : str
        SHA-256 of the user's model file or formulas ("" for sim's own).
    formula : bool
        Whether the equations are formulas from an experiment file.
    evaluate_units : callable or None
        For formula models: ``evaluate`` with each operation's units
        checked (one line naming the formula's position on a mismatch).
    input_uses : mapping of str to (str, int)
        For formula models: each input's first use, as (output, position).
    depends : mapping of str to tuple of str
        For formula models: the inputs and outputs each output's formula
        names (its direct dependencies); empty for a Python model, whose
        dependencies :func:`sim.studies.graph.model_graph` finds by
        evaluating it.
    catalogue : mapping of str to mapping of str to Field, optional
        Per swept dim (``model``, ``hardware``), the catalogue field that
        feeds each input a sweep supplies, with the input's unit; default
        the fields :data:`CATALOGUE` names for the model's inputs.
    """

    name: str
    description: str
    inputs: tuple[str, ...]
    outputs: Mapping[str, Output]
    evaluate: Callable[..., Mapping]
    constants: Mapping[str, Constant] = field(default_factory=dict)
    origin: tuple = ()
    digest: str = ""
    formula: bool = False
    evaluate_units: Callable[..., Mapping] | None = field(default=None, repr=False)
    input_uses: Mapping[str, tuple[str, int]] = field(default_factory=dict, repr=False)
    depends: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    catalogue: Mapping[str, Mapping[str, Field]] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.catalogue is None:
            object.__setattr__(self, "catalogue", catalogue_binding(self.inputs))

    def __call__(self, **kwargs):
        return self.evaluate(**kwargs)

    def __reduce__(self):
        if not self.origin:
            raise TypeError(f"model {self.name!r} has no origin to load it from in another process")
        return (_load_origin, (self.origin,))

    @property
    def imported(self) -> bool:
        """False for the stand-in of a Python model that was not imported (``sim validate --no-import``): its
        inputs and outputs are not known."""
        return self.origin[:1] != ("unimported",)

    @property
    def source(self) -> str:
        """Where the model comes from, for records and listings: ``sim``, a module path, a file, formulas."""
        kind = self.origin[0] if self.origin else ""
        if kind == "module":
            return "sim" if self.origin[1].startswith("sim.models.") else self.origin[1]
        if kind == "file":
            path = os.path.relpath(self.origin[1])
            return f"{path if not path.startswith('..') else self.origin[1]}:{self.origin[2]}"
        if kind == "formula":
            return f"formulas in {self.origin[1]}"
        if kind == "entry_point":
            return f"entry point {self.origin[1]}"
        return "python"

    def with_role(self, role: str) -> list[str]:
        """Names of the outputs with ``role``, in declaration order."""
        return [name for name, out in self.outputs.items() if out.role == role]

    @property
    def comparisons(self) -> tuple[tuple[str, str], ...]:
        """Pairs ``(cost, revenue)`` for which summaries report P(cost > revenue): every cost against every revenue."""
        return cost_revenue_pairs(self.roles())

    def roles(self) -> dict[str, str | None]:
        return {name: out.role for name, out in self.outputs.items()}


def _load_origin(origin: tuple) -> Model:
    from . import load_origin

    return load_origin(origin)


def _signature(func) -> tuple[list[str], dict[str, Constant], bool]:
    inputs, constants, rest = [], {}, False
    for p in inspect.signature(func).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            rest = True
            continue
        if p.kind is not p.KEYWORD_ONLY:
            raise TypeError(f"model {func.__name__}: parameter {p.name!r} must be keyword-only "
                            f"(def {func.__name__}(*, {p.name}, ...))")
        if p.default is p.empty:
            inputs.append(p.name)
        elif isinstance(p.default, Constant):
            constants[p.name] = p.default
        else:
            raise TypeError(f"model {func.__name__}: parameter {p.name!r} has a default that is not a "
                            f"sim.Constant(value, units); inputs have no default")
    return inputs, constants, rest


def model(*, outputs: Mapping[str, Output | tuple], name: str | None = None, description: str | None = None,
          uses: Model | None = None, origin: tuple = (),
          catalogue: Mapping[str, Mapping[str, Field]] | None = None) -> Callable[[Callable], Model]:
    """Declare a model over a function of keyword arguments (a decorator).

    Parameters
    ----------
    outputs : mapping of str to Output
        The outputs the function returns (a tuple ``(units, long_name[,
        role])`` is taken as an :class:`Output`).
    name : str, optional
        Default: the function's name.
    description : str, optional
        Default: the first line of the function's docstring.
    uses : Model, optional
        A model whose inputs the function also takes, through ``**kwargs``
        (a model that builds on another).
    origin : tuple, optional
        How to load the model in another process (set for sim's own models
        and by the loaders; a user's decorated function needs none).
    catalogue : mapping, optional
        Which catalogue fields feed which inputs, per swept dim (see
        :class:`Model`); default the fields :data:`CATALOGUE` names.

    Returns
    -------
    callable
        Turning the function into a :class:`Model`.
    """
    declared = {k: v if isinstance(v, Output) else Output(*v) for k, v in outputs.items()}

    def wrap(func: Callable) -> Model:
        inputs, constants, rest = _signature(func)
        if rest and uses is None:
            raise TypeError(f"model {func.__name__}: **kwargs needs uses=<the model whose inputs it takes>")
        if uses is not None:
            inputs += [n for n in uses.inputs if n not in inputs]
            constants = {**uses.constants, **constants}
        doc = (inspect.getdoc(func) or "").strip().splitlines()
        where = origin or (("module", f"{func.__module__}:{func.__qualname__}")
                           if func.__module__ != "__main__" and "<" not in func.__qualname__ else ())
        return Model(name=name or func.__name__, description=description or (doc[0] if doc else ""),
                     inputs=tuple(inputs), outputs=declared, evaluate=func, constants=constants, origin=where,
                     catalogue=catalogue)

    return wrap


def cost_revenue_pairs(roles: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    """The ``(cost, revenue)`` pairs that summaries compare, from outputs' roles: every cost against every revenue."""
    return tuple((c, r) for c in roles if roles[c] == "cost" for r in roles if roles[r] == "revenue")


def choose(roles: Mapping[str, str | None], role: str, given: str | None = None, *, flag: str = "",
           what: str = "") -> str | None:
    """The output to use for ``role``: ``given`` if named (and known), else the one output with that role.

    Returns None when no output has the role. Raises :class:`sim.SimError`
    when several do, listing them and the option that chooses.
    """
    lead = f"{flag}: " if flag else ""
    if given is not None:
        if given not in roles:
            raise SimError(f"{lead}unknown output {given!r}; {check.choices(given, roles)}")
        return given
    candidates = [name for name, r in roles.items() if r == role]
    if len(candidates) > 1:
        how = f"choose one with {flag}" if flag else "choose one"
        raise SimError(f"{what or 'the model'} has {len(candidates)} outputs with role {role} "
                       f"({', '.join(candidates)}); {how}")
    return candidates[0] if candidates else None
