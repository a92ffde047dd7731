"""Tests of the token codec (conformance.tokens), and the helpers they share.

The known-answer vectors are a copy of shared/reference/token-vectors.json kept
in ``data/`` so the tests do not depend on anything outside the repository.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import cache
from pathlib import Path
from typing import Any

from conformance.tokens import Service, uid_string
from conformance.tokens.encode import ServiceSpec

VECTORS_FILE = Path(__file__).parent / "data" / "token-vectors.json"


@cache
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return data


def payload_007(token: str) -> bytes:
    """The decompressed body of a 007 string: what two zlib builds agree on."""
    return zlib.decompress(base64.b64decode(token[3:]))


def privileges_of(spec: dict[str, Any]) -> dict[int, int]:
    """A vector's privilege object ({"1": 600}) as {1: 600}."""
    return {int(k): v for k, v in spec["privileges"].items()}


def spec_from_vector(service: dict[str, Any]) -> ServiceSpec:
    """A vector's service description as the ServiceSpec our builder packs."""
    stype = service["type"]
    privileges = privileges_of(service)
    if stype in (1, 3, 6):
        who = service["uid"] if "uid" in service else service["account"]
        return ServiceSpec(stype, privileges, strings=(service["channel_name"], uid_string(who)))
    if stype in (2, 5):
        return ServiceSpec(stype, privileges, strings=(service["user_id"],))
    if stype == 7:
        return ServiceSpec(stype, privileges, strings=(service["room_uuid"], service["user_uuid"]), role=service["role"])
    if stype == 4:
        return ServiceSpec(stype, privileges)
    raise AssertionError(f"no builder mapping for service type {stype}")


def fields_of(service: Service) -> dict[str, Any]:
    """A decoded service in the vectors' vocabulary, for comparing with a vector's service entry."""
    out: dict[str, Any] = {
        "type": service.type,
        "name": service.name,
        "privileges": {str(p.id): p.value for p in service.privileges},
    }
    if service.type in (1,):
        out["channel_name"] = service.channel
        out["uid"] = service.uid
    elif service.type in (3, 6):
        out["channel_name"] = service.channel
        out["account"] = service.uid
    elif service.type in (2, 5, 8):
        out["user_id"] = service.user_id
    if service.type == 7:
        out.update({k: service.extra[k] for k in ("room_uuid", "user_uuid", "role")})
    if service.type == 8:
        out["permissions"] = {
            str(rtype): {str(ptype): list(names) for ptype, names in perms.items()}
            for rtype, perms in service.extra["permissions"].items()
        }
    return out


def expected_fields(service: dict[str, Any]) -> dict[str, Any]:
    """A vector's service entry normalised as ``fields_of`` shows a decoded one (uids as packed strings)."""
    out = {k: v for k, v in service.items() if k != "permissions_legend"}
    for key in ("uid", "account"):
        if key in out:
            out[key] = uid_string(out[key])
    return out
