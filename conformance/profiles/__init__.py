"""Server profiles: what a family of token servers offers, as data.

The public servers disagree (roles publisher|subscriber vs publisher|audience,
007 vs 006, which routes exist). A profile names those facts; cases read them
instead of hard-coding one server. Bundled profiles are JSON files beside this
module; a user passes the path of their own file instead of a name.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_PROFILE = "agora-token-service"
ROUTE_FEATURES = ("rtc", "rtm", "rte", "ping", "post_get_token")
#: The placeholders each route template may use (and, for the token routes, must).
ROUTE_FIELDS: dict[str, frozenset[str]] = {
    "rtc": frozenset({"channel", "role", "tokentype", "uid"}),
    "rte": frozenset({"channel", "role", "tokentype", "uid"}),
    "rtm": frozenset({"uid"}),
    "ping": frozenset(),
    "post_get_token": frozenset(),
}


class ProfileError(ValueError):
    """A profile name that is not bundled, or a profile file that is not valid."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    token_version: str
    #: Canonical role -> the word this server family uses ("subscriber" -> "audience").
    roles: dict[str, str]
    token_types: tuple[str, ...]
    routes: dict[str, str]
    expiry_param: str
    default_expiry: int
    #: Seconds the app's client waits for a token before giving up (LATENCY-1); the harness's default deadline.
    client_timeout: float = 10.0

    def has(self, feature: str) -> bool:
        return feature in self.routes

    def rtc_path(self, channel: str, role: str, tokentype: str, uid: str, *, slash: bool = True) -> str:
        """The RTC route for these values; ``role`` is canonical (publisher / subscriber)."""
        path = self.routes["rtc"].format(
            channel=_seg(channel), role=_seg(self.roles.get(role, role)), tokentype=_seg(tokentype), uid=_seg(uid)
        )
        return path[:-1] if not slash and path.endswith("/") else path

    def rtm_path(self, uid: str) -> str:
        return self.routes["rtm"].format(uid=_seg(uid))

    def rte_path(self, channel: str, role: str, tokentype: str, uid: str) -> str:
        return self.routes["rte"].format(
            channel=_seg(channel), role=_seg(self.roles.get(role, role)), tokentype=_seg(tokentype), uid=_seg(uid)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "token_version": self.token_version,
            "roles": self.roles,
            "routes": self.routes,
            "default_expiry": self.default_expiry,
        }


def _seg(value: str) -> str:
    """Percent-encode one path segment (UTF-8), keeping nothing as a separator.

    '.' and '..' are valid Agora channel names, but as bare segments every URL
    library (httpx included) resolves them away; encoded, they reach the server.
    """
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))


def load_profile(name_or_path: str | None = None) -> Profile:
    """A bundled profile by name, or a profile JSON file by path."""
    name_or_path = name_or_path or DEFAULT_PROFILE
    if name_or_path in bundled_names():
        text = resources.files(__name__).joinpath(f"{name_or_path}.json").read_text(encoding="utf-8")
        source = f"bundled profile {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(
                f"unknown profile {name_or_path!r}: not a bundled profile ({', '.join(bundled_names())}) nor a file"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read profile file {name_or_path!r}: {exc.strerror}") from None
        source = f"profile file {name_or_path!r}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{source} is not JSON: {exc}") from None
    return _parse(data, source)


def _parse(data: Any, source: str) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: expected a JSON object")
    problems = []
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
        roles = {}
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
    if problems:
        raise ProfileError(f"{source} is not a valid profile: " + "; ".join(problems))
    return Profile(
        name=str(data.get("name", "custom")),
        description=str(data.get("description", "")),
        token_version=version,
        roles={str(k): str(v) for k, v in roles.items()},
        token_types=tuple(token_types),
        routes={str(k): str(v) for k, v in routes.items()},
        expiry_param=str(data.get("expiry_param", "expiry")),
        default_expiry=default_expiry,
        client_timeout=float(client_timeout),
    )


def _route_problem(name: str, template: object) -> str | None:
    """Why a route template cannot be used (None if it can): checked here, not at the first request."""
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
