"""The ``sim`` command: parse arguments, call the library, write files."""

from __future__ import annotations

import argparse
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


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


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
    from .experiment import load_experiment

    return load_experiment(_experiment_path(arg))


def cmd_run(args) -> int:
    from .engine import run
    from .report import format_table, summary_frame, write_run

    experiment = _load(args.experiment)
    ds = run(experiment, samples=args.samples, seed=args.seed, sampler=args.sampler, progress=True,
             **({"chunk_size": args.chunk_size} if args.chunk_size else {}))
    summary = summary_frame(ds)
    paths = write_run(ds, Path(args.out) / experiment.name, summary)
    print(f"{experiment.title or experiment.name}: {ds.attrs['samples']:,} samples, "
          f"sampler {ds.attrs['sampler']}, seed {ds.attrs['seed']}")
    print(format_table(summary.rename(columns=lambda c: f"P(> {c[5:]})" if c.startswith("p_gt_") else c)))
    print(f"\nwrote {paths['samples']} and {paths['summary']}")
    return 0


def cmd_point(args) -> int:
    from .engine import point
    from .report import format_table, point_frame

    experiment = _load(args.experiment)
    print(f"{experiment.title or experiment.name}: point mode (every prior at its point value)")
    print(format_table(point_frame(point(experiment))))
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
    from .experiment import load_experiment
    from .priors import load_priors

    bad = 0
    for file in args.files:
        try:
            if "model" in read_toml(file):
                exp = load_experiment(file)
                print(f"ok: {file}: experiment {exp.name!r}, model {exp.model.name!r}, "
                      f"{len(exp.scenarios)} scenario(s), {len(exp.base_priors)} priors")
            else:
                print(f"ok: {file}: {len(load_priors(file))} priors")
        except SimError as exc:
            bad += 1
            print(f"sim: error: {_one_line(exc)}", file=sys.stderr)
    return 2 if bad else 0


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
    p.add_argument("--samples", type=_positive_int, help="number of samples (default: the experiment's)")
    p.add_argument("--seed", type=_seed, help="random seed (default: the experiment's)")
    p.add_argument("--sampler", choices=("random", "lhs", "sobol"), help="default: the experiment's")
    p.add_argument("--out", default="outputs", help="output root folder (default: outputs)")
    p.add_argument("--chunk-size", type=_positive_int, help="samples evaluated at a time (results do not depend on it)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("point", help="evaluate every prior at its point value",
                       description="Print the experiment's outputs with every prior at its point value.")
    p.add_argument("experiment", nargs="?", help=experiment_help)
    p.set_defaults(func=cmd_point)

    p = sub.add_parser("check", help="point mode against the article's printed figures",
                       description="Compare point mode with the figures the article printed; "
                                   "exit status 1 if any falls outside its tolerance.")
    p.add_argument("--figures", help="figures file (default: the article's, shipped with sim)")
    p.add_argument("--root", default=".", help="folder the figures' experiment paths are relative to")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("validate", help="check priors and experiment files without running",
                       description="Validate priors and experiment files; exit status 2 if any is invalid.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code
    with warnings.catch_warnings():
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
