"""Malformed input: every defect is one TokenError (a ValueError) whose message says what is wrong.

A conformance run feeds the codec whatever a server under test returns, so no
input may escape as IndexError, struct.error, zlib.error or UnicodeDecodeError.
"""

from __future__ import annotations

import base64
import zlib

import pytest

from conformance.tokens import MAX_TOKEN_CHARS, TokenError, decode, verify
from conformance.tokens.codec import MAX_PAYLOAD_BYTES
from conformance.tokens.encode import ServiceSpec, build_006, build_007, rtc_service, rtm_service

from . import payload_007, vectors

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
V007 = {v["id"]: v for v in vectors()["vectors_007"]}
RICH_007 = V007["007_multi_rtc_rtm_fpa_chat_apaas"]["expected_token"]  # RTC, RTM, FPA, Chat, APaaS
RTM2_007 = vectors()["parse_only_007"][0]["token"]  # Streaming, FCDN, RTM2 with a permission tree
PUBLISHER_006 = vectors()["vectors_006"][2]["expected_token"]


def _wrap_007(payload: bytes) -> str:
    return "007" + base64.b64encode(zlib.compress(payload)).decode()


def _wrap_006(content: bytes, app_id: str = APP_ID) -> str:
    return "006" + app_id + base64.b64encode(content).decode()


def _error(token: object) -> str:
    with pytest.raises(TokenError) as info:
        decode(token)  # type: ignore[arg-type]
    return str(info.value)


def test_token_error_is_a_value_error() -> None:
    assert issubclass(TokenError, ValueError)


@pytest.mark.parametrize("token", ["", "   ", "005abc", "008" + "A" * 40, "abc", "Bearer 007eJx", "7eJxTYBBb"])
def test_wrong_prefix(token: str) -> None:
    assert "expected the prefix '006' or '007'" in _error(token)


def test_surrounding_whitespace_is_tolerated() -> None:
    token = V007["007_rtc_uid_join"]["expected_token"]
    assert decode(f"  {token}\n") == decode(token)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t[:20] + " " + t[21:], "a '+' turned into a space"),
        (lambda t: t.replace("/", "_", 1), "URL-safe base64"),
        (lambda t: t.replace("+", "-", 1), "URL-safe base64"),
        (lambda t: t[:20] + "%2B" + t[21:], "percent-encoded"),
        (lambda t: t[:20] + "é" + t[21:], "character 'é' at position 17"),
        (lambda t: t[:-1] if t.endswith("=") else t + "=", "incorrect length or padding"),
        (lambda t: t + "QQ==", "data after the '=' padding at position 211"),
        (lambda t: t[:100] + "=" + t[101:], "data after the '=' padding at position 97"),
    ],
)
def test_bad_base64_names_the_character_and_hints(mutate: object, expected: str) -> None:
    token = V007["007_apaas_room_user_with_rtm_chat"]["expected_token"]  # has '+' and '/' and '='
    bad = mutate(token)  # type: ignore[operator]
    message = _error(bad)
    assert "007 body is not base64" in message
    assert expected in message


def test_006_bad_base64() -> None:
    assert "006 body is not base64: character ' '" in _error(PUBLISHER_006.replace("+", " "))


def test_empty_bodies() -> None:
    assert "007 body is empty" in _error("007")
    assert "006 body is empty" in _error("006" + APP_ID)
    assert "006 token too short" in _error("006970CA35")


def test_bad_zlib() -> None:
    not_zlib = "007" + base64.b64encode(b"this is not deflate data at all").decode()
    assert "007 payload is not a zlib stream" in _error(not_zlib)
    stream = zlib.compress(payload_007(RICH_007))
    assert "truncated zlib stream" in _error("007" + base64.b64encode(stream[:-6]).decode())
    assert "2 bytes after the end of the 007 zlib stream" in _error("007" + base64.b64encode(stream + b"xx").decode())


def test_zlib_bomb_is_refused_without_inflating_it() -> None:
    bomb = zlib.compress(b"\0" * (16 * 1024 * 1024), 9)  # 16 MiB of zeros in ~16 KB: fits in a token string
    token = "007" + base64.b64encode(bomb).decode()
    assert len(token) <= MAX_TOKEN_CHARS
    assert f"inflates to more than {MAX_PAYLOAD_BYTES} bytes" in _error(token)


def test_payload_of_exactly_the_limit_is_not_called_a_bomb() -> None:
    """At the limit the payload is judged on its bytes (here: garbage), not refused as too large."""
    token = "007" + base64.b64encode(zlib.compress(b"\0" * MAX_PAYLOAD_BYTES)).decode()
    assert "inflates" not in _error(token)
    one_more = "007" + base64.b64encode(zlib.compress(b"\0" * (MAX_PAYLOAD_BYTES + 1))).decode()
    assert f"inflates to more than {MAX_PAYLOAD_BYTES} bytes" in _error(one_more)


def test_ten_megabyte_string_is_refused_by_length() -> None:
    assert "far longer than any token" in _error("007" + "A" * (10 * 1024 * 1024))
    assert "far longer than any token" in _error(" " * (MAX_TOKEN_CHARS + 1))


@pytest.mark.parametrize("value", [None, 7, b"007eJx", bytearray(b"006"), ["007"]])
def test_non_string_input(value: object) -> None:
    assert "a token is a string" in _error(value)


@pytest.mark.parametrize("token", [RICH_007, RTM2_007], ids=["rtc-rtm-fpa-chat-apaas", "streaming-fcdn-rtm2"])
def test_007_truncated_at_every_offset(token: str) -> None:
    payload = payload_007(token)
    for cut in range(len(payload)):
        message = _error(_wrap_007(payload[:cut]))
        assert message.startswith("truncated: expected"), (cut, message)


