"""Round trips against an independent implementation: agoraiotools 0.3.4 (the upstream Python builders).

Both directions: tokens agoraiotools builds decode to exactly the fields that
went in and verify with their certificate only; tokens our builder packs parse
with agoraiotools' ``from_string`` / ``fromString`` to the same fields.

agoraiotools' package ``__init__`` shadows its modules with classes of the same
name (``agoraiotools.AccessToken`` is the 006 *class*), so the modules are
imported by path. Its 007 token keeps one service per type and knows types
1, 2, 4, 5 and 7 only; its state is reachable only through name-mangled
attributes, read here and nowhere else.
"""

from __future__ import annotations

import base64
import importlib
import warnings
import zlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.tokens import decode, uid_string, verify
from conformance.tokens.encode import ServiceSpec, build_006, build_007

with warnings.catch_warnings():  # its __init__ imports its deprecated DynamicKey modules
    warnings.simplefilter("ignore", DeprecationWarning)
    AT006: Any = importlib.import_module("agoraiotools.AccessToken")
    AT007: Any = importlib.import_module("agoraiotools.AccessToken2")

SETTINGS = settings(max_examples=200, deadline=None)

hex32 = st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
text = st.text(max_size=40)  # unicode, no surrogates (they cannot be UTF-8 encoded)
uid = st.one_of(u32, text)  # an int uid or a string account
privileges = st.dictionaries(u16, u32, max_size=5)


# --------------------------------------------------------------------------- 007


@st.composite
def services_007(draw: st.DrawFn) -> dict[int, dict[str, Any]]:
    """One description per service type (agoraiotools keeps one per type), in a random subset of 1, 2, 4, 5, 7."""
    chosen = draw(st.lists(st.sampled_from([1, 2, 4, 5, 7]), min_size=1, max_size=5, unique=True))
    out: dict[int, dict[str, Any]] = {}
    for stype in chosen:
        desc: dict[str, Any] = {"privileges": draw(privileges)}
        if stype == 1:
            desc.update(channel=draw(text), uid=draw(uid))
        elif stype in (2, 5):
            desc["user_id"] = draw(text)
        elif stype == 7:
            desc.update(room=draw(text), user=draw(text), role=draw(st.integers(-(2**15), 2**15 - 1)))
        out[stype] = desc
    return out


def _agora_service(stype: int, desc: dict[str, Any]) -> Any:
    if stype == 1:
        service = AT007.ServiceRtc(desc["channel"], desc["uid"])
    elif stype == 2:
        service = AT007.ServiceRtm(desc["user_id"])
    elif stype == 4:
        service = AT007.ServiceFpa()
    elif stype == 5:
        service = AT007.ServiceChat(desc["user_id"])
    else:
        service = AT007.ServiceApaas(desc["room"], desc["user"], desc["role"])
    for key, value in desc["privileges"].items():
        service.add_privilege(key, value)
    return service


def _our_spec(stype: int, desc: dict[str, Any]) -> ServiceSpec:
    if stype == 1:
        return ServiceSpec(1, desc["privileges"], strings=(desc["channel"], uid_string(desc["uid"])))
    if stype in (2, 5):
        return ServiceSpec(stype, desc["privileges"], strings=(desc["user_id"],))
    if stype == 7:
        return ServiceSpec(7, desc["privileges"], strings=(desc["room"], desc["user"]), role=desc["role"])
    return ServiceSpec(stype, desc["privileges"])


@SETTINGS
@given(hex32, hex32, hex32, st.integers(1, 2**32 - 1), u32, st.integers(1, 99_999_999), services_007())
def test_007_from_agoraiotools(
    app_id: str, cert: str, other: str, issue_ts: int, expire: int, salt: int, services: dict[int, dict[str, Any]]
) -> None:
    builder = AT007.AccessToken(app_id, cert, issue_ts=issue_ts, expire=expire)
    builder._AccessToken__salt = salt  # its salt is random; fix it so the field can be compared
    for stype, desc in services.items():
        builder.add_service(_agora_service(stype, desc))
    token = builder.build()

    tok = decode(token)
    assert (tok.version, tok.app_id, tok.issue_ts, tok.lifetime, tok.salt) == ("007", app_id, issue_ts, expire, salt)
    assert tok.unknown_service_type is None
    assert [s.type for s in tok.services] == sorted(services)
    for s in tok.services:
        desc = services[s.type]
        assert {p.id: p.value for p in s.privileges} == desc["privileges"]
        assert [p.id for p in s.privileges] == sorted(desc["privileges"])
        if s.type == 1:
            assert (s.channel, s.uid) == (desc["channel"], uid_string(desc["uid"]))
            assert tok.binds(desc["channel"], desc["uid"])
        elif s.type in (2, 5):
            assert s.user_id == desc["user_id"]
        elif s.type == 7:
            assert s.extra == {"room_uuid": desc["room"], "user_uuid": desc["user"], "role": desc["role"]}
    assert verify(tok, cert) is True
    assert verify(tok, other) is (other == cert)


