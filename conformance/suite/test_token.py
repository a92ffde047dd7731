"""Section TOKEN: what is inside the token, as the SDK will check it at join time."""

from __future__ import annotations

import re
import zlib

import pytest

from ..cases import NOT_APPLICABLE, case
from ..target import Fetched, Target
from ..tokens import PUBLISHER_PRIVILEGES, Token, verify
from ..tokens.model import uid_string
from ..verdict import Findings
from ._support import (
    binding_difference,
    channel_candidates,
    describe_token,
    need_token,
    require_certificate,
    role_tokens,
    uid_candidates,
    uid_to_judge,
)

APP_ID = re.compile(r"^[0-9a-fA-F]{32}$")
UIDS = ("0", "1", "2882341273", "4294967295")
CHANNEL_SYMBOLS = "Agora 01!#$%&()+-:;<=.>?@[]^_{}|~,"
ACCOUNTS = ("alice", "Zoë-帐户", "2882341273")


def _carried_binding(tok: Token, channel: str, uid: str, tokentype: str) -> tuple[str, int | str] | None:
    """The (channel, uid) a 006 token carries among the plausible ones, None if unknown (TOKEN-4 judges it)."""
    uids: list[int | str] = [uid] if tokentype != "uid" else [int(uid), *uid_candidates(uid)]
    for c in channel_candidates(channel):
        for u in uids:
            if tok.binds(c, u):
                return c, u
    return None


DOES_NOT_VERIFY = "does not verify: signed with another app certificate, or altered after signing"
RTE_UID = "77"
POST_BODY = {"tokenType": "rtc", "channel": "conformance-post", "role": "publisher", "uid": "77", "expire": 600}


def _other_routes(t: Target) -> list[Fetched]:
    """Tokens of the RTE and POST routes: judged like the others, not only for their shape."""
    out: list[Fetched] = []
    if t.profile.has("rte"):
        out += list(t.fetch_rte("conformance-rte", "publisher", "uid", RTE_UID))
    if t.profile.has("post_get_token"):
        out.append(t.post_get_token(dict(POST_BODY)))
    return out


def _words(privileges: object) -> str:
    """Privilege names as a person reads them: 'join channel, publish audio stream'."""
    return ", ".join(str(p).replace("_", " ") for p in sorted(privileges))  # type: ignore[call-overload]


@case("TOKEN-1")
def test_tokens_decode(token_target: Target) -> None:
    t = token_target
    f = Findings()
    fetched = [t.fetch_rtc(channel="conformance-decode", role=role) for role in t.profile.issued_roles]
    if t.profile.has("rtc_account"):
        fetched.append(t.fetch_rtc(channel="conformance-decode", tokentype="userAccount", uid="alice"))
    if t.profile.has("rtm"):
        fetched.append(t.fetch_rtm())
    fetched += _other_routes(t)
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
                              t.fetch_rtc(channel="conformance-appid", role=t.profile.role_or_issued("subscriber"),
                                          uid="9")]
    if t.profile.has("rtm"):
        fetched.append(t.fetch_rtm())
    tokens = [(x, x.token) for x in fetched if x.token is not None]
    if not tokens:
        pytest.skip("no decodable token (judged by ROUTE-1, TOKEN-1)")
    expected = t.settings.app_id
    first = tokens[0][1].app_id
    for x, tok in tokens:
        f.check(bool(APP_ID.match(tok.app_id)), f"app id in {x.key} from {x.exchange.url}",
                "32 hexadecimal characters",
                f"the token carries app id {tok.app_id!r} ({len(tok.app_id)} characters), which no Agora project has",
                x.exchange)
        if expected:
            f.check(tok.app_id == expected, f"app id in {x.key} from {x.exchange.url}", expected,
                    f"the token carries app id {tok.app_id}, not the configured one (--app-id {expected}): the SDK "
                    "refuses to join with it", x.exchange)
        else:
            f.check(tok.app_id == first, f"app id in {x.key} from {x.exchange.url}",
                    f"the same app id as the first token ({first})",
                    f"the token carries app id {tok.app_id}, the first token ({tokens[0][0].exchange.url}) {first}: "
                    "the server signs for two projects", x.exchange)
    f.conclude()


