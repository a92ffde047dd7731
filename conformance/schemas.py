"""The bundled JSON documents: the JSON Schemas of token-server answers and of profiles, and the OpenAPI 3.1 document.

The files are data in the repository's schemas/ (shipped in the wheel: conformance/layout.py) so that other
tools (Schemathesis' CLI, an editor, another language) can read them as they are; this module is the small Python
side of them: find a document, load it, validate a body against it. The OpenAPI document of a profile is built by
:mod:`conformance.openapi`; this module imports nothing of the package but the layout, so profiles can use it.
"""

from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import top_folder

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# Late imports: jsonschema is imported where a schema is first used, not here. The profiles import this module,
# and the pytest plugin (loaded by every pytest process through its entry point) imports the profiles: jsonschema
# at the top made `python -c "import conformance.plugin"` 1.25x slower (farm-bench, cpu median 0.89 s -> 1.15 s).

__all__ = ["best_error", "load_schema", "names", "schema_path", "validate"]

OPENAPI = "openapi"
#: Longest message validate() returns: bodies can be whole HTML pages, and reprs of them help nobody.
MAX_MESSAGE = 240
#: The documents: schemas/ of the repository (shipped in the wheel as data, conformance/layout.py).
_FOLDER = top_folder("schemas")


#: Bundled schemas that describe files of the user's, not answers of a server.
INPUT_SCHEMAS = ("profile",)


def names() -> list[str]:
    """The bundled response JSON Schemas (``"rtc-token"``, ``"error"``, ...): no OpenAPI document, no profile schema."""
    return sorted(n for n in _bundled() if n != OPENAPI and n not in INPUT_SCHEMAS)


def schema_path(name: str) -> Path:
    """The file of a bundled schema (or ``"openapi"``), for tools that want a path.

    A real file for every ordinary install (editable or wheel); from a zipped install, read it with
    :func:`load_schema` instead.
    """
    return _FOLDER / _file_name(name)


def load_schema(name: str) -> dict[str, Any]:
    """A bundled schema by name (``"rtc-token"`` or ``"rtc-token.json"``); a copy the caller may change."""
    return copy.deepcopy(_load(_file_name(name)))


def validate(name: str | dict[str, Any], instance: object) -> list[str]:
    """Why ``instance`` does not match schema ``name``: one readable line per problem, empty if it matches.

    ``instance`` is the parsed JSON body (a non-JSON body is best passed as its text: it fails as
    "not of type 'object'"). ``name`` may also be a schema itself (see :func:`conformance.openapi.answer_schema`).
    """
    if isinstance(name, dict):
        found = sorted(_draft_2020_12(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [_describe(error) for error in found]
    if _file_name(name) == f"{OPENAPI}.json":
        raise ValueError("validate() checks response bodies; the OpenAPI document is not a body schema")
    validator = _validator(_file_name(name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(e.absolute_path), e.message))
    return [_describe(error) for error in errors]


def best_error(schema: dict[str, Any], instance: object) -> ValidationError | None:
    """The error that best says why ``instance`` does not match ``schema`` (jsonschema's ``best_match``); None if
    it matches. For files of the user's (a profile), where one precise message beats a list."""
    from jsonschema.exceptions import best_match

    return best_match(_draft_2020_12(schema).iter_errors(instance))


# --- internals -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _bundled() -> frozenset[str]:
    return frozenset(
        p.name[: -len(".json")] for p in _FOLDER.iterdir() if p.name.endswith(".json")
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
    text = (_FOLDER / file_name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(file_name: str) -> Validator:
    return _draft_2020_12(_load(file_name))


def _draft_2020_12(schema: dict[str, Any]) -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


def _describe(error: Any) -> str:
    """``$.rtcToken: '' should be non-empty``, with the alternatives of an anyOf/oneOf spelled out."""
    text = f"{error.json_path}: {_short(error.message)}"
    if error.context:
        reasons = sorted({f"{sub.json_path}: {_short(sub.message)}" for sub in error.context})
        text += " (" + "; ".join(reasons) + ")"
    return text


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
