"""The ``sim`` command: parse arguments, call the library, write files."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import warnings
from pathlib import Path

from ._version import __version__
from .errors import SimError, SimWarning

DEFAULT_EXPERIMENT = "experiments/search_cost.toml"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _integer_from(text: str, low: int, message: str, high: float = math.inf) -> int:
    """``text`` as an integer from ``low`` to ``high`` (``_`` allowed as a separator); otherwise ``message`` as an
    error."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{message}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _integer_from(text, 1, "must be a positive integer")


def _sample_count(text: str) -> int:
    """A number of samples: an integer of at least 2 (a standard deviation and its intervals need two)."""
    return _integer_from(text, 2, "must be an integer of at least 2 (a standard deviation needs two samples)")


def _number(text: str) -> float:
    """``text`` as a float, NaN where it is not a number (every check below then refuses it)."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _finite(text: str) -> float:
    value = _number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, such as 0.9, got {text!r}")
    return value


def _relative_error(text: str) -> float:
    """``--relative-error``: the histogram's bins are 2 REL wide, so their number grows as 1/REL; 1e-4 to 0.1."""
    value = _number(text)
    if not 1e-4 <= value <= 0.1:
        raise argparse.ArgumentTypeError(f"must be a number from 0.0001 to 0.1 (the histogram's bins grow as "
                                         f"1/REL), such as 0.001, got {text!r}")
    return value


def _dask_address(text: str) -> str:
    """``--dask ADDRESS``: a scheduler's address, not empty (an empty one used to run in memory)."""
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"must be a scheduler's address such as tcp://127.0.0.1:8786, or nothing "
                                         f"for a local cluster, got {text!r}")
    return text


def _out(text: str) -> str:
    """``--out``: a folder name; an empty one would write the run into the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a folder, such as outputs, got {text!r}")
    return text


def _port(text: str) -> int:
    """``--port``: 0 (a free port) to 65535."""
    return _integer_from(text, 0, "must be a port number from 0 (a free one) to 65535", high=65535)


def _host(text: str) -> str:
    """``--host``: an address or host name, not empty."""
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"must be an address such as 0.0.0.0 or a host name, got {text!r}")
    return text


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text!r}")
    return value


def _experiment_path(arg: str | None) -> Path:
    """A path, or a bare name looked up as ``experiments/<name>.toml``."""
    if arg is None:
        return Path(DEFAULT_EXPERIMENT)
    path = Path(arg)
    if path.suffix != ".toml" and len(path.parts) == 1:
        return Path("experiments") / f"{arg}.toml"
    return path


def _load(arg):
    from ._files import read_toml

    path = _experiment_path(arg)
    read_toml(path, "experiment file")  # a missing or unreadable file is named before the heavy imports
    from .experiment import load_experiment

    return load_experiment(path)


def _hold(args, experiment) -> None:
    """Hold the experiment's run folder under ``--out`` until the command ends (see :func:`sim.store.holding`)."""
    from . import store

    args.held.enter_context(store.holding(args.out, experiment))


def _inside(text: str, high: float, message: str) -> float:
    """``text`` as a number strictly between 0 and ``high``; otherwise ``message`` as an argparse error."""
    value = _number(text)
    if not 0.0 < value < high:
        raise argparse.ArgumentTypeError(f"{message}, got {text!r}")
    return value


def _percent(text: str) -> float:
    """A percentile in percent, strictly between 0 and 100, as a fraction."""
    return _inside(text, 100.0, "must be a percentile strictly between 0 and 100") / 100.0


def _percents(text: str) -> list[float]:
    return [_percent(t) for t in text.split(",") if t.strip()] or [_percent(text)]


def _percent_pair(text: str) -> list[float]:
    """``LOW,HIGH``: two percentiles in percent, as fractions."""
    values = _percents(text)
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"must be two percentiles LOW,HIGH in percent, such as 10,90, got {text!r}")
    return values


def _fraction(text: str) -> float:
    return _inside(text, 1.0, "must be a number strictly between 0 and 1, such as 0.01")


def _known(flag: str, name: str, names, what: str = "output") -> str:
    """``name`` if it is one of ``names``; otherwise a one-line error led by the option."""
    from .analysis.sensitivity import check_output

    try:
        return check_output(list(names), name, what)
    except SimError as exc:
        raise SimError(f"{flag}: {exc}") from None


def _set_arg(text: str) -> tuple[str, float]:
    """``--set NAME=VALUE``: a prior's name and a number."""
    name, _, value = text.partition("=")
    number = _number(value)
    if not name.strip() or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be PRIOR=NUMBER, such as a prior's name = 0.5, got {text!r}")
    return name.strip(), number


def _pair_arg(text: str) -> tuple[str, str]:
    if text.count("=") != 1 or not all(text.split("=")):
        raise argparse.ArgumentTypeError(f"must be DIM=VALUE, such as architecture=two_stage, got {text!r}")
    dim, value = text.split("=")
    return dim, value


