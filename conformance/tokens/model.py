"""Decoded tokens as plain, immutable values.

Times are kept as the integers the token stores (cheap to decode) and exposed
as absolute UTC datetimes through properties. "No limit" is explicit: an
expiry of ``None`` means *never*, it is never turned into 1970.

The records are ``NamedTuple`` s rather than frozen dataclasses on purpose: a
load run decodes every token it receives, and a frozen dataclass pays one
``object.__setattr__`` call per field (about 0.75 µs per Privilege; a publisher
token has four, plus its Service and Token), while a tuple is built in one C
call (about 0.15 µs). Frozen dataclasses made decode slower than agoraiotools'
own parse; see benchmarks/codec_bench.py. The records are just as immutable;
use ``._replace()`` to derive a modified copy.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

Version = Literal["006", "007"]

#: Shared, read-only "no extra fields" value (a NamedTuple default cannot be a fresh dict).
NO_EXTRA: Mapping[str, Any] = MappingProxyType({})

#: Privilege names of an AccessToken (006); ids 5-12 were removed upstream in 2021.
PRIVILEGES_006: dict[int, str] = {
    1: "join_channel",
    2: "publish_audio_stream",
    3: "publish_video_stream",
    4: "publish_data_stream",
    101: "administrate_channel",
    1000: "rtm_login",
}

#: Service types of an AccessToken2 (007): name and privilege names.
SERVICES_007: dict[int, tuple[str, dict[int, str]]] = {
    1: ("RTC", {1: "join_channel", 2: "publish_audio_stream", 3: "publish_video_stream", 4: "publish_data_stream"}),
    2: ("RTM", {1: "login"}),
    3: ("STREAMING", {1: "publish_mix_stream", 2: "publish_raw_stream"}),
    4: ("FPA", {1: "login"}),
    5: ("CHAT", {1: "user", 2: "app"}),
    6: ("FCDN", {1: "publish", 2: "play"}),
    7: ("APAAS", {1: "room_user", 2: "user", 3: "app"}),
    8: ("RTM2", {1: "login"}),
    9: ("CONVOAI", {}),
    10: ("STT", {}),
}

#: Privileges an RTC token carries per role, by the names above.
PUBLISHER_PRIVILEGES = frozenset(
    {"join_channel", "publish_audio_stream", "publish_video_stream", "publish_data_stream"}
)
SUBSCRIBER_PRIVILEGES = frozenset({"join_channel"})

#: The words people use for privileges, and the privilege names each stands for (``Service.grants``):
#: "publish_audio" for publish_audio_stream, "publish" for all three publish privileges a publisher holds.
PRIVILEGE_WORDS: Mapping[str, frozenset[str]] = MappingProxyType({
    "join": frozenset({"join_channel"}),
    "publish": PUBLISHER_PRIVILEGES - SUBSCRIBER_PRIVILEGES,
    "publish_audio": frozenset({"publish_audio_stream"}),
    "publish_video": frozenset({"publish_video_stream"}),
    "publish_data": frozenset({"publish_data_stream"}),
})


#: The largest uid: an RTC uid is an unsigned 32-bit integer (0 is "any uid", packed as the empty string).
MAX_UID = 2**32 - 1


def utc(ts: int) -> datetime:
    """An absolute unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def uid_string(uid: int | str) -> str:
    """The uid as tokens pack it: int 0 is the empty string, any other int its decimal form."""
    if isinstance(uid, int):
        return "" if uid == 0 else str(uid)
    return uid


class Privilege(NamedTuple):
    """One privilege of a service.

    ``value`` is what the token stores: an absolute unix time in 006, seconds
    after issue in 007; 0 means the privilege sets no limit of its own.
    ``expires_ts`` is when it actually lapses, bounded by the token's expiry;
    ``None`` means never.
    """

    id: int
    name: str
    value: int
    expires_ts: int | None

    @property
    def expires_at(self) -> datetime | None:
        return None if self.expires_ts is None else utc(self.expires_ts)

    @property
    def own_limit(self) -> bool:
        """Whether the privilege carries an expiry of its own (value != 0)."""
        return self.value != 0


