"""Exception types that users of ``sim`` catch.

Every error caused by user input (a priors or experiment file, a command-line
argument) is a :class:`SimError`, a subclass of :class:`ValueError`. The
command line turns it into a one-line message and exit status 2.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SimError", "ConfigError", "ModelError", "SimWarning", "Location"]


class SimError(ValueError):
    """Bad input: the message says what is wrong and what would be valid."""


class Location(NamedTuple):
    """Where a value was read: a file and the dotted key of the value in it (empty for the file as a whole)."""

    file: str
    key: str = ""

    def at(self, *parts) -> Location:
        """The location of a value inside this one: ``Location(f, "priors.x").at("ci90")`` is ``priors.x.ci90``."""
        return Location(self.file, ".".join(str(p) for p in (self.key, *parts) if p != ""))

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.file, self.key, message)


class ConfigError(SimError):
    """A problem in a priors or experiment file, located by file and key.

    Parameters
    ----------
    file : str
        The file that holds the problem.
    key : str
        Dotted TOML key of the problem (``priors.margin.ci90``);
        empty when the problem is the file as a whole.
    message : str
        What is wrong and what would be valid.
    """

    def __init__(self, file: str, key: str, message: str):
        self.file = str(file)
        self.key = key
        self.message = message
        where = ": ".join(part for part in (self.file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)

    @property
    def location(self) -> Location:
        return Location(self.file, self.key)


class ModelError(SimError):
    """A user's Python model failed while evaluating (raised, or returned what is not a table of its outputs); the
    message names the model and, for an exception, the file and line of the user's code."""


class SimWarning(UserWarning):
    """Something the user should know about a valid request (for example a
    Sobol' sample count that is not a power of 2)."""
