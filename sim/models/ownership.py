"""Owning accelerators against renting them: the full cost of a used chip-hour, and where owning pays.

An owned chip costs its price times the server around it
(``server_multiplier``: Epoch's 1.64 for a bare chip's price, 1 for a
server's price per GPU) and the cluster network (``networking_markup`` on
top), paid back over ``lifetime_years`` at ``cost_of_capital`` (the capital
recovery factor turns the purchase into equal yearly payments), spread over
the hours it is used (``utilisation`` of 8,760 a year); the facility it
stands in (``colocation_usd_per_kw_month`` for its power with the server,
paid every month whether used or not); and the power it draws while used
(times the data centre's PUE and the electricity price). Renting on demand
costs the rental price per used hour, a price that falls by
``rental_decline_per_year`` over the owned chip's life: the rent owning
saves is its average over that life, each year discounted at the cost of
capital. Owning pays from the utilisation at which its fixed cost per used
hour falls to that rent less the power: ``(F + C) / (R - E)``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._base import Output, model
from .constants import HOURS_PER_YEAR, MONTHS_PER_YEAR, ONE_YEAR


def capital_recovery_factor(*, cost_of_capital, lifetime_years, one_year=ONE_YEAR):
    """Share of a purchase paid each year to repay it with interest over its life: ``r / (1 - (1 + r)^-n)``.

    At a cost of capital of 0 it is ``1 / n`` (straight-line), reached without dividing 0 by 0.
    """
    years = lifetime_years / one_year
    # the present value of 1 a year for n years, (1 - (1 + r)^-n) / r, which tends to n as r -> 0
    present_value = -np.expm1(-years * np.log1p(cost_of_capital)) / np.maximum(cost_of_capital, 1e-12)
    annuity = xr.where(cost_of_capital > 1e-12, present_value, years)
    return 1.0 / annuity / one_year


def owned_capital_per_chip_hour(*, chip_price, server_multiplier, networking_markup, cost_of_capital, lifetime_years,
                                utilisation, hours_per_year=HOURS_PER_YEAR, one_year=ONE_YEAR):
    """Purchase of chip, server share and network, repaid with interest, per hour the chip is used."""
    capex = chip_price * server_multiplier * (1.0 + networking_markup)
    crf = capital_recovery_factor(cost_of_capital=cost_of_capital, lifetime_years=lifetime_years, one_year=one_year)
    return capex * crf / (hours_per_year * utilisation)


def _geometric_sum(x, n):
    """``1 + x + ... + x^(n-1)``, for real n, reached as n where x is 1 (no 0 / 0)."""
    near_one = np.abs(1.0 - x) < 1e-9
    return xr.where(near_one, n, -np.expm1(n * np.log(x)) / xr.where(near_one, 1.0, 1.0 - x))


def lifetime_rent_factor(*, rental_decline_per_year, cost_of_capital, lifetime_years, one_year=ONE_YEAR):
    """The rent over an owned chip's life as a share of today's: each year's rent, falling by the decline,
    discounted at the cost of capital, over the discounted years (1 with no decline)."""
    years = lifetime_years / one_year
    discount = 1.0 / (1.0 + cost_of_capital)
    return (_geometric_sum((1.0 - rental_decline_per_year) * discount, years)
            / _geometric_sum(discount, years))


def energy_per_chip_hour(*, chip_power_kw, pue, electricity_price_per_kwh):
    return chip_power_kw * pue * electricity_price_per_kwh


@model(name="build_vs_rent",
       description="Owning accelerators (purchase, server, network, capital, power) against renting them on demand",
       outputs={
           "owned_capital_per_chip_hour": Output("USD/chip-hour", "purchase, server and network, repaid with "
                                                                  "interest, per used chip-hour"),
           "owned_facility_per_chip_hour": Output("USD/chip-hour", "colocation for the chip's power, per used "
                                                                  "chip-hour"),
           "owned_energy_per_chip_hour": Output("USD/chip-hour", "power, with the server and PUE, per used chip-hour"),
           "owned_cost_per_chip_hour": Output("USD/chip-hour", "cost of an owned chip-hour of use", role="cost"),
           "rental_cost_per_chip_hour": Output("USD/chip-hour", "rental price of a chip-hour over the owned chip's "
                                                                "life, falling as rents fall (what owning saves)",
                                               role="revenue"),
           "breakeven_utilisation": Output("1", "utilisation above which owning is cheaper (above 1: never)"),
       })
def evaluate(*, chip_price, server_multiplier, networking_markup, cost_of_capital, lifetime_years, utilisation,
             chip_power_kw, pue, electricity_price_per_kwh, price_per_chip_hour, colocation_usd_per_kw_month,
             rental_decline_per_year, hours_per_year=HOURS_PER_YEAR, months_per_year=MONTHS_PER_YEAR,
             one_year=ONE_YEAR):
    out = {"owned_capital_per_chip_hour": owned_capital_per_chip_hour(
        chip_price=chip_price, server_multiplier=server_multiplier, networking_markup=networking_markup,
        cost_of_capital=cost_of_capital, lifetime_years=lifetime_years, utilisation=utilisation,
        hours_per_year=hours_per_year, one_year=one_year)}
    out["owned_energy_per_chip_hour"] = energy_per_chip_hour(chip_power_kw=chip_power_kw, pue=pue,
                                                             electricity_price_per_kwh=electricity_price_per_kwh)
    out["owned_facility_per_chip_hour"] = colocation_usd_per_kw_month * chip_power_kw * months_per_year / (
        hours_per_year * utilisation)
    out["owned_cost_per_chip_hour"] = (out["owned_capital_per_chip_hour"] + out["owned_facility_per_chip_hour"]
                                       + out["owned_energy_per_chip_hour"])
    out["rental_cost_per_chip_hour"] = price_per_chip_hour * lifetime_rent_factor(
        rental_decline_per_year=rental_decline_per_year, cost_of_capital=cost_of_capital,
        lifetime_years=lifetime_years, one_year=one_year)
    price_per_chip_hour = out["rental_cost_per_chip_hour"]
    fixed_at_full_use = (out["owned_capital_per_chip_hour"] + out["owned_facility_per_chip_hour"]) * utilisation
    # where the rent does not even cover the power, owning never pays: a utilisation far above 1
    margin = np.maximum(price_per_chip_hour - out["owned_energy_per_chip_hour"], 1e-9 * price_per_chip_hour)
    out["breakeven_utilisation"] = fixed_at_full_use / margin
    return out


MODEL = evaluate
