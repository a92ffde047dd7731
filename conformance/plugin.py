"""The pytest plugin (entry point ``pytest11``): options, fixtures, case items, verdict and reports.

It is loaded by every pytest run in an environment where token-conformance is
installed, so it stays inert until conformance cases are collected, and it
imports neither locust nor gevent. Options resolve command line > ini > environment.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
import time
from collections.abc import Generator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import interruption
from .cases import NOT_APPLICABLE, requirement_of, select
from .certificate import CERTIFICATE_ENV, CertificateError, read_certificate
from .client import ClientStats, TokenServerClient
from .concurrency import DEFAULT_CONCURRENCY, GatedClient, Traffic, merge_intervals, run_in_daemons
from .contract import REQUIREMENTS, Level, by_id
from .contract.model import RUN_CONDITIONS
from .deviations import DeviationsError, load_deviations
from .headers import HeaderError
from .profiles import NotInProfile, Profile, ProfileError, load_profile
from .redact import Redactor
from .report import CaseRecord, report_document, summarize, terminal_table, write_html, write_json
from .target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN, RunSettings, Target

#: The case that owns "answered within the client's timeout": it runs last and fails on a slow target.
LATENCY_CASE = "LATENCY-1"
_REQ_INDEX = {r.id: r for r in REQUIREMENTS}

# (option, ini/dest name, environment variable, help, kind)
_OPTIONS: list[tuple[str, str, str | None, str, str]] = [
    ("--token-server-url", "token_server_url", "TOKEN_SERVER_URL",
     "base URL of the token server to judge; without it the embedded reference server is started", "str"),
    ("--token-profile", "token_profile", "TOKEN_PROFILE",
     "server profile: a bundled name (agora-token-service, agora-node-tokenserver) or a profile JSON file", "str"),
    ("--token-app-id", "token_app_id", "TOKEN_APP_ID", "the app id every token must carry", "str"),
    ("--token-strict", "token_strict", "TOKEN_STRICT", "SHOULD failures also make the run non-conforming", "bool"),
    ("--token-timeout", "token_timeout", "TOKEN_TIMEOUT", "overall deadline per request in seconds (default 10)", "float"),
    ("--token-max-skew", "token_max_skew", "TOKEN_MAX_SKEW",
     "allowed clock difference between server and harness in seconds (default 5)", "float"),
    ("--token-app-certificate-file", "token_app_certificate_file", None,
     f"file holding the app certificate (else ${CERTIFICATE_ENV}); never pass it on the command line", "str"),
    ("--token-report-dir", "token_report_dir", "TOKEN_REPORT_DIR",
     "write conformance.json and conformance.html there", "str"),
    ("--token-deviations", "token_deviations", "TOKEN_DEVIATIONS",
     "JSON file {case id: reason} of known deviations: their failures become expected failures", "str"),
    ("--token-case", "token_case", "TOKEN_CASE",
     "run only these cases: comma-separated ids, globs (INPUT-*) or section prefixes (EXPIRY)", "str"),
    ("--token-renew-expiry", "token_renew_expiry", None, "lifetime asked for in the renewal case (default 6 s)", "int"),
    ("--token-renew-margin", "token_renew_margin", None,
     "renew this many seconds before expiry in the renewal case (default 2 s)", "float"),
    ("--token-prop-examples", "token_prop_examples", None,
     "examples per operation in the property-based case (default 12)", "int"),
    ("--token-concurrency", "token_concurrency", "TOKEN_CONCURRENCY",
     f"requests in flight at once (default {DEFAULT_CONCURRENCY}); 1 sends them one after another, case by case; "
     "narrowed to 1 when the target announces a rate limit", "int"),
    ("--token-insecure", "token_insecure", None, "accept a TLS certificate that does not verify", "bool"),
    ("--token-gated-by-baseline", "token_gated_by_baseline", None,
     "set by 'token-conformance check --baseline': the verdict line leaves the exit code to the gate's line", "bool"),
    ("--token-target-label", "token_target_label", None, "how reports name the target (default: its URL)", "str"),
    ("--token-header-file", "token_header_file", None,
     "file of 'Name: value' lines sent with every request (credentials; else $TOKEN_SERVER_HEADERS)", "str"),
    ("--token-max-rps", "token_max_rps", "TOKEN_MAX_RPS", "send at most this many requests per second", "float"),
    ("--token-rate-limit-budget", "token_rate_limit_budget", "TOKEN_RATE_LIMIT_BUDGET",
     "seconds the run may wait out 429 / 503 Retry-After answers before it gives up (default 60)", "float"),
    ("--token-browser", "token_browser", "TOKEN_BROWSER",
     "HEADER-5: confirm each web origin's verdict in a real headless Chromium (needs the [browser] extra)", "bool"),
    ("--token-browser-path", "token_browser_path", "TOKEN_BROWSER_PATH",
     "the Chromium executable for --token-browser (default: chromium, google-chrome, ... on PATH)", "str"),
]
#: --token-web-origin's environment variable: origins separated by commas or spaces.
WEB_ORIGINS_ENV = "TOKEN_WEB_ORIGINS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("token-conformance", "Agora token server conformance")
    for opt, dest, env, help_text, kind in _OPTIONS:
        env_note = f" [env {env}]" if env else ""
        if kind == "bool":
            group.addoption(opt, dest=dest, action="store_true", default=None, help=help_text + env_note)
            parser.addini(dest, help_text, type="bool", default=None)
        else:
            group.addoption(opt, dest=dest, default=None, help=help_text + env_note)
            parser.addini(dest, help_text, default=None)
    group.addoption("--token-header", dest="token_header", action="append", default=None, metavar="'NAME: VALUE'",
                    help="a header sent with every request (repeatable); 'NAME' alone reads $TOKEN_HEADER_NAME. "
                    "Values are secrets: prefer $TOKEN_SERVER_HEADERS or --token-header-file")
    parser.addini("token_headers", "headers sent with every request, one 'Name: value' per line", type="linelist",
                  default=[])
    group.addoption("--token-web-origin", dest="token_web_origin", action="append", default=None, metavar="ORIGIN",
                    help="origin (scheme://host[:port]) of a web app that fetches tokens with fetch() (repeatable): "
                    f"HEADER-5 judges that it can read one [env {WEB_ORIGINS_ENV}, comma-separated]")
    parser.addini("token_web_origins", "origins of the web apps that fetch tokens (HEADER-5), one per line",
                  type="linelist", default=[])


def _option(config: pytest.Config, dest: str, kind: str) -> Any:
    """Command line > ini > environment > None."""
    value = config.getoption(dest, default=None)
    if value is None:
        ini = config.getini(dest)
        value = ini if ini not in (None, "", []) else None
    env = next((e for o, d, e, _h, _k in _OPTIONS if d == dest), None)
    if value is None and env:
        value = os.environ.get(env) or None
    if value is None:
        return None
    try:
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
        if kind == "float":
            return float(value)
        if kind == "int":
            return int(value)
    except ValueError:
        raise pytest.UsageError(f"{dest.replace('_', '-')}: {value!r} is not a valid {kind}") from None
    return str(value)


@dataclass
class _State:
    """Per-process state of a conformance run."""

    settings: RunSettings | None = None
    target: Target | None = None
    redactor: Redactor = field(default_factory=Redactor)
    embedded: Any = None
    active: bool = False
    abort_reason: str | None = None
    #: The signal (SIGINT, SIGTERM) or pytest.exit message that interrupted the run.
    interrupted: str | None = None
    #: What selected a subset: the --token-case pattern, -k and -m expressions.
    selection: str = ""
    #: LATENCY-1's finding: the target is up but too slow for the client; other cases skip naming it.
    slow_reason: str | None = None
    hints: list[str] = field(default_factory=list)
    records: dict[str, CaseRecord] = field(default_factory=dict)
    futures: dict[str, Future[Any]] = field(default_factory=dict)
    #: Cases started ahead of their turn (concurrency > 1): their pytest call only collects the outcome.
    case_runs: dict[str, Future[Any]] = field(default_factory=dict)
    #: Seconds each case started ahead of its turn ran for (its own time, not its turn's).
    case_times: dict[str, float] = field(default_factory=dict)
    #: Traffic reported by xdist workers (the controller sums them).
    worker_traffic: list[dict[str, Any]] = field(default_factory=list)
    #: Answer times and rate limiting reported by xdist workers (ClientStats.raw; the controller merges them).
    worker_stats: list[dict[str, Any]] = field(default_factory=list)
    deviations: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    #: Where the session's time went: wall-clock marks (time.time()) and each background job's (start, end).
    marks: dict[str, float] = field(default_factory=lambda: {"configured": time.time()})
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    summary: Any = None
    #: conformance.json's content, once the verdict is final (junit.xml is rewritten from it).
    document: dict[str, Any] | None = None
    final_records: list[CaseRecord] = field(default_factory=list)
    #: Case id -> the first finding of its failure in one line (the root causes, printed before the details).
    root_causes: dict[str, str] = field(default_factory=dict)
    #: HEADER-5's verdict per declared web origin: the Fetch standard's and, with --browser, the browser's.
    web_origins: list[dict[str, Any]] = field(default_factory=list)


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


#: pytest_runtest_logreport receives no config; the process's config is kept here.
_CONFIG: dict[str, pytest.Config] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _State()
    _CONFIG["config"] = config
    for level in Level:
        config.addinivalue_line("markers", f"{level.value.lower()}: a conformance case at level {level.value}")
    config.addinivalue_line("markers", "requirement(id): the contract requirement a conformance case checks")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# --- collection --------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[pytest.Item] | None:
    req = requirement_of(obj)
    if req is None or not inspect.isfunction(obj):
        return None
    # originalname too: pytest 9 builds the node id from it (the object comes from callobj).
    item = pytest.Function.from_parent(collector, name=req.id, callobj=obj, originalname=req.id)
    item.add_marker(getattr(pytest.mark, req.level.value.lower()))
    item.add_marker(pytest.mark.requirement(req.id))
    return [item]


def _selected(case_id: str, patterns: list[str]) -> bool:
    return select(case_id, patterns)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: the records are the cases that will run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = [i for i in items if i.name in _REQ_INDEX and i.get_closest_marker("requirement")]
    if not cases:
        return
    state = _state(config)
    state.active = True
    pattern = _option(config, "token_case", "str")
    if pattern is not None and not pattern.replace(",", "").strip():
        raise pytest.UsageError("--token-case needs at least one case id, glob or section; leave it out to run every case")
    state.selection = _selection(config)
    if pattern:
        patterns = [p.strip().upper() for p in pattern.split(",") if p.strip()]
        deselected = [i for i in cases if not _selected(i.name, patterns)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [i for i in items if i not in deselected]
            cases = [i for i in cases if i not in deselected]
    # Cases that wait (prefetch in the background) go last, so their waiting overlaps the others.
    # LATENCY-1 goes after everything: it judges the answer times of the whole run. LATENCY-2's sample
    # (its own requests, one at a time) is taken before the waiting cases are collected, while they sleep.
    waits = {id(i) for i in cases if getattr(getattr(i, "obj", None), "__prefetch__", None)}
    items.sort(key=lambda i: (i.name == LATENCY_CASE, id(i) in waits))
    settings = _settings(config)
    state.deviations = _deviations(config)
    for item in cases:
        req = by_id(item.name)
        if "credentials" in req.needs and not settings.has_credentials:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: no credentials configured (--header), nothing to enforce"
            ))
        if "web_origin" in req.needs and not settings.origins:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: no web origin declared (--web-origin, or the profile's web_origins)"
            ))
        missing = [n for n in req.needs if n not in RUN_CONDITIONS and not settings.profile.has(n)]
        if missing:
            item.add_marker(pytest.mark.skip(
                reason=f"{NOT_APPLICABLE}: profile {settings.profile.name!r} has no {', '.join(missing)} route"
            ))
        reason = state.deviations.get(item.name)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"known deviation: {reason}", strict=False))
        state.records[item.name] = CaseRecord.for_requirement(req, settings.profile)
    for item in items:
        user = _user_case(item)
        if user is not None:
            state.records[item.nodeid] = user


def _profile_or_none(config: pytest.Config) -> Profile | None:
    """The run's profile, for the requirement sentences (None if the settings cannot be built: a usage error)."""
    state = _state(config)
    if state.settings is not None:
        return state.settings.profile
    try:
        return load_profile(_option(config, "token_profile", "str"))
    except ProfileError:
        return None


