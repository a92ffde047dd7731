"""Options of the pytest plugin (command line > ini > environment) and the settings and target built from them."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ..browser import BrowserError, find_browser, require_playwright
from ..certificate import CertificateError, read_certificate
from ..concurrency import GatedClient
from ..cors import OriginError, parse_origins
from ..deviations import DeviationsError, load_deviations
from ..headers import HeaderError, resolve
from ..profiles import Profile, ProfileError, load_profile
from ..settings.declarations import DEFAULT_CONCURRENCY, add_pytest_options, option, problem
from ..target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN, RunSettings, Target
from .handover import handed_inputs, handed_option
from .state import RunState, state_of


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser)


def read_option(config: pytest.Config, key: str) -> Any:
    """Option ``key`` of the declarations: command line > hand-over (conformance.plugin.handover) > ini >
    environment > None, as its kind."""
    declared = option(key)
    dest, kind, env = declared.dest or key, declared.kind, declared.env
    value = config.getoption(dest, default=None)
    if value is None:
        value = handed_option(config, key)
    if value is None:
        ini = config.getini(declared.ini or dest)
        value = ini if ini not in (None, "", []) else None
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
    if state.setup.settings is not None:
        return state.setup.settings.profile
    handed = handed_inputs(config)
    if handed is not None and handed.profile is not None:
        return handed.profile
    try:
        return load_profile(read_option(config, "profile"))
    except ProfileError:
        return None


def selection_text(config: pytest.Config) -> str:
    """What narrowed the run, as the user typed it: --token-case, -k, -m."""
    parts = (
        ("--case", read_option(config, "case")),
        ("-k", getattr(config.option, "keyword", "")),
        ("-m", getattr(config.option, "markexpr", "")),
    )
    return ", ".join(f"{label} {value!r}" for label, value in parts if value)


def read_deviations(config: pytest.Config) -> dict[str, str]:
    """The known deviations; a bad file ends the run as "could not judge" naming the file, not "no case ran"."""
    try:
        return load_deviations(read_option(config, "deviations"))
    except DeviationsError as exc:
        state_of(config).stops.abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _read_certificate(config: pytest.Config) -> str | None:
    try:
        return read_certificate(read_option(config, "certificate_file"))
    except CertificateError as exc:
        state_of(config).stops.abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def run_settings(config: pytest.Config) -> RunSettings:
    state = state_of(config)
    if state.setup.settings is not None:
        return state.setup.settings
    handed = handed_inputs(config)
    if handed is not None and handed.profile is not None:
        profile = handed.profile
    else:
        try:
            profile = load_profile(read_option(config, "profile"))
        except ProfileError as exc:
            raise pytest.UsageError(str(exc)) from None
    url = read_option(config, "url")
    # Handed over by the API (conformance.plugin.handover): read once there; else this run's own options.
    certificate = handed.certificate if handed is not None else _read_certificate(config)
    headers = dict(handed.headers) if handed is not None else _headers(config)
    app_id = read_option(config, "app_id")
    embedded = False
    if url:
        url = url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise pytest.UsageError(f"--token-server-url must be an http:// or https:// URL, not {url!r}")
    values: dict[str, Any] = {}
    for key, field_name in [("timeout", "timeout"), ("max_skew", "max_skew"), ("renew_expiry", "renew_expiry"),
                            ("renew_margin", "renew_margin"), ("prop_examples", "prop_examples"),
                            ("max_rps", "max_rps"), ("rate_limit_budget", "wait_budget")]:
        v = read_option(config, key)
        if v is not None:
            reason = problem(key, v)
            if reason:
                raise pytest.UsageError(f"{option(key).pytest_flag} {reason}, not {v}")
            values[field_name] = v
    values.setdefault("timeout", profile.client_timeout)
    # --max-rps is the whole run's rate: each of N xdist workers (check --workers N) paces its own requests at 1/N
    # of it (each had the whole rate, so two workers sent twice what the user allowed).
    workers = int(getattr(config, "workerinput", {}).get("workercount") or 1)
    if values.get("max_rps") and workers > 1:
        values["max_rps"] = values["max_rps"] / workers
    if not url:
        url, app_id, certificate = _start_embedded(state)
        embedded = True
        values.setdefault("renew_expiry", EMBEDDED_RENEW_EXPIRY)
        values.setdefault("renew_margin", EMBEDDED_RENEW_MARGIN)
    state.setup.redactor.add(certificate)
    for value in headers.values():
        state.setup.redactor.add_header_value(value)
    settings = state.setup.settings = RunSettings(
        url=url, profile=profile, app_id=app_id, certificate=certificate, headers=headers,
        strict=bool(read_option(config, "strict")), embedded=embedded,
        web_origins=_web_origins(config), browser=_browser(config), **values,
    )
    if settings.renew_margin >= settings.renew_expiry:
        raise pytest.UsageError("--token-renew-margin must be smaller than --token-renew-expiry")
    return settings


def _listed(config: pytest.Config, key: str, *, cli_first: bool) -> list[str]:
    """A repeatable option's values: the command line's (after the handed ones, as the API's flags came before a
    caller's), else the ini key's (``cli_first``), or both (ini first)."""
    declared = option(key)
    given = [*(handed_option(config, key) or ()), *(config.getoption(str(declared.dest), default=None) or ())]
    ini = list(config.getini(str(declared.ini)) or [])
    return (given or ini) if cli_first else ini + given


def _headers(config: pytest.Config) -> dict[str, str]:
    """Configured headers: $TOKEN_SERVER_HEADERS, the header file, ini token_headers, then --token-header."""
    specs = _listed(config, "header", cli_first=False)
    try:
        return resolve(specs, read_option(config, "header_file"))
    except HeaderError as exc:
        raise pytest.UsageError(str(exc)) from None


def _web_origins(config: pytest.Config) -> tuple[str, ...]:
    """--token-web-origin (repeatable) > ini token_web_origins > $TOKEN_WEB_ORIGINS, each a checked origin."""
    given = _listed(config, "web_origin", cli_first=True)
    env = option("web_origin").env
    if not given and env:
        given = os.environ.get(env, "").replace(",", " ").split()
    try:
        return parse_origins(given)
    except OriginError as exc:
        raise pytest.UsageError(str(exc)) from None


def _browser(config: pytest.Config) -> str | None:
    """The Chromium executable --token-browser drives, or None; no Playwright or no browser: a usage error."""
    path = read_option(config, "browser_path")
    if not read_option(config, "browser"):
        return None

    try:
        require_playwright()
        return find_browser(path)
    except BrowserError as exc:
        state_of(config).stops.abort_reason = str(exc)
        raise pytest.UsageError(str(exc)) from None


def _start_embedded(state: RunState) -> tuple[str, str, str]:
    """No URL given: judge the reference server, started here on a free loopback port."""
    # Late: the reference server (starlette, uvicorn) costs ~0.19 s of import (python -X importtime) that every
    # pytest run in an environment with the plugin would pay; only a run without --token-server-url needs it.
    from ..reference.server import ReferenceServer

    server = ReferenceServer()
    server.start()
    state.setup.embedded = server
    return server.url, server.settings.app_id, server.settings.certificate


def target_of(config: pytest.Config) -> Target:
    state = state_of(config)
    if state.setup.target is None:
        settings = run_settings(config)
        client = GatedClient(
            settings.url, concurrency=case_concurrency(config), timeout=settings.timeout,
            verify_tls=not read_option(config, "insecure"),
            headers=settings.headers, max_rps=settings.max_rps, wait_budget=settings.wait_budget,
        )
        state.setup.target = Target(settings, client)
    return state.setup.target


def case_concurrency(config: pytest.Config) -> int:
    value = read_option(config, "concurrency")
    if value is None:
        return DEFAULT_CONCURRENCY
    reason = problem("concurrency", value)
    if reason:
        raise pytest.UsageError(f"--token-concurrency {reason}, not {value}")
    return int(value)


def target_label(config: pytest.Config) -> str:
    state = state_of(config)
    label = read_option(config, "target_label")
    if label:
        return str(label)
    if state.setup.settings is not None:
        return ("embedded reference server " if state.setup.settings.embedded else "") + state.setup.settings.url
    return read_option(config, "url") or "embedded reference server (one per worker)"


def profile_dict(config: pytest.Config) -> dict[str, Any]:
    state = state_of(config)
    if state.setup.settings is not None:
        return state.setup.settings.profile.as_dict()
    handed = handed_inputs(config)
    if handed is not None and handed.profile is not None:
        return handed.profile.as_dict()
    return load_profile(read_option(config, "profile")).as_dict()
