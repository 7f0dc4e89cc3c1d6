"""``sim explore``'s server: the explorer's page (:mod:`.page`) served by Bokeh on a loopback address.

It binds 127.0.0.1 unless told otherwise (the page has no authentication),
accepts WebSocket connections only from pages it served, and stops on
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import ipaddress
import socket

from .. import _checks as check
from ..api import check_memory, what_if
from ..errors import SimError
from ..experiment import Experiment
from . import DEFAULT_SAMPLES, MAX_SAMPLES

__all__ = ["serve", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) resolves to loopback addresses only."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def serve(experiment: Experiment, *, samples: int = DEFAULT_SAMPLES, seed: int | None = None,
          host: str = "127.0.0.1", port: int = 0, remote: bool = False, open_browser: bool = False,
          say=print, posterior=None) -> None:
    """Serve the explorer of ``experiment`` until SIGINT (Ctrl-C) or SIGTERM.

    It binds ``host`` (default 127.0.0.1, loopback) on ``port`` (default: a
    free one) and says the page's address through ``say``. With a
    ``posterior`` (``sim calibrate``), the what-if starts from its rows. An address that
    is not loopback is refused unless ``remote`` (the command line's
    ``--host``): the page has no authentication.

    Raises
    ------
    SimError
        If the address is not loopback without ``remote``, or cannot be bound.
    """
    if not remote and not is_loopback(host):
        raise SimError(f"{host} is not a loopback address: the explorer has no authentication, so it binds "
                       "127.0.0.1 unless --host names another address")
    import asyncio
    import signal
    import webbrowser

    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.core.validation import silence
    from bokeh.core.validation.warnings import EMPTY_LAYOUT
    from bokeh.server.server import BaseServer
    from bokeh.server.tornado import BokehTornado
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop

    from .page import Explorer

    try:
        check.sample_count(samples, high=MAX_SAMPLES)
    except SimError as exc:
        raise SimError(f"--samples: {exc}") from None
    check_memory(experiment, samples, work="decide")
    silence(EMPTY_LAYOUT, True)  # a fixed prior's card has no parameter inputs: an empty column is meant
    what_if(experiment, samples=2).results()  # an experiment the page cannot hold is refused before the server starts
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listening = socket.create_server(address, family=family, backlog=128)  # closed again if it fails
    except (OSError, OverflowError) as exc:
        raise SimError(f"cannot listen on {host} port {port}: {getattr(exc, 'strerror', None) or exc}") from None
    listening.setblocking(False)
    port = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    origins = [f"{shown}:{port}"] + ([f"localhost:{port}", f"127.0.0.1:{port}"] if not remote else [])
    if remote and host in ("0.0.0.0", "::", ""):
        origins = ["*"]  # every address of the machine: its name is not known here
    application = Application(FunctionHandler(lambda doc: Explorer(doc, experiment, samples=samples, seed=seed,
                                                                   posterior=posterior)))
    loop = IOLoop.current()
    tornado_app = BokehTornado({"/": application}, extra_websocket_origins=origins)
    http = HTTPServer(tornado_app)
    http.add_sockets([listening])
    server = BaseServer(loop, tornado_app, http)
    server.start()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else '[::1]' if host == '::' else shown}:{port}/"
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(sig, stop.set)
    say(f"sim explore: {url}  (Ctrl-C stops it)")
    if open_browser:
        webbrowser.open(url)
    try:
        loop.run_sync(stop.wait)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.asyncio_loop.remove_signal_handler(sig)
        server.stop()
        loop.run_sync(http.close_all_connections)
        loop.close(all_fds=True)
        say("sim explore: stopped")
