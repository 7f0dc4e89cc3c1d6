"""``sim explore``: the what-if explorer, a Bokeh page (:mod:`.page`, :mod:`.cards`) and its server (:mod:`.server`).

A front end beside the command line: it calls the library (:mod:`sim.api`)
and the report's text formatting, and imports Bokeh only when a page or a
server is made.
"""

__all__ = ["Explorer", "serve", "is_loopback", "DEFAULT_SAMPLES", "MAX_SAMPLES"]

#: Samples per evaluation by default.
DEFAULT_SAMPLES = 100_000
#: The most samples the explorer takes: about 4 s per change on two cores, and some 3 GB for the default experiment.
MAX_SAMPLES = 2_000_000


def __getattr__(name):  # the page and server pull in the library and Bokeh: load them when asked for
    if name == "Explorer":
        from .page import Explorer

        return Explorer
    if name in ("serve", "is_loopback"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
