"""The ``sim`` command's arguments: the parser, and the types that read each option's text.

Each type turns an option's text into a value or an argparse error naming
what would be valid; numbers, seeds and sample counts are checked by
:mod:`sim._checks`, with the same messages as in files.

The module is long because it declares every option of fifteen commands,
each with its help.
"""

from __future__ import annotations

import argparse
import math

from .. import _checks as check
from .._version import __version__
from ..errors import SimError
from ..explorer import MAX_SAMPLES as EXPLORE_MAX_SAMPLES

__all__ = ["build_parser", "DEFAULT_EXPERIMENT", "SENSITIVITY_METHODS", "EXPLORE_MAX_SAMPLES"]

DEFAULT_EXPERIMENT = "experiments/search_cost.toml"
#: ``sim sensitivity --method`` (the methods of :func:`sim.studies.suite.sensitivity`).
SENSITIVITY_METHODS = ("rank", "given", "tornado", "spider", "target", "sobol")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _checked(checker, **kwargs):
    """An argparse type: typed text as a whole number, checked by ``checker`` (a :mod:`sim._checks` function)."""
    def parse(text: str) -> int:
        try:
            return checker(check.integer_text(text), shown=repr(text), **kwargs)
        except SimError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


_positive_int = _checked(check.positive_integer)
_sample_count = _checked(check.sample_count)
_explore_samples = _checked(check.sample_count, high=EXPLORE_MAX_SAMPLES)
_seed = _checked(check.seed)


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
    value = check.integer_text(text)
    if not isinstance(value, int) or not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 (a free one) to 65535, got {text!r}")
    return value


def _host(text: str) -> str:
    """``--host``: an address or host name, not empty."""
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"must be an address such as 0.0.0.0 or a host name, got {text!r}")
    return text


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


def _set_arg(text: str) -> tuple[str, float]:
    """``--set NAME=VALUE``: a prior's name and a number, or a percentage (``35%``: :class:`sim._checks.Percent`)."""
    name, _, value = text.partition("=")
    percent = value.strip().endswith("%")
    number = _number(value.strip()[:-1] if percent else value)
    if not name.strip() or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be PRIOR=NUMBER or PRIOR=PERCENT%, such as a prior's name = 0.5 or "
                                         f"35%, got {text!r}")
    return name.strip(), check.Percent(number) if percent else number


def _quantile_arg(text: str) -> tuple[float, float]:
    """``--quantiles P=VALUE``: a probability inside (0, 1) and a finite number."""
    p, _, value = text.partition("=")
    prob, number = _number(p), _number(value)
    if not (0 < prob < 1 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"must be P=VALUE with P inside (0, 1), such as 0.05=2, got {text!r}")
    return prob, number


def _pair_arg(text: str) -> tuple[str, str]:
    if text.count("=") != 1 or not all(text.split("=")):
        raise argparse.ArgumentTypeError(f"must be DIM=VALUE, such as architecture=two_stage, got {text!r}")
    dim, value = text.split("=")
    return dim, value


def _progress_option(p) -> None:
    p.add_argument("--progress", action="store_true", default=None,
                   help="show progress on stderr even when it is not a terminal (default: on a terminal only)")


def _posterior_option(p) -> None:
    p.add_argument("--posterior", action="store_true",
                   help="work on the saved run's posterior (made by sim calibrate) instead of the run; results go "
                        "under outputs/<experiment>/calibration/")


