"""The ``sim`` commands: each reads its arguments, calls the library (:mod:`sim.api`), has the store write what it
returns and prints a view (:mod:`sim.report.console`).

Heavy modules (numpy, xarray, the models) are imported inside each command,
so that ``sim --help`` and a bad argument answer at once. The module is
long because it holds one short function per command, fifteen of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import _checks as check
from ..errors import ConfigError, SimError
from .parser import DEFAULT_EXPERIMENT

__all__ = ["COMMANDS"]


def _experiment_path(arg: str | None) -> Path:
    """A path, or a bare name looked up as ``experiments/<name>.toml``."""
    if arg is None:
        return Path(DEFAULT_EXPERIMENT)
    path = Path(arg)
    if path.suffix != ".toml" and len(path.parts) == 1:
        return Path("experiments") / f"{arg}.toml"
    return path


def _load(arg):
    from .._files import read_toml

    path = _experiment_path(arg)
    read_toml(path, "experiment file")  # a missing or unreadable file is named before the heavy imports
    from ..experiment import load_experiment

    return load_experiment(path)


def _hold(args, experiment) -> None:
    """Hold the experiment's run folder under ``--out`` until the command ends (see :func:`sim.store.holding`)."""
    from .. import store

    args.held.enter_context(store.holding(args.out, experiment))


def _notices(notices) -> None:
    for notice in notices:
        print(f"sim: {notice}", file=sys.stderr)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# --- sim run and sim report ------------------------------------------------------------------------------------


def _report(experiment, ds, summary, args, evidence=None):
    """The report of a run (or of its posterior, with the ``evidence``), rendered (its figures drawn) and ready for
    the store to write."""
    from .. import api
    from ..progress import stage
    from ..report import build_report, render

    content = api.report_content(experiment, ds, summary=summary, output=args.output, revenue=args.revenue,
                                 select=args.select, sensitivity=args.sensitivity, sobol_n=args.sobol_n, out=args.out,
                                 **(evidence or {}))
    document = build_report(content)
    with stage("drawing the report"):
        return render(document)


def _report_written(folder: Path) -> str:
    from .. import store

    return (f"wrote {folder / store.REPORT_HTML} and {folder / store.REPORT_MD} (figures in {folder / store.FIGURES}, "
            f"tables in {folder / store.TABLES})")


def cmd_run(args) -> int:
    experiment = _load(args.experiment)  # a missing file is named before the library's imports
    from .. import api, store
    from ..experiment import subject, with_overrides

    experiment = with_overrides(experiment, set_values=dict(args.set or []), scenarios=args.scenario)
    beside = args.out is None and experiment.set_values
    args.out = args.out or store.what_if_out(experiment)
    if beside:
        print(f"a what-if run (--set {', '.join(f'{n}={v:.12g}' for n, v in experiment.set_values)}): written to "
              f"{store.run_folder(args.out, experiment)}, beside the main run in "
              f"{store.run_folder(store.OUT, experiment)}; other commands read it with --out {args.out}")
    _hold(args, experiment)
    from ..progress import stage
    from ..report import summary_table
    from ..report.console import summary_view

    api.check_sobol_n(args.sobol_n)
    if args.report:
        subject(experiment, args.output, args.revenue)  # a choice the report needs is asked before the run
    if args.jobs > 1 and (args.dask or not args.stream):
        raise SimError(f"--jobs {args.jobs}: only a --stream run is spread over processes"
                       + ("; a --dask cluster has its own workers" if args.dask else ""))
    if args.stream or args.dask:
        return _run_streaming(experiment, args)
    chunk = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    precise = args.precision is not None or experiment.precision is not None
    if precise:
        result = api.run_to_precision(experiment, args.precision, outputs=args.monitor, seed=args.seed,
                                      sampler=args.sampler, max_samples=args.max_samples, start=args.samples,
                                      progress=True)
        ds = result.dataset
    else:
        if args.report:  # the report's memory too, before the run rather than after it
            api.check_memory(experiment, args.samples or experiment.samples, work="report")
        ds = api.run(experiment, samples=args.samples, seed=args.seed, sampler=args.sampler, progress=True, **chunk)
    # samples.nc is written in a thread while the summaries and the report are made
    with stage("writing the run"), store.writing_run(experiment, args.out, ds, size=ds.nbytes) as pending:
        with stage("summaries and their Monte Carlo intervals"):
            summary = api.summarize_run(ds)
            table = summary_table(summary)
        pending.finish(summary, table, _report(experiment, ds, summary, args) if args.report else None)
    folder, notices = pending.folder, pending.notices
    print(f"{experiment.title or experiment.name}: {ds.attrs['samples']:,} samples, "
          f"sampler {ds.attrs['sampler']}, seed {ds.attrs['seed']}")
    print(summary_view(table, summary, args.all))
    if precise:
        print(f"\n{result.message}")
    print(f"\nwrote {folder / store.SAMPLES}, {folder / store.SUMMARY} and {folder / store.SUMMARY_TABLE} "
          f"(with 95 % Monte Carlo intervals), and the input files with their hashes in {folder / store.RECORD}")
    if args.report:
        print(_report_written(folder))
    _notices(notices)
    return 0 if not precise or result.converged else 1