def _select(ds, pairs, what: str = "run"):
    """``ds`` restricted to the cells named by ``--select DIM=VALUE`` (each checked)."""
    if not pairs:
        return ds
    chosen = {}
    for dim, value in pairs:
        if dim not in ds.dims or dim == "sample":
            dims = [d for d in ds.dims if d != "sample"]
            raise SimError(f"--select: no dim {dim!r} in the {what}; valid: {', '.join(dims)}")
        labels = [str(v) for v in ds[dim].values]
        if value not in labels:
            raise SimError(f"--select: {dim} has no value {value!r}; valid: {', '.join(labels)}")
        chosen[dim] = [ds[dim].values[labels.index(value)]]
    return ds.sel(chosen)


#: Most rows a console table shows without ``--all``.
MAX_ROWS = 60


def _print_summary(table, summary, show_all: bool = False) -> None:
    """The summary table on the console: compared outputs first, rows of exact zeros folded, long sweeps cut."""
    from .analysis.summary import exceedances
    from .report import importance_order

    compared = [summary[v].attrs[k] for v in exceedances(summary) for k in ("output", "threshold")]
    shown = table[[c for c in table.columns if not c.endswith(("_ci_lower", "_ci_upper"))
                   and c not in ("se_mean", "sd", "p25", "p75")]]
    shown = shown.rename(columns=lambda c: f"P(> {c[5:]})" if c.startswith("p_gt_") else c)
    print(format_table(importance_order(shown, dict.fromkeys(compared)), max_rows=None if show_all else MAX_ROWS,
                       more="summary.csv has every row; --all prints them", fold_zeros=not show_all))


def _overridden(experiment, args):
    """The experiment with ``--set NAME=VALUE`` and ``--scenario NAME`` applied."""
    from .experiment import with_overrides

    return with_overrides(experiment, set_values=dict(args.set or []), scenarios=args.scenario)


def cmd_run(args) -> int:
    experiment = _overridden(_load(args.experiment), args)
    _hold(args, experiment)
    from . import store
    from .studies.precision import run_to_precision
    from .engine import check_memory, run
    from .experiment import subject
    from .progress import stage
    from .report import summarize_run, summary_table

    _check_sobol_n(args.sobol_n)
    if args.report:
        subject(experiment, args.output, args.revenue)  # a choice the report needs is asked before the run
    chunk = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    if args.stream or args.dask:
        return _run_streaming(experiment, args, chunk)
    target = args.precision or (experiment.precision.relative if experiment.precision else None)
    if target is not None:
        p = experiment.precision
        outputs = args.monitor or (list(p.outputs) if p and p.outputs else None)
        for name in outputs or []:
            _known("--monitor", name, experiment.model.outputs)
        result = run_to_precision(experiment, target, outputs=outputs,
                                  quantiles=p.quantiles if p else (0.5,), seed=args.seed, sampler=args.sampler,
                                  max_samples=args.max_samples or (p.max_samples if p else 2**22),
                                  start=args.samples, progress=True)
        ds = result.dataset
    else:
        if args.report:  # the report's memory too, before the run rather than after it
            check_memory(experiment, args.samples or experiment.samples, work="report")
        ds = run(experiment, samples=args.samples, seed=args.seed, sampler=args.sampler, progress=True, **chunk)
    with stage("summaries and their Monte Carlo intervals"):
        summary = summarize_run(ds)
        table = summary_table(summary)
    report = _report(experiment, ds, summary, args) if args.report else None
    with stage("writing the run"):
        folder, notices = store.write_run(experiment, ds.attrs, args.out, _run_files(summary, table, ds),
                                          report=report, size=ds.nbytes)
    print(f"{experiment.title or experiment.name}: {ds.attrs['samples']:,} samples, "
          f"sampler {ds.attrs['sampler']}, seed {ds.attrs['seed']}")
    _print_summary(table, summary, args.all)
    if target is not None:
        print(f"\n{result.message}")
    print(f"\nwrote {folder / store.SAMPLES}, {folder / store.SUMMARY} and {folder / store.SUMMARY_TABLE} "
          f"(with 95 % Monte Carlo intervals), and the input files with their hashes in {folder / store.RECORD}")
    if report is not None:
        _print_report(folder)
    _notices(notices)
    return 0 if target is None or result.converged else 1


def _notices(notices) -> None:
    for notice in notices:
        print(f"sim: {notice}", file=sys.stderr)


def _run_files(summary, table, ds=None) -> dict:
    """What a run folder holds besides its record: the samples (unless streamed), the summary and its table."""
    from . import store

    files = {store.SUMMARY: lambda p: summary.to_netcdf(p, engine="h5netcdf"),
             store.SUMMARY_TABLE: lambda p: table.to_csv(p, index=False)}  # full precision: round-trips exactly
    if ds is not None:
        files = {store.SAMPLES: lambda p: ds.to_netcdf(p, engine="h5netcdf")} | files
    return files


