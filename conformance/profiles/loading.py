"""Reading a profile: a bundled one by name or a user's file, checked and built into a :class:`Profile`.

The public servers disagree (roles publisher|subscriber vs host|audience, 007 vs 006, path segments vs query
strings vs JSON bodies, ``{"rtcToken"}`` vs ``{"data": {"token"}}``). A profile names those facts per operation;
the target builds every request from it, so one suite judges every shape. Bundled profiles are JSON files in this
package; a user passes the path of their own file instead of a name, usually ``extends``-ing a bundled one.

A file is checked against ``schemas/profile.json`` first (the first mistake is reported with its JSON path, on
one line), then for what a schema cannot say (placeholders a template may use, what each operation must place).
Files in the 0.1 format (``routes`` of path templates) still load.
"""

from __future__ import annotations

import copy
import json
import string
from importlib import resources
from pathlib import Path
from typing import Any

from ..cors import OriginError, parse_origin
from ..schemas import best_error, load_schema
from .model import (
    FIELDS,
    OPERATIONS,
    PLACEHOLDER,
    REQUIRED_FIELDS,
    UNITS,
    Operation,
    Profile,
    placeholders,
)

__all__ = [
    "DEFAULT_PROFILE", "DEFAULT_TOKEN", "ROUTE_FEATURES", "ProfileError", "bundled_names", "load_profile",
    "parse_profile",
]

DEFAULT_PROFILE = "agora-token-service"
#: 0.1 format: the placeholders each route template may use (and, for the token routes, must).
ROUTE_FEATURES = ("rtc", "rtm", "rte", "ping", "post_get_token")
ROUTE_FIELDS: dict[str, frozenset[str]] = {
    "rtc": frozenset({"channel", "role", "tokentype", "uid"}),
    "rte": frozenset({"channel", "role", "tokentype", "uid"}),
    "rtm": frozenset({"uid"}),
    "ping": frozenset(),
    "post_get_token": frozenset(),
}
#: The keys a 0.1 (``routes``) profile may have.
LEGACY_KEYS = ("$schema", "$comment", "name", "description", "token_version", "roles", "token_types", "routes",
               "expiry_param", "default_expiry", "client_timeout")
#: Where each operation's token is, when the file does not say (the Go family's keys).
DEFAULT_TOKEN = {"rtc": "/rtcToken", "rtc_account": "/rtcToken", "rte": "/rtcToken", "rtm": "/rtmToken",
                 "post_get_token": "/token"}


class ProfileError(ValueError):
    """A profile name that is not bundled, or a profile file that is not valid (one line, says what to fix)."""


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__package__ or "conformance.profiles").iterdir() if p.name.endswith(".json"))


def _read(name_or_path: str) -> tuple[Any, str]:
    if name_or_path in bundled_names():
        text = resources.files(__package__ or "conformance.profiles").joinpath(f"{name_or_path}.json").read_text(encoding="utf-8")
        source = f"bundled profile {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(
                f"unknown profile {name_or_path!r}: not a bundled profile ({', '.join(bundled_names())}) nor a file"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"cannot read profile file {name_or_path!r}: {getattr(exc, 'strerror', exc)}") from None
        source = f"profile file {name_or_path!r}"
    try:
        return json.loads(text), source
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{source} is not JSON: {exc}") from None


def load_profile(name_or_path: str | None = None) -> Profile:
    """A bundled profile by name, or a profile JSON file by path."""
    data, source = _read(name_or_path or DEFAULT_PROFILE)
    return parse_profile(data, source)


def parse_profile(data: Any, source: str = "profile") -> Profile:
    """A profile from its parsed JSON; :class:`ProfileError` names the first mistake and its JSON path."""
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: expected a JSON object")
    if not {"operations", "extends", "routes"} & set(data):
        raise ProfileError(f"{source} is not a valid profile: it needs 'operations' (its requests), or 'extends' "
                           f"(a bundled profile to start from: {', '.join(bundled_names())}); "
                           "'token-conformance profile init' writes a starter file")
    explicit_roles = "roles" in data
    if "routes" in data and "operations" not in data:
        data = _from_routes(data, source)
    elif "extends" in data:
        _schema_check(data, source, partial=True)  # an operation may only tweak the one it extends
        data = _extend(data, source)
    _schema_check(data, source)
    return _build(data, source, explicit_roles=explicit_roles)


