"""Section TOKEN: what is inside the token, as the SDK will check it at join time."""

from __future__ import annotations

import re

import pytest

from ..cases import case
from ..target import Fetched, Target
from ..tokens import PUBLISHER_PRIVILEGES, Token, verify
from ..verdict import Findings
from ._support import need_token, require_certificate

APP_ID = re.compile(r"^[0-9a-fA-F]{32}$")
UIDS = ("0", "1", "2882341273", "4294967295")
CHANNEL_SYMBOLS = "Agora 01!#$%&()+-:;<=.>?@[]^_{}|~,"
ACCOUNTS = ("alice", "Zoë-帐户", "2882341273")


def _describe(token: Token) -> str:
    rtc = token.rtc
    if token.version == "006":
        return f"006 token with crc_channel={token.crc_channel}, crc_uid={token.crc_uid}"
    if rtc is None:
        return f"007 token without an RTC service (services: {[s.name for s in token.services]})"
    return f"007 token bound to channel={rtc.channel!r}, uid={rtc.uid!r}"


@case("TOKEN-1")
def test_tokens_decode(token_target: Target) -> None:
    t = token_target
    f = Findings()
    fetched = [t.fetch_rtc(channel="conformance-decode"), t.fetch_rtc(channel="conformance-decode", role="subscriber"),
               t.fetch_rtc(channel="conformance-decode", tokentype="userAccount", uid="alice")]
    if t.profile.has("rtm"):
        fetched.append(t.fetch_rtm())
    got = [x for x in fetched if x.raw is not None]
    if not got:
        pytest.skip("no token was returned at all (judged by ROUTE-1)")
    for x in got:
        f.check(x.token is not None, f"{x.key} from {x.exchange.url}", "a decodable 006 or 007 token",
                f"{x.problem}; token starts {x.raw[:24]!r}" if x.raw else str(x.problem), x.exchange)
    f.conclude()


@case("TOKEN-2")
def test_token_version(token_target: Target) -> None:
    t = token_target
    tok = need_token(t.fetch_rtc(channel="conformance-version"))
    f = Findings()
    f.check(tok.version == t.profile.token_version, "token version",
            f"{t.profile.token_version} (profile {t.profile.name})", tok.version)
    f.conclude()


@case("TOKEN-3")
def test_app_id(token_target: Target) -> None:
    t = token_target
    f = Findings()
    fetched: list[Fetched] = [t.fetch_rtc(channel="conformance-appid"),
                              t.fetch_rtc(channel="conformance-appid", role="subscriber", uid="9")]
    if t.profile.has("rtm"):
        fetched.append(t.fetch_rtm())
    tokens = [(x, x.token) for x in fetched if x.token is not None]
    if not tokens:
        pytest.skip("no decodable token (judged by ROUTE-1, TOKEN-1)")
    expected = t.settings.app_id
    first = tokens[0][1].app_id
    for x, tok in tokens:
        f.check(bool(APP_ID.match(tok.app_id)), f"app id in {x.key} from {x.exchange.url}",
                "32 hexadecimal characters", repr(tok.app_id), x.exchange)
        if expected:
            f.check(tok.app_id == expected, f"app id in {x.key} from {x.exchange.url}", expected, tok.app_id, x.exchange)
        else:
            f.check(tok.app_id == first, f"app id in {x.key} from {x.exchange.url}",
                    f"the same app id as the first token ({first})", tok.app_id, x.exchange)
    f.conclude()


@case("TOKEN-4")
def test_bound_to_channel_and_uid(token_target: Target) -> None:
    t = token_target
    f = Findings()
    asked = [("conformance-bind", uid) for uid in UIDS] + [(CHANNEL_SYMBOLS, "12345")]
    for channel, uid in asked:
        x = t.fetch_rtc(channel=channel, uid=uid)
        tok = need_token(x)
        f.check(tok.binds(channel, int(uid)), f"binding for channel {channel!r}, uid {uid}",
                f"channel={channel!r}, uid={'' if uid == '0' else uid!r} (uid 0 packs as '')", _describe(tok), x.exchange)
    f.conclude()


