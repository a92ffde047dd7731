"""A profile as the suite uses it: operations that turn request values into HTTP requests, and answers into tokens.

Cases speak in canonical values (channel, role ``publisher``/``subscriber``, token type ``uid``/``userAccount``,
uid, expiry in seconds); an :class:`Operation` places them where its server wants them (path segment, query
parameter, JSON or form field, typed), in the server's own words (role ``host``, lifetimes in minutes). The way
back is a JSON pointer to the token (and, optionally, to the uid the server chose).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

#: The values a template may place, in the order ``profile show`` lists them.
FIELDS = ("channel", "role", "tokentype", "uid", "expiry")
#: Operation names: RTC by uid (and by account, when the server needs another request for it), RTM, RTE,
#: the health check, and the Go family's POST /getToken (which takes the suite's own body as is).
OPERATIONS = ("rtc", "rtc_account", "rtm", "rte", "health", "post_get_token")
#: What each operation's templates must place (the suite cannot ask for a token without them).
#: rtc needs only the channel: a server that takes no uid chooses it (FORMAT-18 3); one that takes no role issues
#: one role (its ``roles`` name it), one that takes no lifetime issues a fixed one (``expiry.default``).
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "rtc": frozenset({"channel"}),
    "rtc_account": frozenset({"channel", "uid"}),
    "rte": frozenset({"channel", "uid"}),
    "rtm": frozenset({"uid"}),
    "health": frozenset(),
    "post_get_token": frozenset(),
}
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
PLACEHOLDER = re.compile(r"\{([a-z]+)(?::(string|number|boolean))?\}")
#: The canonical roles, in the order cases and ``profile show`` name them.
CANONICAL_ROLES = ("publisher", "subscriber")
#: Operations whose requests carry a role (the RTC token's privileges depend on it).
ROLE_OPERATIONS = ("rtc", "rtc_account", "rte")
_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


class NotInProfile(Exception):
    """The profile cannot express a request the suite wants to send (no such field, operation or unit).

    The plugin turns it into a skip that names the reason: a requirement that cannot apply to a shape is
    skipped, never failed.
    """


@dataclass(frozen=True)
class Request:
    """One HTTP request, ready for the client: the path carries the query string."""

    method: str
    path: str
    json_body: Any = None
    form: dict[str, str] | None = None

    @property
    def content(self) -> bytes | None:
        if self.form is not None:
            return urlencode(self.form).encode("ascii")
        return None

    @property
    def content_type(self) -> str | None:
        return "application/x-www-form-urlencoded" if self.form is not None else None

    def line(self) -> str:
        """``POST /api/token {"channelName": ...}``, as ``profile show`` prints it."""
        text = f"{self.method} {self.path}"
        if self.json_body is not None:
            text += " " + json.dumps(self.json_body, ensure_ascii=False)
        elif self.form is not None:
            text += " (form) " + urlencode(self.form)
        return text


def _seg(value: str) -> str:
    """Percent-encode one path segment (UTF-8), keeping nothing as a separator.

    '.' and '..' are valid Agora channel names, but as bare segments every URL
    library (httpx included) resolves them away; encoded, they reach the server.
    """
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def text_of(value: Any) -> str:
    """A value as a path segment or query parameter writes it: booleans ``true``/``false``, numbers as digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def placeholders(template: Any) -> set[str]:
    """The field names a template (string, or JSON object/list of them) places."""
    if isinstance(template, str):
        return {m.group(1) for m in PLACEHOLDER.finditer(template)}
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    return set()


def typed(value: Any, kind: str | None) -> Any:
    """A value for a JSON field: ``number`` fields get a JSON number when the text is one, else the text.

    So a wrapped uid is the same defect in any shape: ``4294967296`` reaches a number field as a number, and
    ``abc`` reaches it as a string (a wrong type, which must be refused just the same). A typed role value
    (``true``, ``1``) keeps its own JSON type; ``boolean`` declares the field's type and converts nothing, so the
    bad-input catalogue's ``"false"`` reaches a boolean field as the string a careless handler reads as truthy.
    """
    if kind != "number" or not isinstance(value, str):
        return value
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value