@case("TOKEN-4")
def test_bound_to_channel_and_uid(token_target: Target) -> None:
    t = token_target
    f = Findings()
    # A server that chooses the uid is asked each channel once (the uid it would not read is left out).
    uids = UIDS if t.profile.uid_input else ("0",)
    asked = [("conformance-bind", uid) for uid in uids] + [(CHANNEL_SYMBOLS, "12345" if t.profile.uid_input else "0")]
    for n, (channel, uid) in enumerate(asked):
        x = t.fetch_rtc(channel=channel, uid=uid)
        what = f"token for channel {channel!r}" + (f", uid {uid}" if t.profile.uid_input else "")
        if n and x.token is None:  # the plain request worked: refusing a valid one is this case's business
            f.add(what, "a token bound to them (a valid request)", str(x.problem), x.exchange)
            continue
        tok = need_token(x)
        judged = uid_to_judge(t, x, uid)
        if judged.problem is not None:
            f.add(what, f"a token bound to channel {channel!r} and the uid the server chose{judged.note}",
                  judged.problem, x.exchange)
            continue
        if judged.uid is None:  # 006 and no uid in the answer: only the channel can be judged
            f.check(zlib.crc32(channel.encode("utf-8")) == tok.crc_channel, what,
                    f"bound to channel {channel!r} (the uid is not judged{judged.note})",
                    binding_difference(tok, channel, None), x.exchange)
            continue
        uid = judged.uid
        f.check(tok.binds(channel, int(uid)), what + (f" (uid {uid}{judged.note})" if judged.note else ""),
                f"bound to channel {channel!r} and uid {uid_string(int(uid))!r}{judged.note}"
                + (" (uid 0 packs as '')" if uid == "0" else ""),
                binding_difference(tok, channel, uid), x.exchange)
    others: list[tuple[str, Fetched, str]] = []
    if t.profile.has("rte"):
        others.append(("rtcToken of the RTE route", t.fetch_rte("conformance-rte", "publisher", "uid", RTE_UID)[0],
                       "conformance-rte"))
    if t.profile.has("post_get_token"):
        others.append(("token of POST /getToken", t.post_get_token(dict(POST_BODY)), "conformance-post"))
    for what, x, channel in others:
        if x.token is None:
            continue  # ROUTE-7 / ROUTE-8 / TOKEN-1 judge a missing token
        f.check(x.token.binds(channel, int(RTE_UID)), f"binding of the {what}",
                f"bound to channel {channel!r} and uid {RTE_UID!r}", binding_difference(x.token, channel, RTE_UID),
                x.exchange)
    f.conclude()


@case("TOKEN-5")
def test_bound_to_account(token_target: Target) -> None:
    t = token_target
    f = Findings()
    for n, account in enumerate(ACCOUNTS):
        x = t.fetch_rtc(channel="conformance-account", tokentype="userAccount", uid=account)
        if n and x.token is None:
            f.add(f"token for account {account!r}", "a token bound to it (a valid request)", str(x.problem), x.exchange)
            continue
        tok = need_token(x, see="ROUTE-9, TOKEN-1")
        f.check(tok.binds("conformance-account", account), f"token for account {account!r}",
                f"bound to channel 'conformance-account' and account {account!r}",
                binding_difference(tok, "conformance-account", None, account=account), x.exchange)
    f.conclude()


@case("TOKEN-6")
def test_publisher_privileges(token_target: Target) -> None:
    f = Findings()
    for what, x in role_tokens(token_target, "publisher"):
        assert x.token is not None
        have = x.token.rtc.privilege_names if x.token.rtc else frozenset()
        missing = sorted(PUBLISHER_PRIVILEGES - have)
        f.check(not missing, f"publisher privileges ({what})", f"grants {_words(PUBLISHER_PRIVILEGES)}",
                f"grants {_words(have) or 'nothing'}; missing {_words(missing)}", x.exchange)
    f.conclude()


@case("TOKEN-7")
def test_subscriber_privileges(token_target: Target) -> None:
    f = Findings()
    for what, x in role_tokens(token_target, "subscriber"):
        assert x.token is not None
        have = x.token.rtc.privilege_names if x.token.rtc else frozenset()
        f.check(have == {"join_channel"}, f"privileges of role {token_target.profile.role_word('subscriber')!r} ({what})",
                "grants join channel only", f"also grants {_words(have - {'join_channel'})}" if "join_channel" in have
                else f"grants {_words(have) or 'nothing'}, not join channel", x.exchange)
    f.conclude()