@case("TOKEN-5")
def test_bound_to_account(token_target: Target) -> None:
    t = token_target
    f = Findings()
    for account in ACCOUNTS:
        x = t.fetch_rtc(channel="conformance-account", tokentype="userAccount", uid=account)
        tok = need_token(x, see="ROUTE-9, TOKEN-1")
        f.check(tok.binds("conformance-account", account), f"binding for account {account!r}",
                f"channel='conformance-account', account={account!r}", _describe(tok), x.exchange)
    f.conclude()


@case("TOKEN-6")
def test_publisher_privileges(token_target: Target) -> None:
    x = token_target.fetch_rtc(channel="conformance-roles", role="publisher", uid="100")
    tok = need_token(x)
    have = tok.rtc.privilege_names if tok.rtc else frozenset()
    f = Findings()
    missing = sorted(PUBLISHER_PRIVILEGES - have)
    f.check(not missing, "publisher privileges", f"{sorted(PUBLISHER_PRIVILEGES)}",
            f"{sorted(have)} (missing {missing})", x.exchange)
    f.conclude()


@case("TOKEN-7")
def test_subscriber_privileges(token_target: Target) -> None:
    x = token_target.fetch_rtc(channel="conformance-roles", role="subscriber", uid="101")
    tok = need_token(x)
    have = tok.rtc.privilege_names if tok.rtc else frozenset()
    f = Findings()
    f.check(have == {"join_channel"}, f"privileges of role {token_target.profile.roles['subscriber']!r}",
            "['join_channel'] only", str(sorted(have)), x.exchange)
    f.conclude()


@case("TOKEN-8")
def test_signature_verifies(token_target: Target) -> None:
    t = token_target
    cert = require_certificate(t)
    f = Findings()
    asked: list[tuple[str, str, str, str, int | str]] = [("conformance-sig", "publisher", "uid", "0", 0), ("conformance-sig", "subscriber", "uid", "4294967295", 4294967295),
             ("conformance-sig", "publisher", "userAccount", "alice", "alice")]
    for channel, role, tokentype, uid, uid_value in asked:
        x = t.fetch_rtc(channel=channel, role=role, tokentype=tokentype, uid=uid)
        tok = need_token(x)
        f.check(verify(tok, cert, channel=channel, uid=uid_value), f"signature of the token for {role} {tokentype} {uid}",
                "valid with the app certificate", "invalid (signed with another certificate, or fields altered)", x.exchange)
    if t.profile.has("rtm"):
        x = t.fetch_rtm("conformance-user")
        tok = need_token(x, see="ROUTE-6, TOKEN-1")
        f.check(verify(tok, cert, channel="conformance-user", uid=""), "signature of the RTM token",
                "valid with the app certificate", "invalid", x.exchange)
    f.conclude()


@case("TOKEN-9")
def test_rtm_token_content(token_target: Target) -> None:
    x = token_target.fetch_rtm("conformance-user")
    tok = need_token(x, see="ROUTE-6, TOKEN-1")
    f = Findings()
    if tok.version == "007":
        rtm = next((s for s in tok.services if s.type == 2), None)
        f.check(rtm is not None and rtm.user_id == "conformance-user" and "login" in rtm.privilege_names,
                "RTM service of the token", "user_id='conformance-user' with the login privilege",
                "no RTM service" if rtm is None else f"user_id={rtm.user_id!r}, privileges {sorted(rtm.privilege_names)}",
                x.exchange)
    else:
        names = tok.rtc.privilege_names if tok.rtc else frozenset()
        f.check(tok.binds("conformance-user", "") and "rtm_login" in names, "006 RTM token",
                "bound to account 'conformance-user' (as channel) with privilege 1000 (RTM login)",
                f"{_describe(tok)}, privileges {sorted(names)}", x.exchange)
    f.conclude()
