"""The target under judgement: settings, profile and client, plus the fetch helpers cases share.

Built once per session by the plugin and handed to cases as the ``token_target``
fixture. It turns an HTTP exchange into a token (or a reason there is none),
so cases read as requirements rather than as HTTP plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import Exchange, TokenServerClient
from .profiles import Profile
from .tokens import Token, TokenError, decode

#: The renewal cycle against the embedded reference server: on loopback an answer takes a
#: millisecond, so a 1 s margin is as safe as 2 s over a 300 ms link, and the run waits ~2 s, not ~3.5 s.
EMBEDDED_RENEW_EXPIRY = 3
EMBEDDED_RENEW_MARGIN = 1.0


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is configured with. The certificate is never part of repr()."""

    url: str
    profile: Profile
    app_id: str | None = None
    certificate: str | None = field(default=None, repr=False)
    strict: bool = False
    timeout: float = 10.0
    #: Allowed difference, in seconds, between the server's clock and the harness's.
    max_skew: float = 5.0
    #: Renewal case: lifetime asked for and margin before expiry at which to renew (the
    #: SDK's 30 s will-expire warning, scaled down so the cycle takes seconds).
    renew_expiry: int = 6
    renew_margin: float = 2.0
    #: Property-based case: examples per operation.
    prop_examples: int = 12
    embedded: bool = False
    #: Configured request headers (credentials): every value is a secret, never part of repr().
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    #: Pacing (requests per second, None: as fast as the cases go) and the rate-limit wait budget in seconds.
    max_rps: float | None = None
    wait_budget: float = 60.0

    @property
    def has_credentials(self) -> bool:
        return bool(self.headers)


@dataclass
class Fetched:
    """A token request's exchange and the token found in it, or why there is none."""

    exchange: Exchange
    key: str
    raw: str | None = None
    token: Token | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.token is not None


def extract_token(exchange: Exchange, key: str) -> Fetched:
    """Read ``key`` from the JSON body and decode it, as a client would (status first)."""
    f = Fetched(exchange=exchange, key=key)
    if exchange.error:
        f.problem = exchange.error
        return f
    if exchange.status != 200:
        f.problem = f"status {exchange.status}: {exchange.summary()}"
        return f
    body = exchange.json_or_none()
    if not isinstance(body, dict):
        f.problem = f"body is not a JSON object: {exchange.summary()}"
        return f
    raw = body.get(key)
    if not isinstance(raw, str) or not raw:
        f.problem = f"no non-empty string under {key!r}: {exchange.summary()}"
        return f
    f.raw = raw
    try:
        f.token = decode(raw)
    except TokenError as exc:
        f.problem = f"{key} does not decode: {exc}"
    return f


class Target:
    """One token server as the suite sees it."""

    def __init__(self, settings: RunSettings, client: TokenServerClient) -> None:
        self.settings = settings
        self.profile = settings.profile
        self.client = client
        #: Answers several cases judge (the bad-input catalogue), fetched once per target.
        self.memo: dict[str, Any] = {}

    def with_expiry(self, path: str, expiry: int | str | None) -> str:
        if expiry is None:
            return path
        return f"{path}?{self.profile.expiry_param}={expiry}"

    def rtc_path(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True,
    ) -> str:
        return self.with_expiry(self.profile.rtc_path(channel, role, tokentype, uid, slash=slash), expiry)

    def fetch_rtc(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True, headers: dict[str, str] | None = None,
    ) -> Fetched:
        ex = self.client.get(self.rtc_path(channel, role, tokentype, uid, expiry=expiry, slash=slash), headers=headers)
        return extract_token(ex, "rtcToken")

    def fetch_rtm(self, uid: str = "conformance-user", *, expiry: int | None = None) -> Fetched:
        return extract_token(self.client.get(self.with_expiry(self.profile.rtm_path(uid), expiry)), "rtmToken")

    def fetch_rte(self, channel: str, role: str, tokentype: str, uid: str) -> tuple[Fetched, Fetched]:
        ex = self.client.get(self.profile.rte_path(channel, role, tokentype, uid))
        return extract_token(ex, "rtcToken"), extract_token(ex, "rtmToken")

    def post_get_token(self, body: dict[str, Any]) -> Fetched:
        ex = self.client.request("POST", self.profile.routes["post_get_token"], json_body=body)
        return extract_token(ex, "token")
