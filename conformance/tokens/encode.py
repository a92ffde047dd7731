"""Build 006 and 007 tokens from fields.

The harness builds no tokens for servers; this exists so the codec can be
checked against the known-answer vectors byte for byte, and so test servers can
issue tokens with precisely chosen defects (a wrong field, a bad signature).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ._reader import pack_string, pack_u16, pack_u32
from .codec import signature_006, signature_007
from .model import uid_string


def _privilege_map(privileges: Mapping[int, int]) -> bytes:
    out = pack_u16(len(privileges))
    for key in sorted(privileges):
        out += pack_u16(key) + pack_u32(privileges[key])
    return out


def build_006(
    app_id: str,
    certificate: str,
    channel: str,
    uid: int | str,
    *,
    salt: int,
    ts: int,
    privileges: Mapping[int, int],
) -> str:
    """An AccessToken (006): "006" + app id + base64(signature, crc channel, crc uid, message)."""
    message = pack_u32(salt) + pack_u32(ts) + _privilege_map(privileges)
    signature = signature_006(certificate, app_id, channel, uid, message)
    content = (
        pack_string(signature)
        + pack_u32(zlib.crc32(channel.encode("utf-8")))
        + pack_u32(zlib.crc32(uid_string(uid).encode("utf-8")))
        + pack_string(message)
    )
    return "006" + app_id + base64.b64encode(content).decode("ascii")


@dataclass
class ServiceSpec:
    """A 007 service to pack: its type, privileges and type-specific fields, in order."""

    type: int
    privileges: Mapping[int, int]
    #: Strings packed after the privilege map (channel + uid, user id, room + user ...).
    strings: tuple[str, ...] = ()
    #: APaaS role (i16), packed after the strings; None for other types.
    role: int | None = None
    raw_tail: bytes = field(default=b"")

    def pack(self) -> bytes:
        out = pack_u16(self.type) + _privilege_map(self.privileges)
        for s in self.strings:
            out += pack_string(s.encode("utf-8"))
        if self.role is not None:
            out += (self.role & 0xFFFF).to_bytes(2, "little")
        return out + self.raw_tail


def rtc_service(channel: str, uid: int | str, privileges: Mapping[int, int]) -> ServiceSpec:
    return ServiceSpec(type=1, privileges=privileges, strings=(channel, uid_string(uid)))


def rtm_service(user_id: str, privileges: Mapping[int, int]) -> ServiceSpec:
    return ServiceSpec(type=2, privileges=privileges, strings=(user_id,))


def build_007(
    app_id: str,
    certificate: str,
    *,
    issue_ts: int,
    expire: int,
    salt: int,
    services: Iterable[ServiceSpec],
    sort_services: bool = True,
) -> str:
    """An AccessToken2 (007). Services are packed sorted by type (stable), as builders do."""
    specs = list(services)
    if sort_services:
        specs.sort(key=lambda s: s.type)
    signing = (
        pack_string(app_id.encode("utf-8"))
        + pack_u32(issue_ts)
        + pack_u32(expire)
        + pack_u32(salt)
        + pack_u16(len(specs))
        + b"".join(s.pack() for s in specs)
    )
    signature = signature_007(certificate, issue_ts, salt, signing)
    return "007" + base64.b64encode(zlib.compress(pack_string(signature) + signing)).decode("ascii")
