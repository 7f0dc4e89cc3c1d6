"""Headless Chromium (Debian's chromium and chromium-driver): a report page as a reader sees it, and the what-if
explorer (`sim explore`) served and typed into as a person does.

Used by the report's browser test, and from the command line to take the
README's screenshot::

    python -m tests.browser outputs/search_cost/report.html shot.png [HEIGHT]
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# as the machine's notes advise: no background network (the sandbox has none), a fresh profile per start
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
# every host name resolves to nothing but loopback: a page that asked another address would fail, not send
LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def missing() -> str | None:
    """Why a browser cannot be started here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed; install the test extras: pip install -e '.[test]'"
    if not any(shutil.which(c) for c in CHROMIUM):
        return "Chromium not found; install Debian's chromium and chromium-driver packages (.ci/run does)"
    if not shutil.which("chromedriver"):
        return "chromedriver not found; install Debian's chromium-driver package (.ci/run does)"
    return None


def inspect_page(path: str | Path, screenshot: str | Path | None = None, *, width: int = 1280,
                 height: int | None = None, window_height: int = 900) -> dict:
    """Load ``path`` and return its broken images, console errors, sections and figures.

    Returns
    -------
    dict
        ``images`` (count), ``broken`` (indices of images that did not
        decode), ``errors`` (browser console messages of level SEVERE),
        ``sections`` (ids of the ``<section>`` elements shown with a
        height), ``figures`` (ids of ``<figure>`` elements),
        ``page_overflow`` (the page scrolls sideways), ``overflowing``
        (elements reaching past the window's right edge), ``scrolling``
        (tables wider than their column, each with both widths), ``clipped``
        (titles and captions wider than their box), ``source_width`` (the
        narrowest cell of a ``source`` column, CSS pixels), all measured
        with every folded table open, and, when
        ``screenshot`` is given, the PNG written there (the whole page, or
        its first ``height`` pixels).
    """
    with chrome(width, window_height) as driver:
        driver.get(Path(path).resolve().as_uri())
        state = driver.execute_script("""
            const shown = el => el.getBoundingClientRect().height > 0;
            // measure the layout with every folded table open, as a reader who opens them sees it
            const folded = Array.from(document.querySelectorAll('details')).filter(d => !d.open);
            folded.forEach(d => d.open = true);
            try { return {
              images: document.images.length,
              broken: Array.from(document.images).flatMap((img, i) =>
                        img.complete && img.naturalWidth > 0 && shown(img) ? [] : [i]),
              sections: Array.from(document.querySelectorAll('section')).filter(shown).map(s => s.id),
              figures: Array.from(document.querySelectorAll('figure')).map(f => f.id),
              height: document.documentElement.scrollHeight,
              // the page itself scrolls sideways: something is wider than the window
              page_overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
              // boxes whose right edge lies beyond the window (a table must scroll inside its own box)
              overflowing: Array.from(document.querySelectorAll('main > *, section > *, table, figure, img'))
                .filter(el => shown(el) && el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .map(el => el.tagName + (el.id ? '#' + el.id : '') + (el.dataset.table ? '[' + el.dataset.table + ']' : '')),
              // tables wider than their column, shown only by scrolling sideways inside their box
              scrolling: Array.from(document.querySelectorAll('table')).filter(t => shown(t) && t.scrollWidth > t.clientWidth + 1)
                .map(t => t.dataset.table + ' ' + t.scrollWidth + '>' + t.clientWidth),
              // titles and captions cut off: their text is wider than the box that shows it
              clipped: Array.from(document.querySelectorAll('h1, h2, h3, caption, figcaption, summary, th'))
                .filter(el => shown(el) && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible')
                .map(el => el.tagName + ': ' + el.textContent.slice(0, 60)),
              // the width of the sources column (CSS pixels), to check it stays readable
              source_width: Math.min(...Array.from(document.querySelectorAll('table')).flatMap(t => {
                const i = Array.from(t.querySelectorAll('thead th')).findIndex(th => th.textContent === 'source');
                return i < 0 ? [] : Array.from(t.querySelectorAll('tbody tr'))
                  .map(tr => tr.children[i]).filter(td => td && shown(td)).map(td => td.getBoundingClientRect().width);
              }), 1e9),
              folded: folded.length,
            }; } finally { folded.forEach(d => d.open = false); }""")
        state["errors"] = console_errors(driver)
        if screenshot is not None:
            capture(driver, screenshot, width, min(height or state["height"], state["height"]))
    return state


@contextlib.contextmanager
def chrome(width: int = 1280, height: int = 900, *, network: bool = False):
    """Headless Chromium under selenium, its console logged (and, with ``network``, its requests); names resolve
    to nothing but loopback, so a page cannot reach another address."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(c) for c in CHROMIUM if shutil.which(c))
    for flag in (*FLAGS, f"--window-size={width},{height}", LOOPBACK_ONLY):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", **({"performance": "ALL"} if network else {})})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


def capture(driver, path: str | Path, width: int, height: int) -> None:
    """The page's first ``height`` CSS pixels as a PNG at ``path``."""
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                             "clip": clip})
    Path(path).write_bytes(base64.b64decode(shot["data"]))


