"""Value checks (sim._checks) and the location of an error (sim.errors.Location): one message each, one place."""

import pytest

from sim import _checks as check
from sim.errors import ConfigError, Location, SimError

AT = Location("exp.toml", "priors.x")


def test_a_location_names_the_file_and_the_dotted_key():
    assert AT.at("ci90") == Location("exp.toml", "priors.x.ci90")
    assert Location("exp.toml").at("samples") == Location("exp.toml", "samples")
    error = AT.at("sd").error("must be > 0, got 0.0")
    assert isinstance(error, ConfigError) and str(error) == "exp.toml: priors.x.sd: must be > 0, got 0.0"
    assert error.location == Location("exp.toml", "priors.x.sd")


@pytest.mark.parametrize("value, kwargs, message", [
    ("1", {}, "must be a number, got '1'"),
    (True, {}, "must be a number, got True"),
    (float("nan"), {}, "must be a finite number, got nan"),
    (float("inf"), {}, "must be a finite number, got inf"),
    (0, {"positive": True}, "must be > 0, got 0.0"),
])
def test_numbers(value, kwargs, message):
    with pytest.raises(ConfigError, match=f"^exp.toml: priors.x: {message}$".replace("(", r"\(").replace(")", r"\)")):
        check.number(value, AT, **kwargs)
    with pytest.raises(SimError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        check.number(value, None, **kwargs)  # no place: the caller names it (a command-line option)


def test_a_number_and_a_pair_come_back_as_floats():
    assert check.number(3, AT) == 3.0 and isinstance(check.number(3, AT), float)
    assert check.number(float("inf"), AT, allow_inf=True) == float("inf")
    assert check.pair([0, 2], AT) == (0.0, 2.0)
    with pytest.raises(ConfigError, match=r"must be increasing \(low < high\), got \[2, 1\]"):
        check.pair([2, 1], AT)
    with pytest.raises(ConfigError, match=r"must be a list of two numbers \[low, high\], got \[1, 2, 3\]"):
        check.pair([1, 2, 3], AT)


def test_table_keys_are_named_with_what_would_be_valid():
    check.keys({"a": 1, "b": 2}, ("a", "b", "c"), AT)
    with pytest.raises(ConfigError, match=r"^exp\.toml: priors\.x\.d: unknown key; valid: a, b, c$"):
        check.keys({"a": 1, "d": 2}, ("a", "b", "c"), AT)
    with pytest.raises(ConfigError, match=r"^exp\.toml: d: unknown top-level key; valid: b$"):
        check.keys({"d": 2}, ("a", "b"), Location("exp.toml"), "top-level key", listed=["b"])


@pytest.mark.parametrize("text, value", [("12", 12), ("1_000", 1000), (" 7 ", 7), ("1.5", "1.5"), ("ten", "ten")])
def test_integer_text(text, value):
    assert check.integer_text(text) == value


def test_sample_counts_seeds_and_positive_integers_each_have_one_message():
    assert check.sample_count(2) == 2 and check.seed(0) == 0 and check.positive_integer(1) == 1
    for value in (1, 1.5, True, "5"):
        with pytest.raises(SimError, match=r"^must be an integer of at least 2 \(a standard deviation needs two "
                                           r"samples\), got "):
            check.sample_count(value)
    with pytest.raises(SimError, match=r"^must be an integer from 2 to 100 \(a standard deviation needs two samples\), "
                                       r"got '101'$"):
        check.sample_count(101, high=100, shown="'101'")
    for value in (-1, 2**63, 1.0):
        with pytest.raises(SimError, match=r"^must be an integer in \[0, 2\*\*63\), got "):
            check.seed(value)
    with pytest.raises(ConfigError, match=r"^exp\.toml: priors\.x: must be a positive integer, got 0$"):
        check.positive_integer(0, AT)


@pytest.mark.parametrize("name", ["baseline", "market_2026", "a.b-c", "0"])
def test_names_safe_as_folders(name):
    assert check.name(name, AT) == name


@pytest.mark.parametrize("name", ["", ".", "..", "../up", "a/b", ".hidden", "sp ace", "what_if\n", 3])
def test_names_that_are_not_safe_as_folders(name):
    with pytest.raises(ConfigError, match="is not a valid name; use letters, digits, '_', '-' and '.', starting with"):
        check.name(name, AT)