def _run_streaming(experiment, args, chunk) -> int:
    from . import store
    from .experiment import with_settings
    from .report import summary_table
    from .studies.stream import stream_summary

    if args.precision:
        raise SimError("--stream and --precision cannot be combined: precision control keeps its samples")
    experiment = with_settings(experiment, samples=args.samples, seed=args.seed, sampler=args.sampler)
    if args.dask:
        summary = _on_dask(experiment, args, chunk)
    else:
        summary = stream_summary(experiment, relative_error=args.relative_error, progress=True, **chunk)
    table = summary_table(summary)
    report = _report(experiment, None, summary, args) if args.report else None
    folder, notices = store.write_run(experiment, summary.attrs, args.out, _run_files(summary, table), report=report)
    print(f"{experiment.title or experiment.name}: {experiment.samples:,} samples streamed, "
          f"sampler {experiment.sampler}, seed {experiment.seed} (quantiles to {args.relative_error:g} relative)")
    _print_summary(table, summary, args.all)
    print(f"\nwrote {folder / store.SUMMARY} and {folder / store.SUMMARY_TABLE}, and the input files with their "
          f"hashes in {folder / store.RECORD}; a streamed run keeps no samples, so it has no samples.nc")
    if report is not None:
        _print_report(folder)
    _notices(notices)
    return 0


def _on_dask(experiment, args, chunk):
    """Streamed summaries on a Dask cluster: a local one (a worker per core), or the scheduler at ``--dask ADDRESS``."""
    try:
        from distributed import Client
    except ImportError:
        raise SimError("--dask needs Dask's distributed scheduler: pip install 'distributed>=2024.1'") from None
    from .studies.stream import dask_summary, local_client

    if args.dask == "local":
        cluster = local_client()
    else:
        _check_scheduler(args.dask)
        try:
            cluster = Client(args.dask, timeout=DASK_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - whatever the far side did, one line naming it
            raise SimError(f"--dask: cannot reach a Dask scheduler at {args.dask!r} ({_reason(exc)})") from None
    with cluster as client:
        return dask_summary(experiment, client, relative_error=args.relative_error, progress=True, **chunk)


#: Seconds `--dask ADDRESS` waits for the scheduler's handshake.
DASK_TIMEOUT = 5


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_scheduler(address: str) -> None:
    """Shake hands with the service at ``address`` the way a Dask client does, within :data:`DASK_TIMEOUT`.

    A Dask client left to itself waits for ever on a service that answers
    nothing (a web server) and reads the first bytes of one that answers
    something else as a frame length (exabytes); the handshake here is
    Dask's own, bounded in time, and any failure is one line.
    """
    import asyncio

    from distributed.comm import connect

    async def handshake():
        comm = await connect(address, timeout=DASK_TIMEOUT)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(handshake(), DASK_TIMEOUT + 1))
    except Exception as exc:  # noqa: BLE001 - a refused port, a timeout, a service that is not Dask
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            why = f"no Dask handshake within {DASK_TIMEOUT} s; is it a Dask scheduler?"
        elif isinstance(exc, (OSError, ValueError)) and not isinstance(exc, MemoryError):
            why = _reason(exc)  # refused, unreachable, a malformed address
        else:  # it sent something that is not a Dask handshake (read as a frame of exabytes)
            why = "it answered, but not with a Dask handshake; is it a Dask scheduler?"
        raise SimError(f"--dask: cannot reach a Dask scheduler at {address!r} ({why})") from None


def _report(experiment, ds, summary, args):
    """The report of a run, built now, as a function that writes it into the folder it is given."""
    from .progress import stage
    from .report import build_report, write_report

    document = build_report(experiment, ds, summary=summary, output=args.output, revenue=args.revenue,
                            select=args.select, sensitivity=args.sensitivity, sobol_n=args.sobol_n, out=args.out)

    def write(folder):
        with stage("drawing and writing the report"):
            write_report(document, folder)
    return write


def _print_report(folder: Path) -> None:
    print(f"wrote {folder / 'report.html'} and {folder / 'report.md'} (figures in {folder / 'figures'}, "
          f"tables in {folder / 'tables'})")