def _run_streaming(experiment, args) -> int:
    from .. import api, store
    from ..experiment import with_settings
    from ..report import summary_table
    from ..report.console import summary_view

    if args.precision:
        raise SimError("--stream and --precision cannot be combined: precision control keeps its samples")
    experiment = with_settings(experiment, samples=args.samples, seed=args.seed, sampler=args.sampler)
    chunk = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    if args.dask:
        with api.connect(args.dask) as client:
            summary = api.dask_summary(experiment, client, relative_error=args.relative_error, progress=True, **chunk)
    else:
        summary = api.stream_summary(experiment, relative_error=args.relative_error, progress=True, jobs=args.jobs,
                                     **chunk)
    table = summary_table(summary)
    report = _report(experiment, None, summary, args) if args.report else None
    folder, notices = store.write_run(experiment, args.out, summary, table, report=report)
    print(f"{experiment.title or experiment.name}: {experiment.samples:,} samples streamed, "
          f"sampler {experiment.sampler}, seed {experiment.seed} (quantiles to {args.relative_error:g} relative)")
    print(summary_view(table, summary, args.all))
    print(f"\nwrote {folder / store.SUMMARY} and {folder / store.SUMMARY_TABLE}, and the input files with their "
          f"hashes in {folder / store.RECORD}; a streamed run keeps no samples, so it has no samples.nc")
    if report is not None:
        print(_report_written(folder))
    _notices(notices)
    return 0