@dataclass(frozen=True)
class Operation:
    """One request shape: where each value goes, and where the answer carries the token."""

    name: str
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    body_format: str = "json"
    token: str = "/token"  # noqa: S105 - a JSON pointer, not a secret
    #: RTE: the RTM token of the same answer.
    rtm_token: str | None = None
    #: Where the answer carries the uid the server chose (binding is judged against it), if it does.
    uid: str | None = None
    status: int = 200
    #: Health check: the exact JSON answer expected (None: any 200).
    answer: Any = None

    @property
    def fields(self) -> set[str]:
        return placeholders(self.path) | placeholders(self.query) | placeholders(self.body)

    def places(self, name: str) -> bool:
        return name in self.fields

    @property
    def trailing_slash(self) -> bool:
        return self.path.endswith("/") and len(self.path) > 1

    def build(self, values: dict[str, Any], *, slash: bool = True) -> Request:
        """The request for ``values`` (already in the server's words); a None value leaves its field out."""
        path = self.path
        for m in reversed(list(PLACEHOLDER.finditer(path))):
            value = values.get(m.group(1))
            if value is None:
                raise NotInProfile(f"no value for {{{m.group(1)}}} in the path of operation {self.name!r}")
            path = path[: m.start()] + _seg(text_of(value)) + path[m.end():]
        if not slash and path.endswith("/") and len(path) > 1:
            path = path[:-1]
        query: list[tuple[str, str]] = []
        for key, template in self.query.items():
            text = _fill_text(template, values)
            if text is not None:
                query.append((key, text))
        if query:
            path += "?" + urlencode(query, quote_via=quote)
        if self.body is None:
            return Request(self.method, path)
        body = {k: v for k, v in ((k, _fill_json(t, values)) for k, t in self.body.items()) if v is not _OMIT}
        if self.body_format == "form":
            return Request(self.method, path, form={k: v if isinstance(v, str) else json.dumps(v)
                                                    for k, v in body.items()})
        return Request(self.method, path, json_body=body)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            out["query"] = dict(self.query)
        if self.body is not None:
            out["body"] = self.body
            if self.body_format != "json":
                out["body_format"] = self.body_format
        if self.name != "health":
            out["token"] = self.token
        for key in ("rtm_token", "uid", "answer"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.status != 200:
            out["status"] = self.status
        return out


class _Omit:
    pass


_OMIT = _Omit()


def _fill_text(template: str, values: dict[str, Any]) -> str | None:
    """A query value: None when a field it places has no value (the parameter is left out)."""
    out = template
    for m in reversed(list(PLACEHOLDER.finditer(template))):
        value = values.get(m.group(1))
        if value is None:
            return None
        out = out[: m.start()] + text_of(value) + out[m.end():]
    return out


def _fill_json(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            value = values.get(whole.group(1))
            return _OMIT if value is None else typed(value, whole.group(2))
        text = _fill_text(template, values)
        return _OMIT if text is None else text
    if isinstance(template, dict):
        return {k: v for k, v in ((k, _fill_json(t, values)) for k, t in template.items()) if v is not _OMIT}
    return template


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901: the value at ``pointer`` in ``document``; raises KeyError when there is none."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    current = document
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise KeyError(pointer)
    return current


@dataclass(frozen=True)
class Profile:
    """A family of token servers: vocabularies, token version, expiry unit and the operations it answers."""

    name: str
    description: str
    token_version: str
    #: Canonical role -> this server's value for it ("subscriber" -> "audience", or ``false`` for a boolean
    #: ``isPublisher``); a role left out is not offered. A server whose rtc request takes no role names one.
    roles: dict[str, Any]
    #: Canonical token type -> this server's word; a type left out is not offered by the server.
    token_type_words: dict[str, str]
    operations: dict[str, Operation]
    expiry_unit: str = "seconds"
    #: The lifetime the server gives when none is asked for, in seconds.
    default_expiry: int = 3600
    #: Seconds the app's client waits for a token before giving up (LATENCY-1); the harness's default deadline.
    client_timeout: float = 10.0
    #: Origins of the web apps that fetch tokens with fetch() (HEADER-5), e.g. ("https://app.example.com",).
    web_origins: tuple[str, ...] = ()
    #: The lifetime limits the server enforces, in seconds (None: the contract's 1 and 86400); INPUT-8 uses them.
    expiry_min: int | None = None
    expiry_max: int | None = None
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # --- what the suite asks -------------------------------------------------------------------------

    # --- what the rtc request takes (FORMAT-18): absent placeholders are facts about the server ------

    @property
    def role_input(self) -> bool:
        """Whether the RTC request carries a role; without one the server issues the single role ``roles`` names."""
        return self.operations["rtc"].places("role")

    @property
    def uid_input(self) -> bool:
        """Whether the RTC request carries a uid; without one the server always chooses it."""
        return self.operations["rtc"].places("uid")

    @property
    def expiry_input(self) -> bool:
        """Whether the RTC request carries a lifetime; without one every token gets the fixed ``default_expiry``."""
        return self.operations["rtc"].places("expiry")

    @property
    def raw_token(self) -> bool:
        """Whether the RTC answer is the token itself (``"token": ""``: a text/plain or text/html body)."""
        return self.operations["rtc"].token == ""

    @property
    def issued_roles(self) -> tuple[str, ...]:
        """The canonical roles the server issues, publisher first."""
        return tuple(r for r in CANONICAL_ROLES if r in self.roles)

    def role_or_issued(self, role: str) -> str:
        """``role`` if the server issues it, else the role it does issue (for requests where any role will do)."""
        return role if role in self.roles else self.issued_roles[0]

    def role_word(self, role: str) -> str:
        """The server's value for a canonical role, as messages quote it ('host', true)."""
        value = self.roles.get(role, role)
        return text_of(value) if not isinstance(value, str) else value

    def lifetime(self, seconds: int) -> int:
        """``seconds`` moved inside the lifetime limits the profile states (a valid request's lifetime)."""
        low = self.expiry_min or 1
        high = min(self.expiry_max or 86400, 86400)
        return max(low, min(high, seconds))

    def has(self, feature: str) -> bool:
        """Whether the server offers ``feature``: an operation name, ``ping`` (health) or ``rtc_account``."""
        if feature == "ping":
            feature = "health"
        if feature == "rtc_account":
            return self.account_operation() is not None
        return feature in self.operations

    @property
    def token_types(self) -> tuple[str, ...]:
        return tuple(self.token_type_words)

    def account_operation(self) -> Operation | None:
        """The operation that issues tokens for string accounts, if the server has one."""
        if "rtc_account" in self.operations:
            return self.operations["rtc_account"]
        rtc = self.operations["rtc"]
        if "userAccount" in self.token_type_words and rtc.places("tokentype"):
            return rtc
        return None

    def expiry_value(self, seconds: int | str | None, *, lenient: bool = False) -> Any:
        """A lifetime in seconds, in this server's unit.

        A number of seconds the unit cannot express raises :class:`NotInProfile`, unless ``lenient`` (the
        bad-input catalogue), which rounds away from zero so an out-of-range value stays out of range; text
        that is not a whole number goes as it is.
        """
        if seconds is None:
            return None
        factor = UNITS[self.expiry_unit]
        if factor == 1:
            return seconds
        text = str(seconds)
        if not _INT.fullmatch(text):
            if lenient:
                return seconds
            raise NotInProfile(f"expiry {seconds!r} is not a whole number of seconds")
        n = int(text)
        if n % factor:
            if not lenient:
                raise NotInProfile(f"profile {self.name!r} takes lifetimes in {self.expiry_unit}: "
                                   f"{n} s cannot be asked for")
            q = -(-abs(n) // factor)
            return str(q if n >= 0 else -q)
        return str(n // factor) if isinstance(seconds, str) else n // factor

    def values(self, channel: str | None = None, role: str | None = None, tokentype: str | None = None,
               uid: Any = None, expiry: Any = None, *, lenient: bool = False) -> dict[str, Any]:
        """Canonical values in this server's words (unknown words pass through, for the bad-input catalogue)."""
        return {
            "channel": channel,
            "role": None if role is None else self.roles.get(role, role),
            "tokentype": None if tokentype is None else self.token_type_words.get(tokentype, tokentype),
            "uid": uid,
            "expiry": self.expiry_value(expiry, lenient=lenient),
        }

    def operation(self, name: str) -> Operation:
        if name == "ping":
            name = "health"
        op = self.account_operation() if name == "rtc_account" else self.operations.get(name)
        if op is None:
            raise NotInProfile(f"profile {self.name!r} has no {name} operation")
        return op

    def rtc_request(self, channel: str = "conformance", role: str = "publisher", tokentype: str = "uid",
                    uid: Any = "0", *, expiry: Any = None, slash: bool = True, lenient: bool = False) -> Request:
        """The RTC request for these canonical values (accounts through the account operation)."""
        op = self.operations["rtc"]
        if tokentype == "userAccount":
            account = self.account_operation()
            if account is None:
                raise NotInProfile(f"profile {self.name!r} issues no tokens for string user accounts")
            op = account
        self._check_places(op, tokentype=tokentype, expiry=expiry, lenient=lenient, role=role)
        if not slash and not op.trailing_slash and not lenient:
            raise NotInProfile(f"the {op.name} path of profile {self.name!r} ({op.path}) has no trailing slash "
                               "to leave out")
        return op.build(self.values(channel, role, tokentype, uid, expiry, lenient=lenient), slash=slash)

    def request(self, name: str, channel: str | None = None, role: str | None = "publisher",
                tokentype: str | None = "uid", uid: Any = None, *, expiry: Any = None,
                lenient: bool = False) -> Request:
        """The request of operation ``name`` (rtm, rte, health, ...) for these canonical values."""
        op = self.operation(name)
        self._check_places(op, tokentype=tokentype, expiry=expiry, lenient=lenient, role=role)
        return op.build(self.values(channel, role, tokentype, uid, expiry, lenient=lenient))

    def _check_places(self, op: Operation, *, tokentype: str | None, expiry: Any, lenient: bool,
                      role: str | None = None) -> None:
        if expiry is not None and not op.places("expiry"):
            raise NotInProfile(f"the {op.name} operation of profile {self.name!r} takes no expiry: every token gets "
                               f"the fixed lifetime of {self.default_expiry} s")
        if role is not None and op.name in ROLE_OPERATIONS:
            if role in CANONICAL_ROLES and role not in self.roles:
                raise NotInProfile(f"profile {self.name!r} issues no {role} tokens (only "
                                   f"{' and '.join(self.issued_roles)})")
            if role not in CANONICAL_ROLES and not op.places("role"):
                raise NotInProfile(f"the {op.name} operation of profile {self.name!r} takes no role: every token "
                                   f"is a {self.issued_roles[0]} token")
        if tokentype not in (None, "uid", "userAccount") and not op.places("tokentype"):
            raise NotInProfile(f"the {op.name} operation of profile {self.name!r} takes no token type")

    # --- compatibility: what code written for path-only profiles reads ------------------------------

    @property
    def routes(self) -> dict[str, str]:
        """Operation -> path template, with the old names (``ping``) and the old placeholders."""
        out = {}
        for name, op in self.operations.items():
            key = "ping" if name == "health" else name
            out[key] = op.path
        return out

    @property
    def expiry_param(self) -> str:
        """The query parameter that carries the lifetime (``expiry`` when there is none)."""
        for key, template in self.operations["rtc"].query.items():
            if "expiry" in placeholders(template):
                return key
        return "expiry"

    def rtc_path(self, channel: str, role: str, tokentype: str, uid: str, *, slash: bool = True) -> str:
        """The RTC path (and query) for these values; ``role`` is canonical (publisher / subscriber)."""
        return self.rtc_request(channel, role, tokentype, uid, slash=slash, lenient=True).path

    def rtm_path(self, uid: str) -> str:
        return self.request("rtm", uid=uid).path

    def rte_path(self, channel: str, role: str, tokentype: str, uid: str) -> str:
        return self.request("rte", channel, role, tokentype, uid, lenient=True).path

    def document(self) -> dict[str, Any]:
        """The resolved profile in the file format (``profile show`` prints it; it loads back the same)."""
        return {
            "name": self.name,
            "description": self.description,
            "token_version": self.token_version,
            "roles": dict(self.roles),
            "token_types": dict(self.token_type_words),
            "expiry": self._expiry_document(),
            "client_timeout": self.client_timeout,
            **({"web_origins": list(self.web_origins)} if self.web_origins else {}),
            "operations": {name: op.as_dict() for name, op in self.operations.items()},
        }

    def _expiry_document(self) -> dict[str, Any]:
        factor = UNITS[self.expiry_unit]
        out: dict[str, Any] = {"unit": self.expiry_unit, "default": self.default_expiry // factor}
        if self.expiry_min is not None:
            out["min"] = self.expiry_min // factor
        if self.expiry_max is not None:
            out["max"] = self.expiry_max // factor
        return out

    def as_dict(self) -> dict[str, Any]:
        """What reports record: the resolved document plus the flat keys older readers know."""
        return {**self.document(), "routes": self.routes, "default_expiry": self.default_expiry}