def cmd_report(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from . import store

    _check_sobol_n(args.sobol_n)
    for flag, name in (("--output", args.output), ("--revenue", args.revenue)):
        if name is not None:
            _known(flag, name, experiment.model.outputs)
    folder = store.run_folder(args.out, experiment)
    if (folder / store.SAMPLES).is_file() or not (folder / store.SUMMARY).is_file():
        recorded, ds = store.load_run(experiment, args.out)
        summary = store.saved_summary(folder, ds.attrs)  # the run's own, not computed again
    else:  # a streamed run: its summary alone
        (recorded, summary), ds = store.load_summary(experiment, args.out), None
    store.write_report(folder, _report(recorded, ds, summary, args))
    _print_report(folder)
    return 0


def _saved_run(experiment, args, command: str):
    """The saved run the analysis reads (``--samples``/``--seed`` are refused: they belong to ``sim run``)."""
    from . import store

    for flag, value in (("--samples", args.samples), ("--seed", args.seed)):
        if value is not None:
            raise SimError(f"{flag}: sim {command} reads the saved run's samples; make the run you want with "
                           f"`sim run {experiment.path} {flag} {value}"
                           f"{' --out ' + args.out if Path(args.out) != Path('outputs') else ''}` first")
    recorded, ds = store.load_run(experiment, args.out, command=command)
    a = ds.attrs
    where = store.run_folder(args.out, experiment) / store.SAMPLES
    return recorded, ds, (f"from the saved run {where} ({int(a['samples']):,} samples, sampler {a['sampler']}, "
                          f"seed {a['seed']})")


def _settled(experiment, ds):
    """``experiment`` with the saved run's samples, seed and sampler: studies that evaluate the model again use them."""
    from .experiment import with_settings

    a = ds.attrs
    return with_settings(experiment, samples=int(a["samples"]), seed=int(a["seed"]), sampler=a["sampler"])


def _write_derived(ds, experiment, args, kind: str, files: dict) -> list[Path]:
    """Write tables (CSV) and datasets (NetCDF) of an analysis of the saved run beside it."""
    from . import store

    writers = {name: (lambda p, v=value: v.to_csv(p, index=False)) if name.endswith(".csv") else
               (lambda p, v=value: v.to_netcdf(p, engine="h5netcdf")) for name, value in files.items()}
    return store.write_derived(store.run_folder(args.out, experiment), kind, writers, ds.attrs)


SENSITIVITY_METHODS = ("rank", "given", "tornado", "spider", "target", "sobol")


def cmd_sensitivity(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    from .analysis import sensitivity as sa
    from .experiment import subject
    from .progress import stage
    from .report import merge_frames, merge_results, sensitivity_frame
    from .studies import sensitivity as ss

    output, threshold, note = subject(experiment, args.output)  # an unknown --output is named here
    methods = list(dict.fromkeys(m.strip() for m in ",".join(args.method or SENSITIVITY_METHODS).split(",")))
    for m in methods:
        if m not in SENSITIVITY_METHODS:
            raise SimError(f"--method: unknown method {m!r}; valid: {', '.join(SENSITIVITY_METHODS)}")
    _check_sobol_n(args.sobol_n)
    low, high = args.percentiles
    if not low < high:
        raise SimError(f"--percentiles: the low percentile must be below the high one, got {100 * low:g},{100 * high:g}")
    region = args.region or (f"{output}>{threshold}" if threshold else None)
    skipped = []
    if "sobol" in methods and experiment.correlation is not None:
        methods.remove("sobol")
        skipped.append("sobol: not defined for correlated priors (variance cannot be split among dependent "
                       "inputs); see rank and given")
    if "target" in methods and region is None:
        methods.remove("target")
        skipped.append("target: no region; give --region OUTPUT>THRESHOLD")
    if not methods:
        raise SimError(f"--method: nothing to compute for {experiment.path}: " + "; ".join(skipped))
    parsed_region = _region(region, experiment) if "target" in methods else None

    notes = []
    recorded, ds, source = _saved_run(experiment, args, "sensitivity")
    _select(ds, args.select)  # checks the selection before any work
    settled = _settled(recorded, ds)
    d = len(sa.drawn_inputs(ds))
    results, made = {}, []
    if "rank" in methods:
        results["rank"] = sa.rank_correlation(ds, output)
    if "given" in methods:
        results["given"] = sa.first_order_given(ds, output)
    if "tornado" in methods:
        with stage("tornado"):
            results["tornado"] = ss.tornado(settled, output, low=low, high=high)
        made.append(f"tornado {2 * d + 1}")
    if "spider" in methods:
        with stage("spider"):
            results["spider"] = ss.one_at_a_time(settled, output, args.spider)
        made.append(f"spider {len(args.spider) * d + 1}")
    if "target" in methods:
        out_name, above, threshold = parsed_region
        results["target"] = sa.target_region(ds, out_name, threshold, above=above)
        empty = results["target"]["ks_distance"].isnull().all("input")
        if bool(empty.any()):
            notes.append(f"target: the region {region} holds no sample, or every sample, in {int(empty.sum())} of "
                         f"{empty.size} cell(s), so nothing separates it from the rest there (NaN in the table)")
    if "sobol" in methods:
        with stage(f"Sobol' indices ({args.sobol_n * (d + 2):,} evaluations)"):
            results["sobol"] = ss.sobol(settled, output, n=args.sobol_n, seed=settled.seed, n_resamples=args.resamples)
        made.append(f"Sobol' {args.sobol_n * (d + 2):,}")
    results = {k: _select(v, args.select, "result") for k, v in results.items()}
    files = {}
    if set(results) - {"spider"}:
        files["sensitivity.csv"] = table = sensitivity_frame(results)
    if "spider" in results:
        files["spider.csv"] = spider = merge_frames({"value": results["spider"]["value"]})
    if "sensitivity.csv" not in files:  # the spider alone: its table is the one to show
        table = spider.assign(value_range=spider.groupby([c for c in spider.columns if c not in ("percentile", "value")])
                              ["value"].transform(lambda v: v.max() - v.min()))
    merged = merge_results(results)
    merged.attrs = {"experiment": experiment.name, "output": output, "samples": ds.attrs["samples"],
                    "seed": ds.attrs["seed"], "sampler": ds.attrs["sampler"], "priors_hash": ds.attrs["priors_hash"],
                    "methods": ", ".join(results)}
    files["sensitivity.nc"] = merged
    written = _write_derived(ds, experiment, args, "sensitivity", files)

    print(f"{experiment.title or experiment.name}: sensitivity of {output} {source}; methods {', '.join(results)}")
    if made:
        print(f"evaluations of the model beyond the run ({d} drawn priors, the run's seed): {'; '.join(made)}")
    if note:
        print(note)
    order = next((c for c in ("tornado_swing", "value_range") if c in table), table.columns[-1])
    cells = [c for c in table.columns if c in ds.dims]
    shown = table.assign(_key=table[order].abs()).sort_values([*cells, "_key"], ascending=[True] * len(cells) + [False],
                                                              kind="stable")
    shown = shown.drop(columns=["_key"] + [c for c in shown.columns if c.endswith(("_ci_lower", "_ci_upper"))])
    print(format_table(shown, max_rows=None if args.all else MAX_ROWS,
                       more=f"{next(iter(files))} has every row; --all prints them"))
    for note in skipped:
        print(f"skipped {note}")
    for note in notes:
        print(f"note: {note}")
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _region(text: str, experiment):
    """``OUTPUT>THRESHOLD`` or ``OUTPUT<THRESHOLD``; the threshold a number or an output name."""
    import re

    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>])\s*(\S+)\s*", text or "")
    if not match:
        raise SimError(f"--region must be OUTPUT>THRESHOLD or OUTPUT<THRESHOLD, got {text!r}")
    name, op, threshold = match.groups()
    names = list(experiment.model.outputs)
    _known("--region", name, names)
    try:
        value: str | float = float(threshold)
    except ValueError:
        value = threshold
        if value not in names and value not in experiment.model.inputs:
            raise SimError(f"--region: threshold {value!r} is neither a number nor a variable of the model") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SimError(f"--region: the threshold must be a finite number or a variable of the model, got {threshold!r}")
    return name, op == ">", value


