"""Open an HTML page in headless Chromium (Debian's chromium and chromium-driver) and report what a reader sees.

Used by the report's browser test, and from the command line to take the
README's screenshot::

    python -m tests.browser outputs/search_cost/report.html shot.png [HEIGHT]
"""

from __future__ import annotations

import base64
import shutil
import sys
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# as the machine's notes advise: no background network (the sandbox has none), a fresh profile per start
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")


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
        (elements reaching past the window's right edge), ``clipped``
        (titles and captions wider than their box), ``source_width`` (the
        narrowest cell of a ``source`` column, CSS pixels), all measured
        with every folded table open, and, when
        ``screenshot`` is given, the PNG written there (the whole page, or
        its first ``height`` pixels).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(c) for c in CHROMIUM if shutil.which(c))
    for flag in (*FLAGS, f"--window-size={width},{window_height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
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
        state["errors"] = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if screenshot is not None:
            clip = {"x": 0, "y": 0, "width": width, "height": min(height or state["height"], state["height"]),
                    "scale": 1}
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                                     "clip": clip})
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
    finally:
        driver.quit()
    return state


if __name__ == "__main__":
    reason = missing()
    if reason:
        sys.exit(reason)
    page, out = sys.argv[1], sys.argv[2]
    result = inspect_page(page, out, height=int(sys.argv[3]) if len(sys.argv) > 3 else None)
    print({k: v for k, v in result.items() if k != "figures"})