def test_006_truncated_at_every_offset() -> None:
    content = base64.b64decode(PUBLISHER_006[35:])
    for cut in range(1, len(content)):
        message = _error(_wrap_006(content[:cut]))
        assert message.startswith("truncated: expected"), (cut, message)


def test_006_message_truncated_inside_a_consistent_container() -> None:
    """The outer length agrees with a cut message: the message reader must catch it."""
    content = base64.b64decode(PUBLISHER_006[35:])
    head = content[:42]  # u16 32 + signature + crc_channel + crc_uid
    message = content[44:]
    for cut in range(len(message)):
        short = message[:cut]
        message_error = _error(_wrap_006(head + len(short).to_bytes(2, "little") + short))
        assert message_error.startswith("truncated: expected"), (cut, message_error)


def test_truncated_token_string_at_every_character() -> None:
    for token in (RICH_007, PUBLISHER_006):
        for cut in range(len(token)):
            with pytest.raises(TokenError):
                decode(token[:cut])


def test_truncation_message_names_the_field_and_offset() -> None:
    payload = payload_007(RICH_007)
    # signature (2 + 32) + app id (2 + 32) = 68; issue_ts is at offset 68.
    assert _error(_wrap_007(payload[:70])) == "truncated: expected 4 bytes for 'issue_ts' at offset 68, 2 left"
    # 68 + issue_ts, expire, salt (12) + service count (2) + type (2) + 4 privileges (2 + 24) = 110.
    assert _error(_wrap_007(payload[:110])) == (
        "truncated: expected 2 bytes for 'service[0] RTC channel_name length' at offset 110, 0 left"
    )
    assert "'service[0] RTC channel_name' at offset 112" in _error(_wrap_007(payload[:120]))


def test_007_trailing_bytes() -> None:
    payload = payload_007(RICH_007)
    assert _error(_wrap_007(payload + b"\0\0\0")) == "3 trailing bytes after the last 007 service"


def test_006_trailing_bytes() -> None:
    content = base64.b64decode(PUBLISHER_006[35:])
    assert _error(_wrap_006(content + b"\x01")) == "1 trailing bytes after the 006 message"
    head, message = content[:42], content[44:]
    longer = message + b"\x07\x07"
    assert _error(_wrap_006(head + len(longer).to_bytes(2, "little") + longer)) == (
        "2 trailing bytes after the 006 privileges"
    )


def test_invalid_utf8_in_a_string_field() -> None:
    token = build_007(APP_ID, CERT, issue_ts=1111111, expire=600, salt=1, services=[rtc_service("chan", 1, {1: 0})])
    payload = payload_007(token).replace(b"chan", b"ch\xffn")
    message = _error(_wrap_007(payload))
    assert "'service[0] RTC channel_name' is not valid UTF-8" in message


# --------------------------------------------------------------------------- unknown service types


def _with_unknown(before: list[ServiceSpec], unknown_type: int) -> str:
    unknown = ServiceSpec(type=unknown_type, privileges={1: 600}, strings=("opaque",))
    return build_007(APP_ID, CERT, issue_ts=1111111, expire=600, salt=1, services=[*before, unknown], sort_services=False)


def test_unknown_service_type_stops_decoding_and_keeps_what_came_before() -> None:
    token = _with_unknown([rtc_service("room", 42, {1: 600}), rtm_service("alice", {1: 600})], 77)
    tok = decode(token)
    assert [s.name for s in tok.services] == ["RTC", "RTM"]
    assert tok.services[0].channel == "room" and tok.services[0].uid == "42"
    assert tok.unknown_service_type == 77
    # The signature covers the bytes we could not read.
    assert verify(tok, CERT) is True
    assert verify(tok, "b" * 32) is False


def test_unknown_service_type_first() -> None:
    tok = decode(_with_unknown([], 500))
    assert tok.services == () and tok.unknown_service_type == 500
    assert verify(tok, CERT) is True


def test_unknown_service_type_as_the_last_two_bytes() -> None:
    """Only the type is there: still an unknown type, not a truncation."""
    token = _with_unknown([rtc_service("room", 42, {1: 600})], 99)
    payload = payload_007(token)
    cut = payload[: payload.rindex(b"c\x00") + 2]  # keep "u16 99", drop its privileges and string
    tok = decode(_wrap_007(cut))
    assert tok.unknown_service_type == 99 and [s.name for s in tok.services] == ["RTC"]


@pytest.mark.parametrize(("stype", "name"), [(9, "CONVOAI"), (10, "STT"), (4, "FPA")])
def test_services_without_extra_fields(stype: int, name: str) -> None:
    token = build_007(
        APP_ID, CERT, issue_ts=1111111, expire=600, salt=1,
        services=[rtc_service("room", 0, {1: 0}), rtm_service("bob", {1: 600}), ServiceSpec(stype, {})],
    )
    tok = decode(token)
    assert [s.name for s in tok.services][-1] == name
    assert tok.services[-1].privileges == () and tok.unknown_service_type is None
    assert verify(tok, CERT)


def test_unknown_privilege_ids_are_shown_not_rejected() -> None:
    tok006 = decode(build_006(APP_ID, CERT, "c", 1, salt=1, ts=2, privileges={1: 0, 7: 0, 1000: 5}))
    assert [p.name for p in tok006.services[0].privileges] == ["join_channel", "unknown_7", "rtm_login"]
    tok007 = decode(build_007(APP_ID, CERT, issue_ts=1, expire=2, salt=3, services=[rtc_service("c", 1, {9: 1})]))
    assert tok007.services[0].privileges[0].name == "unknown_9"