def requested(driver) -> list[str]:
    """The URLs the page asked for (HTTP and WebSocket), from the performance log of a ``network`` driver."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


# --- the what-if explorer (`sim explore`) ---------------------------------------------------------------

class Served:
    """`sim explore ARGS` as a process, with its URL read from its first line."""

    def __init__(self, cwd, *args, env=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "sim", "explore", *args], cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        line = self._line(60)
        match = re.search(r"(http://\S+:(\d+)/)", line)
        assert match, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url, self.port = match.group(1), int(match.group(2))

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else ""

    def stop(self, sig=signal.SIGINT) -> tuple[int, str, str]:
        """Stop it as Ctrl-C does; return its exit status, the rest of its output and its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


#: Finds an element by CSS selector in the document or any shadow root (Bokeh renders each widget in its own).
FIND = """const find = (root, sel) => { const hit = root.querySelector(sel); if (hit) return hit;
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) { const h = find(el.shadowRoot, sel); if (h) return h; }
  return null; };"""


SHOWN_ERRORS = """const all = [], walk = root => { root.querySelectorAll('*').forEach(el => {
  const shown = el.shadowRoot && el.shadowRoot.querySelector('.bk-clearfix');
  if (/sim-(error|settings-error)/.test(el.className) && shown && shown.innerText) all.push(shown.innerText);
  if (el.shadowRoot) walk(el.shadowRoot); }); }; walk(document); return all;"""


class Page:
    """The explorer in a browser, read and typed into as a person does: text shown, keys pressed, buttons clicked."""

    def __init__(self, driver):
        self.driver = driver

    def text(self, widget: str) -> str:
        """What a Div shows (``widget``: its sim-… class)."""
        return self.driver.execute_script(
            FIND + "const h = find(document, arguments[0]); const c = h && h.shadowRoot.querySelector('.bk-clearfix');"
                   "return c ? c.innerText : null;", f".sim-{widget}")

    def k(self, cell: str) -> int:
        """The number of samples with cost above revenue shown for ``cell``."""
        return int(self.driver.execute_script(
            FIND + "return find(document, arguments[0]).dataset.k;", f"td.p-loss[data-cell='{cell}']"))

    def type(self, widget: str, text: str) -> None:
        """Select what the input shows, type ``text`` over it and press Enter."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        box = self.driver.execute_script(FIND + "return find(document, arguments[0]).shadowRoot.querySelector('input')",
                                         f".sim-{widget}")
        self.driver.execute_script("arguments[0].focus(); arguments[0].select();", box)
        ActionChains(self.driver).send_keys(text, Keys.ENTER).perform()  # to the focused input, over the selection

    def choose(self, widget: str, option: str) -> None:
        from selenium.webdriver.support.select import Select

        Select(self.driver.execute_script(FIND + "return find(document, arguments[0]).shadowRoot.querySelector('select')",
                                          f".sim-{widget}")).select_by_visible_text(option)

    def click(self, widget: str) -> None:
        self.driver.execute_script(FIND + "find(document, arguments[0]).shadowRoot.querySelector('button').click()",
                                   f".sim-{widget}")

    def wait(self, what, timeout: float = 60):
        """Poll ``what()`` until it is true; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = what()
            except Exception:  # the page is still being built
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"the page did not show it within {timeout} s; status {self.text('status')!r}, "
                             f"messages {self.driver.execute_script(FIND + SHOWN_ERRORS)}")

    def time_entry(self, widget: str, text: str, n: int) -> float:
        """Seconds from ``text`` entered in an input (its change event, as Enter fires it) to the page painted with
        update ``n`` shown, measured in the page."""
        return self.driver.execute_async_script(FIND + """
          const [widget, text, n, done] = arguments;
          const status = find(document, '.sim-status').shadowRoot;
          const box = find(document, widget).shadowRoot.querySelector('input');
          const start = performance.now();
          const seen = new MutationObserver(() => {
            const shown = status.querySelector('.bk-clearfix');
            if (shown && shown.innerText.startsWith(`update ${n}:`)) {
              seen.disconnect();
              requestAnimationFrame(() => setTimeout(() => done((performance.now() - start) / 1000)));
            }
          });
          seen.observe(status, {subtree: true, childList: true, characterData: true});
          box.value = text;
          box.dispatchEvent(new Event('change'));""", f".sim-{widget}", text, n)

    def updated(self, n: int) -> str:
        return self.wait(lambda: (self.text("status") or "").startswith(f"update {n}:") and self.text("status"))


if __name__ == "__main__":
    reason = missing()
    if reason:
        sys.exit(reason)
    page, out = sys.argv[1], sys.argv[2]
    result = inspect_page(page, out, height=int(sys.argv[3]) if len(sys.argv) > 3 else None)
    print({k: v for k, v in result.items() if k != "figures"})