def _selection(config: pytest.Config) -> str:
    """What narrowed the run, as the user typed it: --token-case, -k, -m."""
    parts = (
        ("--case", _option(config, "token_case", "str")),
        ("-k", getattr(config.option, "keyword", "")),
        ("-m", getattr(config.option, "markexpr", "")),
    )
    return ", ".join(f"{label} {value!r}" for label, value in parts if value)


_LEVEL_MARKERS = {lvl.value.lower(): lvl for lvl in Level}


def _user_case(item: pytest.Item) -> CaseRecord | None:
    """A test of your own marked ``requirement("MY-2")`` and/or ``must`` / ``should`` / ``may``.

    It joins the verdict and the reports like a bundled case (docs/plugin.md): a failed ``must`` makes the
    server non-conforming. Its title is the docstring's first line, its requirement sentence the
    ``requirement(..., sentence=...)`` keyword or the docstring; the level defaults to MUST.
    """
    if item.name in _REQ_INDEX:
        return None
    marker = item.get_closest_marker("requirement")
    level = next((lvl for name, lvl in _LEVEL_MARKERS.items() if item.get_closest_marker(name)), None)
    if marker is None and level is None:
        return None
    case_id = str(marker.args[0]) if marker is not None and marker.args else item.name
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    title = doc.splitlines()[0] if doc else item.name
    sentence = (marker.kwargs.get("sentence") if marker is not None else None) or doc or title
    section = case_id.rsplit("-", 1)[0] if "-" in case_id else "USER"
    return CaseRecord(id=case_id, section=section, title=title, requirement=str(sentence),
                      level=(level or Level.MUST).value)