def cmd_decide(args) -> int:
    experiment = _load(args.experiment)
    _hold(args, experiment)
    import pandas as pd
    from .analysis import decision as da
    from .models import choose
    from .progress import stage
    from .report import decision_frame, evppi_frame, merge_frames
    from .studies import decision as sd

    stress = _stress_arg(args.stress)
    roles = experiment.model.roles()
    model = f"{experiment.path}: model {experiment.model.name!r}"
    args.cost, args.revenue = da.cost_and_revenue(roles, args.cost, args.revenue, flags=("--cost", "--revenue"),
                                                  what=model)
    volume = choose(roles, "volume", args.volume, flag="--volume", what=model)
    if args.seek and args.target is None:
        raise SimError("--seek needs --target, the value the statistic should reach")
    for flag, prior in (("--stress", stress[0] if stress else None), ("--seek", args.seek)):
        if prior is not None:
            _known(flag, prior, experiment.base_priors, "prior")
    if args.seek:
        da.statistic(args.statistic)  # checks the name

    recorded, ds, source = _saved_run(experiment, args, "decide")
    _select(ds, args.select)  # checks the selection before any work
    settled, n = _settled(recorded, ds), int(ds.attrs["samples"])
    d = _select(da.decide(ds, cost=args.cost, revenue=args.revenue, volume=volume), args.select, "result")
    accept = _select(da.acceptability(ds, cost=args.cost, revenue=args.revenue), args.select, "result")
    table, evppi = decision_frame(d), evppi_frame(d)
    files = {"decision.csv": table, "evppi.csv": evppi, "acceptability.csv": merge_frames({"p_profitable": accept})}
    print(f"{experiment.title or experiment.name}: deploy (net benefit {args.revenue} - {args.cost}) or not, "
          f"{source}")
    print(format_table(table[[c for c in table.columns if not c.endswith(("_ci_lower", "_ci_upper"))]],
                       max_rows=None if args.all else MAX_ROWS, more="decision.csv has every row; --all prints them"))
    print("\nExpected value of partial perfect information (largest first):")
    print(format_table(evppi.groupby([c for c in evppi.columns if c in d.dims and c != "input"]).head(5),
                       max_rows=None if args.all else MAX_ROWS, more="evppi.csv has every row"))
    if stress:
        prior, lo, hi = stress
        with stage(f"stress test of {prior}"):
            s = _select(sd.stress(settled, prior, (lo, hi), cost=args.cost, revenue=args.revenue), args.select,
                        "result")
        frame = merge_frames({c: s[args.cost].sel(stat=c, drop=True) for c in ("mean", "p05", "p50", "p95")}
                             | {"p_profitable": s["p_profitable"]})
        files["stress.csv"] = frame
        print(f"\nStress: {prior} in its {100 * lo:g}th to {100 * hi:g}th percentiles against its whole range "
              f"({args.cost}; 2 runs of {n:,} samples, the saved run's seed and sampler):")
        print(format_table(frame))
    if args.seek:
        with stage(f"goal seek on {args.seek}"):
            r = sd.goal_seek(settled, args.seek, args.target, stat=args.statistic, output=args.cost,
                             cost=args.cost, revenue=args.revenue, how=args.how,
                             bracket=tuple(args.bracket) if args.bracket else None, select=dict(args.select or []))
        frame = pd.DataFrame([{k: v for k, v in vars(r).items() if k not in ("bracket", "at_bracket")} |
                              {"bracket_low": r.bracket[0], "bracket_high": r.bracket[1],
                               "at_bracket_low": r.at_bracket[0], "at_bracket_high": r.at_bracket[1]}])
        files["goal_seek.csv"] = frame
        print(f"\nGoal seek: {r.message} ({r.runs} runs of {n:,} samples, the saved run's seed and sampler)")
    d.attrs.update({"priors_hash": ds.attrs["priors_hash"], "seed": ds.attrs["seed"], "sampler": ds.attrs["sampler"]})
    files["decision.nc"] = d.drop_vars("deploy").assign(deploy=d["deploy"].astype("i1"))
    written = _write_derived(ds, experiment, args, "decision", files)
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0


