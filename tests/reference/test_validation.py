"""The reference server's parameter rules, one table per parameter (accepted values and refused ones)."""

from __future__ import annotations

import pytest

from conformance.reference.validation import (
    MISSING,
    InvalidParameter,
    parse_account,
    parse_channel,
    parse_expire_json,
    parse_expiry,
    parse_numeric_uid,
    parse_role,
    parse_rtm_user,
    parse_tokentype,
    parse_uid,
)

ALL_CHANNEL_PUNCTUATION = " !#$%&()+-:;<=.>?@[]^_{}|~,"


def refused(fn, *args, name: str) -> str:
    with pytest.raises(InvalidParameter) as info:
        fn(*args)
    assert info.value.name == name
    assert name in info.value.message
    return info.value.message


@pytest.mark.parametrize("value", ["publisher", "subscriber"])
def test_roles_accepted(value: str) -> None:
    assert parse_role(value) == value


@pytest.mark.parametrize("value", ["", "Publisher", "audience", "admin", "publisher ", "1", "2"])
def test_roles_refused_naming_the_accepted_values(value: str) -> None:
    message = refused(parse_role, value, name="role")
    assert '"publisher"' in message and '"subscriber"' in message


@pytest.mark.parametrize("value", ["uid", "userAccount"])
def test_tokentypes_accepted(value: str) -> None:
    assert parse_tokentype(value) == value


@pytest.mark.parametrize("value", ["", "UID", "useraccount", "account", "nonsense", ":uid"])
def test_tokentypes_refused(value: str) -> None:
    message = refused(parse_tokentype, value, name="tokentype")
    assert '"uid"' in message and '"userAccount"' in message


@pytest.mark.parametrize(
    "value",
    ["c", "my-channel", "x" * 64, "a" + ALL_CHANNEL_PUNCTUATION + "Z9", "ABCxyz0123456789"],
)
def test_channels_accepted(value: str) -> None:
    assert parse_channel(value) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("x" * 65, "65 bytes"),
        ("café", "'é'"),
        ("a/b", "'/'"),
        ("a*b", "'*'"),
        ('a"b', "'\"'"),
        ("a'b", '"\'"'),
        ("a\\b", "'\\\\'"),
        ("a\tb", "'\\t'"),
        ("a`b", "'`'"),
        ("\ud800", "'\\ud800'"),
    ],
)
def test_channels_refused_saying_what_is_wrong(value: str, problem: str) -> None:
    message = refused(parse_channel, value, name="channel")
    assert problem in message
    assert "1 to 64" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "0"), ("1", "1"), ("007", "7"), ("4294967295", "4294967295"), ("0000000000", "0")],
)
def test_numeric_uids_accepted_in_canonical_form(value: str, expected: str) -> None:
    assert parse_numeric_uid(value) == expected
    assert parse_uid(value, "uid") == expected


@pytest.mark.parametrize(
    "value",
    ["", " ", "abc", "-1", "+1", "1.5", "1e3", "0x10", "4294967296", "12345678901", "99999999999999999999", "１", "1 "],
)
def test_numeric_uids_refused(value: str) -> None:
    message = refused(parse_uid, value, "uid", name="uid")
    assert "4294967295" in message


@pytest.mark.parametrize("value", ["0", "alice", "élève-李", "a" * 255, "é" * 127, "with space", "4294967296"])
def test_accounts_accepted(value: str) -> None:
    assert parse_account(value) == value
    assert parse_uid(value, "userAccount") == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        ("a" * 256, "256 bytes"),
        ("é" * 128, "256 bytes"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
        ("\ufffd", "U+FFFD"),
        ("a\udc80", "surrogate"),
    ],
)
def test_accounts_refused(value: str, problem: str) -> None:
    message = refused(parse_account, value, name="uid")
    assert problem in message and "255" in message


@pytest.mark.parametrize("value", ["alice", "1", "00", "a" * 64, "ü" * 32])
def test_rtm_users_accepted(value: str) -> None:
    assert parse_rtm_user(value) == value


@pytest.mark.parametrize(
    ("value", "problem"), [("0", '"0"'), ("", "empty"), ("a" * 65, "65 bytes"), ("ü" * 33, "66 bytes"), ("a\rb", "control")]
)
def test_rtm_users_refused(value: str, problem: str) -> None:
    message = refused(parse_rtm_user, value, name="uid")
    assert problem in message and "64" in message


def test_rtm_user_errors_carry_the_given_parameter_name() -> None:
    refused(parse_rtm_user, "0", "rtmuid", name="rtmuid")


@pytest.mark.parametrize(
    ("values", "expected"), [([], 3600), (["1"], 1), (["600"], 600), (["86400"], 86400), (["0600"], 600)]
)
def test_expiry_accepted(values: list[str], expected: int) -> None:
    assert parse_expiry(values, 3600, 86400) == expected


@pytest.mark.parametrize(
    "values",
    [
        ["abc"], ["1.5"], ["1e3"], ["-5"], ["0"], ["86401"], ["12abc"], [""], [" 5"], ["+5"], ["５"],
        ["4294967297"], ["9" * 30], ["5", "6"],
    ],
)  # fmt: skip
def test_expiry_refused(values: list[str]) -> None:
    message = refused(parse_expiry, values, 3600, 86400, name="expiry")
    assert "1 to 86400" in message


def test_expiry_honours_the_configured_policy() -> None:
    assert parse_expiry([], 60, 120) == 60
    assert parse_expiry(["120"], 60, 120) == 120
    refused(parse_expiry, ["121"], 60, 120, name="expiry")


@pytest.mark.parametrize(("value", "expected"), [(MISSING, 3600), (1, 1), (86400, 86400)])
def test_json_expire_accepted(value: object, expected: int) -> None:
    assert parse_expire_json(value, 3600, 86400) == expected


@pytest.mark.parametrize("value", [None, 0, -1, 86401, 1.0, 60.5, "600", True, False, [600], 2**40])
def test_json_expire_refused(value: object) -> None:
    refused(parse_expire_json, value, 3600, 86400, name="expire")


def test_error_messages_shorten_huge_input() -> None:
    message = refused(parse_role, "x" * 10_000, name="role")
    assert len(message) < 200
