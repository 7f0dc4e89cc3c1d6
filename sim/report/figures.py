"""The report's figures, drawn with seaborn and matplotlib on a non-interactive canvas.

Every function returns a :class:`matplotlib.figure.Figure` made without
pyplot, so figures build on a machine with no display and leave no global
state behind. Panels are cells of the run (``{"architecture":
"two_stage"}``); each scenario keeps one colour in every figure.

The module is long because each of the report's thirteen figure kinds (and sim fit's QQ plot) is drawn here, with the
layout rules they share (panels, titles that fit, one colour per scenario).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import seaborn as sns
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullFormatter


__all__ = ["palette", "distributions", "exceedance_curves", "acceptability_curves", "tornado_chart",
           "sobol_chart", "rank_heatmap", "evppi_chart", "fan_chart", "convergence_chart", "prior_densities", "panel_label",
           "axis_label", "predictive_chart", "prior_posterior", "qq_chart", "spider_chart",
           "scatter_drivers", "ranked_inputs"]

#: Inputs shown per panel in the ranked charts (tornado, Sobol', EVPPI).
TOP = 8
_STYLE = {"axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
          "legend.fontsize": 8}


def palette(scenarios: Sequence[str]) -> dict[str, tuple]:
    """One colour per scenario (seaborn's colour-blind palette), in the run's order."""
    return dict(zip(scenarios, sns.color_palette("colorblind", max(len(scenarios), 3))))


def panel_label(cell: dict) -> str:
    """A cell's values as a panel's title (``baseline, two_stage``); ``every scenario`` for the empty cell (the
    one panel of a model without dims, where each scenario is a colour)."""
    return ", ".join(f"{v}" for v in cell.values()) or "every scenario"


def _figure(n: int, *, ncols: int = 3, size=(4.4, 3.2)):
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", rc=_STYLE):
        fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _title(ax, text: str) -> None:
    """``text`` as the panel's title, wrapped to the width its axes will have (at 9 pt, about 5 pt a character).

    The axes are the panel less its y tick labels (prior names in the ranked charts, at 8 pt, about
    4.5 pt a character), which the layout puts beside them; call it after the ticks are set.
    """
    ticks = max((len(t.get_text()) for t in ax.get_yticklabels()), default=0)
    width = ax.get_figure().get_figwidth() * ax.get_position().width * 72 - 4.5 * ticks - 30
    # names are not broken inside (offshore_agent stays whole); a name longer than the line takes its own line
    ax.set_title(textwrap.fill(str(text), max(12, int(width // 5.0)), break_long_words=False, break_on_hyphens=False))


def axis_label(da: xr.DataArray) -> str:
    name = da.attrs.get("long_name") or da.name.replace("_", " ")
    units = da.attrs.get("units", "")
    return textwrap.fill(f"{name} ({units})" if units and units != "1" else name, 55)  # a panel holds about 60


def _positive(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values) & (values > 0)]


def _log_axis(values: np.ndarray) -> bool:
    """A log axis where positive values span more than a decade."""
    v = _positive(values)
    return v.size > 0 and v.size == np.asarray(values).size and np.quantile(v, 0.99) > 10 * np.quantile(v, 0.01)


def _scenario_legend(fig, colours, extra=()):
    """A legend below the panels, in as many columns as fit the figure's width (at 8 pt, about 5 pt a character)."""
    handles = [Line2D([], [], color=c, lw=2, label=s) for s, c in colours.items()] + list(extra)
    longest = int((fig.get_figwidth() * 72 - 40.0) // 5.0)
    for h in handles:
        h.set_label(textwrap.fill(h.get_label(), longest))
    column = 5.0 * max(len(line) for h in handles for line in h.get_label().split("\n")) + 40.0  # the label, its line
    fits = max(1, int(fig.get_figwidth() * 72 // column))
    ncols = min(len(handles), 5, fits)
    # a legend of many rows would squeeze the panels until their labels overflow: the figure grows instead, by a
    # line of 8 pt text (about 0.2 in with its spacing) for each line beyond two
    lines = -(-sum(h.get_label().count("\n") + 1 for h in handles) // ncols)
    fig.set_figheight(fig.get_figheight() + 0.2 * max(0, lines - 2))
    fig.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False)


def _name(da: xr.DataArray) -> str:
    return da.attrs.get("long_name") or str(da.name).replace("_", " ")


def _legend_lines(ds, output, threshold, shared: bool) -> list:
    extra = [Line2D([], [], color="0.3", ls="-", label=_name(ds[output]))]
    if threshold:
        extra.append(Line2D([], [], color=SHARED if shared else "0.3", ls="--",
                            label=_name(ds[threshold]) + (" (every scenario)" if shared else "")))
    return extra


#: Colour of a line that is the same in every scenario (drawn once).
SHARED = "0.45"


def distributions(ds: xr.Dataset, output: str, colours: dict, panels: list[dict], *, threshold: str | None = None,
                  bins: int = 70, shared_threshold: bool = False) -> Figure:
    """Density of ``output`` per scenario (solid) and of ``threshold`` (dashed), one panel per cell.

    ``shared_threshold``: the threshold is the same in every scenario, so it is drawn once, in grey.
    """
    fig, axes = _figure(len(panels))
    for ax, cell in zip(axes, panels):
        series, line = {}, {}
        for i, s in enumerate(colours):
            series[(s, output)] = ds[output].sel(scenario=s, **_within(ds[output], cell)).values
            line[(s, output)] = colours[s]
            if threshold and not (shared_threshold and i):
                series[(s, threshold)] = ds[threshold].sel(scenario=s, **_within(ds[threshold], cell)).values
                line[(s, threshold)] = SHARED if shared_threshold else colours[s]
        everything = np.concatenate([np.ravel(v) for v in series.values()])
        log = _log_axis(everything)
        lo, hi = np.quantile(_positive(everything) if log else everything, [0.001, 0.999])
        edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
        for (s, name), values in series.items():
            x = np.log10(_positive(values)) if log else np.ravel(values)
            counts, width = np.histogram(x, bins=np.log10(edges) if log else edges)
            if not counts.any():  # every sample outside the drawn range (a run of two samples): nothing to draw
                continue
            density = counts / np.diff(width) / counts.sum()
            ax.stairs(density, edges, color=line[(s, name)], lw=1.4, ls="-" if name == output else "--")
        if log:
            ax.set_xscale("log")
        _title(ax, panel_label(cell))
        ax.set_xlabel(axis_label(ds[output]))
        ax.set_ylabel("density per decade" if log else "density")
    _scenario_legend(fig, colours, _legend_lines(ds, output, threshold, shared_threshold))
    return fig


def _within(da: xr.DataArray, cell: dict) -> dict:
    """The part of ``cell`` that applies to ``da`` (a revenue has no ``architecture``)."""
    return {k: v for k, v in cell.items() if k in da.dims}


def exceedance_curves(ds: xr.Dataset, output: str, colours: dict, panels: list[dict], *,
                      threshold: str | None = None, shared_threshold: bool = False) -> Figure:
    """P(X > x) against x for ``output`` (solid) and ``threshold`` (dashed), from 400 quantiles."""
    p = np.linspace(0.0005, 0.9995, 400)
    fig, axes = _figure(len(panels))
    for ax, cell in zip(axes, panels):
        values = []
        for i, (s, colour) in enumerate(colours.items()):
            for name, ls in ((output, "-"), (threshold, "--")):
                if name is None or (name == threshold and shared_threshold and i):
                    continue
                x = np.quantile(ds[name].sel(scenario=s, **_within(ds[name], cell)).values, p)
                values.append(x)
                ax.plot(x, 1 - p, color=SHARED if name == threshold and shared_threshold else colour, ls=ls, lw=1.4)
        if _log_axis(np.concatenate(values)):
            ax.set_xscale("log")
        ax.set_ylim(0, 1)
        _title(ax, panel_label(cell))
        ax.set_xlabel(axis_label(ds[output]))
        ax.set_ylabel("P(value > x)")
    _scenario_legend(fig, colours, _legend_lines(ds, output, threshold, shared_threshold))
    return fig


def acceptability_curves(accept: xr.DataArray, breakeven: xr.DataArray, colours: dict, panels: list[dict], *,
                         actual: xr.DataArray | None = None) -> Figure:
    """P(profitable) against the revenue; break-even (the expected cost) dotted; the model's revenue (``actual``) solid."""
    fig, axes = _figure(len(panels))
    x = accept["revenue_value"].values
    for ax, cell in zip(axes, panels):
        for s, colour in colours.items():
            ax.plot(x, accept.sel(scenario=s, **_within(accept, cell)).values, color=colour, lw=1.6)
            ax.axvline(float(breakeven.sel(scenario=s, **_within(breakeven, cell))), color=colour, ls=":", lw=1.2)
            if actual is not None:
                ax.axvline(float(actual.sel(scenario=s, **_within(actual, cell))), color=colour, ls="-", lw=0.9,
                           alpha=0.7)
        ax.axhline(0.5, color="0.6", lw=0.8)
        if x.size > 1 and x[-1] > 10 * x[0]:
            ax.set_xscale("log")
        ax.set_ylim(0, 1)
        _title(ax, panel_label(cell))
        ax.set_xlabel(axis_label(accept["revenue_value"].rename("revenue")))
        ax.set_ylabel("P(profitable)")
    extra = [Line2D([], [], color="0.3", ls=":", label="break-even (expected cost)")]
    if actual is not None:
        extra.append(Line2D([], [], color="0.3", ls="-", lw=0.9, label=f"median {_name(actual)}"))
    _scenario_legend(fig, colours, extra)
    return fig


def ranked_inputs(values: xr.DataArray, top: int = TOP) -> list[str]:
    """Inputs by largest absolute value, at most ``top``, dropping those that are exactly 0."""
    v = np.abs(values.values)
    order = [values["input"].values[i] for i in np.argsort(-v, kind="stable") if v[i] > 0 and np.isfinite(v[i])]
    return [str(n) for n in order[:top]]


def tornado_chart(t: xr.Dataset, panels: list[dict], *, output_label: str, low: float, high: float) -> Figure:
    """Bars from the point-mode output to its value at each prior's low and high percentile."""
    fig, axes = _figure(len(panels), size=(4.6, 3.0))
    lo_colour, hi_colour = sns.color_palette("colorblind")[0], sns.color_palette("colorblind")[3]
    for ax, cell in zip(axes, panels):
        c = t.sel(**cell)
        names = ranked_inputs(c["swing"])[::-1]
        base = float(c["base"])
        y = np.arange(len(names))
        for value, colour in ((c["low"], lo_colour), (c["high"], hi_colour)):
            v = value.sel(input=names).values if names else np.array([])
            ax.barh(y, v - base, left=base, color=colour, height=0.6)
        ax.axvline(base, color="0.2", lw=0.8)
        ax.set_yticks(y, names)
        _title(ax, panel_label(cell))
        ax.set_xlabel(output_label)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    fig.legend(handles=[Line2D([], [], color=lo_colour, lw=6, label=f"prior at its {100 * low:g}th percentile"),
                        Line2D([], [], color=hi_colour, lw=6, label=f"prior at its {100 * high:g}th percentile")],
               loc="outside lower center", ncols=2, frameon=False)
    return fig


def spider_chart(spider: xr.Dataset, panels: list[dict], *, output_label: str, top: int = 6) -> Figure:
    """The output as each prior moves through its percentiles, the others at their point values: a line per prior
    (the ``top`` of widest range in any panel, one colour each in every panel), point mode dashed."""
    ranges = spider["value"].max("percentile") - spider["value"].min("percentile")
    names = list(dict.fromkeys(n for cell in panels for n in ranked_inputs(ranges.sel(**cell), top)))[:top]
    colours = dict(zip(names, sns.color_palette("colorblind", max(len(names), 3))))
    fig, axes = _figure(len(panels), size=(4.6, 3.2))
    x = 100 * spider["percentile"].values
    for ax, cell in zip(axes, panels):
        c = spider.sel(**cell)
        for name in names:
            ax.plot(x, c["value"].sel(input=name).values, color=colours[name], lw=1.3, marker="o", ms=3)
        ax.axhline(float(c["base"]), color="0.2", lw=0.8, ls="--")
        _title(ax, panel_label(cell))
        ax.set_xlabel("percentile of the prior moved")
        ax.set_ylabel(output_label)
        ax.yaxis.set_major_locator(MaxNLocator(5))
    handles = [Line2D([], [], color=colours[n], lw=2, marker="o", ms=3, label=n) for n in names]
    _scenario_legend(fig, {}, [*handles, Line2D([], [], color="0.2", lw=0.8, ls="--", label="every prior at its point")])
    return fig


def scatter_drivers(ds: xr.Dataset, output: str, threshold: str | None, names: Sequence[str], cell: dict, *,
                    points: int = 2000) -> Figure:
    """The first ``points`` samples of the net benefit (``threshold`` minus ``output``; the output itself without
    a threshold) against each prior in ``names``, in one cell: above the break-even line (0) the sample gains."""
    gain, loss = sns.color_palette("colorblind")[2], sns.color_palette("colorblind")[3]
    at = {k: v for k, v in cell.items() if k in ds[output].dims}
    y = ds[output].sel(**at).isel(sample=slice(0, points))
    if threshold:
        y = ds[threshold].sel(**_within(ds[threshold], cell)).isel(sample=slice(0, points)) - y
        y.attrs = {"long_name": "net benefit", "units": ds[output].attrs.get("units", "")}
    else:
        y.attrs = ds[output].attrs
    fig, axes = _figure(len(names), ncols=2, size=(4.4, 3.0))
    for ax, name in zip(axes, names):
        x = ds[name].sel(**_within(ds[name], cell)).isel(sample=slice(0, points)).values
        v = y.values
        colour = np.where(v >= 0, 0, 1) if threshold else np.zeros(v.size, dtype=int)
        ax.scatter(x, v, s=3, alpha=0.35, c=np.array([gain, loss])[colour], linewidths=0, rasterized=True)
        if threshold:
            ax.axhline(0.0, color="0.2", lw=0.9)
        if _log_axis(x):
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(4))
        for set_label, text, width in ((ax.set_xlabel, axis_label(ds[name]), 45), (ax.set_ylabel, axis_label(y), 30)):
            set_label(textwrap.fill(text.replace("\n", " "), width, break_on_hyphens=False))
    extra = [Line2D([], [], color=gain, marker="o", ls="", label="gains"),
             Line2D([], [], color=loss, marker="o", ls="", label="loses"),
             Line2D([], [], color="0.2", lw=0.9, label="break-even")] if threshold else []
    if extra:
        _scenario_legend(fig, {}, extra)
    return fig


def sobol_chart(s: xr.Dataset, panels: list[dict]) -> Figure:
    """First- and total-order Sobol' indices with their bootstrap intervals."""
    fig, axes = _figure(len(panels), size=(4.6, 3.0))
    first, total = sns.color_palette("colorblind")[0], sns.color_palette("colorblind")[1]
    for ax, cell in zip(axes, panels):
        c = s.sel(**cell)
        names = ranked_inputs(c["total_order"])[::-1]
        y = np.arange(len(names))
        for name, colour, shift in (("first_order", first, 0.2), ("total_order", total, -0.2)):
            v = c[name].sel(input=names).values
            ci = c[f"{name}_ci"].sel(input=names).transpose("ci_bound", "input").values
            err = np.clip(np.abs(ci - v), 0, None)
            ax.barh(y + shift, v, height=0.38, color=colour, xerr=err, error_kw={"lw": 0.8, "capsize": 2})
        ax.set_yticks(y, names)
        ax.set_xlim(0, max(1.0, ax.get_xlim()[1]) if names else 1.0)
        _title(ax, panel_label(cell))
        ax.set_xlabel("share of variance")
    fig.legend(handles=[Line2D([], [], color=first, lw=6, label="first order"),
                        Line2D([], [], color=total, lw=6, label="total order"),
                        Line2D([], [], color="0.2", lw=1, label="95 % bootstrap interval")],
               loc="outside lower center", ncols=3, frameon=False)
    return fig


def rank_heatmap(r: xr.DataArray, panels: list[dict]) -> Figure:
    """Spearman rank correlations: priors by cells."""
    columns = [r.sel(**cell).rename(panel_label(cell)) for cell in panels]
    frame = xr.concat(columns, dim="cell").assign_coords(cell=[c.name for c in columns]).to_pandas().T
    strength = frame.abs().max(axis=1)
    frame = frame.loc[strength[strength >= 0.01].sort_values(ascending=False).index]
    with sns.axes_style("white"), sns.plotting_context("notebook", rc=_STYLE):
        fig = Figure(figsize=(2.5 + 1.1 * frame.shape[1], 2.2 + 0.32 * frame.shape[0]), layout="constrained")
        ax = fig.subplots()
    sns.heatmap(frame, ax=ax, vmin=-1, vmax=1, cmap="vlag", annot=True, fmt=".2f", annot_kws={"size": 7},
                cbar_kws={"label": "rank correlation"}, linewidths=0.5)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=30)
    return fig


def evppi_chart(evppi: xr.DataArray, panels: list[dict], *, units: str) -> Figure:
    """Expected value of partial perfect information per prior, largest first."""
    fig, axes = _figure(len(panels), size=(4.6, 3.0))
    colour = sns.color_palette("colorblind")[2]
    for ax, cell in zip(axes, panels):
        c = evppi.sel(**cell)
        names = ranked_inputs(c)[::-1]
        ax.barh(np.arange(len(names)), c.sel(input=names).values if names else [], color=colour, height=0.6)
        ax.set_yticks(np.arange(len(names)), names)
        _title(ax, panel_label(cell))
        ax.set_xlabel(f"EVPPI ({units})")
        if not names:
            ax.text(0.5, 0.5, "no prior changes the decision", ha="center", va="center", transform=ax.transAxes)
    return fig


def _quantiles(summary: xr.Dataset, name: str) -> xr.DataArray:
    """A labelled summary's quantiles of ``name``, along a float ``quantile`` dim."""
    da = summary[name]
    keep = np.flatnonzero(np.isfinite(summary["quantile"].values))
    return da.isel(stat=keep).swap_dims(stat="quantile").drop_vars("stat")


def fan_chart(summary: xr.Dataset, output: str, colours: dict, panels: list[dict], *, dim: str = "year",
              threshold: str | None = None) -> Figure:
    """Median of ``output`` over ``dim`` with its 50 % and 90 % bands per scenario, from the labelled summary."""
    fig, axes = _figure(len(panels), size=(4.6, 3.4))
    ds = summary
    q = _quantiles(summary, output)
    x = ds[dim].values
    for ax, cell in zip(axes, panels):
        for s, colour in colours.items():
            c = q.sel(scenario=s, **_within(q, cell))
            ax.fill_between(x, c.sel(quantile=0.05), c.sel(quantile=0.95), color=colour, alpha=0.15, lw=0)
            ax.fill_between(x, c.sel(quantile=0.25), c.sel(quantile=0.75), color=colour, alpha=0.3, lw=0)
            ax.plot(x, c.sel(quantile=0.5), color=colour, lw=1.8)
            if threshold:
                r = _quantiles(summary, threshold).sel(quantile=0.5)
                r = r.sel(scenario=s, **_within(r, cell))
                ax.plot(x, np.broadcast_to(r.values, x.shape) if dim not in r.dims else r.values,
                        color=colour, lw=1.2, ls="--")
        if _log_axis(q.values):
            ax.set_yscale("log")
        _title(ax, panel_label(cell))
        ax.set_xlabel(dim)
        ax.set_ylabel(axis_label(ds[output]))
    extra = [Line2D([], [], color="0.3", lw=6, alpha=0.3, label="50 % and 90 % intervals")]
    if threshold:
        extra.append(Line2D([], [], color="0.3", ls="--", label=f"{_name(summary[threshold])} (median)"))
    _scenario_legend(fig, colours, extra)
    return fig


def convergence_chart(estimates: xr.Dataset, colours: dict) -> Figure:
    """Running mean and percentile of an output against the number of samples, from
    :func:`sim.analysis.summary.running_estimates` (dims ``n``, ``stat``, ``scenario``).

    Each estimate is drawn relative to its value from all samples, with its
    95 % Monte Carlo interval on the first n samples, so every scenario reads
    on one scale. With ``p_profitable`` in ``estimates``, a third panel shows
    the running P(profitable) with its Jeffreys interval, on its own scale.
    """
    ns = estimates["n"].values
    est, ci = estimates["estimate"], estimates["interval"]
    label = str(est["stat"].values[1])
    final = est.isel(n=-1)
    net = "p_profitable" in estimates
    fig, axes = _figure(2 if not net else 3, ncols=3, size=(4.4, 3.4))
    for ax, stat, title in zip(axes, ("mean", label), ("running mean", f"running {label[1:]}th percentile")):
        for s, colour in colours.items():
            scale = float(final.sel(scenario=s, stat=stat)) or 1.0
            band = ci.sel(scenario=s, stat=stat) / scale
            ax.fill_between(ns, band.sel(ci_bound="lower"), band.sel(ci_bound="upper"), color=colour, alpha=0.2,
                            lw=0)
            ax.plot(ns, est.sel(scenario=s, stat=stat) / scale, color=colour, lw=1.5)
        ax.axhline(1.0, color="0.4", lw=0.8)
        ax.set_xscale("log")
        _title(ax, title)
        ax.set_xlabel("samples")
        ax.set_ylabel("estimate / estimate from all samples")
    if net:
        ax = axes[2]
        for s, colour in colours.items():
            bounds = estimates["p_profitable_ci"].sel(scenario=s)
            ax.fill_between(ns, bounds.sel(ci_bound="lower"), bounds.sel(ci_bound="upper"), color=colour, alpha=0.2,
                            lw=0)
            ax.plot(ns, estimates["p_profitable"].sel(scenario=s), color=colour, lw=1.5)
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        _title(ax, "running P(profitable)")
        ax.set_xlabel("samples")
        ax.set_ylabel("P(profitable)")
    _scenario_legend(fig, colours, [Line2D([], [], color="0.3", lw=6, alpha=0.2,
                                           label="95 % Monte Carlo interval")])
    return fig


def prior_densities(experiment, names: Sequence[str], colours: dict, *, points: int = 4000, bins: int = 60) -> Figure:
    """The density of each prior in ``names``, its 90 % interval shaded and its point value marked.

    The density is a histogram of the prior's quantile function at ``points``
    evenly spaced probabilities (a stratified sample, so it is smooth and
    needs no random numbers). A scenario's override is drawn over the shared
    prior (grey) in the scenario's colour.
    """
    fig, axes = _figure(len(names), ncols=4, size=(3.4, 2.5))
    u = (np.arange(points) + 0.5) / points
    for ax, name in zip(axes, names):
        versions = [(experiment.base_priors[name], SHARED)] + \
            [(s.priors[name], colours.get(s.name, SHARED)) for s in experiment.scenarios if name in s.overrides]
        for prior, colour in versions:
            if prior.is_fixed:
                ax.axvline(prior.point, color=colour, lw=1.6)
                continue
            x = np.asarray(prior.ppf(u), dtype=float)
            lo, hi = np.quantile(x, [0.001, 0.999])
            if not hi > lo:
                ax.axvline(prior.point, color=colour, lw=1.6)
                continue
            density, edges = np.histogram(x, bins=np.linspace(lo, hi, bins + 1), density=True)
            ax.stairs(density, edges, color=colour, lw=1.3)
            a, b = prior.interval(0.9)
            ax.axvspan(a, b, color=colour, alpha=0.08, lw=0)
            ax.axvline(prior.point, color=colour, lw=1.0, ls="--")
        prior = experiment.base_priors[name]
        _title(ax, prior.long_name or name.replace("_", " "))
        ax.set_xlabel(prior.unit if prior.unit not in ("", "1") else "")
        ax.set_yticks([])
    overriding = {s.name for s in experiment.scenarios for name in names if name in s.overrides}
    _scenario_legend(fig, {s: c for s, c in colours.items() if s in overriding},
                     [Line2D([], [], color=SHARED, lw=2, label="every scenario"),
                      Line2D([], [], color="0.3", lw=1, ls="--", label="point value")])
    return fig


#: Colours of the prior and the posterior in the Evidence section's figures (Okabe-Ito grey and vermillion).
PRIOR_COLOUR, POSTERIOR_COLOUR = "0.5", "#d55e00"


def predictive_chart(checks: xr.Dataset) -> Figure:
    """Each observation against its prior and posterior predictive: their medians and 90 % intervals as bars, the
    observed figure as a black diamond (a log axis where every value is positive and they span a decade)."""
    names = [str(n) for n in checks["observation"].values]
    fig, axes = _figure(len(names), ncols=3, size=(4.6, 1.7))
    for ax, name in zip(axes, names):
        c = checks.sel(observation=name)
        for y, prefix, colour in ((1, "prior", PRIOR_COLOUR), (0, "posterior", POSTERIOR_COLOUR)):
            lo, mid, hi = (float(c[f"{prefix}_{k}"]) for k in ("p05", "p50", "p95"))
            ax.plot([lo, hi], [y, y], color=colour, lw=4, solid_capstyle="butt")
            ax.plot([mid], [y], "o", color="white", mec=colour, ms=5)
        ax.plot([float(c["observed"])], [0.5], "D", color="black", ms=6)
        values = [float(c[k]) for k in ("prior_p05", "prior_p95", "posterior_p05", "posterior_p95", "observed")]
        if _log_axis(np.array(values)):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks([0, 1], ["posterior", "prior"])
        ax.set_ylim(-0.6, 1.6)
        conflict = " (prior-data conflict)" if bool(c["conflict"]) else ""
        _title(ax, f"{name}: {c['variable'].item()}{conflict}")
    fig.legend(handles=[Line2D([], [], color=PRIOR_COLOUR, lw=4, label="prior predictive, 90 %"),
                        Line2D([], [], color=POSTERIOR_COLOUR, lw=4, label="posterior predictive, 90 %"),
                        Line2D([], [], marker="D", color="black", ls="", label="observed")],
               loc="outside lower center", ncols=min(3, len(names)), frameon=False)
    return fig


def prior_posterior(prior: xr.Dataset, posterior: xr.Dataset, names: Sequence[str], *, bins: int = 60) -> Figure:
    """The density of each prior in ``names`` before (grey) and after (colour) the evidence, as histograms of their
    samples (of the first scenario, where a scenario changes the prior), on a log axis where the values span more
    than a decade."""
    fig, axes = _figure(len(names), ncols=4, size=(3.4, 2.5))
    for ax, name in zip(axes, names):
        before, after = (np.asarray(ds[name].isel({d: 0 for d in ds[name].dims if d != "sample"}).values,
                                    dtype=float) for ds in (prior, posterior))
        both = np.concatenate([before, after])
        log = _log_axis(both)
        lo, hi = np.quantile(both, [0.001, 0.999])
        edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
        for values, colour in ((before, PRIOR_COLOUR), (after, POSTERIOR_COLOUR)):
            density, _ = np.histogram(values, bins=edges, density=True)
            ax.stairs(density, edges, color=colour, lw=1.4)
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labels at the decades only: they would overlap
        _title(ax, _name(posterior[name]))
        units = posterior[name].attrs.get("units", "")
        ax.set_xlabel(units if units not in ("", "1") else "")
        ax.set_yticks([])
    fig.legend(handles=[Line2D([], [], color=PRIOR_COLOUR, lw=2, label="prior"),
                        Line2D([], [], color=POSTERIOR_COLOUR, lw=2, label="posterior")],
               loc="outside lower center", ncols=2, frameon=False)
    return fig


def qq_chart(qq: dict, *, units: str = "") -> Figure:
    """QQ plots of fitted families (``{family: (its quantiles, the sorted data)}``, best first): the data against
    each family's quantiles at the same plotting positions, on the line y = x where the fit is exact."""
    fig, axes = _figure(len(qq), ncols=3, size=(3.4, 3.2))
    for ax, (family, (theoretical, observed)) in zip(axes, qq.items()):
        ax.plot(theoretical, observed, ".", ms=2, color=POSTERIOR_COLOUR, alpha=0.6)
        both = np.concatenate([theoretical[np.isfinite(theoretical)], observed])
        lo, hi = float(both.min()), float(both.max())
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=1)
        if _log_axis(both):
            ax.set_xscale("log")
            ax.set_yscale("log")
        _title(ax, family)
        suffix = f" ({units})" if units and units != "1" else ""
        ax.set_xlabel(f"fitted quantile{suffix}")
        ax.set_ylabel(f"data{suffix}")
    return fig
