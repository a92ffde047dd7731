"""The codec against every known-answer vector of token-vectors.json (upstream AgoraIO/Tools tests)."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from conformance.tokens import TokenError, decode, verify
from conformance.tokens.encode import build_006, build_007

from . import expected_fields, fields_of, payload_007, privileges_of, spec_from_vector, vectors

WRONG_CERTIFICATE = "a" * 32

V006 = vectors()["vectors_006"]
V007 = vectors()["vectors_007"]
PARSE_ONLY = vectors()["parse_only_007"]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in items]


def test_the_vector_file_is_complete() -> None:
    """Guards the copy in tests/tokens/data: a truncated file would silently shrink every parametrisation."""
    assert (len(V006), len(V007), len(PARSE_ONLY)) == (3, 11, 2)
    assert vectors()["negative"][0]["app_certificate"] == WRONG_CERTIFICATE


# --------------------------------------------------------------------------- 006


@pytest.mark.parametrize("v", V006, ids=_ids(V006))
def test_006_build_reproduces_the_string(v: dict[str, Any]) -> None:
    token = build_006(
        v["app_id"], v["app_certificate"], v["channel_name"], v["uid"],
        salt=v["salt"], ts=v["ts"], privileges=privileges_of(v),
    )
    assert token == v["expected_token"]


@pytest.mark.parametrize("v", V006, ids=_ids(V006))
def test_006_decode_gives_the_fields(v: dict[str, Any]) -> None:
    tok = decode(v["expected_token"])
    assert tok.version == "006"
    assert tok.app_id == v["app_id"]
    assert tok.salt == v["salt"]
    assert tok.ts == v["ts"]
    assert tok.issue_ts is None and tok.lifetime is None
    assert tok.crc_channel == zlib.crc32(v["channel_name"].encode())
    assert tok.crc_uid == zlib.crc32(v["uid_string_signed"].encode())
    (service,) = tok.services
    assert service.type == 0
    # 006 privilege values are absolute unix times, kept as stored.
    assert {p.id: p.value for p in service.privileges} == privileges_of(v)
    assert [p.id for p in service.privileges] == sorted(privileges_of(v))
    assert service.privilege("join_channel") is not None
    assert tok.rtc is service
    assert len(tok.signature) == 32


@pytest.mark.parametrize("v", V006, ids=_ids(V006))
def test_006_verify(v: dict[str, Any]) -> None:
    token, cert, channel, uid = v["expected_token"], v["app_certificate"], v["channel_name"], v["uid"]
    assert verify(token, cert, channel=channel, uid=uid) is True
    assert verify(token, cert, channel=channel, uid=v["uid_string_signed"]) is True  # the uid rule
    assert verify(token, WRONG_CERTIFICATE, channel=channel, uid=uid) is False
    assert verify(token, cert, channel=channel + "x", uid=uid) is False
    assert verify(token, cert, channel=channel, uid=uid + 1) is False
    assert verify(token, cert, channel=channel, uid="someone") is False


def test_006_verify_needs_channel_and_uid() -> None:
    v = V006[0]
    with pytest.raises(ValueError, match="channel and uid"):
        verify(v["expected_token"], v["app_certificate"])


def test_006_signature_is_checked_not_just_the_crcs() -> None:
    """A token whose CRCs match but whose signature was made with another certificate is invalid."""
    v = V006[0]
    forged = build_006(
        v["app_id"], WRONG_CERTIFICATE, v["channel_name"], v["uid"],
        salt=v["salt"], ts=v["ts"], privileges=privileges_of(v),
    )
    tok = decode(forged)
    assert tok.binds(v["channel_name"], v["uid"])
    assert verify(tok, v["app_certificate"], channel=v["channel_name"], uid=v["uid"]) is False


# --------------------------------------------------------------------------- 007 build vectors


def _all_strings(v: dict[str, Any]) -> list[str]:
    return [v["expected_token"]] + [alt["token"] for alt in v.get("alternate_expected_tokens", [])]


def _build(v: dict[str, Any]) -> str:
    return build_007(
        v["app_id"], v["app_certificate"],
        issue_ts=v["issue_ts"], expire=v["expire"], salt=v["salt"],
        services=[spec_from_vector(s) for s in v["services"]],
    )


@pytest.mark.parametrize("v", V007, ids=_ids(V007))
def test_007_build_reproduces_the_payload(v: dict[str, Any]) -> None:
    ours = payload_007(_build(v))
    for token in _all_strings(v):
        assert ours == payload_007(token)


def test_007_build_reproduces_the_strings_cpython_zlib_makes() -> None:
    """The string itself is zlib-dependent (token-format.md 3.1); CPython's stock zlib gives these ones."""
    matched = []
    for v in V007:
        built = _build(v)
        if built in _all_strings(v):
            matched.append(v["id"])
    # 10 of 11 match with stock zlib 1.2.13; the one Node-only vector lists the CPython string as an alternate.
    # Another zlib (zlib-ng, a distribution's build) may compress the same payload into other bytes: that is
    # an expected xfail, shown with its reason; the payloads are still compared by the test above.
    unmatched = sorted(set(_ids(V007)) - set(matched))
    if unmatched and not zlib.ZLIB_RUNTIME_VERSION.startswith("1.2.13"):
        pytest.xfail(f"zlib {zlib.ZLIB_RUNTIME_VERSION} is not CPython's stock 1.2.13; strings differ for {unmatched}")
    assert not unmatched, unmatched


