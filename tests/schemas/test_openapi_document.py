"""The OpenAPI 3.1 description: a valid document, self-contained in memory, and derived per profile."""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator

from conformance import schemas
from conformance.openapi import openapi_document
from conformance.profiles import Operation, Profile, ProfileError, bundled_names, load_profile

DEFAULT_OPERATIONS = {
    ("get", "/rtc/{channel}/{role}/uid/{uid}/"),
    ("get", "/rtc/{channel}/{role}/userAccount/{account}/"),
    ("get", "/rtm/{uid}/"),
    ("get", "/rte/{channel}/{role}/uid/{uid}/"),
    ("get", "/ping"),
    ("post", "/getToken"),
}
#: operationId -> the schema of its 200 body.
SUCCESS_SCHEMA = {
    "getRtcTokenForUid": "rtc-token",
    "getRtcTokenForAccount": "rtc-token",
    "getRtmToken": "rtm-token",
    "getRteToken": "rte-token",
    "ping": "ping",
    "postGetToken": "get-token",
}


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, item in doc["paths"].items() for method, op in item.items()}


def _pointer(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def all_refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


@pytest.fixture(params=[None, *bundled_names()])
def doc(request: pytest.FixtureRequest) -> dict[str, Any]:
    return openapi_document(request.param)


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    loaded = schemathesis.openapi.from_dict(doc)
    loaded.validate()  # raises on a document that breaks the OpenAPI 3.1 meta-schema
    labels = {op.ok().label for op in loaded.get_all_operations()}
    assert labels == {f"{m.upper()} {p}" for m, p in operations(doc)}


def test_on_disk_file_loads_with_its_relative_references() -> None:
    """`st run schemas/openapi.json` must work: the file points at the schema files beside it."""
    path = schemas.schema_path("openapi")
    loaded = schemathesis.openapi.from_path(str(path))
    loaded.validate()
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    external = {r for r in all_refs(on_disk) if not r.startswith("#")}
    assert external == {f"{n}.json" for n in schemas.names()}
    assert all((Path(path).parent / r).is_file() for r in external)


def test_in_memory_document_is_self_contained(doc: dict[str, Any]) -> None:
    refs = all_refs(doc)
    assert refs and all(r.startswith("#/") for r in refs)
    for ref in refs:
        _pointer(doc, ref)  # KeyError if dangling
    inlined = doc["components"]["schemas"]["RtcTokenResponse"]
    expected = schemas.load_schema("rtc-token")
    del expected["$schema"], expected["$id"]
    assert inlined == expected


def test_every_path_placeholder_is_a_declared_path_parameter(doc: dict[str, Any]) -> None:
    for (method, path), op in operations(doc).items():
        params = [_pointer(doc, p["$ref"]) if "$ref" in p else p for p in op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert set(re.findall(r"{(\w+)}", path)) == declared, f"{method} {path}"
        assert all(p["required"] for p in params if p["in"] == "path")


def test_responses_reference_the_bundled_schemas() -> None:
    doc = json.loads(schemas.schema_path("openapi").read_text(encoding="utf-8"))
    components = doc["components"]["schemas"]
    for op in operations(doc).values():
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert components[ok["$ref"].rsplit("/", 1)[-1]] == {"$ref": f"{SUCCESS_SCHEMA[op['operationId']]}.json"}
        if op["operationId"] != "ping":
            error = _pointer(doc, op["responses"]["4XX"]["$ref"])["content"]["application/json"]["schema"]
            assert components[error["$ref"].rsplit("/", 1)[-1]] == {"$ref": "error.json"}


def test_default_document_describes_the_default_profile() -> None:
    plain = openapi_document()
    assert set(operations(plain)) == DEFAULT_OPERATIONS
    derived = openapi_document(load_profile("agora-token-service"))
    assert derived["paths"] == plain["paths"]
    assert derived["components"] == plain["components"]


def test_parameter_schemas_are_tight() -> None:
    """The bounds the strict reference server enforces, so positive generation stays inside them."""
    components = openapi_document()["components"]["schemas"]
    assert {"type": "integer", "minimum": 0, "maximum": 4294967295}.items() <= components["Uid"].items()
    assert components["RteUid"]["minimum"] == 1
    assert {"type": "integer", "minimum": 1, "maximum": 86400}.items() <= components["Expiry"].items()
    assert components["Channel"]["minLength"] == 1 and components["Channel"]["maxLength"] == 64
    assert components["Account"]["maxLength"] * 4 <= 255
    assert components["Role"]["enum"] == ["publisher", "subscriber"]
    expiry = openapi_document()["components"]["parameters"]["expiry"]
    assert expiry["in"] == "query" and expiry["required"] is False


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("my-channel", True), ("Room #1 (test)", True), ("a" * 64, True), ("%", False), ("100%!", True),
        ("%zz", True), ("%2F", False), ("%41", False), ("a%4", False), (".", False), ("..", False), ("...", True),
        ("a.b", True), (".x", True), ("a/b", False), ("é", False), ("a\n", False), ("", False), ("{x}", True),
        ("%x" * 5000 + "%2", False),
    ],
)
def test_channel_pattern(value: str, ok: bool) -> None:
    channel = openapi_document()["components"]["schemas"]["Channel"]
    assert _matches(channel, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("alice", True), ("Zoë 🎧", True), ("0", True), ("%zz", True), ("%2F", False), ("%C3%A9", False),
        ("a/b", False), (".", False), ("..", False), (".a", True), ("a\x00b", False), ("tab\there", False),
        ("\x85", False), ("\ufffd", False), ("🎧" * 63, True), ("🎧" * 64, False), ("", False),
        ("a" * 10_000 + "\x00", False),
    ],
)
def test_account_pattern(value: str, ok: bool) -> None:
    account = openapi_document()["components"]["schemas"]["Account"]
    assert _matches(account, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("0", True), ("7", True), ("4294967295", True), ("4294967296", False), ("1000000000", True),
     ("3999999999", True), ("4294967290", True), ("4300000000", False), ("007", False), ("-1", False),
     ("1.5", False), ("", False), ("99999999999", False)],
)
def test_uid_string_pattern_is_exactly_0_to_2_32_minus_1(value: str, ok: bool) -> None:
    uid = openapi_document()["components"]["schemas"]["UidString"]
    assert _matches(uid, value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("alice", True), ("0", False), ("00", True), (".", False), ("a" * 64, True), ("a" * 65, False),
     ("🎧" * 16, True), ("é" * 17, False), ("3f2c7e0a-9b1d-4c6e-8f00-123456789abc", True), ("a/b", False)],
)
def test_rtm_user_id_is_at_most_64_bytes_and_never_0(value: str, ok: bool) -> None:
    rtm = openapi_document()["components"]["schemas"]["RtmUserId"]
    assert _matches(rtm, value) is ok
    assert not ok or len(value.encode("utf-8")) <= 64