def _positive_number(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, such as 1000, got {text!r}")
    return value


def _report_options(p) -> None:
    p.add_argument("--output", help="output the report is about (default: the experiment's [report] output, else "
                                    "the output with role cost)")
    p.add_argument("--revenue", help="output the report compares it with (default: the output with role revenue)")
    p.add_argument("--no-sensitivity", dest="sensitivity", action="store_false",
                   help="leave the sensitivity section out of the report (saves re-evaluating the model)")
    p.add_argument("--sobol-n", dest="sobol_n", type=_positive_int, default=2**14,
                   help="base samples of the report's Sobol' design, a power of 2 (default 2**14)")
    p.set_defaults(select=None)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``sim`` command; each subcommand sets ``command`` to its name."""
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
    p.add_argument("--out", type=_out, help="output root folder (default: outputs; for a --set run, a folder of "
                                              "its own beside the main run's, such as outputs/set_PRIOR=VALUE)")
    p.add_argument("--chunk-size", type=_positive_int, help="samples evaluated at a time (results do not depend on it)")
    p.add_argument("--set", action="append", type=_set_arg, metavar="PRIOR=VALUE",
                   help="pin a prior to a value in every scenario for this run (repeatable; recorded as an override); "
                        "the run is written beside the main run unless --out says where")
    p.add_argument("--scenario", action="append", metavar="NAME",
                   help="run only this scenario (repeatable)")

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
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                   help="with --stream: processes that summarise ranges of the samples (default 1); the counts and "
                        "quantiles are one process's exactly, the moments to rounding")
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
    _posterior_option(common)

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

    p = sub.add_parser("decide", parents=[common], help="deploy or not: P(profit), EVPI, EVPPI, stress, goal seek",
                       description="Decision measures for net benefit = revenue - cost; writes "
                                   "outputs/<experiment>/decision/.")
    p.add_argument("--cost", help="cost output (default: the output with role cost)")
    p.add_argument("--revenue", help="revenue output (default: the output with role revenue)")
    p.add_argument("--volume", help="output with a number per period, for values per year (default: the output "
                                    "with role volume, if any)")
    p.add_argument("--stress", nargs=3, metavar=("PRIOR", "LOW", "HIGH"),
                   help="rerun with PRIOR between its LOW and HIGH percentiles (percent), such as a margin's 0 10")
    p.add_argument("--seek", metavar="PRIOR[,PRIOR...]",
                   help="find the value of PRIOR at which --statistic reaches --target; with two or three priors, "
                        "the smallest step they take together (each scaled, or moved through its quantiles)")
    p.add_argument("--target", type=_finite, help="the value the statistic should reach")
    p.add_argument("--statistic", default="p_profitable", help="p_profitable, mean, median or pNN of the cost")
    p.add_argument("--how", choices=("value", "scale"), default="value",
                   help="hold PRIOR at a value, or scale its draws (default value)")
    p.add_argument("--bracket", nargs=2, type=_finite, metavar=("LOW", "HIGH"), help="where to search")

    p = sub.add_parser("calibrate", help="condition the saved run's priors on observed figures: a posterior run",
                       description="Weigh the saved run's samples by the likelihood of observed figures "
                                   "(Pareto-smoothed importance sampling; sequential Monte Carlo where the weights "
                                   "are too uneven) and write the posterior under outputs/<experiment>/calibration/: "
                                   "posterior.nc, posterior.csv, observations.csv. Report, decide, sensitivity and "
                                   "explore read it with --posterior.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--observations", nargs="+", required=True, metavar="FILE",
                   help="observations files (TOML): each figure, the output or prior it observes and its likelihood")
    p.add_argument("--strict", action="store_true",
                   help="refuse observations outside their prior predictive 99.9 %% range instead of warning")
    p.add_argument("--min-ess", type=_positive_number, metavar="N",
                   help="smallest effective sample size importance sampling may give before sequential Monte "
                        "Carlo takes over (default: a tenth of the run's samples, at most 2,000)")
    p.add_argument("--particles", type=_positive_int, metavar="N",
                   help="particles of the sequential Monte Carlo sampler (default: the run's samples, at most 20,000)")
    p.add_argument("--seed", type=_seed, help="seed of the resampling and the sampler's moves (default: the run's)")
    p.add_argument("--arviz", metavar="FILE",
                   help="also write an ArviZ-readable NetCDF file (groups prior, posterior, observed_data, "
                        "prior_predictive, posterior_predictive)")
    p.add_argument("--out", default="outputs", type=_out, help="output root folder of the run (default: outputs)")
    p.add_argument("--all", action="store_true", help="print every row (default: the first 60)")
    _progress_option(p)

    p = sub.add_parser("serving", help="throughput, latency and cost of a serving layout, or of a table of them",
                       description="Serve a model of the catalogue on an accelerator of the catalogue in a parallel "
                                   "layout (tensor, expert and pipeline parallelism, attention data parallelism) at a "
                                   "request shape, through the serving model on the calibrated serving priors: the "
                                   "group's output tokens per second, per chip and per user, time to first token, "
                                   "cost and energy per million output tokens, each as point, median and 90 %% "
                                   "interval. With --cases, one row per configuration of a CSV file, written with "
                                   "the predictions (and, where measured, their ratio and coverage) to --out.")
    p.add_argument("model", nargs="?", help="a model of priors/catalogues/models.toml, such as llama33_70b")
    p.add_argument("accelerator", nargs="?", help="an accelerator of priors/catalogues/accelerators.toml, such as h100")
    p.add_argument("--tp", type=_positive_int, default=1, metavar="N", help="chips per pipeline stage (default 1)")
    p.add_argument("--ep", type=_positive_int, default=1, metavar="N", help="expert parallelism (default 1)")
    p.add_argument("--pp", type=_positive_int, default=1, metavar="N", help="pipeline stages (default 1)")
    p.add_argument("--attention-dp", action="store_true",
                   help="attention data parallelism: each chip runs attention for its own requests")
    p.add_argument("--precision", default="fp8", help="a precision of priors/catalogues/precisions.toml: fp4, fp8 "
                                                      "or bf16 (default fp8)")
    p.add_argument("--input-tokens", type=_positive_int, default=1000, metavar="N", help="default 1000")
    p.add_argument("--output-tokens", type=_positive_int, default=1000, metavar="N", help="default 1000")
    p.add_argument("--batch", type=_positive_int, metavar="N",
                   help="most requests in flight per attention replica (default: as many as fit, at most 4,096)")
    p.add_argument("--draft-tokens", type=_positive_int, metavar="N",
                   help="tokens drafted per step (speculative decoding, multi-token prediction)")
    p.add_argument("--cases", metavar="FILE.csv",
                   help="a CSV file of configurations instead: columns model, accelerator, tensor_parallel, "
                        "expert_parallel, precision, input_tokens, output_tokens; optional pipeline_parallel, "
                        "attention_data_parallel, synchronised_arrivals (1 for a benchmark that submits every "
                        "request at once), max_batch, draft_tokens, measured_output_tokens_per_second, "
                        "measured_tokens_per_second_user, case, source")
    p.add_argument("--priors", default="priors/serving_calibrated_2026.toml", metavar="FILE",
                   help="the serving priors (default: priors/serving_calibrated_2026.toml)")
    p.add_argument("--catalogues", default="priors/catalogues", metavar="DIR",
                   help="the catalogues folder (default: priors/catalogues)")
    p.add_argument("--samples", type=_sample_count, default=2000, metavar="N", help="default 2000")
    p.add_argument("--seed", type=_seed, default=20261204, help="default 20261204")
    p.add_argument("--out", type=_out, metavar="DIR", help="with --cases: the folder to write serving.csv in")
    p.add_argument("--all", action="store_true", help="with --cases: print every row (default: the worst 20)")

    p = sub.add_parser("fit", help="a prior from data (maximum likelihood) or through an expert's quantiles",
                       description="Fit candidate families to a column of a CSV file by maximum likelihood, rank them "
                                   "by AIC with BIC and goodness-of-fit tests, and write the best as a priors file; "
                                   "or, with --quantiles, a metalog prior through three or more quantiles.")
    p.add_argument("data", nargs="?", metavar="DATA.csv", help="CSV file with a header row")
    p.add_argument("--column", help="the column of DATA.csv to fit")
    p.add_argument("--quantiles", nargs="+", type=_quantile_arg, metavar="P=VALUE",
                   help="an expert's quantiles instead of data, such as 0.05=2 0.5=5 0.95=20")
    p.add_argument("--unit", required=True, help="the unit of the values, such as USD/Mtoken")
    p.add_argument("--name", help="the prior's name (default: the column's, or elicited)")
    p.add_argument("--families", metavar="F,F,...",
                   help="families to try (default: all that suit the data): lognormal, gamma, weibull, loglogistic, "
                        "beta, normal, logistic, gumbel")
    p.add_argument("--lower", type=_finite, help="--quantiles: the quantity's lower bound (such as 0)")
    p.add_argument("--upper", type=_finite, help="--quantiles: the quantity's upper bound (such as 1)")
    p.add_argument("--gof-samples", type=_checked(check.positive_integer), default=99, metavar="N",
                   help="parametric-bootstrap samples of the Anderson-Darling test (default 99)")
    p.add_argument("--qq", metavar="FILE.png", help="draw QQ plots of the three best families")
    p.add_argument("--output", metavar="FILE.toml", help="write the prior as a new priors file")

    p = sub.add_parser("report", help="HTML and Markdown report of a saved run",
                       description="Build outputs/<experiment>/report.html, report.md, figures/ and tables/ from the "
                                   "saved run; refuses a run made from other priors.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--out", default="outputs", type=_out, help="output root folder of the run (default: outputs)")
    p.add_argument("--select", action="append", type=_pair_arg, metavar="DIM=VALUE",
                   help="cells the per-cell sections show, such as architecture=two_stage (repeatable)")
    _progress_option(p)
    _posterior_option(p)
    _report_options(p)

    p = sub.add_parser("export", help="the saved run's samples as CSV, Parquet or a spreadsheet",
                       description="Write the saved run's samples as one table, a row per sample and cell and a "
                                   "column per input and output with its unit in the header, to "
                                   "outputs/<experiment>/export/samples.<format>.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--format", choices=("csv", "parquet", "xlsx"), default="csv",
                   help="csv (default), parquet (needs pyarrow) or xlsx (needs xlsxwriter)")
    p.add_argument("--max-samples", type=_checked(check.positive_integer), metavar="N",
                   help="the first N samples of each cell (default: all; 10,000 for xlsx)")
    p.add_argument("--out", default="outputs", type=_out, help="output root folder of the run (default: outputs)")
    _posterior_option(p)

    p = sub.add_parser("point", help="evaluate every prior at its point value",
                       description="Print the experiment's outputs with every prior at its point value.")
    p.add_argument("experiment", nargs="?", help=experiment_help)

    p = sub.add_parser("explore", help="what-if explorer in the browser: change a prior, see the results move",
                       description="Serve the what-if explorer of an experiment on 127.0.0.1 until Ctrl-C: a card "
                                   "per prior to change, pin or reset it, cost against revenue, the verdict and the "
                                   "drivers updated after each change, and a button that saves the changes as a "
                                   "scenario.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.add_argument("--samples", type=_explore_samples,
                   help="samples per evaluation (default: the experiment's, at most 2,000,000)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the experiment's)")
    p.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--host", type=_host,
                   help="address to listen on instead of 127.0.0.1, such as 0.0.0.0 for every one; the explorer "
                        "has no authentication (a warning says so)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--out", default="outputs", type=_out, help="output root folder of the run (default: outputs)")
    _posterior_option(p)

    p = sub.add_parser("check", help="point mode against the article's printed figures",
                       description="Compare point mode with the figures the article printed; "
                                   "exit status 1 if any falls outside its tolerance.")
    p.add_argument("--figures", help="figures file (default: the article's, shipped with sim)")
    p.add_argument("--root", default=".", help="folder the figures' experiment paths are relative to")

    p = sub.add_parser("models", help="list the models: inputs, outputs, units and roles",
                       description="Every model sim knows by name (its own and those installed packages offer "
                                   "through the entry-point group sim.models), or the models of the given experiments.")
    p.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help="list these experiments' models instead")
    p.add_argument("--graph", action="store_true",
                   help="also say what each output reads: the inputs and outputs its formula names, or for a Python "
                        "model the priors that move it when each is moved alone")
    p.add_argument("--graph-file", metavar="FILE.png",
                   help="draw the graph of the (one) experiment's model as FILE.png")

    p = sub.add_parser("validate", help="check priors and experiment files without a Monte Carlo run",
                       description="Validate priors and experiment files; exit status 2 if any is invalid. An "
                                   "experiment that names a Python model imports it (running its code) and "
                                   "evaluates it once on the point values to check its units; --no-import "
                                   "checks everything else without importing it.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--no-import", dest="import_code", action="store_false",
                   help="do not import a Python model an experiment names (its inputs, outputs and units go "
                        "unchecked)")
    return parser
