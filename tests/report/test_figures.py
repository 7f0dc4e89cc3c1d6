"""The report's figures (sim.report.figures): each kind drawn and rasterised, every text inside its figure."""

import pytest

import sim

from ..helpers import ROOT
from .pages import FIGURES, png_size

pytestmark = pytest.mark.figures


def test_every_figure_is_a_png_of_a_readable_size(built):
    assert sorted(p.stem for p in (built / "figures").glob("*.png")) == sorted(FIGURES)
    for png in (built / "figures").glob("*.png"):
        width, height = png_size(png.read_bytes())
        assert width >= 400 and height >= 200, png


def test_figure_titles_and_labels_lie_inside_their_figures(tmp_path):
    """Every text of every figure (titles, axis labels, legends) is drawn inside the figure: nothing is clipped.

    Compares each text's rendered extent with the figure's, in pixels, on the default experiment and on one whose
    priors have long names (the assumptions figure) and whose outputs sweep years (the fan chart)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sim.report import build_report
    from sim.report.document import Plot

    for name in ("search_cost", "agent_task", "trajectory"):
        experiment = sim.load_experiment(ROOT / "experiments" / f"{name}.toml")
        ds = sim.run(experiment, samples=2000, seed=3)
        content = sim.report_content(experiment, ds, sobol_n=64, sensitivity=name == "search_cost")  # ranked charts
        document = build_report(content)
        plots = [b for section in document.sections for b in section.blocks if isinstance(b, Plot)]
        assert plots
        for plot in plots:
            fig = plot.make()
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            renderer = canvas.get_renderer()
            box = fig.bbox
            texts = [t for ax in fig.axes if ax.get_visible() for t in (ax.title, ax.xaxis.label, ax.yaxis.label)]
            texts += [t for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes)] if legend
                      for t in legend.get_texts()]
            for text in texts:
                if not text.get_visible() or not text.get_text().strip():
                    continue
                e = text.get_window_extent(renderer)
                assert box.x0 - 1 <= e.x0 and e.x1 <= box.x1 + 1 and box.y0 - 1 <= e.y0 and e.y1 <= box.y1 + 1, \
                    (name, plot.name, text.get_text())


def test_a_dollar_in_a_long_name_is_drawn_as_written(tmp_path, monkeypatch, capsys):
    """Long names that matplotlib would read as broken mathtext ("price $\\frac{1}{$"): sim run and sim report
    draw every figure, the text as written."""
    from sim.cli import main

    from ..helpers import write

    write(tmp_path / "priors" / "p.toml", '[priors.a]\ndist = "lognormal"\nci90 = [1, 4]\npoint = 2\n'
                                          'unit = "USD/query"\nlong_name = "price $\\\\frac{1}{$"\nnote = "n"\n')
    write(tmp_path / "experiments" / "m.toml", 'priors = ["../priors/p.toml"]\nsamples = 200\n\n'
                                               '[model.outputs.cost]\nformula = "a * 2"\nunits = "USD/query"\n'
                                               'role = "cost"\nlong_name = "cost $\\\\frac{1}{$ a query"\n\n'
                                               '[model.outputs.revenue]\nformula = "a * 3"\nunits = "USD/query"\n'
                                               'role = "revenue"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", "experiments/m.toml"]) == 0, capsys.readouterr().err
    assert main(["report", "experiments/m.toml", "--no-sensitivity"]) == 0, capsys.readouterr().err
    assert "cost $\\frac{1}{$ a query" in (tmp_path / "outputs" / "m" / "report.md").read_text()


def test_figures_drawn_in_forked_processes_are_the_bytes_drawn_here():
    """The report's figures are made and drawn in forked processes; each PNG is the one made and drawn here."""
    import numpy as np
    from matplotlib.figure import Figure

    from sim.report.document import Plot, _rasterised, png

    def power(k):
        fig = Figure(figsize=(3, 2))
        fig.subplots().plot(np.arange(10) ** k, label=f"power {k}")
        return fig

    plots = [Plot(f"p{k}", (lambda k=k: power(k)) if k % 2 else power(k), "") for k in range(3)]  # made, or makers
    here = [png(p.make()) for p in plots]
    assert _rasterised(plots, jobs=2) == here
    assert len(set(here)) == 3  # three different images, in their order


