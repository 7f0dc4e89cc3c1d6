"""Owning accelerators against renting them: the full cost of a used chip-hour, and where owning pays.

An owned chip costs its price times the server around it
(``server_multiplier``, Epoch's 1.64) and the cluster network
(``networking_markup`` on top), paid back over ``lifetime_years`` at
``cost_of_capital`` (the capital recovery factor turns the purchase into
equal yearly payments), spread over the hours it is used
(``utilisation`` of 8,760 a year), plus the power it draws while used
(``chip_power_kw`` with the server, times the data centre's PUE and the
electricity price). Renting on demand costs the rental price per used hour.
Owning pays from the utilisation at which its fixed cost per used hour falls
to the rental price less the power: ``F / (R - E)``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._base import Output, model
from .constants import HOURS_PER_YEAR, ONE_YEAR


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


def energy_per_chip_hour(*, chip_power_kw, pue, electricity_price_per_kwh):
    return chip_power_kw * pue * electricity_price_per_kwh


@model(name="build_vs_rent",
       description="Owning accelerators (purchase, server, network, capital, power) against renting them on demand",
       outputs={
           "owned_capital_per_chip_hour": Output("USD/chip-hour", "purchase, server and network, repaid with "
                                                                  "interest, per used chip-hour"),
           "owned_energy_per_chip_hour": Output("USD/chip-hour", "power, with the server and PUE, per used chip-hour"),
           "owned_cost_per_chip_hour": Output("USD/chip-hour", "cost of an owned chip-hour of use", role="cost"),
           "rental_cost_per_chip_hour": Output("USD/chip-hour", "on-demand rental price of a chip-hour (what owning "
                                                                "saves)", role="revenue"),
           "breakeven_utilisation": Output("1", "utilisation above which owning is cheaper (above 1: never)"),
       })
def evaluate(*, chip_price, server_multiplier, networking_markup, cost_of_capital, lifetime_years, utilisation,
             chip_power_kw, pue, electricity_price_per_kwh, price_per_chip_hour, hours_per_year=HOURS_PER_YEAR,
             one_year=ONE_YEAR):
    out = {"owned_capital_per_chip_hour": owned_capital_per_chip_hour(
        chip_price=chip_price, server_multiplier=server_multiplier, networking_markup=networking_markup,
        cost_of_capital=cost_of_capital, lifetime_years=lifetime_years, utilisation=utilisation,
        hours_per_year=hours_per_year, one_year=one_year)}
    out["owned_energy_per_chip_hour"] = energy_per_chip_hour(chip_power_kw=chip_power_kw, pue=pue,
                                                             electricity_price_per_kwh=electricity_price_per_kwh)
    out["owned_cost_per_chip_hour"] = out["owned_capital_per_chip_hour"] + out["owned_energy_per_chip_hour"]
    out["rental_cost_per_chip_hour"] = price_per_chip_hour
    fixed_at_full_use = out["owned_capital_per_chip_hour"] * utilisation
    # where the rent does not even cover the power, owning never pays: a utilisation far above 1
    margin = np.maximum(price_per_chip_hour - out["owned_energy_per_chip_hour"], 1e-9 * price_per_chip_hour)
    out["breakeven_utilisation"] = fixed_at_full_use / margin
    return out


MODEL = evaluate
