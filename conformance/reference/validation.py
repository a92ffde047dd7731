"""Parse and validate the reference server's request parameters.

Pure functions, no I/O: each takes the raw string (or JSON value) a client sent
and returns the value the token is built from, or raises ``InvalidParameter``
with a message that names the parameter and the accepted values. The public
servers are lax here (the Go one wraps uid 4294967296 to 0 and expiry
4294967297 to 1 without a word, the Node one turns ``expiry=abc`` into a token
that never expires); the reference server refuses every such input with a 400,
so a client bug shows up as an error instead of as a wrong token.
"""

from __future__ import annotations

import re
from typing import Any

from ..tokens.model import MAX_UID

ROLES = ("publisher", "subscriber")
TOKEN_TYPES = ("uid", "userAccount")
MAX_CHANNEL_BYTES = 64
MAX_ACCOUNT_BYTES = 255
MAX_RTM_USER_BYTES = 64

#: Agora's channel-name alphabet (RTC API reference, ``channelName``).
CHANNEL_CHARACTERS = "a-z A-Z 0-9, space and ! # $ % & ( ) + - : ; < = . > ? @ [ ] ^ _ { } | ~ ,"
_CHANNEL_RE = re.compile(r"[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}")
_UID_RE = re.compile(r"[0-9]{1,10}")
_EXPIRY_RE = re.compile(r"[0-9]{1,12}")
#: C0 controls and DEL: never part of a real account name, often a sign of a decoding bug.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class InvalidParameter(ValueError):
    """A request parameter the server refuses; ``message`` is safe to send to the client."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def shown(value: object, limit: int = 40) -> str:
    """A short, quoted rendering of client input for an error message (never the whole of a huge value)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_role(value: str) -> str:
    """``publisher`` or ``subscriber``, exactly (the Go server maps every other word to subscriber)."""
    if value in ROLES:
        return value
    raise InvalidParameter("role", f'role must be "publisher" or "subscriber", got {shown(value)}')


def parse_tokentype(value: str) -> str:
    """``uid`` or ``userAccount``, exactly (case matters, as in the Go server)."""
    if value in TOKEN_TYPES:
        return value
    raise InvalidParameter("tokentype", f'tokentype must be "uid" or "userAccount", got {shown(value)}')


def parse_channel(value: str) -> str:
    """A channel name: 1..64 characters from Agora's alphabet (all ASCII, so characters == bytes)."""
    if _CHANNEL_RE.fullmatch(value):
        return value
    if not value:
        problem = "is empty"
    elif len(value.encode("utf-8", "surrogatepass")) > MAX_CHANNEL_BYTES:
        problem = f"is {len(value.encode('utf-8', 'surrogatepass'))} bytes long"
    else:
        bad = next(ch for ch in value if not _CHANNEL_RE.fullmatch(ch))
        problem = f"contains {shown(bad)}"
    raise InvalidParameter(
        "channel",
        f"channel {problem}: it must be 1 to {MAX_CHANNEL_BYTES} characters from {CHANNEL_CHARACTERS}",
    )


def parse_numeric_uid(value: str, name: str = "uid") -> str:
    """A numeric uid, 0..4294967295, as its canonical decimal string ("007" -> "7"; "0" = any uid)."""
    if _UID_RE.fullmatch(value):
        number = int(value)
        if number <= MAX_UID:
            return str(number)
    raise InvalidParameter(
        name,
        f"{name} must be a numeric uid, a decimal integer from 0 to {MAX_UID} "
        f"(0 lets the SDK pick one), got {shown(value)}",
    )


def _text(value: str, name: str, what: str, max_bytes: int) -> str:
    """Shared rules for free-text ids: non-empty, valid UTF-8, no control characters, bounded in bytes."""
    if not value:
        raise InvalidParameter(name, f"{name} is empty: {what}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidParameter(name, f"{name} is not valid Unicode (a lone surrogate): {what}") from None
    if size > max_bytes:
        raise InvalidParameter(name, f"{name} is {size} bytes long: {what}")
    if _CONTROL_RE.search(value):
        raise InvalidParameter(name, f"{name} contains a control character: {what}")
    if "\ufffd" in value:
        raise InvalidParameter(name, f"{name} contains U+FFFD (bytes in the request that are not UTF-8?): {what}")
    return value


def parse_account(value: str, name: str = "uid") -> str:
    """A user account (tokentype userAccount): any text of 1..255 UTF-8 bytes without control characters."""
    return _text(
        value,
        name,
        f"a user account must be 1 to {MAX_ACCOUNT_BYTES} UTF-8 bytes without control characters",
        MAX_ACCOUNT_BYTES,
    )


def parse_uid(value: str, tokentype: str, name: str = "uid") -> str:
    """The RTC uid for an already validated tokentype."""
    if tokentype == "uid":
        return parse_numeric_uid(value, name)
    return parse_account(value, name)


def parse_rtm_user(value: str, name: str = "uid") -> str:
    """An RTM user id: 1..64 UTF-8 bytes, not "0" (RTM has no "any user" id), no control characters."""
    what = f'an RTM user id must be 1 to {MAX_RTM_USER_BYTES} UTF-8 bytes, not "0", without control characters'
    if value == "0":
        raise InvalidParameter(name, f'{name} is "0": {what}')
    return _text(value, name, what, MAX_RTM_USER_BYTES)


def parse_expiry(values: list[str], default: int, maximum: int, name: str = "expiry") -> int:
    """The ``?expiry=`` query parameter: absent -> default, else a plain decimal integer in 1..maximum.

    ``values`` is every occurrence in the query string: a repeated parameter is
    ambiguous (servers disagree on which one wins), so it is refused.
    """
    if not values:
        return default
    accepted = f"{name} must be a whole number of seconds from 1 to {maximum} (default {default})"
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times: {accepted}")
    value = values[0]
    if _EXPIRY_RE.fullmatch(value):
        number = int(value)
        if 1 <= number <= maximum:
            return number
    raise InvalidParameter(name, f"{accepted}, got {shown(value)}")


def parse_expire_json(value: Any, default: int, maximum: int, name: str = "expire") -> int:
    """The JSON ``expire`` field of POST /getToken: absent -> default, else a JSON integer in 1..maximum."""
    if value is MISSING:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum:
        return value
    raise InvalidParameter(
        name,
        f"{name} must be a JSON integer number of seconds from 1 to {maximum} "
        f"(omit it for {default}), got {shown(value)}",
    )


class _Missing:
    """Marks a JSON field that is absent (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "<missing>"


#: Pass this as ``value`` when the field is absent from the JSON body.
MISSING: Any = _Missing()
