"""The client-side token checks of the load scenarios, one verdict at a time (no load run)."""

from __future__ import annotations

import random

import pytest

from conformance.load.scenario.validation import (
    Mix,
    OptionError,
    ScenarioConfig,
    SentRequest,
    build_config,
    check_token,
    parse_mix,
)
from conformance.tokens.encode import build_006, build_007, rtc_service

APP = "970ca35de60c44645bbae8a215061b33"
CERT = "5cfd2fd1755d40ecb72977518be15d3b"
NOW = 1_800_000_000
PUB = {1: 0, 2: 0, 3: 0, 4: 0}
SUB = {1: 0}


def config(certificate: str | None = CERT, **overrides: object) -> ScenarioConfig:
    return build_config({"expiry": 60, "renew_margin": 30, "cycles": 2, "app_id": APP, **overrides}, certificate)


def token(channel: str = "room", uid: int | str = 42, *, expire: int = 60, privileges: dict[int, int] | None = None,
          app_id: str = APP, cert: str = CERT, issue_ts: int = NOW) -> str:  # fmt: skip
    privs = {k: (expire if v == 0 else v) for k, v in (privileges or PUB).items()}
    return build_007(
        app_id, cert, issue_ts=issue_ts, expire=expire, salt=7, services=[rtc_service(channel, uid, privs)]
    )


def request(role: str = "publisher", uid: int | str = 42, **kw: object) -> SentRequest:
    fields: dict[str, object] = {
        "channel": "room", "role": role, "tokentype": "uid" if isinstance(uid, int) else "userAccount",
        "uid": uid, "expiry": 60, "sent_at": NOW + 0.2, "received_at": NOW + 0.3, **kw,
    }  # fmt: skip
    return SentRequest(**fields)  # type: ignore[arg-type]


def test_a_good_token_passes_and_reports_when_it_lapses() -> None:
    verdict = check_token(token(), request(), config())
    assert verdict.ok and verdict.reason is None
    assert verdict.expires_ts == NOW + 60


@pytest.mark.parametrize(
    ("text", "req", "reason"),
    [
        ("not a token", request(), "undecodable"),
        (token(app_id="0" * 32), request(), "app_id"),
        (token(channel="other"), request(), "binding"),
        (token(uid=43), request(), "binding"),
        (token(uid="42x"), request(uid="42"), "binding"),
        (token(privileges=SUB), request("publisher"), "role"),
        (token(expire=120), request(), "expiry"),
        (token(expire=30), request(), "expiry"),
        (token(cert="0" * 32), request(), "signature"),
        (token(), request(replaces_expiry=NOW + 61), "not_extended"),
        (token(), request(replaces_expiry=NOW + 60, require_later=True), "not_extended"),
    ],
    ids=[
        "garbage",
        "app-id",
        "channel",
        "uid",
        "account",
        "publisher-without-publish",
        "too-long",
        "too-short",
        "bad-signature",
        "renewal-earlier",
        "renewal-not-later",
    ],
)
def test_each_fault_is_refused_for_its_reason(text: str, req: SentRequest, reason: str) -> None:
    verdict = check_token(text, req, config())
    assert verdict.reason == reason, verdict
    assert verdict.detail


def test_an_undecodable_answer_is_not_quoted_back() -> None:
    # A server may answer anything as the token, its certificate included: the report must not repeat it.
    verdict = check_token(CERT, request(), config())
    assert verdict.reason == "undecodable" and verdict.detail
    assert CERT[:8] not in verdict.detail and "'006' or '007'" in verdict.detail


def test_a_renewal_within_the_same_second_may_lapse_at_the_same_time() -> None:
    # Tokens carry whole seconds: two tokens issued in one second lapse together.
    assert check_token(token(), request(replaces_expiry=NOW + 60, require_later=False), config()).ok


