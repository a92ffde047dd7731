"""Requirement sentences in the words of the profile under judgement.

The catalogue's sentences name the Go family's routes (``GET /rtc/{channel}/{role}/uid/{uid}/``, ``?expiry=N``,
``schemas/openapi.json``). A report about a server of another shape must describe the requests the suite sent it:
for a profile of the user's own, the sentences that name a route, a key or a parameter are rebuilt from the
profile's operations. Bundled profiles keep the catalogue's sentences (they are its routes).
"""

from __future__ import annotations

import json
from typing import Any

from ..contract.model import Requirement
from . import bundled_names
from .model import PLACEHOLDER

#: How a sentence names the lifetime a request asks for, when it names none of its own.
_NO_FIELD = "(no field)"


def request_template(op: Any) -> str:
    """``GET /token?channel={channel}&uid={uid}`` / ``POST /rtctoken {"channel": "{channel}", ...}``."""
    text = f"{op.method} {op.path}"
    if op.query:
        text += "?" + "&".join(f"{k}={v}" for k, v in op.query.items())
    if op.body is not None:
        text += " " + json.dumps(op.body, ensure_ascii=False) + (" (form)" if op.body_format == "form" else "")
    return text


def _answer(op: Any, status: int | None = None) -> str:
    code = status if status is not None else op.status
    if op.token == "":
        return f"{code} and the token as the whole body (text/plain)"
    return f"{code} and a JSON object with a non-empty string at {op.token}"


def _expiry_field(op: Any) -> str:
    for key, template in op.query.items():
        if "expiry" in {m.group(1) for m in PLACEHOLDER.finditer(template)}:
            return f"?{key}=N"
    for key, template in (op.body or {}).items():
        if isinstance(template, str) and "{expiry" in template:
            return f"the body field {key} = N"
    if "{expiry" in op.path:
        return "N in the path"
    return _NO_FIELD


def sentence_for(req: Requirement, profile: Any | None) -> str:
    """``req``'s sentence for ``profile``: rebuilt from its operations for a profile of the user's own."""
    if profile is None:
        return req.sentence
    if profile.name in bundled_names():
        return req.sentence
    rewrite = _REWRITES.get(req.id)
    if rewrite is None:
        return req.sentence
    try:
        return rewrite(profile) or req.sentence
    except (KeyError, LookupError):  # an operation the profile lacks: the case skips, its sentence stays
        return req.sentence


def _route_1(p: Any) -> str:
    rtc = p.operations["rtc"]
    roles = (f", for every role of the profile ({', '.join(p.issued_roles)})" if p.role_input
             else f" (the request takes no role: every token is a {p.issued_roles[0]} token)")
    return f"{request_template(rtc)} with valid values answers {_answer(rtc)}{roles}."


def _route_2(p: Any) -> str | None:
    if p.raw_token:
        return ("Every token response declares its content type: the RTC answer, whose whole body is the token, "
                "text/plain (charset optional); other token answers application/json.")
    return None


def _route_3(p: Any) -> str:
    rtc = p.operations["rtc"]
    if rtc.token == "":
        return f"Every success body of {request_template(rtc)} is the token alone (whitespace around it allowed)."
    return (f"Every success body of every request the profile lists is a JSON object with a non-empty string at its "
            f"token pointer ({request_template(rtc)}: {rtc.token}" + (f", the chosen uid at {rtc.uid}" if rtc.uid else "")
            + ").")


def _op_route(name: str, what: str) -> Any:
    def build(p: Any) -> str | None:
        if not p.has(name):
            return None
        op = p.operation(name)
        return f"{request_template(op)} answers {_answer(op)}{what}."
    return build


def _token_4(p: Any) -> str | None:
    if p.uid_input:
        return None
    rtc = p.operations["rtc"]
    where = (f"the uid its answer names at {rtc.uid}" if rtc.uid is not None
             else "the uid the token carries (the answer names none; a 006 token's uid is then not judged)")
    return (f"A token is bound to exactly the requested channel and, as the server chooses the uid, to {where}: a "
            "valid uid (0..4294967295).")


def _expiry_1(p: Any) -> str | None:
    field = _expiry_field(p.operations["rtc"])
    if field == _NO_FIELD:
        return None
    return (f"With {field} ({p.expiry_unit}), the token and every RTC privilege lapse N {p.expiry_unit} after issue "
            "(007: relative to issue_ts; 006: absolute), within the allowed clock skew.")


def _expiry_2(p: Any) -> str:
    field = _expiry_field(p.operations["rtc"])
    if field == _NO_FIELD:
        return (f"Every token lapses after the fixed lifetime the server gives (the profile states "
                f"{p.default_expiry} s), which lies in (0, 86400] seconds.")
    return f"Without {field.replace('=N', '').replace(' = N', '')}, the token lapses after a lifetime in (0, 86400] seconds."


def _input_8(p: Any) -> str | None:
    if p.expiry_min is None and p.expiry_max is None:
        return None
    low = p.expiry_min if p.expiry_min is not None else 1
    high = min(p.expiry_max if p.expiry_max is not None else 86400, 86400)
    return (f"An expiry outside the limits the profile states ({low}..{high} s), 0 or above 86400 included, is refused "
            "with a 4xx rather than clamped, wrapped or honoured.")


def _prop_1(p: Any) -> str:
    ops = [request_template(op) for name, op in p.operations.items() if name != "post_get_token"]
    return ("For valid requests generated from the OpenAPI description of the profile's requests ("
            + "; ".join(ops) + "), the server never answers 5xx, answers 200, and the body carries the token where the "
            "profile reads it (the content type is ROUTE-2's, a SHOULD).")


_REWRITES = {
    "ROUTE-1": _route_1,
    "ROUTE-2": _route_2,
    "ROUTE-3": _route_3,
    "ROUTE-6": _op_route("rtm", ""),
    "ROUTE-7": _op_route("rte", " and the RTM token at its rtm_token pointer"),
    "ROUTE-9": _op_route("rtc_account", " for a user account"),
    "TOKEN-4": _token_4,
    "EXPIRY-1": _expiry_1,
    "EXPIRY-2": _expiry_2,
    "INPUT-8": _input_8,
    "PROP-1": _prop_1,
}
