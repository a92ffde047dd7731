"""The fixtures cases and users' own tests take (docs/plugin.md)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from ..cases import NOT_APPLICABLE
from ..client import TokenServerClient
from ..profiles import NotInProfile
from ..target import Target
from ..tokens import decode
from .options import target_of
from .state import REQ_INDEX, state_of


@pytest.fixture(scope="session")
def token_target(request: pytest.FixtureRequest) -> Target:
    """conformance.target.Target: the server under judgement (session scope).

    ``fetch_rtc(channel, role, tokentype, uid, expiry=)``, ``fetch_rtm(uid)`` and ``post_get_token(body)`` return
    a Fetched (``.exchange``, ``.raw`` token string, decoded ``.token`` or ``.problem``); ``.settings`` holds the
    URL, app id, certificate and timeouts, ``.profile`` the routes, ``.client`` the bounded client.
    Without --token-server-url it is the embedded reference server. See docs/plugin.md.
    """
    return target_of(request.config)


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
    return decode


@pytest.fixture
def prefetched(request: pytest.FixtureRequest) -> Any:
    """The result of this case's background prefetch (started when the run began)."""
    state = state_of(request.config)
    future = state.background.prefetches.get(request.node.name)
    if future is None:
        fn = getattr(request.node.obj, "__prefetch__", None)
        if fn is None:
            raise RuntimeError(f"{request.node.name} has no prefetch")
        return _applicable(lambda: fn(target_of(request.config)), request.config)
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
        if item.name not in REQ_INDEX:
            raise
        pytest.skip(f"{NOT_APPLICABLE}: {exc}")