def _matches(schema: dict[str, Any], value: str) -> bool:
    """As an ECMA engine reads the schema: Python's '$' would also match before a final line feed."""
    return Draft202012Validator(schema).is_valid(value) and not value.endswith("\n")


# --- per profile --------------------------------------------------------------------------------------


def test_node_profile_roles_and_routes() -> None:
    doc = openapi_document(load_profile("agora-node-tokenserver"))
    assert doc["components"]["schemas"]["Role"]["enum"] == ["publisher", "audience"]
    assert set(operations(doc)) == DEFAULT_OPERATIONS - {("post", "/getToken")}
    assert doc["info"]["x-conformance-profile"] == "agora-node-tokenserver"


def test_profile_by_name_equals_profile_object() -> None:
    assert openapi_document("agora-node-tokenserver") == openapi_document(load_profile("agora-node-tokenserver"))


def test_openapi_returns_independent_copies() -> None:
    first = openapi_document()
    first["paths"].clear()
    first["components"]["schemas"]["RtcTokenResponse"]["required"].append("x")
    second = openapi_document()
    assert set(operations(second)) == DEFAULT_OPERATIONS
    assert second["components"]["schemas"]["RtcTokenResponse"]["required"] == ["rtcToken"]


def _custom_profile(tmp_path: Path, **changes: Any) -> Path:
    bundled = resources.files("conformance.profiles").joinpath("agora-token-service.json")
    data = json.loads(bundled.read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_custom_profile_routes_roles_and_expiry_name(tmp_path: Path) -> None:
    path = _custom_profile(
        tmp_path,
        roles={"publisher": "host", "subscriber": "host"},
        token_types={"uid": "uid"},
        operations={"rtc": {"path": "/api/v2/token/{tokentype}/{channel}/{uid}/{role}", "query": {"ttl": "{expiry}"}},
                    "health": {"path": "/healthz"}},
    )
    doc = openapi_document(str(path))
    assert set(operations(doc)) == {("get", "/api/v2/token/uid/{channel}/{uid}/{role}"), ("get", "/healthz")}
    assert doc["components"]["schemas"]["Role"]["enum"] == ["host"]
    assert doc["components"]["parameters"]["expiry"]["name"] == "ttl"
    schemathesis.openapi.from_dict(doc).validate()


# The profile loader refuses such templates too; a Profile built in code must still not yield a broken document.


def _in_code(**routes: str) -> Profile:
    ops = {name: Operation(name, "GET", path, query={"expiry": "{expiry}"}, token="/rtcToken")
           for name, path in routes.items()}
    return dataclasses.replace(load_profile("agora-token-service"), operations=ops)


def test_profile_whose_template_drops_a_parameter_is_refused() -> None:
    with pytest.raises(ProfileError, match="placeholders"):
        openapi_document(_in_code(rtc="/rtc/{channel}/{tokentype}/{uid}/"))


def test_profile_whose_template_has_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ProfileError, match="region"):
        openapi_document(_in_code(rtc="/rtc/{channel}/{role}/{tokentype}/{uid}/{region}/"))


def test_profile_whose_template_is_not_a_template_is_refused() -> None:
    with pytest.raises(ProfileError, match="not a template"):
        openapi_document(_in_code(rtc="/rtc/{}/{role}/{tokentype}/{uid}/"))


def test_profile_whose_routes_collide_is_refused() -> None:
    with pytest.raises(ProfileError, match="same route"):
        openapi_document(_in_code(rtc="/t/{channel}/{role}/{tokentype}/{uid}/", rte="/t/{channel}/{role}/{tokentype}/{uid}/"))
