"""The target under judgement: settings, profile and client, plus the fetch helpers cases share.

Built once per session by the plugin and handed to cases as the ``token_target``
fixture. It turns an HTTP exchange into a token (or a reason there is none),
so cases read as requirements rather than as HTTP plumbing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import Exchange, TokenServerClient
from .profiles import Operation, Profile, Request, resolve_pointer
from .settings.declarations import (
    DEFAULT_MAX_SKEW,
    DEFAULT_PROP_EXAMPLES,
    DEFAULT_RATE_LIMIT_BUDGET,
    DEFAULT_RENEW_EXPIRY,
    DEFAULT_RENEW_MARGIN,
    DEFAULT_TIMEOUT,
)
from .tokens import Token, TokenError, decode

#: The renewal cycle against the embedded reference server: the same 2 s margin as for any
#: target, on a 4 s token instead of 6 s (on loopback nothing needs the longer lifetime), so the
#: run waits 1-2 s for the renewal, not 3-4 s.
EMBEDDED_RENEW_EXPIRY = 4
EMBEDDED_RENEW_MARGIN = 2.0


@dataclass(frozen=True)
class RunSettings:
    """Everything a run is configured with. The certificate is never part of repr()."""

    url: str
    profile: Profile
    app_id: str | None = None
    certificate: str | None = field(default=None, repr=False)
    strict: bool = False
    timeout: float = DEFAULT_TIMEOUT
    #: Allowed difference, in seconds, between the server's clock and the harness's.
    max_skew: float = DEFAULT_MAX_SKEW
    #: Renewal case: lifetime asked for and margin before expiry at which to renew (the
    #: SDK's 30 s will-expire warning, scaled down so the cycle takes seconds).
    renew_expiry: int = DEFAULT_RENEW_EXPIRY
    renew_margin: float = DEFAULT_RENEW_MARGIN
    #: Property-based case: examples per operation.
    prop_examples: int = DEFAULT_PROP_EXAMPLES
    embedded: bool = False
    #: Configured request headers (credentials): every value is a secret, never part of repr().
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    #: Pacing (requests per second, None: as fast as the cases go) and the rate-limit wait budget in seconds.
    max_rps: float | None = None
    wait_budget: float = DEFAULT_RATE_LIMIT_BUDGET
    #: Origins of the web apps that fetch tokens from a page (--web-origin and the profile's web_origins): HEADER-5.
    web_origins: tuple[str, ...] = ()
    #: The Chromium executable that confirms HEADER-5 (--browser), or None: judged by the Fetch standard alone.
    browser: str | None = None

    @property
    def has_credentials(self) -> bool:
        return bool(self.headers)

    @property
    def origins(self) -> tuple[str, ...]:
        """Every declared web origin: the profile's, then the command line's (duplicates once)."""
        return tuple(dict.fromkeys((*self.profile.web_origins, *self.web_origins)))


@dataclass
class Fetched:
    """A token request's exchange and the token found in it, or why there is none."""

    exchange: Exchange
    key: str
    raw: str | None = None
    token: Token | None = None
    problem: str | None = None
    #: The uid the answer says the token is for (profiles with a ``uid`` pointer), as text.
    answered_uid: str | None = None

    @property
    def ok(self) -> bool:
        return self.token is not None


#: How messages name the token's place when the answer is the token itself (profile ``"token": ""``).
WHOLE_BODY = "the whole body"


def _key_name(pointer: str) -> str:
    """How messages name the token's place: ``rtcToken`` for ``/rtcToken``, the pointer when it is nested."""
    if pointer == "":
        return WHOLE_BODY
    bare = pointer[1:]
    return bare if bare and "/" not in bare else pointer


def extract_token(exchange: Exchange, key: str, *, status: int = 200, uid_pointer: str | None = None) -> Fetched:
    """Read the token at ``key`` (a JSON pointer, or a top-level key) and decode it, as a client would (status first)."""
    pointer = key if key.startswith("/") or key == "" else "/" + key
    f = Fetched(exchange=exchange, key=_key_name(pointer))
    if exchange.error:
        f.problem = exchange.error
        return f
    if exchange.status != status:
        f.problem = f"status {exchange.status}: {exchange.summary()}"
        return f
    if pointer == "":  # the answer is the token itself (text/plain, text/html), whitespace around it stripped
        raw: Any = exchange.text.strip()
        if not raw:
            f.problem = f"an empty body where the token should be: {exchange.summary()}"
            return f
        f.raw = raw
        try:
            f.token = decode(raw)
        except TokenError as exc:
            f.problem = f"the body does not decode as a token: {exc}"
        return f
    body = exchange.json_or_none()
    if not isinstance(body, dict):
        f.problem = f"body is not a JSON object: {exchange.summary()}"
        return f
    try:
        raw = resolve_pointer(body, pointer)
    except KeyError:
        raw = None
    if not isinstance(raw, str) or not raw:
        f.problem = f"no non-empty string under {f.key!r}: {exchange.summary()}"
        return f
    f.raw = raw
    if uid_pointer is not None:
        try:
            answered = resolve_pointer(body, uid_pointer)
        except KeyError:
            answered = None
        if isinstance(answered, (int, str)) and not isinstance(answered, bool):
            f.answered_uid = str(answered)
    try:
        f.token = decode(raw)
    except TokenError as exc:
        f.problem = f"{f.key} does not decode: {exc}"
    return f