def _stress_arg(stress):
    """``--stress PRIOR LOW HIGH`` as (prior, low, high) with the percentiles as fractions."""
    if stress is None:
        return None
    prior, lo, hi = stress
    try:
        lo_f, hi_f = float(lo), float(hi)
    except ValueError:
        raise SimError(f"--stress: LOW and HIGH must be percentiles in percent, got {lo!r} {hi!r}") from None
    if not 0.0 <= lo_f < hi_f <= 100.0:
        raise SimError(f"--stress: need 0 <= LOW < HIGH <= 100 (percent), got {lo_f:g} {hi_f:g}")
    return prior, lo_f / 100.0, hi_f / 100.0


def cmd_point(args) -> int:
    experiment = _load(args.experiment)
    from .engine import point
    from .report import point_frame

    table = point_frame(point(experiment))
    print(f"{experiment.title or experiment.name}: point mode (every prior at its point value)")
    print(format_table(table))
    return 0


def cmd_explore(args) -> int:
    try:
        import bokeh  # noqa: F401
    except ImportError:
        raise SimError("sim explore needs Bokeh; install the explore extra: pip install -e '.[explore]'") from None
    experiment = _load(args.experiment)
    from .explorer import DEFAULT_SAMPLES, is_loopback, serve

    remote = args.host is not None and not is_loopback(args.host)
    if remote:
        print(f"sim: warning: the explorer has no authentication: whoever reaches {args.host} port "
              f"{args.port or '(chosen)'} can change its priors and save files beside {experiment.path}",
              file=sys.stderr)
    serve(experiment, samples=args.samples or DEFAULT_SAMPLES, seed=args.seed, host=args.host or "127.0.0.1",
          port=args.port, remote=remote, open_browser=args.open, say=lambda line: print(line, flush=True))
    return 0


def cmd_models(args) -> int:
    from .models import available

    models = [(m, "") for m in available().values()] if not args.experiments else \
        [(e.model, f" (experiment {e.path})") for e in (_load(a) for a in args.experiments)]
    for i, (m, where) in enumerate(models):
        if i:
            print()
        print(f"{m.name}: {m.description} [{m.source}]{where}")
        print(f"  inputs: {', '.join(m.inputs)}")
        if m.constants:
            print("  constants: " + ", ".join(f"{k} = {float(c):g} {c.units}" for k, c in m.constants.items()))
        width = max(len(n) for n in m.outputs)
        for name, out in m.outputs.items():
            role = f"  role: {out.role}" if out.role else ""
            print(f"  {name:<{width}}  {out.units:<20} {out.long_name}{role}")
    return 0


def cmd_check(args) -> int:
    from .article import check_figures
    from .report import format_table

    table = check_figures(args.figures, root=args.root)
    shown = table.assign(ok=["ok" if ok else "FAIL" for ok in table["ok"]])
    print(format_table(shown))
    failed = int((~table["ok"]).sum())
    print(f"\n{len(table) - failed} of {len(table)} figures reproduced within tolerance")
    return 1 if failed else 0