def _judges_the_run(case_id: str) -> bool:
    """LATENCY cases judge answer times (the run's, or a sample sent one at a time): never ahead of their turn."""
    return case_id.startswith("LATENCY-")


def _deviations(config: pytest.Config) -> dict[str, str]:
    """The known deviations; a bad file ends the run as "could not judge" naming the file, not "no case ran"."""
    try:
        return load_deviations(_option(config, "token_deviations", "str"))
    except DeviationsError as exc:
        _state(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _read_certificate(config: pytest.Config) -> str | None:
    try:
        return read_certificate(_option(config, "token_app_certificate_file", "str"))
    except CertificateError as exc:
        _state(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _settings(config: pytest.Config) -> RunSettings:
    state = _state(config)
    if state.settings is not None:
        return state.settings
    try:
        profile = load_profile(_option(config, "token_profile", "str"))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    url = _option(config, "token_server_url", "str")
    certificate = _read_certificate(config)
    headers = _headers(config)
    app_id = _option(config, "token_app_id", "str")
    embedded = False
    if url:
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise pytest.UsageError(f"--token-server-url must be an http:// or https:// URL, not {url!r}")
    values: dict[str, Any] = {}
    for dest, key, kind in [
        ("token_timeout", "timeout", "float"), ("token_max_skew", "max_skew", "float"),
        ("token_renew_expiry", "renew_expiry", "int"), ("token_renew_margin", "renew_margin", "float"),
        ("token_prop_examples", "prop_examples", "int"), ("token_max_rps", "max_rps", "float"),
        ("token_rate_limit_budget", "wait_budget", "float"),
    ]:
        v = _option(config, dest, kind)
        if v is not None:
            if v <= 0:
                raise pytest.UsageError(f"--{dest.replace('_', '-')} must be positive, not {v}")
            values[key] = v
    values.setdefault("timeout", profile.client_timeout)
    if not url:
        url, app_id, certificate = _start_embedded(state)
        embedded = True
        values.setdefault("renew_expiry", EMBEDDED_RENEW_EXPIRY)
        values.setdefault("renew_margin", EMBEDDED_RENEW_MARGIN)
    state.redactor.add(certificate)
    for value in headers.values():
        state.redactor.add_header_value(value)
    state.settings = RunSettings(
        url=url, profile=profile, app_id=app_id, certificate=certificate, headers=headers,
        strict=bool(_option(config, "token_strict", "bool")), embedded=embedded,
        web_origins=_web_origins(config), browser=_browser(config), **values,
    )
    if state.settings.renew_margin >= state.settings.renew_expiry:
        raise pytest.UsageError("--token-renew-margin must be smaller than --token-renew-expiry")
    return state.settings


def _headers(config: pytest.Config) -> dict[str, str]:
    """Configured headers: $TOKEN_SERVER_HEADERS, the header file, ini token_headers, then --token-header."""
    from .headers import resolve

    specs = list(config.getini("token_headers") or []) + list(config.getoption("token_header", default=None) or [])
    try:
        return resolve(specs, _option(config, "token_header_file", "str"))
    except HeaderError as exc:
        raise pytest.UsageError(str(exc)) from None


def _web_origins(config: pytest.Config) -> tuple[str, ...]:
    """--token-web-origin (repeatable) > ini token_web_origins > $TOKEN_WEB_ORIGINS, each a checked origin."""
    from .cors import OriginError, parse_origins

    given = list(config.getoption("token_web_origin", default=None) or []) or list(config.getini("token_web_origins") or [])
    if not given:
        given = os.environ.get(WEB_ORIGINS_ENV, "").replace(",", " ").split()
    try:
        return parse_origins(given)
    except OriginError as exc:
        raise pytest.UsageError(str(exc)) from None


def _browser(config: pytest.Config) -> str | None:
    """The Chromium executable --token-browser drives, or None; no Playwright or no browser: a usage error."""
    path = _option(config, "token_browser_path", "str")
    if not _option(config, "token_browser", "bool"):
        return None
    from .browser import BrowserError, find_browser, require_playwright

    try:
        require_playwright()
        return find_browser(path)
    except BrowserError as exc:
        _state(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _start_embedded(state: _State) -> tuple[str, str, str]:
    """No URL given: judge the reference server, started here on a free loopback port."""
    from .reference.server import ReferenceServer

    server = ReferenceServer()
    server.start()
    state.embedded = server
    return server.url, server.settings.app_id, server.settings.certificate


# --- running -----------------------------------------------------------------


def _target(config: pytest.Config) -> Target:
    state = _state(config)
    if state.target is None:
        settings = _settings(config)
        client = GatedClient(
            settings.url, concurrency=_concurrency(config), timeout=settings.timeout,
            verify_tls=not _option(config, "token_insecure", "bool"),
            headers=settings.headers, max_rps=settings.max_rps, wait_budget=settings.wait_budget,
        )
        state.target = Target(settings, client)
    return state.target


def _concurrency(config: pytest.Config) -> int:
    value = _option(config, "token_concurrency", "int")
    if value is None:
        return DEFAULT_CONCURRENCY
    if value < 1:
        raise pytest.UsageError(f"--token-concurrency must be at least 1, not {value}")
    return int(value)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    state = _state(session.config)
    if not state.active or session.testsfailed or session.config.option.collectonly:
        return None
    if not _is_worker(session.config) and _has_xdist_controller(session):
        # Under xdist the controller only aggregates; workers run the cases (and start an
        # embedded server each when no URL is given). With a URL, fail fast here once.
        if _option(session.config, "token_server_url", "str"):
            _preflight(session)
        return True if state.abort_reason else None
    state.marks["collected"] = time.time()
    _preflight(session)
    state.marks["preflight_done"] = time.time()
    if state.abort_reason:
        return True
    target = _target(session.config)
    if _is_worker(session.config):
        # An xdist worker learns which cases it runs only as they come: the prefetched
        # fixture computes on demand there, and the workers themselves run in parallel.
        return None
    prefetching = [(i.name, f) for i in session.items if (f := getattr(getattr(i, "obj", None), "__prefetch__", None))]
    for name, fn in prefetching:
        state.futures[name] = _start_daemon(name, fn, target, state.spans)
    _start_case_runs(session, state, target)
    return None


def _start_case_runs(session: pytest.Session, state: _State, target: Target) -> None:
    """With concurrency above 1, start every case that only needs the target now, on that many threads.

    A case's own requests stay in its order; cases are independent of each other
    (a dependent case skips on what it fetched itself), so only their timing changes.
    Cases that wait (prefetch) keep their own threads; skipped cases are not started.
    """
    workers = _concurrency(session.config)
    if workers <= 1:
        return
    tasks = []
    for item in session.items:
        fn = getattr(item, "obj", None)
        if item.name not in _REQ_INDEX or fn is None or getattr(fn, "__prefetch__", None) or _judges_the_run(item.name):
            continue
        if item.get_closest_marker("skip") or item.get_closest_marker("skipif"):
            continue
        params = set(inspect.signature(fn).parameters)
        if params - {"token_target"}:
            continue  # a fixture of its own: it runs in its turn
        future: Future[Any] = Future()
        state.case_runs[item.name] = future
        tasks.append((_timed(item.name, functools.partial(fn, token_target=target) if params else fn,
                             state.case_times), future))
    run_in_daemons(tasks, workers, "conformance-case")


def _timed(name: str, fn: Any, times: dict[str, float]) -> Any:
    """``fn`` that notes how long it ran: the case's duration, not the 0 s its pytest call spends collecting it."""
    def run() -> Any:
        start = time.monotonic()
        try:
            return fn()
        finally:
            times[name] = time.monotonic() - start
    return run


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case started ahead of its turn: its outcome (return or exception) is the call's."""
    future = _state(pyfuncitem.config).case_runs.get(pyfuncitem.name)
    if future is None:
        return None
    future.result()
    return True


def _start_daemon(name: str, fn: Any, target: Target, spans: dict[str, tuple[float, float]]) -> Future[Any]:
    """Run ``fn(target)`` in a daemon thread: a run that ends early (target down) must not wait for a sleeping case."""
    future: Future[Any] = Future()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        start = time.time()
        try:
            future.set_result(fn(target))
        except BaseException as exc:  # handed to the case, which reports it
            future.set_exception(exc)
        finally:
            spans[name] = (start, time.time())

    threading.Thread(target=work, name=f"prefetch-{name}", daemon=True).start()
    return future


def _has_xdist_controller(session: pytest.Session) -> bool:
    return session.config.pluginmanager.hasplugin("dsession")


def _preflight(session: pytest.Session) -> None:
    """One valid request before any case: a target that cannot be judged ends the run at once (exit 2)."""
    from .preflight import preflight

    state = _state(session.config)
    result = preflight(_target(session.config))
    if result.abort:
        state.abort_reason = state.redactor.redact(result.abort)
        session.config.get_terminal_writer().line(f"token-conformance: {state.abort_reason}", red=True, bold=True)
    elif result.slow and not any(i.name == LATENCY_CASE for i in session.items):
        state.abort_reason = state.redactor.redact(f"{result.slow} ({LATENCY_CASE}, not selected, judges this)")
        session.config.get_terminal_writer().line(f"token-conformance: {state.abort_reason}", red=True, bold=True)
    elif result.slow:
        state.slow_reason = state.redactor.redact(result.slow)
    # A refused login already has its own line (the abort reason); a hint after it would only repeat or contradict it.
    if result.exchange is not None and result.exchange.status is not None and not (
            result.abort and result.exchange.status in (401, 403)):
        from .detect import describe

        target = _target(session.config)
        # Judged at the profile's own token pointer: a profile's working route is no other family's.
        hint = describe(result.exchange, target.profile.operations["rtc"].token,
                        credentials=target.settings.has_credentials)
        if hint:
            request = target.rtc_request()
            state.hints.append(state.redactor.redact(f"{request.method} {request.path} answered {hint}"))


@pytest.fixture(scope="session")
def token_target(request: pytest.FixtureRequest) -> Target:
    """conformance.target.Target: the server under judgement (session scope).

    ``fetch_rtc(channel, role, tokentype, uid, expiry=)``, ``fetch_rtm(uid)`` and ``post_get_token(body)`` return
    a Fetched (``.exchange``, ``.raw`` token string, decoded ``.token`` or ``.problem``); ``.settings`` holds the
    URL, app id, certificate and timeouts, ``.profile`` the routes, ``.client`` the bounded client.
    Without --token-server-url it is the embedded reference server. See docs/plugin.md.
    """
    return _target(request.config)


@pytest.fixture(scope="session")
def token_server_url(token_target: Target) -> str:
    """The base URL being judged (no trailing slash), e.g. for messages; requests go through token_client."""
    return token_target.settings.url


@pytest.fixture(scope="session")
def token_client(token_target: Target) -> TokenServerClient:
    """conformance.client.TokenServerClient for the judged server (built on httpx, but not an httpx.Client).

    ``get(path, headers=)`` and ``request(method, path, json_body=, headers=)`` take paths relative to the
    server and return an Exchange (``.status``, ``.headers``, ``.body``, ``.json()``, ``.summary()``,
    ``.curl()``, ``.error`` when nothing came back): they never raise for HTTP or transport failures. Every
    request has an overall deadline and a size cap, and follows only same-host redirects.
    """
    return token_target.client


@pytest.fixture(scope="session")
def token_profile(token_target: Target) -> Any:
    """conformance.profiles.Profile of the judged server: its routes, roles, token version, expiry parameter."""
    return token_target.profile


@pytest.fixture(scope="session")
def token_decoder() -> Any:
    """``conformance.tokens.decode``: str -> Token, raising TokenError."""
    from .tokens import decode

    return decode


@pytest.fixture
def prefetched(request: pytest.FixtureRequest) -> Any:
    """The result of this case's background prefetch (started when the run began)."""
    state = _state(request.config)
    future = state.futures.get(request.node.name)
    if future is None:
        fn = getattr(request.node.obj, "__prefetch__", None)
        if fn is None:
            raise RuntimeError(f"{request.node.name} has no prefetch")
        return _applicable(lambda: fn(_target(request.config)), request.config)
    return _applicable(lambda: future.result(timeout=120), request.config)


def _applicable(compute: Any, config: pytest.Config) -> Any:
    """``compute()``, or a skip that names why the profile cannot express what the case sends."""
    try:
        return compute()
    except NotInProfile as exc:
        pytest.skip(f"{NOT_APPLICABLE}: {exc}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A case whose request the profile cannot express is skipped with that reason, never failed."""
    try:
        return (yield)
    except NotInProfile as exc:
        if item.name not in _REQ_INDEX:
            raise
        pytest.skip(f"{NOT_APPLICABLE}: {exc}")


# --- outcomes ----------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.name not in _REQ_INDEX or not item.get_closest_marker("requirement"):
        user = _user_case(item)
        if user is not None and report.when == "setup":
            report.user_properties.append(("token_conformance_case", user.__dict__.copy()))
        return report
    state = _state(item.config)
    req = by_id(item.name)
    report.user_properties.append(("requirement", req.id))
    report.user_properties.append(("level", req.level.value))
    note = _case_note(state, item.name) if report.when == "call" else None
    if note:
        report.user_properties.append(("case_note", state.redactor.redact(note)))
    if report.when == "call" and item.name == "HEADER-5" and state.target is not None \
            and "web_origins" in state.target.memo:
        # Problems quote the server's answers: redacted like every message.
        verdicts = json.loads(state.redactor.redact(json.dumps(state.target.memo["web_origins"])))
        report.user_properties.append(("web_origins", verdicts))
    if report.when == "call" and report.failed and item.name != LATENCY_CASE and _too_slow_now(state):
        # The failure is a token request that outlived the client's timeout: LATENCY-1's, not this case's.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), 0, f"Skipped: judged by {LATENCY_CASE}: {state.slow_reason}")
        return report
    from .verdict import shorten_tokens

    if report.failed and call.excinfo is not None:
        from .verdict import CaseFailure

        exc = call.excinfo.value
        if isinstance(exc, CaseFailure):
            body = exc.render()
            first = exc.findings[0]
            more = f" (and {len(exc.findings) - 1} more)" if len(exc.findings) > 1 else ""
            report.user_properties.append(
                ("root_cause", shorten_tokens(state.redactor.redact(f"{first.what}: {first.actual}{more}"))))
        else:
            body = f"{call.excinfo.typename}: {exc}\n" + str(report.longrepr)
        if note:
            body += f"\n{note}"
        text = f"{req.id} [{req.level.value}] {req.title}\n  Requirement: {req.sentence}\n{body}"
        report.longrepr = shorten_tokens(state.redactor.redact(text))
    elif report.longrepr is not None:
        lr = report.longrepr
        if isinstance(lr, tuple) and len(lr) == 3:  # a skip: JUnit and -rs need the (path, line, reason) tuple
            report.longrepr = (lr[0], lr[1], shorten_tokens(state.redactor.redact(str(lr[2]))))
        elif state.redactor:
            report.longrepr = state.redactor.redact(str(lr))
    if hasattr(report, "wasxfail") and state.redactor:
        report.wasxfail = state.redactor.redact(report.wasxfail)
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = report.nodeid.rsplit("::", 1)[-1]
    # Records live on the controller (or the only process); xdist replays worker reports here.
    config = _CONFIG.get("config")
    if config is None:
        return
    state = _state(config)
    if name not in _REQ_INDEX:
        # A user case: recorded under its node id (under xdist, from what its worker sent). It counts only in a
        # run with bundled cases: without them the plugin stays inert (_finish).
        name = report.nodeid
        if name not in state.records:
            fields = dict(report.user_properties).get("token_conformance_case")
            if not isinstance(fields, dict):
                return
            state.records[name] = CaseRecord(**fields)
    else:
        state.active = True  # under xdist the controller learns of cases only from reports
    rec = state.records.get(name)
    if rec is None:
        rec = state.records[name] = CaseRecord.for_requirement(by_id(name), _profile_or_none(config))
    rec.duration_s += _own_duration(state, name, report)
    cause = dict(report.user_properties).get("root_cause")
    if cause:
        state.root_causes[name] = str(cause)
    origins = dict(report.user_properties).get("web_origins")
    if isinstance(origins, list) and name == "HEADER-5":
        state.web_origins = origins
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if xfail:
            rec.outcome = "xfailed" if report.skipped else "xpassed"
            rec.message = report.wasxfail
        elif report.passed:
            rec.outcome = "passed"
            rec.message = str(dict(report.user_properties).get("case_note") or "")
        elif report.failed:
            rec.outcome = "failed"
        else:
            rec.outcome = "skipped"
            rec.message = _skip_reason(report)
    elif report.when == "setup":
        if report.skipped:
            rec.outcome = "xfailed" if xfail else "skipped"
            rec.message = report.wasxfail if xfail else _skip_reason(report)
        elif report.failed:
            rec.outcome = "error"
    elif report.when == "teardown" and report.failed and rec.outcome == "passed":
        rec.outcome = "error"
    if report.failed and report.longrepr is not None:
        rec.message = state.redactor.redact(str(report.longrepr))
    if report.when == "call":
        state.marks["last_case_done"] = time.time()
    if report.when == "call" and state.target is not None and state.target.client.down and not state.abort_reason:
        _after_breaker(state, state.target)


def _own_duration(state: _State, name: str, report: pytest.TestReport) -> float:
    """The call's duration, or the case's own time when it ran ahead (concurrency) or prefetched in the background."""
    if report.when != "call":
        return float(report.duration)
    own = state.case_times.get(name)
    span = state.spans.get(name)
    if span is not None:
        own = max(own or 0.0, span[1] - span[0])
    return max(float(report.duration), own or 0.0)


def _case_note(state: _State, case_id: str) -> str | None:
    """What a case left out although it ran (rows whose control got no token): said next to its pass or failure."""
    notes = state.target.memo.get("case_notes") if state.target is not None else None
    return notes.get(case_id) if isinstance(notes, dict) else None


def _too_slow_now(state: _State) -> bool:
    """Whether the client's breaker tripped on a timeout while the target still answers /ping (LATENCY-1)."""
    target = state.target
    if target is None or not target.client.down or state.abort_reason:
        return False
    if state.slow_reason is None:
        _after_breaker(state, target)
    return state.slow_reason is not None


def _after_breaker(state: _State, target: Target) -> None:
    """The client stopped sending: rate-limit budget out or target down (exit 2), or merely too slow (LATENCY-1)."""
    from .preflight import slow_evidence

    client = target.client
    if client.exhausted:
        state.abort_reason = state.redactor.redact(client.exhausted)
        return
    if state.slow_reason:
        return
    from .client import Exchange

    ex = client.last_timeout or Exchange("GET", client.base_url, error=client.down, timeout_s=client.timeout)
    slow = slow_evidence(target, f"{ex.method} {ex.url.removeprefix(client.base_url)}", ex)
    if slow:
        state.slow_reason = state.redactor.redact(slow)
    else:
        state.abort_reason = state.redactor.redact(f"the target stopped answering: {client.down}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """The xdist controller collects nothing itself: learn from the workers which cases will run, so a case that
    never reports (an interrupted run) is "not run" in the reports rather than missing, and the scope is right."""
    config = _CONFIG.get("config")
    if config is None:
        return
    state = _state(config)
    for nodeid in ids:
        name = nodeid.rsplit("::", 1)[-1]
        if name in _REQ_INDEX and name not in state.records:
            state.records[name] = CaseRecord.for_requirement(by_id(name), _profile_or_none(config))
            state.active = True


def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    state = _state(item.config)
    if state.abort_reason and item.name in _REQ_INDEX:
        item.session.shouldstop = state.abort_reason
    elif state.slow_reason and item.name in _REQ_INDEX and item.name != LATENCY_CASE:
        item.add_marker(pytest.mark.skip(reason=f"judged by {LATENCY_CASE}: {state.slow_reason}"))


def _skip_reason(report: pytest.TestReport) -> str:
    lr = report.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return str(lr or "")


def _finish(config: pytest.Config) -> tuple[Any, list[CaseRecord]] | None:
    state = _state(config)
    if not state.active or _is_worker(config) or config.option.collectonly:
        return None
    records = sorted(state.records.values(), key=lambda r: _CONTRACT_ORDER.get(r.id, len(_CONTRACT_ORDER)))
    strict = state.settings.strict if state.settings else bool(_option(config, "token_strict", "bool"))
    summary = summarize(
        records, strict=strict, abort_reason=state.abort_reason, interrupted=state.interrupted,
        contract_ids=tuple(_REQ_INDEX), selection=state.selection or _selection(config),
    )
    summary.root_causes = [
        {"id": r.id, "level": r.level, "title": r.title,
         "cause": state.root_causes.get(r.id) or (r.message.splitlines() or [""])[0]}
        for r in records if r.outcome == "failed"
    ]
    return summary, records


#: Contract order: records, failure details and every report list cases in it (user cases after).
_CONTRACT_ORDER = {r.id: n for n, r in enumerate(REQUIREMENTS)}


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C, SIGTERM (under ``token-conformance check``) or pytest.exit: the run is interrupted, never green.

    pytest's own stop (our abort when the target goes down, -x) raises Session.Interrupted: not an interruption.
    """
    config = _CONFIG.get("config")
    if config is None or isinstance(excinfo.value, pytest.Session.Interrupted):
        return
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    if isinstance(excinfo.value, pytest.exit.Exception):
        state.interrupted = f"pytest.exit ({excinfo.value.msg})"
    else:
        state.interrupted = interruption.last_signal()
    if state.active and not config.option.fulltrace:
        _plain_interrupt_banner(config, state.interrupted)


def _plain_interrupt_banner(config: pytest.Config, what: str) -> None:
    """pytest's banner names the line of our signal handler (conformance/interruption.py:38) and an option
    token-conformance does not have (--full-trace): one line saying what happened instead; the verdict follows."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not hasattr(reporter, "_report_keyboardinterrupt"):
        return

    def banner() -> None:
        reporter.write_sep("!", f"interrupted by {what}")

    reporter._report_keyboardinterrupt = banner


def _contract_order_of_failures(config: pytest.Config) -> None:
    """pytest prints failure details in run order (cases that wait run last); show them in contract order."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for key in ("failed", "error"):
        reports = reporter.stats.get(key)
        if reports:
            reports.sort(key=lambda r: _CONTRACT_ORDER.get(getattr(r, "nodeid", "").rsplit("::", 1)[-1], len(_CONTRACT_ORDER)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _state(session.config)
    done = _finish(session.config)
    if done is not None:
        summary, records = done
        summary.extra["elapsed_s"] = round(time.monotonic() - state.started, 3)
        if state.target is not None or state.worker_stats:
            # Under xdist the workers sent the requests: their answer times and rate limits join the controller's.
            summary.extra.update(_client_stats(state).as_dict())
        if state.target is not None:
            _family_hint(state, records)
            _curl_header_hint(state, records)
        if state.hints:
            summary.extra["hints"] = state.hints
        if state.web_origins:
            summary.extra["web_origins"] = state.web_origins
        summary.extra.update(_traffic(state).as_dict())
        summary.extra["phases_s"] = _phases(state)
        # The verdict is final: a signal from now on changes neither the reports nor the exit code.
        interruption.settle()
        doc = report_document(_target_label(session.config), _profile_dict(session.config), summary, records)
        state.document = doc
        report_dir = _option(session.config, "token_report_dir", "str")
        if report_dir:
            out = Path(report_dir)
            out.mkdir(parents=True, exist_ok=True)
            write_json(out / "conformance.json", doc)
            write_html(out / "conformance.html", doc)
        # Exit code of a conformance run: the verdict, unless something outside the suite failed.
        other_failures = session.testsfailed - sum(1 for r in records if r.outcome in ("failed", "error"))
        if other_failures <= 0 and exitstatus in (0, 1, 2):
            session.exitstatus = summary.exit_code
        state.summary = summary
        state.final_records = records
        _contract_order_of_failures(session.config)
    for future in state.case_runs.values():
        future.cancel()  # a run that stopped early starts no more cases
    if state.target is not None:
        if _is_worker(session.config):
            session.config.workeroutput["token_stats"] = state.target.client.stats.raw()  # type: ignore[attr-defined]
        if _is_worker(session.config) and isinstance(state.target.client, GatedClient):
            traffic = state.target.client.traffic()
            session.config.workeroutput["token_traffic"] = {  # type: ignore[attr-defined]
                "requests": traffic.requests, "intervals": traffic.intervals or []}
        state.target.client.close()
    if state.embedded is not None:
        state.embedded.stop()
    if state.settings is not None and state.settings.browser:
        from .browser import close_all

        close_all()


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_junit(session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
    """After pytest wrote junit.xml: make it say what conformance.json says (conformance.report.junit)."""
    result = yield
    document = _state(session.config).document if _STATE in session.config.stash else None
    xmlpath = getattr(session.config.option, "xmlpath", None)
    if document is not None and xmlpath and not _is_worker(session.config):
        from .report.junit import finish_junit

        finish_junit(Path(os.path.expanduser(os.path.expandvars(xmlpath))), document)
    return result


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: keep what each worker sent (hook of xdist; unused without it)."""
    output = getattr(node, "workeroutput", {})
    traffic = output.get("token_traffic")
    config = _CONFIG.get("config")
    if traffic and config is not None:
        _state(config).worker_traffic.append(traffic)
    if output.get("token_stats") and config is not None:
        _state(config).worker_stats.append(output["token_stats"])


def _client_stats(state: _State) -> ClientStats:
    """Answer times and rate limiting over this process (under xdist: the controller's preflight) and all workers."""
    own = [state.target.client.stats.raw()] if state.target is not None else []
    return ClientStats.merged(own + state.worker_stats)


def _traffic(state: _State) -> Traffic:
    """Requests sent and wall time with one or more outstanding, over this process or all xdist workers."""
    client = state.target.client if state.target is not None else None
    own = client.traffic() if isinstance(client, GatedClient) else Traffic()  # the controller's preflight
    if not state.worker_traffic:
        return own
    spans = [(float(s), float(e)) for w in state.worker_traffic for s, e in w["intervals"]] + (own.intervals or [])
    intervals = merge_intervals(spans)
    requests = own.requests + sum(int(w["requests"]) for w in state.worker_traffic)
    return Traffic(requests, sum(e - s for s, e in intervals), intervals)


def _phases(state: _State) -> dict[str, Any]:
    """Seconds per phase of this session (start-up before it is the caller's to time: ``started_at`` is epoch)."""
    m = state.marks
    end = time.time()
    out: dict[str, Any] = {"started_at": round(m["configured"], 3)}
    steps = [("start_and_collection", "configured", "collected"), ("preflight", "collected", "preflight_done"),
             ("cases", "preflight_done", "last_case_done")]
    for name, a, b in steps:
        if a in m and b in m:
            out[name] = round(m[b] - m[a], 3)
    out["background"] = {name: round(e - s, 3) for name, (s, e) in sorted(state.spans.items())}
    if "last_case_done" in m:
        out["after_cases"] = round(end - m["last_case_done"], 3)
    return out


def _target_label(config: pytest.Config) -> str:
    state = _state(config)
    label = _option(config, "token_target_label", "str")
    if label:
        return str(label)
    if state.settings is not None:
        return ("embedded reference server " if state.settings.embedded else "") + state.settings.url
    return _option(config, "token_server_url", "str") or "embedded reference server (one per worker)"


def _profile_dict(config: pytest.Config) -> dict[str, Any]:
    state = _state(config)
    if state.settings is not None:
        return state.settings.profile.as_dict()
    return load_profile(_option(config, "token_profile", "str")).as_dict()


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
def pytest_terminal_summary_root_causes(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Generator[None, None, None]:
    """One line per failed case, in contract order, before pytest prints the details of each failure."""
    state = _state(config)
    causes = state.summary.root_causes if state.summary is not None else []
    if causes:
        terminalreporter.section("root causes (contract order; details follow)", red=True)
        for c in causes:
            terminalreporter.line(f"{c['id']} [{c['level']}] {c['title']}: {c['cause']}"[:400])
    return (yield)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    summary = state.summary
    if summary is None:
        return
    records = state.final_records
    terminalreporter.section("token-conformance")
    terminalreporter.line(f"target: {_target_label(config)}  profile: {_profile_dict(config)['name']}")
    colours = {"conforming": {"green": True}, "not conforming": {"red": True}}
    gated = bool(_option(config, "token_gated_by_baseline", "bool"))
    if state.abort_reason and records and all(r.outcome == "not run" for r in records):
        # Stopped before any case (a login wall, a target that does not answer): the reason was said above and
        # the verdict says it again; a table of cases that never ran would bury it (the reports list them).
        lines = [f"cases: {len(records)} not run (listed in the reports)",
                 terminal_table(summary, records, gated_by_baseline=gated)[-1]]
    else:
        lines = terminal_table(summary, records, width=getattr(getattr(terminalreporter, "_tw", None), "fullwidth", 100),
                               gated_by_baseline=gated)
        # What the target did during the run goes before the verdict, which stays the last line of a CI log.
        run_lines = _run_lines(summary.extra)
        if "requests_sent" in summary.extra:
            run_lines.insert(0, _traffic_line(summary.extra))
        lines[len(lines) - 1:len(lines) - 1] = run_lines
    for line in lines:
        if line.startswith("verdict:"):
            kw = colours.get(summary.verdict, {"yellow": True})
        else:
            kw = {"yellow": True} if line.startswith("hint:") else {}
        terminalreporter.line(line, **kw)


def _family_hint(state: _State, records: list[CaseRecord]) -> None:
    """ROUTE-1 or TOKEN-2 failed: probe (a handful of requests, failing runs only) whether another bundled
    profile fits the target (the other family's role words or token version) and say so."""
    from .detect import detect

    failed = {r.id for r in records if r.outcome == "failed"}
    target = state.target
    if state.abort_reason or target is None or not failed & {"ROUTE-1", "TOKEN-2"}:
        return
    client = TokenServerClient(target.settings.url, timeout=min(target.settings.timeout, 5.0),
                               headers=target.client.headers)
    try:
        if _own_profile_answers(target, client):
            return  # a profile of the user's own whose route answers a token at its pointer: no family fits better
        found = detect(client)
    finally:
        client.close()
    if found.profile and found.profile != target.profile.name:
        state.hints.append(state.redactor.redact(
            f"the target looks like {found.profile} ({found.reason}; confidence {found.confidence}): "
            f"try --profile {found.profile} (or --profile auto)"))


def _own_profile_answers(target: Target, client: TokenServerClient) -> bool:
    """Whether the profile is the user's own (not bundled) and its RTC request gets a token at its pointer."""
    from .profiles import bundled_names
    from .target import extract_token

    profile = target.profile
    if profile.name in bundled_names():
        return False
    request = profile.rtc_request(channel="conformance-detect", role=profile.issued_roles[0])
    ex = client.request(request.method, request.path, json_body=request.json_body, content=request.content,
                        content_type=request.content_type)
    op = profile.operations["rtc"]
    return extract_token(ex, op.token, status=op.status).raw is not None


def _curl_header_hint(state: _State, records: list[CaseRecord]) -> None:
    """Reproduce lines show configured headers as shell variables (never their values): say once which to set,
    whatever the headers came from (--header, $TOKEN_SERVER_HEADERS, --header-file)."""
    from .headers import env_name

    headers = state.settings.headers if state.settings is not None else {}
    if not headers or not any(r.outcome == "failed" for r in records):
        return
    exports = " ".join(f"{env_name(name)}='...'" for name in headers)
    state.hints.append(f"Reproduce lines read header values from the environment: export {exports} "
                       "(your values) before running them")


def _run_lines(extra: dict[str, Any]) -> list[str]:
    """Answer times, rate limiting and hints, one line each (what the target did during the run)."""
    lines = []
    times = extra.get("answer_times") or {}
    if times.get("count"):
        lines.append(f"answer times: {times['count']} answers, p50 {times['p50_ms']:g} ms, p95 {times['p95_ms']:g} ms, "
                     f"p99 {times['p99_ms']:g} ms, max {times['max_ms']:g} ms"
                     + (f", {times['timeouts']} timed out" if times.get("timeouts") else ""))
    limits = extra.get("rate_limits") or {}
    if limits.get("limited"):
        lines.append(f"rate limits: the target limited the run {limits['limited']} time(s), "
                     f"{limits['waited_s']:g} s waited (longest {limits['longest_wait_s']:g} s)")
    if limits.get("paced_s"):
        lines.append(f"pacing: {limits['paced_s']:g} s spent keeping under --max-rps")
    lines += [f"hint: {h}" for h in extra.get("hints", [])]
    return lines


def _traffic_line(extra: dict[str, Any]) -> str:
    """What the run cost the target and where its time went, on one line."""
    elapsed = extra.get("elapsed_s")
    of = f" of the {elapsed:.1f} s session" if isinstance(elapsed, (int, float)) else ""
    return (f"requests: {extra['requests_sent']} sent; {extra['waiting_s']:.1f} s{of} "
            "with one or more waiting for the target")