@case("TOKEN-8")
def test_signature_verifies(token_target: Target) -> None:
    t = token_target
    cert = require_certificate(t)
    f = Findings()
    asked: list[tuple[str, str, str, str, int | str]] = [("conformance-sig", "publisher", "uid", "0", 0), ("conformance-sig", "subscriber", "uid", "4294967295", 4294967295),
             ("conformance-sig", "publisher", "userAccount", "alice", "alice")]
    if not t.profile.has("rtc_account"):
        asked.pop()
    asked = [a for a in asked if a[1] in t.profile.roles]  # a one-role server: its role's tokens
    unjudged: list[str] = []
    for channel, role, tokentype, uid, uid_value in asked:
        x = t.fetch_rtc(channel=channel, role=role, tokentype=tokentype, uid=uid)
        tok = need_token(x, see="ROUTE-9, TOKEN-1" if tokentype == "userAccount" else "ROUTE-1, TOKEN-1")
        if tokentype == "uid":
            # The server chose the uid (uid 0 asked, or a server that takes none): the token is for the uid the
            # answer names (else the one a 007 token carries), and a 006 signature, which covers the uid without
            # storing it, verifies only against it (TOKEN-4 judges the binding).
            judged = uid_to_judge(t, x, uid)
            if judged.problem is not None:
                continue  # TOKEN-4 reports a uid that is no uid
            if judged.uid is None:
                unjudged.append(f"signature of the token for {role} {tokentype}{judged.note}")
                continue
            uid, uid_value = judged.uid, int(judged.uid)
        if tok.version == "006":
            carried = _carried_binding(tok, channel, uid, tokentype)
            if carried is None:
                continue  # bound to something unrecognisable: TOKEN-4 / TOKEN-5 report the binding
            channel, uid_value = carried
        f.check(verify(tok, cert, channel=channel, uid=uid_value), f"signature of the token for {role} {tokentype} {uid}",
                "valid with the app certificate", DOES_NOT_VERIFY, x.exchange)
    if t.profile.has("rtm"):
        x = t.fetch_rtm("conformance-user")
        tok = need_token(x, see="ROUTE-6, TOKEN-1")
        f.check(verify(tok, cert, channel="conformance-user", uid=""), "signature of the RTM token",
                "valid with the app certificate", DOES_NOT_VERIFY, x.exchange)
    if t.profile.has("rte"):
        rtc, rtm = t.fetch_rte("conformance-rte", "publisher", "uid", RTE_UID)
        for what, x, channel, uid in (("rtcToken", rtc, "conformance-rte", RTE_UID), ("rtmToken", rtm, RTE_UID, "")):
            if x.token is not None:
                f.check(verify(x.token, cert, channel=channel, uid=uid), f"signature of the RTE route's {what}",
                        "valid with the app certificate", DOES_NOT_VERIFY, x.exchange)
    if t.profile.has("post_get_token"):
        x = t.post_get_token(dict(POST_BODY))
        if x.token is not None:
            f.check(verify(x.token, cert, channel="conformance-post", uid=RTE_UID), "signature of the POST /getToken token",
                    "valid with the app certificate", DOES_NOT_VERIFY, x.exchange)
    if unjudged and not f.checked:
        pytest.skip(f"{NOT_APPLICABLE}: a signature that covers a uid cannot be verified without it: "
                    + "; ".join(unjudged))
    f.conclude()


@case("TOKEN-9")
def test_rtm_token_content(token_target: Target) -> None:
    t = token_target
    f = Findings()
    x = t.fetch_rtm("conformance-user")
    _judge_rtm(f, need_token(x, see="ROUTE-6, TOKEN-1"), "conformance-user", "RTM token", x)
    if t.profile.has("rte"):
        x = t.fetch_rte("conformance-rte", "publisher", "uid", RTE_UID)[1]
        if x.token is not None:
            _judge_rtm(f, x.token, RTE_UID, "rtmToken of the RTE route (user id = the uid asked)", x)
    f.conclude()


def _judge_rtm(f: Findings, tok: Token, user: str, what: str, x: Fetched) -> None:
    if tok.version == "007":
        rtm = next((s for s in tok.services if s.type == 2), None)
        f.check(rtm is not None and rtm.user_id == user and "login" in rtm.privilege_names,
                f"RTM service of the {what}", f"user_id={user!r} with the login privilege",
                "no RTM service" if rtm is None else f"user_id={rtm.user_id!r}, privileges {sorted(rtm.privilege_names)}",
                x.exchange)
    else:
        names = tok.rtc.privilege_names if tok.rtc else frozenset()
        f.check(tok.binds(user, "") and "rtm_login" in names, f"006 {what}",
                f"bound to account {user!r} (as channel) with privilege 1000 (RTM login)",
                f"{describe_token(tok)}, privileges {sorted(names)}", x.exchange)
