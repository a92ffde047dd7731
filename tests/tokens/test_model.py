"""Times, binding and rendering of decoded tokens.

The two versions mean different things by the same numbers (token-format.md
2.3 and 3.4): 007 stores an issue time plus relative seconds, 006 stores
absolute times; in both a privilege value 0 means "no limit of its own", and a
006 ts of 0 means the token never expires (None, never 1970).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from conformance.tokens import Token, decode, token_fields, uid_string
from conformance.tokens.encode import ServiceSpec, build_006, build_007, rtc_service, rtm_service

from . import vectors

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
ISSUED = 1_700_000_000  # 2023-11-14T22:13:20Z


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _007(privileges: dict[int, int], expire: int = 3600) -> Token:
    return decode(
        build_007(APP_ID, CERT, issue_ts=ISSUED, expire=expire, salt=7, services=[rtc_service("room", 42, privileges)])
    )


def _006(privileges: dict[int, int], ts: int) -> Token:
    return decode(build_006(APP_ID, CERT, "room", 42, salt=7, ts=ts, privileges=privileges))


# --------------------------------------------------------------------------- 007 times


def test_007_issued_and_expires_are_absolute_utc() -> None:
    tok = _007({1: 0})
    assert tok.issued_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert tok.expires_at == datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone.utc)
    assert tok.expires_ts == ISSUED + 3600
    assert tok.issued_at is not None and tok.issued_at.tzinfo is timezone.utc


def test_007_vector_times() -> None:
    v = vectors()["vectors_007"][0]
    tok = decode(v["expected_token"])
    assert tok.issued_at == _utc(1111111)
    assert tok.expires_at == _utc(1111111 + 600)


@pytest.mark.parametrize(
    ("value", "expires_ts", "own_limit"),
    [
        (0, ISSUED + 3600, False),  # no own limit: lapses with the token
        (600, ISSUED + 600, True),  # relative seconds after issue
        (3600, ISSUED + 3600, True),
        (86400, ISSUED + 3600, True),  # longer than the token: bounded by it
        (2**32 - 1, ISSUED + 3600, True),
    ],
)
def test_007_privilege_values_are_relative(value: int, expires_ts: int, own_limit: bool) -> None:
    (join,) = _007({1: value}).rtc.privileges  # type: ignore[union-attr]
    assert join.value == value
    assert join.expires_ts == expires_ts
    assert join.expires_at == _utc(expires_ts)
    assert join.own_limit is own_limit


def test_007_earliest_privilege_expiry() -> None:
    assert _007({1: 0, 2: 300, 3: 900}).earliest_privilege_expiry() == ISSUED + 300
    assert _007({1: 0}).earliest_privilege_expiry() == ISSUED + 3600


def test_007_zero_lifetime_expires_at_issue() -> None:
    tok = _007({1: 0}, expire=0)
    assert tok.expires_ts == ISSUED and tok.rtc.privileges[0].expires_ts == ISSUED  # type: ignore[union-attr]


# --------------------------------------------------------------------------- 006 times


def test_006_values_are_absolute_and_bounded_by_ts() -> None:
    ts = ISSUED + 86400
    tok = _006({1: ISSUED + 600, 2: 0, 3: ts + 1000}, ts=ts)
    assert tok.issued_at is None  # 006 carries no issue time
    assert tok.expires_ts == ts and tok.expires_at == _utc(ts)
    join, audio, video = tok.services[0].privileges
    assert join.expires_ts == ISSUED + 600 and join.own_limit
    assert audio.expires_ts == ts and not audio.own_limit  # 0: never on its own, bounded by ts
    assert video.expires_ts == ts  # past ts: the token lapses first
    assert tok.earliest_privilege_expiry() == ISSUED + 600


def test_006_ts_zero_never_expires() -> None:
    tok = _006({1: 0}, ts=0)
    assert tok.ts == 0
    assert tok.expires_ts is None and tok.expires_at is None  # not 1970
    (join,) = tok.services[0].privileges
    assert join.expires_ts is None and join.expires_at is None
    assert tok.earliest_privilege_expiry() is None


def test_006_ts_zero_with_a_privilege_limit() -> None:
    tok = _006({1: ISSUED}, ts=0)
    assert tok.expires_at is None
    assert tok.services[0].privileges[0].expires_at == _utc(ISSUED)


# --------------------------------------------------------------------------- binding and uids


@pytest.mark.parametrize(("uid", "packed"), [(0, ""), (1, "1"), (2**32 - 1, "4294967295"), ("alice", "alice"), ("0", "0"), ("", "")])
def test_uid_string(uid: int | str, packed: str) -> None:
    assert uid_string(uid) == packed


def test_binds_007_compares_channel_and_uid_in_clear() -> None:
    tok = _007({1: 0})
    assert tok.binds("room", 42) and tok.binds("room", "42")
    assert not tok.binds("room", 43) and not tok.binds("Room", 42) and not tok.binds("room", 0)
    uid0 = decode(build_007(APP_ID, CERT, issue_ts=1, expire=1, salt=1, services=[rtc_service("r", 0, {1: 0})]))
    assert uid0.binds("r", 0) and uid0.binds("r", "") and not uid0.binds("r", "0")


def test_binds_007_without_rtc_is_false() -> None:
    tok = decode(build_007(APP_ID, CERT, issue_ts=1, expire=1, salt=1, services=[rtm_service("room", {1: 0})]))
    assert tok.rtc is None and not tok.binds("room", 0)


def test_binds_007_uses_the_first_rtc_service() -> None:
    """Several RTC services (2026 upstream allows repeats): the token's RTC part is the first one packed."""
    services = [rtc_service("a", 1, {1: 0}), rtc_service("b", 2, {1: 0})]
    tok = decode(build_007(APP_ID, CERT, issue_ts=1, expire=1, salt=1, services=services))
    assert [s.channel for s in tok.services] == ["a", "b"]
    assert tok.binds("a", 1) and not tok.binds("b", 2)


