"""A worked example of your own requirements next to the bundled contract (docs/plugin.md walks through it).

Against your server, together with the bundled suite (your cases then join the verdict and the reports):

    pytest --pyargs conformance.suite path/to/test_my_server.py --token-server-url https://tokens.staging.example.com

Alone, it is an ordinary pytest file: without ``--token-server-url`` the fixtures judge the embedded reference
server, which is how the project's CI runs this very file.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from conformance.client import TokenServerClient
from conformance.target import Target
from conformance.tokens import Token
from conformance.verdict import Findings


@pytest.mark.must
@pytest.mark.requirement("MY-1", sentence="A publisher asking for channel 'lobby' and uid 7 gets a token for both.")
def test_lobby_token_is_bound(token_target: Target) -> None:
    """Lobby tokens are bound to their channel and uid"""
    fetched = token_target.fetch_rtc(channel="lobby", uid="7")
    assert fetched.token is not None, fetched.problem
    assert fetched.token.binds("lobby", 7), "the token is for another channel or uid"


@pytest.mark.should
@pytest.mark.requirement("MY-2")
def test_token_lives_at_least_ten_minutes(token_target: Target, token_decoder: Callable[[str], Token]) -> None:
    """Tokens last at least ten minutes

    Shorter lifetimes make our clients renew more often than the SDK's warning allows for.
    """
    fetched = token_target.fetch_rtc(channel="lobby", uid="7")
    assert fetched.raw is not None, fetched.problem
    token = token_decoder(fetched.raw)  # the codec, for a token string you got some other way
    expires = token.earliest_privilege_expiry()  # unix time; None: never expires (the contract's EXPIRY cases judge that)
    left = None if expires is None else expires - time.time()
    f = Findings()  # h2spec-style "Expected / Actual" with a curl line, like the bundled cases
    f.check(left is None or left >= 600, "lifetime of a fresh token", "at least 600 s", "never" if left is None else f"{left:.0f} s", fetched.exchange)
    f.conclude()


@pytest.mark.may
@pytest.mark.requirement("MY-3")
def test_health_route(token_client: TokenServerClient, token_server_url: str) -> None:
    """A /ping route answers"""
    exchange = token_client.get("/ping")  # an Exchange: status, headers, body, curl(); never raises for HTTP errors
    assert exchange.error is None, f"{token_server_url} did not answer: {exchange.error}"
    assert exchange.status == 200, exchange.summary()


@pytest.mark.must
@pytest.mark.requirement("MY-4", sentence="A publisher token lets its holder publish audio; a subscriber token does not.")
def test_publisher_may_publish_audio(token_target: Target) -> None:
    """Publishers may publish audio, subscribers may not"""
    publisher = token_target.fetch_rtc(channel="lobby", role="publisher", uid="7")
    subscriber = token_target.fetch_rtc(channel="lobby", role="subscriber", uid="8")  # the profile maps role words
    assert publisher.token is not None and subscriber.token is not None, publisher.problem or subscriber.problem
    f = Findings()
    # grants() takes the words you would use ("publish_audio", "publish", "join") or the token's own privilege
    # names ("publish_audio_stream"); a misspelt name is an error, never a quiet False.
    f.check(publisher.token.rtc is not None and publisher.token.rtc.grants("publish_audio"),
            "privileges of a publisher token", "publish_audio_stream among them",
            str(sorted(publisher.token.rtc.privilege_names if publisher.token.rtc else [])), publisher.exchange)
    f.check(subscriber.token.rtc is not None and not subscriber.token.rtc.grants("publish_audio"),
            "privileges of a subscriber token", "no publish privilege",
            str(sorted(subscriber.token.rtc.privilege_names if subscriber.token.rtc else [])), subscriber.exchange)
    f.conclude()
