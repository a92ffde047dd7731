"""The JSON Schemas of token-server responses and the OpenAPI 3.1 description of the contract.

The files are data beside this module so that other tools (Schemathesis' CLI, an editor, another language) can
read them as they are; this module is the small Python side of them: load a schema, validate a body, and derive
the OpenAPI document of a profile (role words and routes differ between server families).

Kept import-light on purpose: the suite imports it at collection time, so jsonschema is imported on first
validation and schemathesis never.
"""

from __future__ import annotations

import copy
import json
import re
import string
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from conformance.profiles import Profile

__all__ = ["load_schema", "names", "openapi", "schema_path", "validate"]

OPENAPI = "openapi"
#: Longest message validate() returns: bodies can be whole HTML pages, and reprs of them help nobody.
MAX_MESSAGE = 240
#: Keys of a standalone schema that describe the file, not the value; dropped when it is inlined.
_FILE_KEYS = ("$schema", "$id")


def names() -> list[str]:
    """The bundled JSON Schemas (``"rtc-token"``, ``"error"``, ...), without the OpenAPI document."""
    return sorted(n for n in _bundled() if n != OPENAPI)


def schema_path(name: str) -> Path:
    """The file of a bundled schema (or ``"openapi"``), for tools that want a path.

    A real file for every ordinary install (editable or wheel); from a zipped install, read it with
    :func:`load_schema` instead.
    """
    return Path(str(resources.files(__name__).joinpath(_file_name(name))))


def load_schema(name: str) -> dict[str, Any]:
    """A bundled schema by name (``"rtc-token"`` or ``"rtc-token.json"``); a copy the caller may change."""
    return copy.deepcopy(_load(_file_name(name)))


def validate(name: str, instance: object) -> list[str]:
    """Why ``instance`` does not match schema ``name``: one readable line per problem, empty if it matches.

    ``instance`` is the parsed JSON body (a non-JSON body is best passed as its text: it fails as
    "not of type 'object'").
    """
    if _file_name(name) == f"{OPENAPI}.json":
        raise ValueError("validate() checks response bodies; the OpenAPI document is not a body schema")
    validator = _validator(_file_name(name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(e.absolute_path), e.message))
    return [_describe(error) for error in errors]


def openapi(profile: Profile | str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document, self-contained (response schemas inlined), for ``profile``.

    Without a profile: the bundled document, which describes the default profile (agora-token-service).
    With one (a :class:`conformance.profiles.Profile`, or a name/path for ``load_profile``): the role enum holds
    that profile's role words, each path is that profile's route template filled with the operation's values,
    the expiry query parameter takes the profile's name, and operations whose route (or token type) the profile
    lacks are left out: agora-node-tokenserver has no ``POST /getToken``.
    """
    doc = copy.deepcopy(_load(f"{OPENAPI}.json"))
    _inline_file_refs(doc)
    if profile is None:
        return doc
    if isinstance(profile, str):
        from conformance.profiles import load_profile

        profile = load_profile(profile)
    return _for_profile(doc, profile)


# --- internals -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _bundled() -> frozenset[str]:
    return frozenset(
        p.name[: -len(".json")] for p in resources.files(__name__).iterdir() if p.name.endswith(".json")
    )


def _file_name(name: str) -> str:
    """``name`` checked against the bundled files (no paths sneak in), as a file name."""
    bare = name[: -len(".json")] if name.endswith(".json") else name
    if bare not in _bundled():
        raise ValueError(f"unknown schema {name!r}; bundled: {', '.join(sorted(_bundled()))}")
    return f"{bare}.json"


@cache
def _load(file_name: str) -> dict[str, Any]:
    """Parsed once, then shared: every public function hands out deep copies."""
    text = resources.files(__name__).joinpath(file_name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(file_name: str) -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_load(file_name))


def _describe(error: Any) -> str:
    """``$.rtcToken: '' should be non-empty``, with the alternatives of an anyOf/oneOf spelled out."""
    text = f"{error.json_path}: {_short(error.message)}"
    if error.context:
        reasons = sorted({f"{sub.json_path}: {_short(sub.message)}" for sub in error.context})
        text += " (" + "; ".join(reasons) + ")"
    return text


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


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


def _for_profile(doc: dict[str, Any], profile: Profile) -> dict[str, Any]:
    from conformance.profiles import ProfileError

    roles = list(dict.fromkeys((profile.roles["publisher"], profile.roles["subscriber"])))
    doc["components"]["schemas"]["Role"]["enum"] = roles
    doc["components"]["parameters"]["expiry"]["name"] = profile.expiry_param
    doc["info"]["x-conformance-profile"] = profile.name
    doc["info"]["summary"] = f"The routes an Agora token server answers, for the profile {profile.name!r}."
    parameters = doc["components"]["parameters"]

    paths: dict[str, dict[str, Any]] = {}
    shapes: dict[tuple[str, str], str] = {}
    for item in doc["paths"].values():
        for method, operation in item.items():
            feature = operation["x-conformance-feature"]
            values = operation.get("x-conformance-route-values", {})
            if not profile.has(feature):
                continue
            if "tokentype" in values and values["tokentype"] not in profile.token_types:
                continue
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
