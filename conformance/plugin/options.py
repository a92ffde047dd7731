"""Options of the pytest plugin (command line > ini > environment) and the settings and target built from them."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ..browser import BrowserError, find_browser, require_playwright
from ..certificate import CERTIFICATE_ENV, CertificateError, read_certificate
from ..concurrency import DEFAULT_CONCURRENCY, GatedClient
from ..cors import OriginError, parse_origins
from ..deviations import DeviationsError, load_deviations
from ..headers import HeaderError, resolve
from ..profiles import Profile, ProfileError, load_profile
from ..target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN, RunSettings, Target
from .state import RunState, state_of

# (option, ini/dest name, environment variable, help, kind)
OPTIONS: list[tuple[str, str, str | None, str, str]] = [
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
    for opt, dest, env, help_text, kind in OPTIONS:
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


def read_option(config: pytest.Config, dest: str, kind: str) -> Any:
    """Command line > ini > environment > None."""
    value = config.getoption(dest, default=None)
    if value is None:
        ini = config.getini(dest)
        value = ini if ini not in (None, "", []) else None
    env = next((e for o, d, e, _h, _k in OPTIONS if d == dest), None)
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


def profile_or_none(config: pytest.Config) -> Profile | None:
    """The run's profile, for the requirement sentences (None if the settings cannot be built: a usage error)."""
    state = state_of(config)
    if state.settings is not None:
        return state.settings.profile
    try:
        return load_profile(read_option(config, "token_profile", "str"))
    except ProfileError:
        return None


def selection_text(config: pytest.Config) -> str:
    """What narrowed the run, as the user typed it: --token-case, -k, -m."""
    parts = (
        ("--case", read_option(config, "token_case", "str")),
        ("-k", getattr(config.option, "keyword", "")),
        ("-m", getattr(config.option, "markexpr", "")),
    )
    return ", ".join(f"{label} {value!r}" for label, value in parts if value)


def read_deviations(config: pytest.Config) -> dict[str, str]:
    """The known deviations; a bad file ends the run as "could not judge" naming the file, not "no case ran"."""
    try:
        return load_deviations(read_option(config, "token_deviations", "str"))
    except DeviationsError as exc:
        state_of(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _read_certificate(config: pytest.Config) -> str | None:
    try:
        return read_certificate(read_option(config, "token_app_certificate_file", "str"))
    except CertificateError as exc:
        state_of(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def run_settings(config: pytest.Config) -> RunSettings:
    state = state_of(config)
    if state.settings is not None:
        return state.settings
    try:
        profile = load_profile(read_option(config, "token_profile", "str"))
    except ProfileError as exc:
        raise pytest.UsageError(str(exc)) from None
    url = read_option(config, "token_server_url", "str")
    certificate = _read_certificate(config)
    headers = _headers(config)
    app_id = read_option(config, "token_app_id", "str")
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
        v = read_option(config, dest, kind)
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
        strict=bool(read_option(config, "token_strict", "bool")), embedded=embedded,
        web_origins=_web_origins(config), browser=_browser(config), **values,
    )
    if state.settings.renew_margin >= state.settings.renew_expiry:
        raise pytest.UsageError("--token-renew-margin must be smaller than --token-renew-expiry")
    return state.settings


def _headers(config: pytest.Config) -> dict[str, str]:
    """Configured headers: $TOKEN_SERVER_HEADERS, the header file, ini token_headers, then --token-header."""
    specs = list(config.getini("token_headers") or []) + list(config.getoption("token_header", default=None) or [])
    try:
        return resolve(specs, read_option(config, "token_header_file", "str"))
    except HeaderError as exc:
        raise pytest.UsageError(str(exc)) from None


def _web_origins(config: pytest.Config) -> tuple[str, ...]:
    """--token-web-origin (repeatable) > ini token_web_origins > $TOKEN_WEB_ORIGINS, each a checked origin."""
    given = list(config.getoption("token_web_origin", default=None) or []) or list(config.getini("token_web_origins") or [])
    if not given:
        given = os.environ.get(WEB_ORIGINS_ENV, "").replace(",", " ").split()
    try:
        return parse_origins(given)
    except OriginError as exc:
        raise pytest.UsageError(str(exc)) from None


def _browser(config: pytest.Config) -> str | None:
    """The Chromium executable --token-browser drives, or None; no Playwright or no browser: a usage error."""
    path = read_option(config, "token_browser_path", "str")
    if not read_option(config, "token_browser", "bool"):
        return None

    try:
        require_playwright()
        return find_browser(path)
    except BrowserError as exc:
        state_of(config).abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _start_embedded(state: RunState) -> tuple[str, str, str]:
    """No URL given: judge the reference server, started here on a free loopback port."""
    # Late: the reference server (starlette, uvicorn) costs ~0.19 s of import (python -X importtime) that every
    # pytest run in an environment with the plugin would pay; only a run without --token-server-url needs it.
    from ..reference.server import ReferenceServer

    server = ReferenceServer()
    server.start()
    state.embedded = server
    return server.url, server.settings.app_id, server.settings.certificate


def target_of(config: pytest.Config) -> Target:
    state = state_of(config)
    if state.target is None:
        settings = run_settings(config)
        client = GatedClient(
            settings.url, concurrency=case_concurrency(config), timeout=settings.timeout,
            verify_tls=not read_option(config, "token_insecure", "bool"),
            headers=settings.headers, max_rps=settings.max_rps, wait_budget=settings.wait_budget,
        )
        state.target = Target(settings, client)
    return state.target


def case_concurrency(config: pytest.Config) -> int:
    value = read_option(config, "token_concurrency", "int")
    if value is None:
        return DEFAULT_CONCURRENCY
    if value < 1:
        raise pytest.UsageError(f"--token-concurrency must be at least 1, not {value}")
    return int(value)


def target_label(config: pytest.Config) -> str:
    state = state_of(config)
    label = read_option(config, "token_target_label", "str")
    if label:
        return str(label)
    if state.settings is not None:
        return ("embedded reference server " if state.settings.embedded else "") + state.settings.url
    return read_option(config, "token_server_url", "str") or "embedded reference server (one per worker)"


def profile_dict(config: pytest.Config) -> dict[str, Any]:
    state = state_of(config)
    if state.settings is not None:
        return state.settings.profile.as_dict()
    return load_profile(read_option(config, "token_profile", "str")).as_dict()
