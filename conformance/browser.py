"""A real headless Chromium runs the web app's ``fetch()`` from a page at a declared origin (HEADER-5 --browser).

Playwright's Python package drives a Chromium already on the machine (``executable_path``: nothing is
downloaded, never ``playwright install``). The page is served *at the declared origin* by intercepting the
navigation (``page.route``); interception is then switched off (``unroute_all``), because while Playwright
intercepts requests it answers CORS preflights itself and the server's preflight would never be judged.

Two switches keep the experiment honest and local:

- ``--disable-features=LocalNetworkAccessChecks``: Chromium's Local Network Access refuses a public origin's
  fetch to a loopback or private address whatever the server answers. A web app and its token server are both
  public in production; the harness's server is often on loopback, so that check would judge the test set-up,
  not the server.
- ``--host-resolver-rules``: every host name but the token server's resolves to nothing, so the browser sends
  no traffic anywhere else (the declared origin is never looked up: its page comes from the interception).

Playwright's sync API belongs to the thread that started it; cases may run in threads, so every browser call
goes through one worker thread, and one browser serves the whole session (started at first use).
"""

from __future__ import annotations

import atexit
import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Executable names looked for on PATH when --browser-path is not given.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LAUNCH_FLAGS = ("--disable-features=LocalNetworkAccessChecks", "--disable-background-networking",
                "--disable-component-update", "--no-first-run")
#: The page's own budget for one fetch(), in milliseconds (the harness's client timeout is the same order).
FETCH_TIMEOUT_MS = 10_000

_FETCH_JS = """async ([url, init, timeoutMs]) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {...init, signal: controller.signal});
    const text = await response.text();
    return {status: response.status, body: text.slice(0, 65536), error: null};
  } catch (e) {
    return {status: null, body: null, error: String(e)};
  } finally {
    clearTimeout(timer);
  }
}"""


class BrowserError(Exception):
    """--browser cannot be honoured: Playwright or a Chromium is missing, or it would not start (one line)."""


def find_browser(path: str | None = None) -> str:
    """The Chromium executable to drive: ``path`` if given (it must exist), else the first of CANDIDATES on PATH."""
    if path:
        found = shutil.which(path)
        if found is None:
            raise BrowserError(f"--browser-path {path!r}: no such executable")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("--browser: no Chromium found (looked for " + ", ".join(CANDIDATES) + " on PATH); install "
                       "one (Debian: apt-get install chromium) or name it with --browser-path")


# Late imports: Playwright is imported only where a browser is started: it is an optional extra ([browser]) and, installed, it
# triples this module's import (0.11 s -> 0.34 s, farm-bench medians) for every check, with --browser or not.
def require_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise BrowserError("--browser needs Playwright: pip install 'token-conformance[browser]' "
                           "(it drives the Chromium on this machine; no browser is downloaded)") from None


@dataclass
class PageFetch:
    """What the page's fetch() saw: the status and body it could read, or the error and the console's words."""

    status: int | None
    body: str | None
    error: str | None
    console: list[str] = field(default_factory=list)

    @property
    def read(self) -> bool:
        return self.error is None and self.status is not None

    def why_not(self) -> str:
        """The browser's own reason (its console message about CORS, when it printed one)."""
        cors = [m for m in self.console if "CORS" in m or "Access-Control" in m]
        return (cors or self.console or [self.error or "no answer"])[0]


class Browser:
    """One headless Chromium for the session, used from one thread."""

    def __init__(self, executable: str, target_url: str) -> None:
        self.executable = executable
        self._target_host = urlsplit(target_url).hostname or "127.0.0.1"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-conformance-browser")
        self._pw: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._console: list[str] = []
        self.version = ""

    @property
    def name(self) -> str:
        return f"Chromium {self.version}" if self.version else "Chromium"

    def start(self) -> None:
        self._pool.submit(self._start).result()

    def _start(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        rules = f"MAP * ~NOTFOUND, EXCLUDE {self._target_host}"
        try:
            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(
                executable_path=self.executable, headless=True,
                args=[*LAUNCH_FLAGS, f"--host-resolver-rules={rules}"])
        except Error as exc:
            self._stop()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BrowserError(f"--browser: {self.executable} did not start: {first}") from None
        self.version = str(self._browser.version)
        # One page for the session: opening a page costs about a second, navigating it to another origin a tenth.
        # Each origin is fetched once per run, so the preflight cache (per origin and URL) never answers for it.
        self._page = self._browser.new_context().new_page()
        self._page.on("console", lambda message: self._console.append(message.text))

    def fetch(self, origin: str, url: str, init: Mapping[str, Any]) -> PageFetch:
        """``fetch(url, init)`` from a page at ``origin``; what the page could read."""
        return self._pool.submit(self._fetch, origin, url, dict(init)).result()

    def _fetch(self, origin: str, url: str, init: dict[str, Any]) -> PageFetch:
        page = self._page
        page.route(f"{origin}/**", lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><title>token-conformance</title>"))
        try:
            page.goto(f"{origin}/")
        finally:
            page.unroute_all()  # from here on the browser talks to the server itself, preflights included
        self._console.clear()
        result = page.evaluate(_FETCH_JS, [url, init, FETCH_TIMEOUT_MS])
        return PageFetch(result["status"], result["body"], result["error"], list(self._console))

    def close(self) -> None:
        try:
            self._pool.submit(self._stop).result(timeout=30)
        finally:
            self._pool.shutdown(wait=False)

    def _stop(self) -> None:
        for thing, method in ((self._browser, "close"), (self._pw, "stop")):
            if thing is not None:
                try:
                    getattr(thing, method)()
                except Exception:  # noqa: S110 - a browser that is already gone needs no closing
                    pass
        self._browser = self._pw = self._page = None


_lock = threading.Lock()
_session: dict[tuple[str, str], Browser] = {}


def session_browser(executable: str, target_url: str) -> Browser:
    """The session's browser for this executable and target, started at first use (BrowserError if it cannot)."""
    key = (executable, target_url)
    with _lock:
        browser = _session.get(key)
        if browser is None:
            browser = Browser(executable, target_url)
            browser.start()
            _session[key] = browser
        return browser


def close_all() -> None:
    """Close every browser of the session (the plugin calls it at the end of the run; atexit as a fallback)."""
    with _lock:
        browsers = list(_session.values())
        _session.clear()
    for browser in browsers:
        browser.close()


atexit.register(close_all)