def cmd_report(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from .. import api, store

    api.check_sobol_n(args.sobol_n)
    for flag, name in (("--output", args.output), ("--revenue", args.revenue)):
        if name is not None and name not in experiment.model.outputs:
            raise SimError(f"{flag}: unknown output {name!r}; {check.choices(name, experiment.model.outputs)}")
    folder = store.analysis_folder(args.out, experiment, args.posterior)
    if args.posterior:
        recorded, ds = store.load_posterior(experiment, args.out)
        _, prior = store.load_run(experiment, args.out)
        evidence = {"prior": prior, "checks": store.load_checks(experiment, args.out)}
        store.write_report(args.out, recorded, _report(recorded, ds, None, args, evidence), posterior=True)
        print(_report_written(folder))
        return 0
    if (folder / store.SAMPLES).is_file() or not (folder / store.SUMMARY).is_file():
        # read as the report uses it: its outputs and inputs whole, the other outputs' first samples only
        recorded, ds = store.load_run(experiment, args.out, lazy=True)
        args.held.callback(ds.close)
        summary = store.saved_summary(folder, ds.attrs)  # the run's own, not computed again
    else:  # a streamed run: its summary alone
        (recorded, summary), ds = store.load_summary(experiment, args.out), None
    store.write_report(args.out, recorded, _report(recorded, ds, summary, args))
    print(_report_written(folder))
    return 0


def cmd_export(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    import functools

    from .. import store
    from ..export import XLSX_SAMPLES, export_samples, variables

    if args.posterior:
        recorded, ds = store.load_posterior(experiment, args.out, command="export")
    else:
        recorded, ds = store.load_run(experiment, args.out, lazy=True, command="export")
    args.held.callback(ds.close)
    folder = store.analysis_folder(args.out, experiment, args.posterior)
    summary = store.summary_table(folder) if args.format == "xlsx" else None
    limit = XLSX_SAMPLES if args.format == "xlsx" and args.max_samples is None else args.max_samples
    name = f"samples.{args.format}"
    write = functools.partial(export_samples, ds, fmt=args.format, max_samples=limit, summary=summary)
    [path] = store.write_derived(args.out, experiment, store.EXPORT, {name: write}, ds.attrs, posterior=args.posterior)
    n = ds.sizes["sample"]
    kept = min(limit or n, n)
    cells = [f"{ds.sizes[d]} {d}" for d in ds.dims if d != "sample"]
    print(f"wrote {path}: {kept:,} samples{f' of {n:,}' if kept < n else ''}"
          f"{' in each of ' + ' x '.join(cells) if cells else ''}, {len(variables(ds))} inputs and outputs with "
          f"their units in the header")
    return 0


# --- analyses of the saved run ---------------------------------------------------------------------------------


def _saved_run(experiment, args, command: str):
    """The saved run the analysis reads (``--samples``/``--seed`` are refused: they belong to ``sim run``), the
    experiment as it was made, and where it was read."""
    from .. import store
    from ..report.console import saved_run_source

    for flag, value in (("--samples", args.samples), ("--seed", args.seed)):
        if value is not None:
            raise SimError(f"{flag}: sim {command} reads the saved run's samples; make the run you want with "
                           f"`sim run {experiment.path} {flag} {value}"
                           f"{' --out ' + args.out if Path(args.out) != Path('outputs') else ''}` first")
    recorded, ds = store.load_run(experiment, args.out, command=command)
    return recorded, ds, saved_run_source(store.run_folder(args.out, experiment) / store.SAMPLES, ds.attrs)


def _analysis(args, experiment, command: str, kind: str, opts, compute, files_of, view) -> int:
    """An analysis of the saved run (or of its posterior): ``compute(recorded, run, opts)``, its files written into
    ``<run folder>/kind/`` (``<run folder>/calibration/kind/``) by the store, its view printed."""
    from .. import store
    from ..report.console import saved_run_source

    if args.posterior:
        for flag, value in (("--samples", args.samples), ("--seed", args.seed)):
            if value is not None:
                raise SimError(f"{flag}: sim {command} --posterior reads the saved posterior's samples")
        recorded, ds = store.load_posterior(experiment, args.out, command=command)
        folder = store.analysis_folder(args.out, experiment, posterior=True)
        source = saved_run_source(folder / store.POSTERIOR, ds.attrs, posterior=True)
    else:
        recorded, ds, source = _saved_run(experiment, args, command)
    result = compute(recorded, ds, opts, select=args.select)
    files = files_of(result)
    written = store.write_derived(args.out, experiment, kind, files, ds.attrs, posterior=args.posterior)
    print(view(experiment, result, files, source, args.all))
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def cmd_sensitivity(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from .. import api
    from ..report.console import sensitivity_view
    from ..report.tables import sensitivity_files

    methods = [m.strip() for m in ",".join(args.method).split(",")] if args.method else None
    opts = api.sensitivity_options(experiment, output=args.output, methods=methods, percentiles=tuple(args.percentiles),
                                   spider=args.spider, region=args.region, sobol_n=args.sobol_n,
                                   resamples=args.resamples, posterior=args.posterior)
    return _analysis(args, experiment, "sensitivity", "sensitivity", opts, api.sensitivity, sensitivity_files,
                     sensitivity_view)


def _stress_arg(stress):
    """``--stress PRIOR LOW HIGH`` as (prior, low, high) with the percentiles as fractions."""
    if stress is None:
        return None
    prior, lo, hi = stress
    try:
        lo_f, hi_f = float(lo), float(hi)
    except ValueError:
        raise SimError(f"--stress: LOW and HIGH must be percentiles in percent, got {lo!r} {hi!r}") from None
    return prior, lo_f / 100.0, hi_f / 100.0


def cmd_decide(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from .. import api
    from ..report.console import decision_view
    from ..report.tables import decision_files

    opts = api.decision_options(experiment, cost=args.cost, revenue=args.revenue, volume=args.volume,
                                stress=_stress_arg(args.stress), seek=args.seek, target=args.target,
                                statistic=args.statistic, how=args.how, bracket=args.bracket,
                                posterior=args.posterior)
    return _analysis(args, experiment, "decide", "decision", opts, api.decide, decision_files, decision_view)


def cmd_calibrate(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from .. import api, store
    from ..progress import stage
    from ..report.console import calibration_view, saved_run_source
    from ..report.tables import calibration_files

    api.load_observations(experiment, *args.observations)  # a bad file is named before the run is read
    if args.arviz:
        store.check_file_name(args.arviz, ".nc", "--arviz")
    recorded, ds = store.load_run(experiment, args.out, command="calibrate")
    with stage("calibration"):
        result = api.calibrate(recorded, ds, args.observations, min_ess=args.min_ess, particles=args.particles,
                               strict=args.strict, seed=args.seed)
    files = calibration_files(result)
    written = store.write_calibration(args.out, experiment, files, ds.attrs, args.observations)
    if args.arviz:
        store.write_arviz(args.arviz, api.arviz_tree(result, ds))
    source = saved_run_source(store.run_folder(args.out, experiment) / store.SAMPLES, ds.attrs)
    print(calibration_view(experiment, result, files, source, args.all))
    print("\nwrote " + ", ".join(str(p) for p in written) + (f" and {args.arviz}" if args.arviz else ""))
    for line in result.warnings:
        print(f"sim: warning: {line}", file=sys.stderr)
    return 0


def cmd_fit(args) -> int:
    from .. import store

    if (args.data is None) == (args.quantiles is None):
        raise SimError("give a data file (sim fit DATA.csv --column C) or --quantiles, one of them")
    if args.data is not None and not args.column:
        raise SimError("--column: name the column of the data file to fit")
    for flag, path, suffix in (("--output", args.output, ".toml"), ("--qq", args.qq, ".png")):
        if path:
            store.check_file_name(path, suffix, flag, new=True)
    if args.qq and args.quantiles:
        raise SimError("--qq: a QQ plot compares a fit with data; --quantiles has none")
    from .. import api
    from ..report.console import fit_view
    from ..units import parse

    parse(args.unit, file="--unit", key="")
    if args.quantiles:
        result = api.fit_quantiles(dict(args.quantiles), unit=args.unit, name=args.name, lower=args.lower,
                                   upper=args.upper)
    else:
        families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
        values = api.read_column(args.data, args.column)
        result = api.fit_data(values, unit=args.unit, name=args.name or args.column, families=families,
                              label=f"{args.data} column {args.column}", gof_samples=args.gof_samples)
    print(fit_view(result))
    if args.qq:
        from ..report.document import png
        from ..report.figures import qq_chart

        print(f"wrote {store.write_figure(args.qq, png(qq_chart(result.qq(), units=args.unit)))}")
    if args.output:
        print(f"wrote {store.write_new_priors(args.output, result.priors_text())}")
    return 0


# --- the rest ------------------------------------------------------------------------------------------------------


def cmd_point(args) -> int:
    experiment = _load(args.experiment)
    from .. import api
    from ..report.console import point_view

    print(point_view(experiment, api.point(experiment)))
    return 0


def cmd_explore(args) -> int:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise SimError("sim explore needs Bokeh; install the explore extra: pip install -e '.[explore]'") from None
    experiment = _load(args.experiment)
    from ..explorer import MAX_SAMPLES, is_loopback, serve

    posterior = None
    if args.posterior:
        from .. import store

        if args.seed is not None:
            raise SimError("--seed: sim explore --posterior explores the saved posterior's rows, which the run's seed "
                           "made; leave --seed out")
        experiment, posterior = store.load_posterior(experiment, args.out, command="decide")
    remote = args.host is not None and not is_loopback(args.host)
    if remote:
        print(f"sim: warning: the explorer has no authentication: whoever reaches {args.host} port "
              f"{args.port or '(chosen)'} can change its priors and save files beside {experiment.path}",
              file=sys.stderr)
    # the experiment's own sample count, as its run and report use, up to what a change can redraw in seconds
    samples = args.samples or min(experiment.samples, MAX_SAMPLES)
    serve(experiment, samples=samples, seed=args.seed, host=args.host or "127.0.0.1",
          port=args.port, remote=remote, open_browser=args.open, say=lambda line: print(line, flush=True),
          posterior=posterior)
    return 0


def cmd_models(args) -> int:
    from .. import api
    from ..report.console import models_view

    if (args.graph or args.graph_file) and not args.experiments:
        raise SimError("--graph: name the experiment whose model to draw, such as `sim models agent_task --graph`")
    if args.graph_file and len(args.experiments) > 1:
        raise SimError(f"--graph-file: one experiment's graph per file; {len(args.experiments)} were named")
    if args.graph_file:
        from .. import store

        store.check_file_name(args.graph_file, ".png", "--graph-file")
    experiments = [_load(a) for a in args.experiments]
    print(models_view(api.models(experiments), [e.input_units for e in experiments] or None))
    if args.graph or args.graph_file:
        from ..report.document import png
        from ..report.graph import graph_figure, graph_text

        graphs = [api.model_graph(e) for e in experiments]
        if args.graph:
            print("\n" + "\n\n".join(graph_text(g) for g in graphs))
        if args.graph_file:
            print(f"\nwrote {store.write_figure(args.graph_file, png(graph_figure(graphs[0])))}")
    return 0


def cmd_check(args) -> int:
    from .. import api
    from ..report.console import check_view

    table = api.check(args.figures, root=args.root)
    print(check_view(table))
    return 1 if not table["ok"].all() else 0


def cmd_validate(args) -> int:
    from .. import api

    bad = 0
    for file in args.files:
        try:
            print(f"ok: {file}: {api.validate(file, import_code=args.import_code)}")
        except SimError as exc:
            bad += 1
            print(f"sim: error: {_one_line(exc)}", file=sys.stderr)
    return 2 if bad else 0


def cmd_serving(args) -> int:
    from .. import api, store
    from .._files import read_csv
    from ..catalogue import load_catalogue
    from ..report.console import serving_cases_view, serving_view

    common = dict(priors=args.priors, catalogues=args.catalogues, samples=args.samples, seed=args.seed)
    if args.cases:
        if args.model or args.accelerator:
            raise SimError("give a model and an accelerator, or --cases FILE.csv, not both")
        if not args.out:
            raise SimError("--out: name the folder to write serving.csv in (sim serving --cases FILE.csv --out DIR)")
        result = api.serving(read_csv(args.cases, "CSV file of cases"), file=args.cases, **common)
        path = store.write_serving(args.out, result.table)
        print(serving_cases_view(result, args.all))
        print(f"\nwrote {path}")
        return 0
    if not (args.model and args.accelerator):
        raise SimError("name a model and an accelerator (sim serving llama33_70b h100 --tp 2), or give --cases "
                       "FILE.csv")
    for kind, name, flag in (("models", args.model, "MODEL"), ("accelerators", args.accelerator, "ACCELERATOR"),
                             ("precisions", args.precision, "--precision")):
        entries = load_catalogue(args.catalogues, kind)
        if name not in entries:
            raise SimError(f"{flag}: {name!r} is not in {args.catalogues}/{kind}.toml; {check.choices(name, entries)}")
    if args.ep > args.tp or args.tp % args.ep:
        raise SimError(f"--ep: expert parallelism ({args.ep}) must divide --tp ({args.tp}): the experts are spread "
                       f"over the chips of a stage")
    row = {"model": args.model, "accelerator": args.accelerator, "tensor_parallel": args.tp,
           "expert_parallel": args.ep, "pipeline_parallel": args.pp, "attention_data_parallel": int(args.attention_dp),
           "precision": args.precision, "input_tokens": args.input_tokens, "output_tokens": args.output_tokens}
    if args.batch:
        row["max_batch"] = args.batch
    if args.draft_tokens:
        row["draft_tokens"] = args.draft_tokens
    try:
        result = api.serving([row], **common)
    except ConfigError as exc:
        if exc.file != "serving":  # a priors file or a catalogue
            raise
        raise SimError(exc.message) from None  # the configuration is the command line's, not a file's row
    print(serving_view(result, args.priors))
    return 0


#: Each command's function, by its name on the command line.
COMMANDS = {"run": cmd_run, "sensitivity": cmd_sensitivity, "decide": cmd_decide, "report": cmd_report,
            "point": cmd_point, "explore": cmd_explore, "check": cmd_check, "models": cmd_models,
            "validate": cmd_validate, "calibrate": cmd_calibrate, "fit": cmd_fit, "serving": cmd_serving,
            "export": cmd_export}