def cmd_validate(args) -> int:
    from ._files import read_toml
    from .catalogue import catalogue_kind, load_catalogue
    from .experiment import load_experiment
    from .priors import load_priors

    bad = 0
    for file in args.files:
        try:
            data = read_toml(file)
            kind = catalogue_kind(data)
            if kind is not None and "model" not in data:
                entries = load_catalogue(Path(file).parent, kind, file)
                print(f"ok: {file}: {kind} catalogue, {len(entries)} entries")
            elif "model" in data:
                exp = load_experiment(file)
                print(f"ok: {file}: experiment {exp.name!r}, model {exp.model.name!r}, "
                      f"{len(exp.scenarios)} scenario(s), {len(exp.base_priors)} priors")
            else:
                print(f"ok: {file}: {len(load_priors(file))} priors")
        except SimError as exc:
            bad += 1
            print(f"sim: error: {_one_line(exc)}", file=sys.stderr)
    return 2 if bad else 0


def format_table(frame, **kwargs) -> str:
    from .report import format_table as fmt

    return fmt(frame, **kwargs)


def _progress_option(p) -> None:
    p.add_argument("--progress", action="store_true", default=None,
                   help="show progress on stderr even when it is not a terminal (default: on a terminal only)")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description="Monte Carlo uncertainty for the economics of large language models.")
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    experiment_help = f"experiment file, or a name in experiments/ (default: {DEFAULT_EXPERIMENT})"
    p = sub.add_parser("run", help="Monte Carlo run: samples.nc and summary.csv under outputs/<experiment>/",
                       description="Run an experiment and write outputs/<experiment>/samples.nc and summary.csv.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--samples", type=_sample_count, help="number of samples, at least 2 (default: the experiment's)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the experiment's)")
    p.add_argument("--sampler", choices=("random", "lhs", "sobol"), help="default: the experiment's")
    p.add_argument("--out", default="outputs", type=_out, help="output root folder (default: outputs)")
    p.add_argument("--chunk-size", type=_positive_int, help="samples evaluated at a time (results do not depend on it)")
    p.add_argument("--set", action="append", type=_set_arg, metavar="PRIOR=VALUE",
                   help="pin a prior to a value in every scenario for this run (repeatable; recorded as an override)")
    p.add_argument("--scenario", action="append", metavar="NAME",
                   help="run only this scenario (repeatable)")
    p.set_defaults(func=cmd_run)

    p.add_argument("--precision", type=_fraction, metavar="REL",
                   help="keep doubling the samples until the 95 %% Monte Carlo half-width of the mean and median "
                        "of the monitored outputs is below REL times the estimate (exit status 1 if not reached)")
    p.add_argument("--monitor", action="append", metavar="OUTPUT",
                   help="output to monitor with --precision (repeatable; default: the compared outputs)")
    p.add_argument("--max-samples", type=_positive_int, help="most samples --precision may use (default 2**22)")
    p.add_argument("--stream", action="store_true",
                   help="keep only summaries (exact moments and probabilities, quantiles to --relative-error): "
                        "memory does not grow with --samples; writes summary.csv, no samples.nc or report")
    p.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS", type=_dask_address,
                   help="stream on a Dask cluster: a local one with a worker per core, or the scheduler at ADDRESS "
                        "(tcp://host:8786); the numbers are --stream's")
    p.add_argument("--relative-error", type=_relative_error, default=1e-3, metavar="REL",
                   help="relative error of streamed quantiles, from 0.0001 to 0.1 (default 0.001)")
    p.add_argument("--all", action="store_true", help="print every row of the summary (default: the first 60)")
    _progress_option(p)
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="skip the report (report.html, report.md, figures/, tables/)")
    _report_options(p)

    common = _Parser(add_help=False)
    common.add_argument("experiment", nargs="?", help=experiment_help)
    # the saved run fixes them: given, they are refused with the command that makes such a run
    common.add_argument("--samples", type=_positive_int, help=argparse.SUPPRESS)
    common.add_argument("--seed", type=_seed, help=argparse.SUPPRESS)
    common.add_argument("--all", action="store_true", help="print every row (default: the first 60)")
    _progress_option(common)
    common.add_argument("--select", action="append", type=_pair_arg, metavar="DIM=VALUE",
                        help="restrict to one coordinate value, such as scenario=baseline (repeatable)")
    common.add_argument("--out", default="outputs", type=_out, help="output root folder (default: outputs)")

    p = sub.add_parser("sensitivity", parents=[common], help="which priors drive an output",
                       description="Rank correlation, given-data first-order index, tornado, spider, target-region "
                                   "and Sobol' indices; writes outputs/<experiment>/sensitivity/.")
    p.add_argument("--output", help="output to explain (default: the output with role cost)")
    p.add_argument("--method", action="append", metavar="METHODS",
                   help=f"comma-separated, from {', '.join(SENSITIVITY_METHODS)} (default: all)")
    p.add_argument("--percentiles", type=_percent_pair, default=[0.1, 0.9], metavar="LOW,HIGH",
                   help="tornado percentiles in percent (default 10,90)")
    p.add_argument("--spider", type=_percents, default=[0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], metavar="P,P,...",
                   help="spider percentiles in percent (default 5,10,25,50,75,90,95)")
    p.add_argument("--region", help="target region OUTPUT>THRESHOLD (a number or an output; default: the cost "
                                    "above the revenue)")
    p.add_argument("--sobol-n", type=_positive_int, default=2**14, help="Sobol' base samples, a power of 2")
    p.add_argument("--resamples", type=_positive_int, default=300, help="bootstrap resamples for Sobol' intervals")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("decide", parents=[common], help="deploy or not: P(profit), EVPI, EVPPI, stress, goal seek",
                       description="Decision measures for net benefit = revenue - cost; writes "
                                   "outputs/<experiment>/decision/.")
    p.add_argument("--cost", help="cost output (default: the output with role cost)")
    p.add_argument("--revenue", help="revenue output (default: the output with role revenue)")
    p.add_argument("--volume", help="output with a number per period, for values per year (default: the output "
                                    "with role volume, if any)")
    p.add_argument("--stress", nargs=3, metavar=("PRIOR", "LOW", "HIGH"),
                   help="rerun with PRIOR between its LOW and HIGH percentiles (percent), such as a margin's 0 10")
    p.add_argument("--seek", metavar="PRIOR", help="find the value of PRIOR at which --statistic reaches --target")
    p.add_argument("--target", type=_finite, help="the value the statistic should reach")
    p.add_argument("--statistic", default="p_profitable", help="p_profitable, mean, median or pNN of the cost")
    p.add_argument("--how", choices=("value", "scale"), default="value",
                   help="hold PRIOR at a value, or scale its draws (default value)")
    p.add_argument("--bracket", nargs=2, type=_finite, metavar=("LOW", "HIGH"), help="where to search")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("report", help="HTML and Markdown report of a saved run",
                       description="Build outputs/<experiment>/report.html, report.md, figures/ and tables/ from the "
                                   "saved run; refuses a run made from other priors.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--out", default="outputs", type=_out, help="output root folder of the run (default: outputs)")
    p.add_argument("--select", action="append", type=_pair_arg, metavar="DIM=VALUE",
                   help="cells the per-cell sections show, such as architecture=two_stage (repeatable)")
    _progress_option(p)
    _report_options(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("point", help="evaluate every prior at its point value",
                       description="Print the experiment's outputs with every prior at its point value.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.set_defaults(func=cmd_point)

    p = sub.add_parser("explore", help="what-if explorer in the browser: change a prior, see the results move",
                       description="Serve the what-if explorer of an experiment on 127.0.0.1 until Ctrl-C: a card "
                                   "per prior to change, pin or reset it, cost against revenue, the verdict and the "
                                   "drivers updated after each change, and a button that saves the changes as a "
                                   "scenario.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--samples", type=_sample_count, help="samples per evaluation (default 100,000)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the experiment's)")
    p.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--host", type=_host,
                   help="address to listen on instead of 127.0.0.1, such as 0.0.0.0 for every one; the explorer "
                        "has no authentication (a warning says so)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("check", help="point mode against the article's printed figures",
                       description="Compare point mode with the figures the article printed; "
                                   "exit status 1 if any falls outside its tolerance.")
    p.add_argument("--figures", help="figures file (default: the article's, shipped with sim)")
    p.add_argument("--root", default=".", help="folder the figures' experiment paths are relative to")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("models", help="list the models: inputs, outputs, units and roles",
                       description="Every model sim knows by name (its own and those installed packages offer "
                                   "through the entry-point group sim.models), or the models of the given experiments.")
    p.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help="list these experiments' models instead")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("validate", help="check priors and experiment files without running",
                       description="Validate priors and experiment files; exit status 2 if any is invalid.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
    return parser


def _check_sobol_n(n: int) -> None:
    if n < 2 or n & (n - 1):
        raise SimError(f"--sobol-n must be a power of 2 (such as 16384), got {n}")


def _report_options(p) -> None:
    p.add_argument("--output", help="output the report is about (default: the experiment's [report] output, else "
                                    "the output with role cost)")
    p.add_argument("--revenue", help="output the report compares it with (default: the output with role revenue)")
    p.add_argument("--no-sensitivity", dest="sensitivity", action="store_false",
                   help="leave the sensitivity section out of the report (saves re-evaluating the model)")
    p.add_argument("--sobol-n", dest="sobol_n", type=_positive_int, default=2**14,
                   help="base samples of the report's Sobol' design, a power of 2 (default 2**14)")
    p.set_defaults(select=None)


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code
    from .progress import show

    show(getattr(args, "progress", None))
    with warnings.catch_warnings(), contextlib.ExitStack() as args.held:
        warnings.simplefilter("always", SimWarning)
        warnings.showwarning = lambda message, *a, **k: print(f"sim: warning: {message}", file=sys.stderr)
        try:
            return args.func(args)
        except SimError as exc:
            print(f"sim: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("sim: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (``sim models | head``): stop quietly
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
