"""``token-conformance decode``: JSON out, signature and binding checks, exit codes, no secret in output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.cli._common import CERTIFICATE_ENV
from conformance.cli.decode import NOT_CHECKED_006, NOT_CHECKED_NO_CERTIFICATE, uid_argument
from conformance.tokens.encode import build_006, build_007, rtc_service, rtm_service

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
ISSUED = 1_700_000_000  # 2023-11-14T22:13:20Z
NOW = str(ISSUED + 100)

TOKEN_007 = build_007(
    APP_ID, CERT, issue_ts=ISSUED, expire=3600, salt=7,
    services=[rtc_service("room", 42, {1: 0, 2: 0, 3: 0, 4: 0}), rtm_service("alice", {1: 3600})],
)
TOKEN_006 = build_006(APP_ID, CERT, "room", 42, salt=7, ts=ISSUED + 3600, privileges={1: 0})


@pytest.fixture(autouse=True)
def _no_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CERTIFICATE_ENV, raising=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["decode", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else None), err


def test_decodes_007_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, TOKEN_007, "--now", NOW)
    assert code == 0 and err == ""
    assert out["version"] == "007" and out["app_id"] == APP_ID and out["salt"] == 7
    assert out["issued"] == {"at": "2023-11-14T22:13:20Z", "seconds_ago": 100}
    assert out["expires"] == {"at": "2023-11-14T23:13:20Z", "seconds_remaining": 3500}
    assert [(s["name"], s.get("channel"), s.get("uid"), s.get("user_id")) for s in out["services"]] == [
        ("RTC", "room", "42", None), ("RTM", None, None, "alice"),
    ]
    assert [p["name"] for p in out["services"][0]["privileges"]] == [
        "join_channel", "publish_audio_stream", "publish_video_stream", "publish_data_stream",
    ]
    assert out["signature"] == NOT_CHECKED_NO_CERTIFICATE
    assert "binds" not in out


def test_output_is_pretty_printed(capsys: pytest.CaptureFixture[str]) -> None:
    main(["decode", TOKEN_007])
    text = capsys.readouterr().out
    assert text.startswith("{\n  \"version\": \"007\"")


def test_seconds_remaining_use_the_clock_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    token = build_007(APP_ID, CERT, issue_ts=int(time.time()), expire=600, salt=1, services=[rtc_service("r", 1, {1: 0})])
    _, out, _ = _run(capsys, token)
    assert 590 <= out["expires"]["seconds_remaining"] <= 600


def test_007_signature_valid_with_env_certificate(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    code, out, err = _run(capsys, TOKEN_007)
    assert (code, out["signature"], err) == (0, "valid", "")


def test_007_signature_invalid_exits_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, "a" * 32)
    code, out, _ = _run(capsys, TOKEN_007)
    assert (code, out["signature"]) == (1, "invalid")
    assert out["services"][0]["channel"] == "room"  # still decoded in full


def test_certificate_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, "a" * 32)  # the file wins over the environment
    cert_file = tmp_path / "cert"
    cert_file.write_text(CERT + "\n")
    code, out, _ = _run(capsys, TOKEN_007, "--certificate-file", str(cert_file))
    assert (code, out["signature"]) == (0, "valid")


def test_certificate_file_missing_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, TOKEN_007, "--certificate-file", str(tmp_path / "nope"))
    assert code == 2 and out is None
    assert err.startswith("token-conformance decode: error: cannot read the certificate file")


def test_certificate_never_in_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    for argv in ([TOKEN_007], [TOKEN_006, "--channel", "room", "--uid", "42"], [TOKEN_006], ["007garbage"]):
        main(["decode", *argv])
        out, err = capsys.readouterr()
        assert CERT not in out and CERT not in err


def test_006_needs_channel_and_uid_to_verify(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    code, out, _ = _run(capsys, TOKEN_006, "--now", NOW)
    assert (code, out["signature"]) == (0, NOT_CHECKED_006)
    assert out["version"] == "006" and out["expires"] == {"at": "2023-11-14T23:13:20Z", "seconds_remaining": 3500}
    assert "binds" not in out


def test_006_verified_with_channel_and_uid(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    code, out, _ = _run(capsys, TOKEN_006, "--channel", "room", "--uid", "42")
    assert (code, out["signature"], out["binds"]) == (0, "valid", True)


def test_006_wrong_uid(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    code, out, _ = _run(capsys, TOKEN_006, "--channel", "room", "--uid", "43")
    assert (code, out["binds"], out["signature"]) == (1, False, "invalid")


def test_006_wrong_certificate(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, "b" * 32)
    code, out, _ = _run(capsys, TOKEN_006, "--channel", "room", "--uid", "42")
    assert (code, out["binds"], out["signature"]) == (1, True, "invalid")


@pytest.mark.parametrize(
    ("token", "channel", "uid", "binds"),
    [
        (TOKEN_007, "room", "42", True),
        (TOKEN_007, "room", "41", False),
        (TOKEN_007, "other", "42", False),
        (TOKEN_006, "room", "42", True),
        (TOKEN_006, "room", "0", False),
    ],
)
def test_binds_without_certificate(
    capsys: pytest.CaptureFixture[str], token: str, channel: str, uid: str, binds: bool
) -> None:
    code, out, _ = _run(capsys, token, "--channel", channel, "--uid", uid)
    assert out["binds"] is binds
    assert out["signature"] == NOT_CHECKED_NO_CERTIFICATE
    assert code == (0 if binds else 1)


def test_uid_zero_and_accounts(capsys: pytest.CaptureFixture[str]) -> None:
    uid0 = build_007(APP_ID, CERT, issue_ts=ISSUED, expire=60, salt=1, services=[rtc_service("r", 0, {1: 0})])
    assert _run(capsys, uid0, "--channel", "r", "--uid", "0")[1]["binds"] is True
    account = build_007(APP_ID, CERT, issue_ts=ISSUED, expire=60, salt=1, services=[rtc_service("r", "bob", {1: 0})])
    assert _run(capsys, account, "--channel", "r", "--uid", "bob")[1]["binds"] is True


@pytest.mark.parametrize(
    ("text", "uid"),
    [("0", 0), ("42", 42), ("4294967295", 4294967295), ("4294967296", "4294967296"), ("007", "007"), ("bob", "bob"),
     ("", ""), ("-1", "-1"), ("٣", "٣")],
)
def test_uid_argument(text: str, uid: int | str) -> None:
    assert uid_argument(text) == uid


def test_channel_without_uid_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, TOKEN_007, "--channel", "room")
    assert code == 2 and out is None
    assert err == "token-conformance decode: error: --channel and --uid go together: give both or neither\n"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("hello", "unknown token version"),
        ("007" + "A" * 40, "not a zlib stream"),
        (TOKEN_007[:20] + " " + TOKEN_007[21:], "a '+' turned into a space"),
        (TOKEN_007[:-1], "007 body is not base64"),
        (TOKEN_007[:-8], "truncated zlib stream"),
        ("006" + APP_ID + "QQ==", "truncated"),
    ],
)
def test_not_a_token_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], token: str, message: str) -> None:
    code, out, err = _run(capsys, token)
    assert code == 2 and out is None
    assert err.startswith("token-conformance decode: error: not a token: ")
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_token_from_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(TOKEN_007 + "\n"))
    code, out, _ = _run(capsys, "-")
    assert code == 0 and out["services"][0]["channel"] == "room"


def test_empty_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = _run(capsys, "-")
    assert code == 2 and "no token on standard input" in err


def test_huge_stdin_is_read_bounded(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("007" + "A" * (10 * 1024 * 1024)))
    code, _, err = _run(capsys, "-")
    assert code == 2 and "far longer than any token" in err


def test_unknown_service_type_is_reported(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.tokens.encode import ServiceSpec

    monkeypatch.setenv(CERTIFICATE_ENV, CERT)
    token = build_007(
        APP_ID, CERT, issue_ts=ISSUED, expire=60, salt=1,
        services=[rtc_service("r", 1, {1: 0}), ServiceSpec(type=99, privileges={}, strings=("x",))],
    )
    code, out, _ = _run(capsys, token)
    assert (code, out["unknown_service_type"], out["signature"]) == (0, 99, "valid")
    assert [s["name"] for s in out["services"]] == ["RTC"]


def test_help_documents_the_006_rule_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["decode", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert NOT_CHECKED_006 in text and "Exit codes: 0" in text and CERTIFICATE_ENV in text


def test_real_subprocess(tmp_path: Path) -> None:
    """The installed entry point end to end: stdin token, certificate from a file, JSON on stdout."""
    cert_file = tmp_path / "cert"
    cert_file.write_text(CERT)
    env = {k: v for k, v in os.environ.items() if k != CERTIFICATE_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "decode", "-", "--certificate-file", str(cert_file),
         "--channel", "room", "--uid", "42"],
        input=TOKEN_006, capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["version"], out["signature"], out["binds"]) == ("006", "valid", True)
    assert CERT not in done.stdout + done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "conformance", "decode", "006nope"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("token-conformance decode: error: not a token:") and "Traceback" not in bad.stderr


def test_binding_mismatch_names_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, TOKEN_007, "--channel", "other", "--uid", "42")
    assert code == 1 and out["binds"] is False
    assert out["binding_mismatch"] == ["channel: the token says 'room', --channel says 'other'"]
    code, out, _ = _run(capsys, TOKEN_007, "--channel", "room", "--uid", "0")
    assert code == 1 and out["binding_mismatch"] == ["uid: the token says '42', --uid 0 packs as ''"]
    code, out, _ = _run(capsys, TOKEN_006, "--channel", "other", "--uid", "42")
    assert code == 1 and len(out["binding_mismatch"]) == 1 and out["binding_mismatch"][0].startswith("channel: ")
    code, out, _ = _run(capsys, TOKEN_007, "--channel", "room", "--uid", "42")
    assert code == 0 and out["binds"] is True and "binding_mismatch" not in out


def test_a_pasted_json_answer_is_unwrapped(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _run(capsys, json.dumps({"rtcToken": TOKEN_007}))
    assert code == 0 and out["version"] == "007", err
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"rtcToken": TOKEN_006}) + "\n"))
    code, out, err = _run(capsys, "-")
    assert code == 0 and out["version"] == "006", err
    code, out, err = _run(capsys, json.dumps({"error": "no"}))
    assert code == 2 and out is None
    assert "a JSON body, but not one token in it (no string in it decodes as a 006 or 007 token)" in err


@pytest.mark.parametrize("body", [
    {"key": TOKEN_006},  # nixrajput/agora-token-server-nodejs
    {"uid": 123456, "token": TOKEN_006},  # a server that chose the uid
    {"data": {"token": TOKEN_007}, "code": 0},
    {"result": [{"ignored": "x"}, {"value": TOKEN_007}]},
    {"rtcToken": TOKEN_007, "copy": TOKEN_007},  # the same token twice is one token
])
def test_a_pasted_answer_is_unwrapped_under_any_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, body: dict[str, object]
) -> None:
    expected = json.dumps(body)[json.dumps(body).index('"00') + 1:][:3]
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(body, indent=2) + "\n"))
    code, out, err = _run(capsys, "-")
    assert code == 0 and out["version"] == expected, err
    code, out, err = _run(capsys, json.dumps(body))
    assert code == 0 and out["version"] == expected, err


def test_two_different_tokens_in_a_pasted_answer_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, json.dumps({"rtcToken": TOKEN_007, "data": {"rtmToken": TOKEN_006}}))
    assert code == 2 and out is None
    assert "not one token in it (2 tokens: /rtcToken, /data/rtmToken): pass the token itself" in err


def test_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    # `decode TOKEN | head`: the reader is gone before the output is written (closed here at once, so the
    # write always meets a closed pipe, as the rest of a long output does after `head` exits).
    env = {k: v for k, v in os.environ.items() if k != CERTIFICATE_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "decode", TOKEN_007], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert err == ""


@pytest.mark.parametrize(("body", "why"), [
    ({"rtcToken": 5}, "rtcToken is a number (5), not a string"),
    ({"rtcToken": None}, "rtcToken is null, not a string"),
    ({"rtcToken": "a", "rtmToken": "b"}, "2 token keys: rtcToken, rtmToken"),
])
def test_a_json_body_without_one_token_says_what_is_there(
    capsys: pytest.CaptureFixture[str], body: dict[str, object], why: str
) -> None:
    code, out, err = _run(capsys, json.dumps(body))
    assert code == 2 and out is None
    assert f"a JSON body, but not one token in it ({why}): pass the token itself" in err
