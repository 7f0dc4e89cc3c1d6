"""The explorer's server (sim.explorer.server, `sim explore`): the address it binds, origins, stopping, bad arguments.

The served tests start `sim explore` as a process on 127.0.0.1 and check the
address it bound in /proc/net/tcp; no test sends traffic to another address.
"""

import ipaddress
import os
import signal
import time
from pathlib import Path

import pytest

import sim
from sim.errors import SimError

from .. import browser

pytest.importorskip("bokeh", reason="the explorer needs the explore extra (Bokeh)")

from sim.explorer import is_loopback, serve  # noqa: E402


def _listening(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port``, read from /proc/net/tcp and tcp6 (no traffic)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:  # four little-endian 32-bit words
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(str(ipaddress.IPv6Address(words)))
    return found


def test_it_binds_loopback_refuses_other_origins_opens_nothing_and_stops_on_ctrl_c(project, tmp_path):
    """Bound to 127.0.0.1 alone (read from /proc: nothing on 0.0.0.0 or another address); a WebSocket from a page
    served elsewhere (its Origin) is refused, so another site open in the same browser cannot drive the explorer;
    no browser is opened without --open; Ctrl-C stops it with status 0 and no traceback."""
    import asyncio

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    record = tmp_path / "opened.txt"
    served = browser.Served(project, "--samples", "1000", env={"BROWSER": f"sh -c 'echo %s >> {record}'"})
    try:
        assert served.url.startswith("http://127.0.0.1:")
        assert _listening(served.port) == {"127.0.0.1"}
        request = HTTPRequest(f"ws://127.0.0.1:{served.port}/ws", headers={"Origin": "http://example.com"})

        async def connect():
            return await websocket_connect(request)

        with pytest.raises(HTTPClientError, match="403"):
            asyncio.run(connect())
    finally:
        code, out, err = served.stop(signal.SIGINT)
    assert "Refusing websocket connection from Origin 'http://example.com'" in err  # refused for its origin
    assert code == 0 and "sim explore: stopped" in out and "Traceback" not in err, err
    assert _listening(served.port) == set() and not record.exists()


def test_a_non_local_bind_needs_host_and_warns(project):
    """serve() refuses an address that is not loopback unless asked (the command line's --host); with --host the
    command warns that the page has no authentication and binds that address (read from /proc, no traffic); SIGTERM
    stops it as Ctrl-C does."""
    experiment = sim.load_experiment("experiments/search_cost.toml")
    with pytest.raises(SimError, match="0.0.0.0 is not a loopback address: the explorer has no authentication"):
        serve(experiment, host="0.0.0.0", port=0)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("no such host.invalid")
    served = browser.Served(project, "--host", "0.0.0.0", "--samples", "1000")
    try:
        assert _listening(served.port) == {"0.0.0.0"}
    finally:
        code, out, err = served.stop(signal.SIGTERM)
    assert code == 0 and "sim explore: stopped" in out and "Traceback" not in err
    assert err.startswith("sim: warning: the explorer has no authentication: whoever reaches 0.0.0.0"), err


def test_open_hands_the_address_to_the_browser(project, tmp_path):
    """--open gives the URL to the default browser (here a command that writes it down)."""
    record = tmp_path / "opened.txt"
    served = browser.Served(project, "--samples", "1000", "--open",
                            env={"BROWSER": f"sh -c 'echo %s >> {record}'"})
    deadline = time.monotonic() + 20
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    served.stop()
    assert record.read_text().strip() == served.url


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "argument --port: must be a port number from 0 (a free one) to 65535, got '70000'"),
    (["--port", "http"], "argument --port: must be a port number"),
    (["--host", ""], "argument --host: must be an address"),
    (["--samples", "1"], "argument --samples: must be an integer from 2 to 2,000,000"),
    (["--samples", "3000000"], "argument --samples: must be an integer from 2 to 2,000,000 (a standard deviation needs "
                               "two samples), got '3000000'"),
    (["nope"], "experiments/nope.toml"),
])
def test_bad_arguments_are_one_line(project, capsys, args, message):
    from ..helpers import one_line_error

    assert message in one_line_error(capsys, ["explore", *args])


def test_a_port_in_use_is_one_line(project, capsys):
    import socket

    from ..helpers import one_line_error

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert f"cannot listen on 127.0.0.1 port {port}" in one_line_error(capsys, ["explore", "--port", port])
