"""What the simulated clients check, and the scenario options they run with.

Pure Python over the codec (``conformance.tokens``): no locust, no gevent, no
I/O. The CLI imports this module to validate ``load`` options before it starts
a Locust subprocess (so a typo is a one-line usage error, not a traceback from
a child process), and the unit tests exercise every verdict without a load run.

A client depends on exactly these facts about a token (client-behaviour.md):
it decodes, it is bound to the channel and uid asked for, it carries the
privileges of the role asked for, it lapses when asked (``?expiry=N``), and a
renewal lapses later than the token it replaces. The signature is checked only
when the app certificate is known (environment variable, never argv).
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.profiles import Profile, ProfileError, load_profile
from conformance.settings.declarations import option
from conformance.tokens import (
    PUBLISHER_PRIVILEGES,
    SUBSCRIBER_PRIVILEGES,
    Service,
    Token,
    TokenError,
    decode,
    verify,
)

ROLES = ("publisher", "subscriber")
#: The reason keys an invalid token is filed under (Locust stats rows "INVALID <key>").
REASONS: dict[str, str] = {
    "undecodable": "the token does not decode",
    "version": "the token has another version than the profile's",
    "app_id": "the token is for another app id",
    "binding": "the token is not bound to the channel and uid asked for",
    "role": "the token lacks the privileges of the role asked for",
    "expiry": "the token does not lapse when asked (?expiry=N)",
    "not_extended": "the renewed token does not lapse later than the one it replaces",
    "signature": "the signature does not verify with the app certificate",
}
MAX_EXPIRY = 86400
#: Defaults of the numeric options, by Locust dest: their declarations' (the Locust options and the CLI use the same).
DEFAULTS: dict[str, Any] = {
    key: option(key).locust_default
    for key in ("expiry", "renew_margin", "cycles", "expiry_tolerance", "request_timeout", "retry_interval")
}
_MIX_SEPARATOR = ","


class OptionError(ValueError):
    """A scenario option that cannot be used; the message names the option."""


class Mix:
    """A weighted choice among names, parsed from ``"publisher=1,subscriber=3"``."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self.weights = dict(weights)
        self._names = list(self.weights)
        self._cumulative = list(itertools.accumulate(self.weights.values()))

    def choose(self, rng: random.Random) -> str:
        index = bisect.bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self._names[min(index, len(self._names) - 1)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mix) and other.weights == self.weights

    def __hash__(self) -> int:
        return hash(tuple(self.weights.items()))

    def __str__(self) -> str:
        return _MIX_SEPARATOR.join(f"{k}={v:g}" for k, v in self.weights.items())


def parse_mix(text: str, allowed: Sequence[str], option: str) -> Mix:
    """``"a=1,b=3"`` (a bare ``a`` means weight 1) into a Mix over ``allowed`` names."""
    weights: dict[str, float] = {}
    for part in str(text).split(_MIX_SEPARATOR):
        part = part.strip()
        if not part:
            continue
        name, _, raw = part.partition("=")
        name = name.strip()
        if name not in allowed:
            raise OptionError(f"{option}: unknown name {name!r}; use {', '.join(allowed)}")
        try:
            weight = float(raw) if raw.strip() else 1.0
        except ValueError:
            raise OptionError(f"{option}: the weight of {name!r} is not a number: {raw.strip()!r}") from None
        if not weight >= 0 or weight == float("inf"):
            raise OptionError(f"{option}: the weight of {name!r} must be a finite number >= 0")
        weights[name] = weights.get(name, 0.0) + weight
    weights = {k: v for k, v in weights.items() if v > 0}
    if not weights:
        raise OptionError(f"{option}: give at least one name with a weight > 0, e.g. {allowed[0]}=1")
    return Mix(weights)


