"""The ``sim`` command: parse the arguments (:mod:`.parser`), run the command (:mod:`.commands`).

Every bad input ends as one line on stderr and exit status 2; an interrupt
as exit status 130; a closed pipe quietly.

The command turns off numpy's advice to back large arrays with huge pages
(``NUMPY_MADVISE_HUGEPAGE=0`` unless set): where the kernel compacts memory
to give them (transparent huge pages with ``defrag=madvise``), the first
touch of a run's memory costs more than it saves (see the README's
benchmarks).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

from ..errors import SimError, SimWarning
from .commands import COMMANDS
from .parser import DEFAULT_EXPERIMENT, build_parser

__all__ = ["main", "build_parser", "DEFAULT_EXPERIMENT"]


def main(argv=None) -> int:
    """Run ``sim`` with ``argv`` (default: the process's arguments); return the exit status."""
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # read when numpy is imported, which no command has yet
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code
    from ..progress import show

    show(getattr(args, "progress", None))
    with warnings.catch_warnings(), contextlib.ExitStack() as args.held:
        warnings.simplefilter("always", SimWarning)
        warnings.showwarning = lambda message, *a, **k: print(f"sim: warning: {message}", file=sys.stderr)
        try:
            from .._files import settle  # the checks of saved runs the command read (light, already imported)

            try:
                code = COMMANDS[args.command](args)
            except Exception:
                settle()  # a changed saved run is named, rather than what reading it broke
                raise
            settle()
            return code
        except SimError as exc:
            print(f"sim: error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("sim: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (``sim models | head``): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