@SETTINGS
@given(hex32, hex32, st.integers(1, 2**32 - 1), u32, st.integers(1, 99_999_999), services_007())
def test_007_to_agoraiotools(
    app_id: str, cert: str, issue_ts: int, expire: int, salt: int, services: dict[int, dict[str, Any]]
) -> None:
    specs = [_our_spec(stype, desc) for stype, desc in services.items()]
    token = build_007(app_id, cert, issue_ts=issue_ts, expire=expire, salt=salt, services=specs)

    parsed = AT007.AccessToken()
    assert parsed.from_string(token) is True
    assert parsed._AccessToken__app_id == app_id.encode()
    assert (parsed._AccessToken__issue_ts, parsed._AccessToken__expire, parsed._AccessToken__salt) == (
        issue_ts, expire, salt,
    )
    theirs = parsed._AccessToken__service
    assert sorted(theirs) == sorted(services)
    for stype, desc in services.items():
        service = theirs[stype]
        assert service._Service__privileges == desc["privileges"]
        if stype == 1:
            assert service._ServiceRtc__channel_name == desc["channel"].encode()
            assert service._ServiceRtc__uid == uid_string(desc["uid"]).encode()
        elif stype == 2:
            assert service._ServiceRtm__user_id == desc["user_id"].encode()
        elif stype == 5:
            assert service._ServiceChat__user_id == desc["user_id"].encode()
        elif stype == 7:
            assert (service._ServiceApaas__room_uuid, service._ServiceApaas__user_uuid, service._ServiceApaas__role) == (
                desc["room"].encode(), desc["user"].encode(), desc["role"],
            )
    # agoraiotools rebuilds the same signing info from what it parsed: same signature, same payload.
    rebuilt = AT007.AccessToken(app_id, cert, issue_ts=issue_ts, expire=expire)
    rebuilt._AccessToken__salt = salt
    for stype in sorted(services):
        rebuilt.add_service(theirs[stype])
    assert _payload(rebuilt.build()) == _payload(token)


def _payload(token: str) -> bytes:
    return zlib.decompress(base64.b64decode(token[3:]))


# --------------------------------------------------------------------------- 006


@SETTINGS
@given(hex32, hex32, hex32, text, uid, st.integers(1, 99_999_999), u32, privileges)
def test_006_from_agoraiotools(
    app_id: str, cert: str, other: str, channel: str, who: int | str, salt: int, ts: int, privs: dict[int, int]
) -> None:
    builder = AT006.AccessToken(app_id, cert, channel, who)
    builder.salt, builder.ts = salt, ts
    for key, value in privs.items():
        builder.addPrivilege(key, value)
    token = builder.build()

    tok = decode(token)
    assert (tok.version, tok.app_id, tok.salt, tok.ts) == ("006", app_id, salt, ts)
    (service,) = tok.services
    assert {p.id: p.value for p in service.privileges} == privs
    assert tok.crc_channel == zlib.crc32(channel.encode()) and tok.crc_uid == zlib.crc32(uid_string(who).encode())
    assert tok.binds(channel, who)
    assert verify(tok, cert, channel=channel, uid=who) is True
    assert verify(tok, other, channel=channel, uid=who) is (other == cert)
    assert verify(tok, cert, channel=channel + "x", uid=who) is False


@SETTINGS
@given(hex32, hex32, text, uid, st.integers(1, 99_999_999), u32, privileges)
def test_006_to_agoraiotools(
    app_id: str, cert: str, channel: str, who: int | str, salt: int, ts: int, privs: dict[int, int]
) -> None:
    token = build_006(app_id, cert, channel, who, salt=salt, ts=ts, privileges=privs)
    parsed = AT006.AccessToken()
    assert parsed.fromString(token) is True
    assert (parsed.salt, parsed.ts, parsed.messages) == (salt, ts, privs)
    # agoraiotools' builder, given the same inputs, makes the same string: 006 is deterministic.
    again = AT006.AccessToken(app_id, cert, channel, who)
    again.salt, again.ts = salt, ts
    for key, value in privs.items():
        again.addPrivilege(key, value)
    assert again.build() == token


def test_agoraiotools_role_builders_decode_as_documented() -> None:
    """RtcTokenBuilder (006) and RtcTokenBuilder2 (007) publisher / subscriber tokens (token-format.md 2.6, 3.6)."""
    rtc006: Any = importlib.import_module("agoraiotools.RtcTokenBuilder").RtcTokenBuilder
    rtc007: Any = importlib.import_module("agoraiotools.RtcTokenBuilder2").RtcTokenBuilder2
    app_id, cert = "970CA35de60c44645bbae8a215061b33", "5CFd2fd1755d40ecb72977518be15d3b"

    pub6 = decode(rtc006.buildTokenWithUid(app_id, cert, "room", 42, 1, 2_000_000_000))
    sub6 = decode(rtc006.buildTokenWithUid(app_id, cert, "room", 42, 2, 2_000_000_000))
    assert [p.id for p in pub6.services[0].privileges] == [1, 2, 3, 4]
    assert [p.id for p in sub6.services[0].privileges] == [1]
    assert all(p.value == 2_000_000_000 for p in pub6.services[0].privileges)
    assert verify(pub6, cert, channel="room", uid=42)

    pub7 = decode(rtc007.build_token_with_uid(app_id, cert, "room", 42, 1, 3600, 600))
    sub7 = decode(rtc007.build_token_with_user_account(app_id, cert, "room", "alice", 2, 3600, 0))
    assert pub7.lifetime == 3600 and pub7.rtc is not None
    assert {p.id: p.value for p in pub7.rtc.privileges} == {1: 600, 2: 600, 3: 600, 4: 600}
    assert sub7.rtc is not None and [(p.id, p.value) for p in sub7.rtc.privileges] == [(1, 0)]
    assert sub7.binds("room", "alice") and pub7.binds("room", 42)
    assert verify(pub7, cert) and verify(sub7, cert)