@dataclass(frozen=True)
class ScenarioConfig:
    """Everything a simulated client needs, checked once (see ``build_config``)."""

    profile: Profile
    expiry: int
    renew_margin: float
    cycles: int
    roles: Mix
    tokentypes: Mix
    app_id: str | None = None
    certificate: str | None = field(default=None, repr=False)
    tolerance: float = 2.0
    strict_roles: bool = False
    request_timeout: float = 10.0
    retry_interval: float = 1.0
    #: Skip TLS certificate verification (self-signed test servers); verified by default.
    insecure: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The options as reported in load.json: never the certificate, only whether one was used."""
        return {
            "profile": self.profile.name,
            "token_version": self.profile.token_version,
            "expiry_s": self.expiry,
            "renew_margin_s": self.renew_margin,
            "cycles": self.cycles,
            "role_mix": str(self.roles),
            "tokentype_mix": str(self.tokentypes),
            "app_id": self.app_id,
            "signature_checked": self.certificate is not None,
            "expiry_tolerance_s": self.tolerance,
            "strict_roles": self.strict_roles,
            "request_timeout_s": self.request_timeout,
            "retry_interval_s": self.retry_interval,
            "insecure": self.insecure,
        }


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _number(values: Mapping[str, Any], key: str, option: str, kind: type, low: float, high: float) -> Any:
    raw = values.get(key)
    if raw is None:
        raw = DEFAULTS[key]
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise OptionError(f"{option} must be {'an integer' if kind is int else 'a number'}, got {raw!r}") from None
    if kind is float and value != value:  # NaN
        raise OptionError(f"{option} must be a number, got {raw!r}")
    if not low <= value <= high:
        raise OptionError(f"{option} must be between {_shown(low)} and {_shown(high)}, got {_shown(value)}")
    return value


def _flag(raw: Any) -> bool:
    """A boolean option that may arrive as text from the web UI ("false" must mean False)."""
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)


#: --role-mix when not given.
DEFAULT_ROLE_MIX: str = option("role_mix").locust_default


def _role_mix(text: str | None, profile: Profile) -> Mix:
    """The roles the clients ask for: the default mix becomes the roles a one-role server issues; a mix that asks
    for a role it does not issue is refused (the request could not be built)."""
    issued = profile.issued_roles
    if not text or (text == DEFAULT_ROLE_MIX and issued != ROLES):
        text = ",".join(issued)
    mix = parse_mix(text, ROLES, "--role-mix")
    asked = {part.partition("=")[0].strip() for part in str(text).split(_MIX_SEPARATOR) if part.strip()}
    if asked - set(issued):
        raise OptionError(f"--role-mix: profile {profile.name!r} issues only {' and '.join(issued)} tokens, "
                          f"not {', '.join(sorted(asked - set(issued)))}")
    return mix


def build_config(values: Mapping[str, Any], certificate: str | None = None) -> ScenarioConfig:
    """A ScenarioConfig from option values keyed by argparse dest; OptionError names the bad one.

    Values may be strings (Locust's web UI sends form fields as text), so every
    number is converted here rather than trusted.
    """
    try:
        profile = load_profile(values.get("token_profile") or None)
    except ProfileError as exc:
        raise OptionError(f"--profile: {exc}") from None
    expiry = _number(values, "expiry", "--expiry", int, 1, MAX_EXPIRY)
    if not profile.expiry_input:
        # The server takes no lifetime: every token lives the profile's fixed one, which is what the clients renew
        # by and the tokens are checked against. An --expiry other than the default or that lifetime contradicts it.
        if expiry not in (DEFAULTS["expiry"], profile.default_expiry):
            raise OptionError(f"--expiry {expiry}: profile {profile.name!r} takes no lifetime: every token lives "
                              f"{profile.default_expiry} s (its expiry.default)")
        expiry = profile.default_expiry
    margin = _number(values, "renew_margin", "--renew-margin", float, 0, MAX_EXPIRY)
    if margin > expiry:
        raise OptionError(f"--renew-margin ({margin:g} s) must not exceed --expiry ({expiry} s)")
    app_id = str(values.get("app_id") or "").strip() or None
    if app_id is not None and (len(app_id) != 32 or any(c not in "0123456789abcdefABCDEF" for c in app_id)):
        raise OptionError("--app-id must be 32 hexadecimal characters")
    return ScenarioConfig(
        profile=profile,
        expiry=expiry,
        renew_margin=margin,
        cycles=_number(values, "cycles", "--cycles", int, 1, 1_000_000),
        roles=_role_mix(values.get("role_mix"), profile),
        tokentypes=parse_mix(
            values.get("tokentype_mix") or ",".join(profile.token_types), profile.token_types, "--tokentype-mix"
        ),
        app_id=app_id,
        certificate=certificate or None,
        tolerance=_number(values, "expiry_tolerance", "--expiry-tolerance", float, 0, 3600),
        strict_roles=_flag(values.get("strict_roles")),
        request_timeout=_number(values, "request_timeout", "--request-timeout", float, 0.1, 600),
        retry_interval=_number(values, "retry_interval", "--retry-interval", float, 0.01, 3600),
        insecure=_flag(values.get("insecure")),
    )


@dataclass(slots=True)
class SentRequest:
    """One token request as a client made it: what it asked for and when."""

    channel: str
    role: str
    tokentype: str
    #: int for tokentype "uid" (0 packs as ""), the account string otherwise.
    uid: int | str
    expiry: int
    sent_at: float
    received_at: float
    #: For a renewal: when the replaced token lapses, and whether the new one must lapse strictly later.
    replaces_expiry: int | None = None
    require_later: bool = False


@dataclass(slots=True)
class Verdict:
    """The outcome of checking one token: when it lapses, or why it is not usable."""

    expires_ts: int | None
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def unquoted(message: str) -> str:
    """A codec message without the server text it quotes (a "token" may be anything, a secret included).

    Short quotes stay ('007', a single offending character): they say what is wrong, and hold nothing.
    """
    return _QUOTED.sub(lambda m: m.group(0) if len(m.group(0)) <= 5 else "'...'", message)


def effective_expiry(token: Token, rtc: Service | None = None) -> int | None:
    """When the client loses the call: the RTC join privilege's expiry (bounded by the token's)."""
    rtc = rtc if rtc is not None else token.rtc
    if rtc is None:
        return None
    join = rtc.privilege("join_channel")
    if join is not None:
        return join.expires_ts
    return token.expires_ts


def check_token(text: str, request: SentRequest, config: ScenarioConfig) -> Verdict:
    """Check one RTC token against the request that fetched it; the first problem found wins.

    The cheap structural checks come first and the signature last, so a broken
    server costs the generator as little as a good one.
    """
    try:
        token = decode(text)
    except TokenError as exc:
        return Verdict(None, "undecodable", unquoted(str(exc)))
    expected_version = config.profile.token_version
    if token.version != expected_version:
        return Verdict(None, "version", f"version {token.version}, the profile expects {expected_version}")
    if config.app_id is not None and token.app_id != config.app_id:
        return Verdict(None, "app_id", "the app id differs from --app-id")
    rtc = token.rtc
    if rtc is None:
        return Verdict(None, "binding", "the token has no RTC privileges")
    if not token.binds(request.channel, request.uid):
        return Verdict(None, "binding", f"not bound to channel {request.channel!r} and uid {str(request.uid)!r}")
    names = rtc.privilege_names
    wanted = PUBLISHER_PRIVILEGES if request.role == "publisher" else SUBSCRIBER_PRIVILEGES
    if not wanted <= names:
        missing = ", ".join(sorted(wanted - names))
        return Verdict(None, "role", f"a {request.role} token without {missing}")
    if config.strict_roles and request.role == "subscriber" and names & (PUBLISHER_PRIVILEGES - wanted):
        return Verdict(None, "role", "a subscriber token that may publish (--strict-roles)")
    expires = effective_expiry(token, rtc)
    low = request.sent_at + request.expiry - config.tolerance
    high = request.received_at + request.expiry + config.tolerance
    if expires is None or not low <= expires <= high:
        lifetime = "never" if expires is None else f"{expires - request.sent_at:+.1f} s after the request"
        return Verdict(expires, "expiry", f"asked for {request.expiry} s, the token lapses {lifetime}")
    if request.replaces_expiry is not None:
        if expires < request.replaces_expiry or (request.require_later and expires == request.replaces_expiry):
            return Verdict(
                expires, "not_extended", f"lapses {expires - request.replaces_expiry:+d} s after the token it replaces"
            )
    if config.certificate is not None:
        try:
            good = verify(token, config.certificate, channel=request.channel, uid=request.uid)
        except (TokenError, ValueError) as exc:
            return Verdict(expires, "signature", f"cannot verify: {exc}")
        if not good:
            return Verdict(expires, "signature", "the signature does not match the app certificate")
    return Verdict(expires)


#: What a user can act on, by the OS error underneath a failed connection (most specific first).
_CONNECTION_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (BrokenPipeError, "connection reset"),
    (ConnectionAbortedError, "connection reset"),
    (ssl.SSLError, "TLS"),
    (ssl.CertificateError, "TLS"),
    (TimeoutError, "timed out"),
    (socket.timeout, "timed out"),
    (socket.gaierror, "name not resolved"),
)


def connection_failure(error: BaseException | None) -> str:
    """Why no HTTP answer came, in the user's terms: ``no response (connection refused)``, ``(connection reset)``,
    ``(timed out)``, ``(TLS: CERTIFICATE_VERIFY_FAILED)``, ``(connection closed)``.

    geventhttpclient wraps the socket error in ``RetriesExceeded`` (``.original``); Python chains the rest
    (``__cause__`` / ``__context__``). The innermost named cause wins; otherwise the exception's class.
    """
    if error is None:
        return "no response (connection failed)"
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 8:
        seen.append(current)
        current = getattr(current, "original", None) or current.__cause__ or current.__context__
    for candidate in reversed(seen):
        for kind, name in _CONNECTION_ERRORS:
            if isinstance(candidate, kind):
                if name == "TLS":
                    reason = getattr(candidate, "reason", None) or type(candidate).__name__
                    return f"no response (TLS: {reason})"
                return f"no response ({name})"
    names = [type(c).__name__ for c in seen]
    if "Timeout" in names:  # gevent.Timeout (a BaseException of its own), without importing gevent here
        return "no response (timed out)"
    if "HTTPConnectionClosed" in names:
        return "no response (connection closed)"
    if "HTTPParseError" in names:
        return "no response (malformed HTTP answer)"
    return f"no response ({names[-1]})"