class Target:
    """One token server as the suite sees it: every request is built from the profile.

    Cases speak canonical values (role ``publisher``, token type ``uid``, expiry in seconds); the profile puts
    them where this server wants them. A request the profile cannot express raises ``NotInProfile``, which the
    plugin reports as a skip naming the reason.
    """

    def __init__(self, settings: RunSettings, client: TokenServerClient) -> None:
        self.settings = settings
        self.profile = settings.profile
        self.client = client
        #: Answers several cases judge (the bad-input catalogue), fetched once per target.
        self.memo: dict[str, Any] = {}

    # --- sending ----------------------------------------------------------------------------------

    def send(self, request: Request, *, method: str | None = None, headers: dict[str, str] | None = None) -> Exchange:
        """Send a request the profile built (``method`` overrides its method: wrong-method probes, preflights)."""
        return self.client.request(method or request.method, request.path, headers=headers,
                                   json_body=request.json_body, content=request.content,
                                   content_type=request.content_type)

    def rtc_request(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True, lenient: bool = False,
    ) -> Request:
        return self.profile.rtc_request(channel, role, tokentype, uid, expiry=expiry, slash=slash, lenient=lenient)

    def send_rtc(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True, headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> Exchange:
        """The RTC token request for these values, sent; the exchange as it came back."""
        return self.send(self.rtc_request(channel, role, tokentype, uid, expiry=expiry, slash=slash),
                         method=method, headers=headers)

    def _op(self, tokentype: str = "uid", name: str = "rtc") -> Operation:
        if name == "rtc" and tokentype == "userAccount":
            op = self.profile.account_operation()
            return op if op is not None else self.profile.operations["rtc"]
        return self.profile.operation(name)

    # --- the helpers cases were written against (signatures kept) ----------------------------------

    def with_expiry(self, path: str, expiry: int | str | None) -> str:
        if expiry is None:
            return path
        return f"{path}{'&' if '?' in path else '?'}{self.profile.expiry_param}={self.profile.expiry_value(expiry, lenient=True)}"

    def rtc_path(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True,
    ) -> str:
        """The RTC request's path and query (GET shapes; for a body shape use :meth:`send_rtc`)."""
        return self.rtc_request(channel, role, tokentype, uid, expiry=expiry, slash=slash, lenient=True).path

    def fetch_rtc(
        self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid", uid: str = "0",
        *, expiry: int | str | None = None, slash: bool = True, headers: dict[str, str] | None = None,
    ) -> Fetched:
        ex = self.send_rtc(channel, role, tokentype, uid, expiry=expiry, slash=slash, headers=headers)
        op = self._op(tokentype)
        return extract_token(ex, op.token, status=op.status, uid_pointer=op.uid)

    def fetch_rtm(self, uid: str = "conformance-user", *, expiry: int | None = None) -> Fetched:
        op = self.profile.operation("rtm")
        ex = self.send(self.profile.request("rtm", uid=uid, expiry=expiry))
        return extract_token(ex, op.token, status=op.status)

    def fetch_rte(self, channel: str, role: str, tokentype: str, uid: str) -> tuple[Fetched, Fetched]:
        op = self.profile.operation("rte")
        ex = self.send(self.profile.request("rte", channel, role, tokentype, uid, lenient=True))
        rtc = extract_token(ex, op.token, status=op.status, uid_pointer=op.uid)
        return rtc, extract_token(ex, op.rtm_token or "/rtmToken", status=op.status)

    def post_get_token(self, body: dict[str, Any]) -> Fetched:
        """POST the suite's own body to the Go family's /getToken (a route with a fixed body format)."""
        op = self.profile.operation("post_get_token")
        ex = self.client.request("POST", op.path, json_body=body)
        return extract_token(ex, op.token, status=op.status)

    def health(self) -> Exchange:
        return self.send(self.profile.request("health", role=None, tokentype=None))