# --- the current format ------------------------------------------------------------------------------


def _schema_check(data: dict[str, Any], source: str, *, partial: bool = False) -> None:
    schema = load_schema("profile")
    if partial:
        schema.pop("required", None)  # the operations come from the extended profile when the file has none
        for name in ("tokenOperation", "healthOperation"):
            schema["$defs"][name].pop("required", None)
    error = best_error(schema, data)
    if error is not None:
        message = error.message
        if error.validator == "pattern" and error.schema.get("description"):
            message = f"{error.instance!r} is not {error.schema['description']}"
        message = message if len(message) <= 160 else message[:159] + "…"
        raise ProfileError(f"{source} is not a valid profile: {error.json_path}: {message}")


def _extend(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The bundled profile ``extends`` names, with this file's keys over it.

    An operation with a ``path`` replaces the base's; one without changes only the keys it gives; ``null``
    removes it.
    """
    base_name = data["extends"]
    if base_name not in bundled_names():
        raise ProfileError(f"{source} is not a valid profile: $.extends: {base_name!r} is not a bundled profile "
                           f"({', '.join(bundled_names())})")
    base, _ = _read(base_name)
    merged: dict[str, Any] = copy.deepcopy(base)
    merged["name"] = data.get("name", "custom")
    merged["description"] = data.get("description", f"starts from the bundled profile {base_name}")
    for key, value in data.items():
        if key in ("extends", "operations", "$schema"):
            continue
        merged[key] = copy.deepcopy(value)
    operations = merged.setdefault("operations", {})
    for name, op in data.get("operations", {}).items():
        if name == "$comment":
            continue
        if op is None:
            operations.pop(name, None)
        elif name in operations and operations[name] is not None and "path" not in op:
            operations[name] = {**operations[name], **op}  # a tweak (say, only "token") of the base's operation
        else:
            operations[name] = copy.deepcopy(op)
    return merged


def _fail(source: str, where: str, message: str) -> ProfileError:
    return ProfileError(f"{source} is not a valid profile: {where}: {message}")


def _build(data: dict[str, Any], source: str, *, explicit_roles: bool = True) -> Profile:
    operations: dict[str, Operation] = {}
    raw_ops = {k: v for k, v in data.get("operations", {}).items() if v is not None and k != "$comment"}
    if "rtc" not in raw_ops:
        raise _fail(source, "$.operations", "an 'rtc' operation is required (the RTC token by uid)")
    for name, raw in raw_ops.items():
        operations[name] = _operation(name, raw, source)
    expiry = data.get("expiry", {})
    unit = expiry.get("unit", "seconds")
    factor = UNITS[unit]
    default_in_unit = expiry.get("default", 3600 // factor)
    roles = data.get("roles", {"publisher": "publisher", "subscriber": "subscriber"})
    token_types = data.get("token_types", {"uid": "uid", "userAccount": "userAccount"})
    if not explicit_roles and not operations["rtc"].places("role") and "publisher" in roles:
        # Roles the file did not write (defaults, or the extended profile's) for a request that takes no role: the
        # server issues what such servers issue, publisher tokens (a file that names two roles is told to pick one).
        roles = {"publisher": roles["publisher"]}
    _check_roles(roles, operations["rtc"], source)
    low, high = expiry.get("min"), expiry.get("max")
    if low is not None and low > default_in_unit:
        raise _fail(source, "$.expiry.min", f"{low} {unit} is above the default lifetime ({default_in_unit} {unit})")
    if high is not None and high < default_in_unit:
        raise _fail(source, "$.expiry.max", f"{high} {unit} is below the default lifetime ({default_in_unit} {unit})")
    if not operations["rtc"].places("expiry") and (low is not None or high is not None):
        raise _fail(source, "$.expiry", "'min' and 'max' are the limits of a lifetime the client asks for, but the "
                    "rtc operation places no {expiry} (a fixed lifetime: state it as 'default' alone)")
    return Profile(
        name=str(data.get("name", "custom")),
        description=str(data.get("description", "")),
        token_version=str(data.get("token_version", "007")),
        roles=dict(roles),
        token_type_words=dict(token_types),
        operations=operations,
        expiry_unit=unit,
        default_expiry=int(default_in_unit) * UNITS[unit],
        client_timeout=float(data.get("client_timeout", 10.0)),
        web_origins=_web_origins(data.get("web_origins", []), source),
        expiry_min=None if low is None else int(low) * factor,
        expiry_max=None if high is None else int(high) * factor,
        source=data,
    )


def _web_origins(values: list[str], source: str) -> tuple[str, ...]:
    """The profile's web_origins as serialized origins (HEADER-5); a URL with a path is refused as on the command line."""
    out = []
    for i, value in enumerate(values):
        try:
            out.append(parse_origin(value))
        except OriginError as exc:
            raise _fail(source, f"$.web_origins[{i}]", str(exc).replace("--web-origin ", "")) from None
    return tuple(dict.fromkeys(out))


def _check_roles(roles: dict[str, Any], rtc: Operation, source: str) -> None:
    """What the schema cannot say about ``roles``: exactly one role when the rtc request takes none."""
    named = [r for r in ("publisher", "subscriber") if r in roles]
    if not rtc.places("role") and len(named) != 1:
        raise _fail(source, "$.roles", "the rtc operation places no {role}, so the server issues one role: name only "
                    "that one (e.g. {\"publisher\": \"publisher\"}), not " + " and ".join(named or ["none"]))


def _operation(name: str, raw: dict[str, Any], source: str) -> Operation:
    where = f"$.operations.{name}"
    for key, template in (("path", raw["path"]), *((f"query.{k}", v) for k, v in raw.get("query", {}).items()),
                          *((f"body.{k}", v) for k, v in (raw.get("body") or {}).items())):
        problem = _template_problem(template, in_body=key.startswith("body."))
        if problem:
            raise _fail(source, f"{where}.{key}", problem)
    method = raw.get("method", "POST" if raw.get("body") is not None else "GET")
    op = Operation(
        name=name, method=method, path=raw["path"], query=dict(raw.get("query", {})), body=raw.get("body"),
        body_format=raw.get("body_format", "json"), token=raw.get("token", DEFAULT_TOKEN.get(name, "/token")),
        rtm_token=raw.get("rtm_token", "/rtmToken" if name == "rte" else None), uid=raw.get("uid"),
        status=int(raw.get("status", 200)), answer=raw.get("answer"),
    )
    if op.body is not None and op.method == "GET":
        raise _fail(source, f"{where}.method", "a GET request carries no body: use POST, or move the fields to 'query'")
    missing = REQUIRED_FIELDS[name] - op.fields
    if missing and name != "post_get_token":
        raise _fail(source, where, f"the templates must place {', '.join('{' + m + '}' for m in sorted(missing))}")
    return op


def _template_problem(template: Any, *, in_body: bool) -> str | None:
    """Why a template cannot be used (None if it can): unknown fields, typed placeholders outside a body."""
    texts: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    collect(template)
    for text in texts:
        for m in PLACEHOLDER.finditer(text):
            if m.group(1) not in FIELDS:
                return f"unknown placeholder {{{m.group(1)}}} in {text!r}; known: " + ", ".join(
                    "{" + f + "}" for f in FIELDS)
            if m.group(2) and not in_body:
                return f"{m.group(0)}: a type is only meaningful in a body field"
            if m.group(2) and m.group(0) != text:
                return f"{m.group(0)}: a typed placeholder must be the whole value, not part of {text!r}"
        leftover = PLACEHOLDER.sub("", text)
        if "{" in leftover or "}" in leftover:
            return f"not a template: unmatched or malformed braces in {text!r} (placeholders look like {{uid}})"
    return None


# --- the 0.1 format ------------------------------------------------------------------------------------


def _from_routes(data: dict[str, Any], source: str) -> dict[str, Any]:
    """A 0.1 profile (``routes`` of path templates) as a current one; its problems reported all at once."""
    problems = []
    unknown_keys = sorted(set(data) - set(LEGACY_KEYS))
    if unknown_keys:  # a misspelt key silently ignored would judge the server against defaults it never chose
        problems.append(f"unknown keys {unknown_keys}; known: {list(LEGACY_KEYS)}")
    routes = data.get("routes")
    if not isinstance(routes, dict) or "rtc" not in routes:
        problems.append("'routes' must be an object with at least an 'rtc' route")
        routes = {}
    unknown = set(routes) - set(ROUTE_FEATURES)
    if unknown:
        problems.append(f"unknown routes {sorted(unknown)}; known: {list(ROUTE_FEATURES)}")
    for name in sorted(set(routes) & set(ROUTE_FEATURES)):
        problem = _route_problem(name, routes[name])
        if problem:
            problems.append(problem)
    roles = data.get("roles")
    if (
        not isinstance(roles, dict)
        or not {"publisher", "subscriber"} <= set(roles)
        or not all(isinstance(v, str) and v for v in roles.values())
    ):
        problems.append("'roles' must map 'publisher' and 'subscriber' to this server's words (non-empty strings)")
    token_types = data.get("token_types", ["uid", "userAccount"])
    if not isinstance(token_types, list) or not all(isinstance(t, str) and t for t in token_types):
        problems.append("'token_types' must be a list of strings")
        token_types = []
    version = data.get("token_version", "007")
    if version not in ("006", "007"):
        problems.append(f"'token_version' must be '006' or '007', not {version!r}")
    default_expiry = data.get("default_expiry", 3600)
    if isinstance(default_expiry, bool) or not isinstance(default_expiry, int) or not 0 < default_expiry <= 86400:
        problems.append("'default_expiry' must be an integer in 1..86400")
    client_timeout = data.get("client_timeout", 10.0)
    if isinstance(client_timeout, bool) or not isinstance(client_timeout, (int, float)) or not 0 < client_timeout <= 300:
        problems.append("'client_timeout' must be a number of seconds in (0, 300]")
    client_timeout = data.get("client_timeout", 10.0)
    if isinstance(client_timeout, bool) or not isinstance(client_timeout, (int, float)) or not 0 < client_timeout <= 300:
        problems.append("'client_timeout' must be a number of seconds in (0, 300]")
    if problems:
        raise ProfileError(f"{source} is not a valid profile: " + "; ".join(problems))
    assert isinstance(roles, dict)
    param = str(data.get("expiry_param", "expiry"))
    operations: dict[str, Any] = {}
    for name, template in routes.items():
        if name == "ping":
            operations["health"] = {"path": template, "answer": {"message": "pong"}}
        elif name == "post_get_token":
            operations[name] = {"method": "POST", "path": template, "token": "/token"}
        else:
            op: dict[str, Any] = {"path": template, "query": {param: "{expiry}"}, "token": DEFAULT_TOKEN[name]}
            if name == "rte":
                op["rtm_token"] = "/rtmToken"  # noqa: S105 - a JSON pointer, not a secret
            operations[name] = op
    return {
        "name": data.get("name", "custom"), "description": data.get("description", ""), "token_version": version,
        "roles": {"publisher": roles["publisher"], "subscriber": roles["subscriber"]},
        "token_types": {t: t for t in token_types if t in ("uid", "userAccount")} or {"uid": "uid"},
        "expiry": {"unit": "seconds", "default": default_expiry},
        "client_timeout": client_timeout,
        "operations": operations,
    }


def _route_problem(name: str, template: object) -> str | None:
    """Why a 0.1 route template cannot be used (None if it can)."""
    if not isinstance(template, str) or not template.startswith("/"):
        return f"route {name!r} must be a path starting with '/', not {template!r}"
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return f"route {name!r} is not a valid template ({exc}): {template!r}"
    allowed = ROUTE_FIELDS[name]
    if fields - allowed:
        return (f"route {name!r} uses unknown placeholders {sorted(fields - allowed)}; "
                f"allowed: {sorted(allowed) or 'none'}")
    if name in ("rtc", "rte", "rtm") and fields != allowed:
        return f"route {name!r} must contain the placeholders {sorted(allowed)}, missing {sorted(allowed - fields)}"
    return None


# Re-exported for callers of the 0.1 module (and ``placeholders`` for the OpenAPI derivation).
_ = (placeholders, OPERATIONS)
