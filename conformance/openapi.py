"""The OpenAPI 3.1 description of a profile's routes, and the schema a profile's success answer must match.

The bundled ``schemas/openapi.json`` describes the default family (agora-token-service); a profile of another family
has other role words, routes, field names and token pointers, so PROP-1 (Schemathesis) and ROUTE-9 judge a server
against a document derived here from its profile. The documents themselves are read by
:mod:`conformance.schemas`, which knows nothing of profiles (profiles are checked against its ``profile`` schema).
"""

from __future__ import annotations

import re
import string
from typing import Any

from .profiles import DEFAULT_TOKEN, Profile, ProfileError, load_profile
from .profiles.model import PLACEHOLDER, UNITS, text_of
from .schemas import OPENAPI, load_schema

__all__ = ["answer_schema", "openapi_document"]

#: Keys of a standalone schema that describe the file, not the value; dropped when it is inlined.
_FILE_KEYS = ("$schema", "$id")


def openapi_document(profile: Profile | str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document, self-contained (response schemas inlined), for ``profile``.

    Without a profile: the bundled document, which describes the default profile (agora-token-service).
    With one (a :class:`conformance.profiles.Profile`, or a name/path for ``load_profile``): the role enum holds
    that profile's role words, each path is that profile's route template filled with the operation's values,
    the expiry query parameter takes the profile's name, and operations whose route (or token type) the profile
    lacks are left out: agora-node-tokenserver has no ``POST /getToken``.
    """
    doc = load_schema(OPENAPI)
    _inline_file_refs(doc)
    if profile is None:
        return doc
    if isinstance(profile, str):
        profile = load_profile(profile)
    return _for_profile(doc, profile)


def answer_schema(profile: Profile, operation: str, bundled: str) -> str | dict[str, Any]:
    """The schema a success answer of ``operation`` must match: the bundled one (``bundled``) when the profile
    reads the token where the bundled families put it, else one requiring a non-empty string at its pointer."""
    op = profile.operation(operation)
    if op.token == DEFAULT_TOKEN.get(operation) and op.rtm_token in (None, "/rtmToken") and op.uid is None:
        return bundled
    schema = _at_pointer(op.token, {"type": "string", "minLength": 1})
    if op.rtm_token:
        schema = {"allOf": [schema, _at_pointer(op.rtm_token, {"type": "string", "minLength": 1})]}
    if op.uid:
        schema = {"allOf": [schema, _at_pointer(op.uid, {"type": ["integer", "string"]})]}
    schema["x-pointer"] = op.token
    return schema


# --- internals -------------------------------------------------------------------------------------------


def _inline_file_refs(doc: dict[str, Any]) -> None:
    """Replace ``{"$ref": "rtc-token.json"}`` in components by the schema itself.

    On disk the document points at the files beside it (one source of truth, and ``st run schemas/openapi.json``
    resolves them); in memory it must stand alone, since ``from_dict`` has no base location.
    """
    components = doc.get("components", {}).get("schemas", {})
    for key, schema in list(components.items()):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if isinstance(ref, str) and not ref.startswith("#"):
            inlined = load_schema(ref)
            for file_key in _FILE_KEYS:
                inlined.pop(file_key, None)
            components[key] = inlined


class _Placeholders(dict):  # type: ignore[type-arg]
    """Route values for ``str.format_map``: a placeholder the operation does not fill stays ``{name}``."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _path_shaped(profile: Profile, feature: str) -> bool:
    """Whether an operation is the Go family's shape (values in the path, ``?expiry=``, token keys as bundled):
    the document's own operation then describes it, with the profile's words."""
    op = profile.operation(feature)
    if feature == "post_get_token":
        return True  # the Go family's own body format, which cases send as it is
    if feature == "ping" and op.answer != {"message": "pong"}:
        return False
    if op.method != "GET" or op.body is not None or op.status != 200 or op.uid is not None:
        return False
    if any(template != "{expiry}" for template in op.query.values()) or len(op.query) > 1:
        return False
    if feature in DEFAULT_TOKEN and op.token != DEFAULT_TOKEN[feature]:
        return False
    return not (feature == "rte" and op.rtm_token not in (None, "/rtmToken"))


def _for_profile(doc: dict[str, Any], profile: Profile) -> dict[str, Any]:
    roles = list(dict.fromkeys(profile.roles[r] for r in profile.issued_roles))
    doc["components"]["schemas"]["Role"]["enum"] = roles
    if not all(isinstance(r, str) for r in roles):
        doc["components"]["schemas"]["Role"].pop("type", None)  # typed role values: true, 1
    doc["components"]["parameters"]["expiry"]["name"] = profile.expiry_param
    doc["info"]["x-conformance-profile"] = profile.name
    doc["info"]["summary"] = f"The routes an Agora token server answers, for the profile {profile.name!r}."
    parameters = doc["components"]["parameters"]

    paths: dict[str, dict[str, Any]] = {}
    shapes: dict[tuple[str, str], str] = {}
    for item in doc["paths"].values():
        for method, operation in item.items():
            feature = operation["x-conformance-feature"]
            values = dict(operation.get("x-conformance-route-values", {}))
            if not profile.has(feature):
                continue
            account = values.get("tokentype") == "userAccount"
            if "tokentype" in values and values["tokentype"] not in profile.token_types:
                continue
            if account and not profile.has("rtc_account"):
                continue
            if not _path_shaped(profile, "rtc_account" if account else feature):
                op = profile.operation("rtc_account" if account else feature)
                path, method, operation = _generic(doc, profile, op, operation, account=account)
            else:
                if "tokentype" in values:
                    values["tokentype"] = profile.token_type_words.get(values["tokentype"], values["tokentype"])
                template = profile.routes[feature]
                try:
                    path = template.format_map(_Placeholders(values))
                except (ValueError, IndexError) as exc:
                    raise ProfileError(
                        f"profile {profile.name!r}: route {feature} {template!r} is not a template: {exc}"
                    ) from None
                declared = {
                    parameters[p["$ref"].rsplit("/", 1)[-1]]["name"]
                    for p in operation.get("parameters", [])
                    if parameters[p["$ref"].rsplit("/", 1)[-1]]["in"] == "path"
                }
                used = {field for _, field, _, _ in string.Formatter().parse(path) if field}
                if used != declared:
                    raise ProfileError(
                        f"profile {profile.name!r}: route {feature} {template!r} gives {path!r}, whose placeholders "
                        f"{sorted(used)} are not the parameters {sorted(declared)} of {operation['operationId']}"
                    )
            shape = (method, re.sub(r"{[^}]*}", "{}", path))  # OpenAPI: /a/{x} and /a/{y} are the same path
            if shape in shapes:
                raise ProfileError(
                    f"profile {profile.name!r}: {method.upper()} {shapes[shape]} and {path} are the same route"
                )
            shapes[shape] = path
            paths.setdefault(path, {})[method] = operation
    doc["paths"] = paths
    return doc


#: Text forms of the numeric values, for string fields and query parameters of generic operations.
_UID_TEXT = {"type": "string", "pattern": "^(0|[1-9][0-9]{0,8})$", "description": "A uid below 10^9, as text."}


def _generic(doc: dict[str, Any], profile: Profile, op: Any, static: dict[str, Any], *,
             account: bool) -> tuple[str, str, dict[str, Any]]:
    """An operation of any shape, from the profile's templates: path, query and body fields with their schemas,
    and a 200 answer carrying a non-empty string at the token pointer (and the uid pointer, if any)."""
    ref = "#/components/schemas/"
    factor = UNITS[profile.expiry_unit]
    # Valid lifetimes: inside the limits the profile states (expiry.min / expiry.max), never above 86400 s.
    low = -(-(profile.expiry_min or 1) // factor)
    high = min(profile.expiry_max or 86400, 86400) // factor
    expiry_number = {"type": "integer", "minimum": low, "maximum": high,
                     "description": f"Token lifetime in {profile.expiry_unit}."}
    uid_number = {"$ref": ref + ("Account" if account else "Uid")}
    word = profile.token_type_words.get("userAccount" if account else "uid", "uid")

    def schema_of(name: str, kind: str | None, where: str) -> dict[str, Any]:
        if name == "uid":
            if account:
                return {"$ref": ref + "Account"}
            return uid_number if (kind == "number" or where == "path") else dict(_UID_TEXT)
        if name == "expiry":
            if kind == "number" or where != "body":
                return dict(expiry_number)
            if low > 1 or high < 86400 // factor:  # limits a pattern cannot say: the text of a number inside them
                return {"type": "string", "enum": list(dict.fromkeys(str(n) for n in (low, (low + high) // 2, high)))}
            return {"type": "string", "pattern": f"^[1-9][0-9]{{0,{len(str(86400 // factor)) - 2}}}$"}
        if name == "tokentype":
            return {"type": "string", "enum": [word]}
        if name == "role" and where != "body":  # a typed role in a path or query is its text: true, 1
            return {"type": "string", "enum": list(dict.fromkeys(text_of(profile.roles[r])
                                                                 for r in profile.issued_roles))}
        return {"$ref": ref + {"channel": "Channel", "role": "Role"}[name]}

    parameters: list[dict[str, Any]] = []
    path = op.path
    for m in PLACEHOLDER.finditer(op.path):
        name = m.group(1)
        if name == "tokentype":
            path = path.replace(m.group(0), word)
            continue
        param = "account" if (name == "uid" and account) else name
        path = path.replace(m.group(0), "{" + param + "}")
        parameters.append({"name": param, "in": "path", "required": True, "schema": schema_of(name, None, "path")})
    for key, template in op.query.items():
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            parameters.append({"name": key, "in": "query", "required": whole.group(1) != "expiry",
                               "schema": schema_of(whole.group(1), None, "query")})
        elif not PLACEHOLDER.search(template):
            parameters.append({"name": key, "in": "query", "required": True, "schema": {"type": "string", "enum": [template]}})
    out: dict[str, Any] = {
        "operationId": static["operationId"],
        "summary": static.get("summary", ""),
        "x-conformance-feature": static["x-conformance-feature"],
        "parameters": parameters,
    }
    if op.body is not None:
        props: dict[str, Any] = {}
        required: list[str] = []
        for key, template in op.body.items():
            whole = PLACEHOLDER.fullmatch(template) if isinstance(template, str) else None
            if whole:
                props[key] = schema_of(whole.group(1), whole.group(2), "body")
                if whole.group(1) != "expiry":
                    required.append(key)
            else:
                props[key] = {"const": template}
                required.append(key)
        media = "application/json" if op.body_format == "json" else "application/x-www-form-urlencoded"
        out["requestBody"] = {"required": True, "content": {media: {"schema": {
            "type": "object", "properties": props, "required": required, "additionalProperties": False}}}}
    answer = _at_pointer(op.token, {"type": "string", "minLength": 1})
    # A raw-token answer (token pointer ""): the body is the token, text/plain; its form is TOKEN-1's to judge.
    content = {"text/plain": {}} if op.token == "" else {"application/json": {"schema": answer}}
    out["responses"] = {
        str(op.status): {"description": "A token.", "content": content},
        "4XX": {"$ref": "#/components/responses/Error"},
    }
    if static["x-conformance-feature"] == "ping":
        healthy: dict[str, Any] = {"description": "The server is up."}
        if op.answer is not None:
            healthy["content"] = {"application/json": {"schema": {"const": op.answer}}}
        out["responses"] = {str(op.status): healthy}
        out.pop("parameters")
    return path, op.method.lower(), out


def _at_pointer(pointer: str, leaf: dict[str, Any]) -> dict[str, Any]:
    """A schema requiring ``leaf`` at the JSON pointer ``pointer`` (objects all the way down)."""
    schema = leaf
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")] if pointer else []
    for part in reversed(parts):
        schema = {"type": "object", "required": [part], "properties": {part: schema}}
    return schema