def test_expiry_tolerance_absorbs_whole_second_truncation_only() -> None:
    late = token(expire=62)  # 2 s longer than asked: at the edge of the default tolerance
    assert check_token(late, request(), config()).ok
    assert check_token(late, request(), config(expiry_tolerance=1)).reason == "expiry"


def test_subscriber_with_publish_rights_is_refused_only_under_strict_roles() -> None:
    assert check_token(token(), request("subscriber"), config()).ok
    assert check_token(token(), request("subscriber"), config(strict_roles=True)).reason == "role"
    assert check_token(token(privileges=SUB), request("subscriber"), config(strict_roles=True)).ok


def test_without_certificate_a_forged_signature_is_not_judged() -> None:
    forged = token(cert="0" * 32)
    assert check_token(forged, request(), config(certificate=None)).ok


def test_a_006_token_is_checked_against_a_006_profile() -> None:
    cfg = build_config(
        {"expiry": 60, "renew_margin": 30, "cycles": 1, "token_profile": "agora-node-tokenserver", "app_id": APP},
        certificate=CERT,
    )
    good = build_006(
        APP, CERT, "room", 42, salt=1, ts=NOW + 86400, privileges={1: NOW + 60, 2: NOW + 60, 3: NOW + 60, 4: NOW + 60}
    )
    assert check_token(good, request(), cfg).ok
    never = build_006(APP, CERT, "room", 42, salt=1, ts=NOW + 86400, privileges={1: 0, 2: 0, 3: 0, 4: 0})
    assert check_token(never, request(), cfg).reason == "expiry"  # "never" is not the 60 s asked for
    assert check_token(token(), request(), cfg).reason == "version"  # a 007 where the profile says 006


def test_mix_parsing_and_choice() -> None:
    mix = parse_mix("publisher=1, subscriber=3", ("publisher", "subscriber"), "--role-mix")
    assert mix.weights == {"publisher": 1.0, "subscriber": 3.0}
    picks = [mix.choose(random.Random(i)) for i in range(400)]
    assert 0.6 < picks.count("subscriber") / len(picks) < 0.9
    assert parse_mix("uid", ("uid", "userAccount"), "--x") == Mix({"uid": 1.0})
    assert parse_mix("uid=1,userAccount=0", ("uid", "userAccount"), "--x").weights == {"uid": 1.0}


@pytest.mark.parametrize(
    ("values", "option"),
    [
        ({"role_mix": "admin=1"}, "--role-mix"),
        ({"role_mix": "publisher=x"}, "--role-mix"),
        ({"role_mix": "publisher=0"}, "--role-mix"),
        ({"tokentype_mix": "uuid=1"}, "--tokentype-mix"),
        ({"expiry": 0}, "--expiry"),
        ({"expiry": 86401}, "--expiry"),
        ({"expiry": "ten"}, "--expiry"),
        ({"renew_margin": 61}, "--renew-margin"),
        ({"cycles": 0}, "--cycles"),
        ({"app_id": "xyz"}, "--app-id"),
        ({"token_profile": "no-such-profile"}, "--profile"),
        ({"request_timeout": 0}, "--request-timeout"),
    ],
)
def test_bad_options_are_named(values: dict[str, object], option: str) -> None:
    with pytest.raises(OptionError, match=option):
        build_config({"expiry": 60, "renew_margin": 30, "cycles": 1, **values})


def test_options_from_the_web_ui_arrive_as_text() -> None:
    cfg = build_config({"expiry": "60", "renew_margin": "30", "cycles": "2", "strict_roles": "false"})
    assert (cfg.expiry, cfg.renew_margin, cfg.cycles, cfg.strict_roles) == (60, 30.0, 2, False)
    assert "certificate" not in repr(build_config({"expiry": 1, "renew_margin": 0, "cycles": 1}, certificate=CERT))
    assert build_config({"expiry": 1, "renew_margin": 0, "cycles": 1}, certificate=CERT).as_dict()["signature_checked"]
