"""Section INPUT: every malformed request is refused with a 4xx and a JSON error.

The requests come from the bad-input catalogue in ``_support``; each INPUT case
judges its own rows, INPUT-11 and INPUT-12 (and SEC-2, SEC-3) sweep all of them.
"""

from __future__ import annotations

import zlib

import pytest

from ..cases import NOT_APPLICABLE, case
from ..client import Exchange
from ..target import Target
from ..tokens import PUBLISHER_PRIVILEGES, Token, TokenError, decode
from ..tokens.model import uid_string
from ..verdict import Findings
from ._support import (
    TOKEN_PATTERN,
    BadInput,
    bad_inputs_for,
    judged_bad_inputs,
    send_bad_inputs,
    why_not_applicable,
)


def _judge_rejections(target: Target, requirement: str) -> None:
    rows = bad_inputs_for(target, requirement)
    if not rows:
        pytest.skip(f"{NOT_APPLICABLE}: {why_not_applicable(target, requirement)}")
    f = Findings()
    bads = judged_bad_inputs(target, requirement, case=requirement)
    for bad, ex in zip(bads, send_bad_inputs(target, bads), strict=True):
        _judge(f, bad, ex)
    f.conclude()


def _judge(f: Findings, bad: BadInput, ex: Exchange) -> None:
    expected = (" or ".join(str(s) for s in bad.acceptable) if bad.acceptable else "a 4xx") + " without a token"
    if ex.error:
        f.add(bad.what, expected, f"no response: {ex.error}", ex)
        return
    assert ex.status is not None
    ok_status = ex.status in bad.acceptable if bad.acceptable else 400 <= ex.status < 500
    carries_token = bool(TOKEN_PATTERN.search(ex.text))
    if not ok_status or carries_token:
        actual = ex.summary()
        if 200 <= ex.status < 300 and carries_token:
            actual = f"{ex.status}: a token was issued{_what_it_grants(bad, ex)} - {actual}"
        f.add(bad.what, expected, actual, ex)


def _issued(ex: Exchange) -> Token | None:
    m = TOKEN_PATTERN.search(ex.text)
    if m is None:
        return None
    try:
        return decode(m.group(0))
    except TokenError:
        return None


def _what_it_grants(bad: BadInput, ex: Exchange) -> str:
    """The serious part of a token issued for a bad uid or role: whom it admits, what it lets them do."""
    tok = _issued(ex)
    if tok is None:
        return ""
    if bad.requirement in ("INPUT-4", "INPUT-5"):
        uid = bound_uid(tok, bad.key.split("=", 1)[-1])
        if uid == "0":
            return " bound to uid 0: any user (the wrapped value packs as '', which admits every uid)"
        return f" bound to uid {uid}: another user" if uid is not None else ""
    if bad.requirement == "INPUT-1" and tok.rtc is not None:
        publishes = sorted(tok.rtc.privilege_names & (PUBLISHER_PRIVILEGES - {"join_channel"}))
        if publishes:
            return " with publisher privileges (" + ", ".join(p.replace("_", " ") for p in publishes) + ")"
        return " (a subscriber token)"
    return ""


def bound_uid(tok: Token, asked: str) -> str | None:
    """The uid a token for the bad uid ``asked`` is bound to, among the values a server wraps it to."""
    candidates = ["0"]
    if asked.lstrip("-").isdigit():
        candidates += [str(int(asked) % 2**32), str(int(asked) % 2**31)]
    if tok.version == "007" and tok.rtc is not None:
        carried = tok.rtc.uid or "0"
        return carried
    for uid in dict.fromkeys(candidates):
        if zlib.crc32(uid_string(int(uid)).encode("utf-8")) == tok.crc_uid:
            return uid
    return None


@case("INPUT-1")
def test_unknown_role(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-1")


@case("INPUT-2")
def test_unknown_token_type(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-2")


@case("INPUT-3")
def test_non_numeric_uid(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-3")


@case("INPUT-4")
def test_negative_uid(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-4")


@case("INPUT-5")
def test_uid_out_of_range(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-5")


@case("INPUT-6")
def test_invalid_channel(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-6")


@case("INPUT-7")
def test_invalid_expiry(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-7")


@case("INPUT-8")
def test_expiry_out_of_range(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-8")


@case("INPUT-9")
def test_oversized_segment(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-9")


@case("INPUT-10")
def test_unknown_routes_and_methods(token_target: Target) -> None:
    _judge_rejections(token_target, "INPUT-10")


@case("INPUT-11")
def test_no_server_error_for_bad_input(token_target: Target) -> None:
    f = Findings()
    bads = judged_bad_inputs(token_target, case="INPUT-11")
    for bad, ex in zip(bads, send_bad_inputs(token_target, bads), strict=True):
        if ex.status is not None:
            not_implemented = ex.status == 501 and 501 in bad.acceptable  # RFC 9110's answer to an unknown method
            f.check(ex.status < 500 or not_implemented, bad.what, "a status below 500 (or 501 to a method it does not "
                    "implement)" if 501 in bad.acceptable else "a status below 500", ex.summary(), ex)
    f.conclude()


@case("INPUT-12")
def test_json_error_bodies(token_target: Target) -> None:
    f = Findings()
    bads = judged_bad_inputs(token_target, case="INPUT-12")
    for bad, ex in zip(bads, send_bad_inputs(token_target, bads), strict=True):
        if ex.status is None or not 400 <= ex.status < 500:
            continue
        body = ex.json_or_none()
        # RFC 9457 problem details say it under "detail" (or at least "title").
        keys = ("error", "message", "detail", "title")
        messages = [body.get(k) for k in keys] if isinstance(body, dict) else []
        ok = any(isinstance(m, str) and m.strip() for m in messages)
        f.check(ok, f"error body for {bad.what}", 'a JSON object with a non-empty string under "error" or "message" '
                '(or an RFC 9457 problem with "detail" or "title")',
                ex.summary() if isinstance(body, dict) else f"not a JSON object: {ex.summary()}", ex)
    f.conclude()