def test_the_one_panel_of_a_model_without_dims_is_titled_every_scenario():
    """A model with no dims besides its scenarios has one panel, each scenario a colour: it is titled "every
    scenario", not "all"."""
    from sim.report import figures as fg

    experiment = sim.load_experiment(ROOT / "experiments" / "agent_task.toml")
    ds = sim.run(experiment, samples=500)
    cost = experiment.model.with_role("cost")[0]
    assert fg.panel_label({"scenario": "a", "architecture": "b"}) == "a, b"
    fig = fg.distributions(ds, cost, fg.palette(list(ds.scenario.values)), [{}])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["every scenario"]


def test_a_panel_title_breaks_between_names_not_inside_one():
    """A narrow panel's title wraps at spaces only: a scenario name longer than the line stays whole."""
    from matplotlib.figure import Figure

    from sim.report.figures import _title

    ax = Figure(figsize=(2.0, 2.0)).subplots()
    _title(ax, "offshore_agent_with_review, two_stage")
    assert ax.get_title().splitlines() == ["offshore_agent_with_review,", "two_stage"]


def test_the_spider_draws_each_priors_line_through_its_percentiles(search_experiment):
    """The six priors of widest range, their lines the spider's values exactly, point mode the dashed line."""
    import numpy as np

    from sim.report.figures import spider_chart
    from sim.studies.sensitivity import one_at_a_time

    spider = one_at_a_time(search_experiment, "cost_per_query")
    panel = {"scenario": "baseline", "architecture": "two_stage"}
    ax = spider_chart(spider, [panel], output_label="cost").axes[0]
    c = spider.sel(**panel)
    ranges = (c["value"].max("percentile") - c["value"].min("percentile")).to_series().sort_values(ascending=False)
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(solid) == 6
    for line, name in zip(solid, ranges.index[:6]):
        np.testing.assert_array_equal(line.get_xdata(), 100 * spider["percentile"].values)
        np.testing.assert_array_equal(line.get_ydata(), c["value"].sel(input=name).values)
    [dashed] = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed.get_ydata()[0] == float(c["base"])


def test_the_scatter_is_the_net_benefit_against_each_driver_with_the_break_even_line():
    """Points at (prior, revenue - cost) for the first samples, coloured by the sign of the net benefit; the line at
    0; a log axis for a prior spanning more than a decade."""
    import numpy as np
    from matplotlib.colors import to_rgba

    from sim.report.figures import scatter_drivers

    from ..helpers import synthetic_run

    rng = np.random.default_rng(1)
    x, wide = rng.uniform(1, 2, 3000), rng.lognormal(0, 2, 3000)
    ds = synthetic_run({"x": x, "wide": wide}, x - 0.9 + 0.1 * wide)
    ds["revenue"] = ("sample", np.full(3000, 0.8))
    fig = scatter_drivers(ds, "y", "revenue", ["x", "wide"], {}, points=2000)
    for ax, name in zip(fig.axes, ["x", "wide"]):
        [points] = ax.collections
        xy = points.get_offsets()
        np.testing.assert_array_equal(xy[:, 0], ds[name].values[:2000])
        np.testing.assert_array_equal(xy[:, 1], 0.8 - ds["y"].values[:2000])
        loses = np.array([tuple(c) for c in points.get_facecolors()]) == np.array(to_rgba(fig.legends[0].legend_handles[1]
                                                                                          .get_color(), 0.35))
        assert np.array_equal(loses.all(axis=1), xy[:, 1] < 0)
        assert [line.get_ydata()[0] for line in ax.get_lines()] == [0.0]
        assert ax.get_xscale() == ("log" if name == "wide" else "linear")