class Service(NamedTuple):
    """One service of a 007 token, or the single privilege set of a 006 token (type 0)."""

    type: int
    name: str
    privileges: tuple[Privilege, ...]
    channel: str | None = None
    uid: str | None = None
    user_id: str | None = None
    #: Type-specific fields: APaaS room_uuid / user_uuid / role, RTM2 permissions.
    extra: Mapping[str, Any] = NO_EXTRA

    @property
    def privilege_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.privileges)

    def privilege(self, name: str) -> Privilege | None:
        for p in self.privileges:
            if p.name == name:
                return p
        return None

    def grants(self, *privileges: str) -> bool:
        """Whether this service carries every privilege named, in the names tokens use (``publish_audio_stream``)
        or the words people use (``publish_audio``, ``publish_video``, ``publish_data``, ``publish`` for all
        three, ``join``): ``token.rtc.grants("publish_audio")``.

        A name this kind of service has no privilege for raises ValueError (a typo must not read as "not
        granted"). Carried is not the same as still valid: ``privilege(name).expires_at`` says until when.
        """
        if not privileges:
            raise ValueError("grants() needs at least one privilege name")
        known = self.known_privileges()
        wanted: set[str] = set()
        for given in privileges:
            word = "_".join(given.strip().lower().replace("-", " ").split())
            if word in known:
                wanted.add(word)
            elif word in PRIVILEGE_WORDS and PRIVILEGE_WORDS[word] <= known:
                wanted |= PRIVILEGE_WORDS[word]
            else:
                words = sorted(known | {w for w, names in PRIVILEGE_WORDS.items() if names <= known})
                raise ValueError(f"{given!r} is not a privilege of a {self.name} service; known: {', '.join(words)}")
        return wanted <= self.privilege_names

    def known_privileges(self) -> frozenset[str]:
        """Every privilege name a service of this type can carry (006: the one privilege set of the token)."""
        if self.type == 0:
            return frozenset(PRIVILEGES_006.values())
        return frozenset(SERVICES_007.get(self.type, ("", {}))[1].values())


class Token(NamedTuple):
    """A decoded 006 or 007 token.

    ``signed`` holds the exact bytes the signature covers (007: the signing
    info; 006: the packed message), so verification never re-packs fields.
    """

    version: Version
    app_id: str
    salt: int
    services: tuple[Service, ...]
    signature: bytes
    signed: bytes
    #: 007: absolute issue time; 006 tokens carry none.
    issue_ts: int | None = None
    #: 007: lifetime in seconds after issue_ts. 006: None.
    lifetime: int | None = None
    #: 006: absolute token-level expiry ("ts"; 0 = never). 007: None.
    ts: int | None = None
    crc_channel: int | None = None
    crc_uid: int | None = None
    #: 007: service type at which decoding stopped (unknown types cannot be skipped).
    unknown_service_type: int | None = None

    @property
    def expires_ts(self) -> int | None:
        """When the token as a whole lapses (unix time), None for never."""
        if self.version == "007":
            assert self.issue_ts is not None and self.lifetime is not None
            return self.issue_ts + self.lifetime
        return self.ts or None

    @property
    def issued_at(self) -> datetime | None:
        return None if self.issue_ts is None else utc(self.issue_ts)

    @property
    def expires_at(self) -> datetime | None:
        ts = self.expires_ts
        return None if ts is None else utc(ts)

    @property
    def rtc(self) -> Service | None:
        """The RTC privileges: the first RTC service of a 007 token, the privilege set of a 006 one."""
        wanted = 0 if self.version == "006" else 1
        for s in self.services:
            if s.type == wanted:
                return s
        return None

    def binds(self, channel: str, uid: int | str) -> bool:
        """Whether the token's RTC part is bound to exactly this channel and uid.

        007 stores both in clear; 006 stores only their CRC-32s, which is the
        best a client-side check can do without the certificate.
        """
        uid_str = uid_string(uid)
        if self.version == "006":
            return (
                zlib.crc32(channel.encode("utf-8")) == self.crc_channel
                and zlib.crc32(uid_str.encode("utf-8")) == self.crc_uid
            )
        rtc = self.rtc
        return rtc is not None and rtc.channel == channel and rtc.uid == uid_str

    def earliest_privilege_expiry(self) -> int | None:
        """The earliest time any privilege lapses (unix time); None if none ever does."""
        times = [p.expires_ts for s in self.services for p in s.privileges if p.expires_ts is not None]
        if times:
            return min(times)
        return self.expires_ts