def test_binds_006_compares_crcs() -> None:
    tok = _006({1: 0}, ts=0)
    assert tok.binds("room", 42) and tok.binds("room", "42")
    assert not tok.binds("room", 0) and not tok.binds("room2", 42)
    uid0 = decode(build_006(APP_ID, CERT, "c", 0, salt=1, ts=0, privileges={1: 0}))
    assert uid0.crc_uid == 0 and uid0.binds("c", 0) and uid0.binds("c", "")


# --------------------------------------------------------------------------- records and rendering


def test_records_are_immutable() -> None:
    tok = _007({1: 0})
    with pytest.raises(AttributeError):
        tok.salt = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        tok.services[0].privileges[0].value = 1  # type: ignore[misc]
    assert tok._replace(salt=8).salt == 8 and tok.salt == 7


def test_service_helpers() -> None:
    rtc = _007({1: 0, 2: 0, 3: 0, 4: 0}).rtc
    assert rtc is not None
    assert rtc.privilege_names == {"join_channel", "publish_audio_stream", "publish_video_stream", "publish_data_stream"}
    assert rtc.privilege("publish_audio_stream") is not None and rtc.privilege("login") is None
    assert rtc.extra == {}


def test_describe_007() -> None:
    tok = decode(build_007(
        APP_ID, CERT, issue_ts=ISSUED, expire=3600, salt=7,
        services=[rtc_service("room", 42, {1: 0, 2: 600}), ServiceSpec(7, {2: 0}, strings=("", "u"), role=-1)],
    ))
    out = token_fields(tok, now=ISSUED + 100)
    assert out["version"] == "007" and out["app_id"] == APP_ID and out["salt"] == 7
    assert out["issued"] == {"at": "2023-11-14T22:13:20Z", "seconds_ago": 100}
    assert out["expires"] == {"at": "2023-11-14T23:13:20Z", "seconds_remaining": 3500}
    assert out["lifetime_s"] == 3600
    rtc, apaas = out["services"]
    assert (rtc["name"], rtc["channel"], rtc["uid"]) == ("RTC", "room", "42")
    assert rtc["privileges"][0] == {
        "id": 1, "name": "join_channel", "value": 0, "own_limit": False,
        "expires": {"at": "2023-11-14T23:13:20Z", "seconds_remaining": 3500},
    }
    assert rtc["privileges"][1]["expires"] == {"at": "2023-11-14T22:23:20Z", "seconds_remaining": 500}
    assert (apaas["room_uuid"], apaas["user_uuid"], apaas["role"]) == ("", "u", -1)
    assert "unknown_service_type" not in out


def test_describe_006_never() -> None:
    out = token_fields(_006({1: 0}, ts=0), now=ISSUED)
    assert out["expires"] == {"at": "never", "seconds_remaining": None}
    assert out["services"][0]["privileges"][0]["expires"] == {"at": "never", "seconds_remaining": None}
    assert out["crc_channel"] is not None and "issued" not in out


# --------------------------------------------------------------------------- privileges in the user's words


PUBLISHER = {1: 0, 2: 0, 3: 0, 4: 0}
SUBSCRIBER = {1: 0}


@pytest.mark.parametrize("make", [lambda p: _007(p), lambda p: _006(p, ts=ISSUED + 3600)], ids=["007", "006"])
def test_grants_answers_in_the_users_words(make: Callable[[dict[int, int]], Token]) -> None:
    publisher, subscriber = make(PUBLISHER).rtc, make(SUBSCRIBER).rtc
    assert publisher is not None and subscriber is not None
    for words in (("publish_audio",), ("publish_audio_stream",), ("Publish Audio",), ("publish-video",),
                  ("publish",), ("join", "publish_data"), ("join_channel",)):
        assert publisher.grants(*words), words
    assert subscriber.grants("join") and subscriber.grants("join_channel")
    for words in (("publish_audio",), ("publish",), ("join", "publish_video")):
        assert not subscriber.grants(*words), words
    # Publish audio only: "publish" (all three) is not granted, "publish_audio" is.
    audio_only = make({1: 0, 2: 0}).rtc
    assert audio_only is not None and audio_only.grants("publish_audio") and not audio_only.grants("publish")


def test_grants_refuses_a_name_it_does_not_know() -> None:
    rtc = _007(PUBLISHER).rtc
    assert rtc is not None
    with pytest.raises(ValueError, match=r"'publish_audo' is not a privilege of a RTC service; known: .*publish_audio"):
        rtc.grants("publish_audo")
    with pytest.raises(ValueError, match="at least one"):
        rtc.grants()
    rtm = decode(build_007(APP_ID, CERT, issue_ts=ISSUED, expire=60, salt=1, services=[rtm_service("u", {1: 0})]))
    assert rtm.services[0].grants("login")
    with pytest.raises(ValueError, match="not a privilege of a RTM service"):
        rtm.services[0].grants("publish_audio")