@pytest.mark.parametrize("v", V007, ids=_ids(V007))
def test_007_decode_gives_every_field(v: dict[str, Any]) -> None:
    for token in _all_strings(v):
        tok = decode(token)
        assert tok.version == "007"
        assert tok.app_id == v["app_id"]
        assert (tok.issue_ts, tok.lifetime, tok.salt) == (v["issue_ts"], v["expire"], v["salt"])
        assert tok.ts is None and tok.unknown_service_type is None
        # Services come back in packed order: sorted by type, stable within a type.
        expected = sorted(v["services"], key=lambda s: s["type"])
        assert [fields_of(s) for s in tok.services] == [expected_fields(s) for s in expected]
        # 007 privilege values are relative seconds; here all 600 = the token lifetime.
        for s in tok.services:
            for p in s.privileges:
                assert p.expires_ts == v["issue_ts"] + min(p.value, v["expire"])


@pytest.mark.parametrize("v", V007, ids=_ids(V007))
def test_007_verify(v: dict[str, Any]) -> None:
    for token in _all_strings(v):
        assert verify(token, v["app_certificate"]) is True
        assert verify(token, WRONG_CERTIFICATE) is False


def test_007_uid_zero_packs_as_empty_string() -> None:
    (rtc,) = decode(V007[1]["expected_token"]).services
    assert V007[1]["services"][0]["uid"] == 0
    assert rtc.uid == ""


def test_007_apaas_role_minus_one() -> None:
    by_id = {v["id"]: v for v in V007}
    (apaas,) = decode(by_id["007_apaas_user"]["expected_token"]).services
    assert apaas.extra == {"room_uuid": "", "user_uuid": "2882341273", "role": -1}


def test_007_repeated_streaming_and_fcdn_services_keep_insertion_order() -> None:
    by_id = {v["id"]: v for v in V007}
    tok = decode(by_id["007_streaming_fcdn_uid_conversion"]["expected_token"])
    assert [(s.name, s.uid) for s in tok.services] == [
        ("STREAMING", "2882341273"), ("STREAMING", ""), ("STREAMING", "stream-account"),
        ("FCDN", "2882341273"), ("FCDN", ""), ("FCDN", "fcdn-account"),
    ]


# --------------------------------------------------------------------------- parse-only and negative


@pytest.mark.parametrize("v", PARSE_ONLY, ids=_ids(PARSE_ONLY))
def test_parse_only_tokens_decode_and_verify(v: dict[str, Any]) -> None:
    want = v["expected_decoded"]
    tok = decode(v["token"])
    assert tok.app_id == want["app_id"]
    assert (tok.issue_ts, tok.lifetime, tok.salt) == (want["issue_ts"], want["expire"], want["salt"])
    assert [fields_of(s) for s in tok.services] == [expected_fields(s) for s in want["services"]]
    assert verify(tok, v["app_certificate"]) is v["signature_valid_with_certificate"]
    assert verify(tok, WRONG_CERTIFICATE) is False


def test_parse_only_rtm2_permissions() -> None:
    tok = decode(PARSE_ONLY[0]["token"])
    rtm2 = tok.services[-1]
    assert (rtm2.type, rtm2.name, rtm2.user_id) == (8, "RTM2", "test_user")
    assert rtm2.extra["permissions"] == {0: {0: ["message-a", "message-b"]}, 1: {1: ["stream-a"]}, 4: {0: ["user-a"]}}


@pytest.mark.parametrize("token", vectors()["negative"][1]["tokens"])
def test_negative_tokens_raise_token_error(token: str) -> None:
    with pytest.raises(TokenError):
        decode(token)
