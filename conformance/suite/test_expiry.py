"""Section EXPIRY: lifetimes are the ones asked for, and renewal works as the SDK does it.

Times: 007 stores an issue time and relative lifetimes, so lifetimes are judged
exactly against the token's own clock; 006 stores absolute times only, so they
are judged against the harness clock within the allowed skew.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from ..cases import NOT_APPLICABLE, case
from ..concurrency import urgent
from ..target import Fetched, Target
from ..tokens import Token
from ..verdict import Findings, fail
from ._support import binding_difference, need_token

DAY = 86400


def _human(seconds: float) -> str:
    """A lifetime as a person reads it: '10 h', '56 years', '45 s'."""
    for unit, size in (("years", 365 * DAY), ("days", DAY), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


@dataclass
class Timed:
    """A fetch with the harness clock read just before sending and just after the answer."""

    fetched: Fetched
    sent: float
    received: float


def timed_fetch(target: Target, **kwargs: object) -> Timed:
    sent = time.time()
    fetched = target.fetch_rtc(**kwargs)  # type: ignore[arg-type]
    return Timed(fetched, sent, time.time())


def timed_rtm(target: Target, expiry: int | None) -> Timed:
    sent = time.time()
    fetched = target.fetch_rtm("conformance-day", expiry=expiry)
    return Timed(fetched, sent, time.time())


def _lifetimes(tok: Token, timed: Timed) -> list[tuple[str, float | None, float]]:
    """(what, seconds it is valid after issue or None for never, tolerance) for the token and each RTC privilege."""
    skew = 0.0
    if tok.issue_ts is not None:
        origin = float(tok.issue_ts)
    else:  # 006: no issue time; judge against the harness clock
        origin, skew = timed.sent, timed.received - timed.sent
    out: list[tuple[str, float | None, float]] = []
    if tok.version == "007":
        out.append(("token", float(tok.lifetime or 0), 0.0))
    rtc = tok.rtc if tok.rtc is not None else next(iter(tok.services), None)
    for p in rtc.privileges if rtc else ():
        if tok.version == "006" and p.value == 0:
            out.append((f"privilege {p.name}", None, 0.0))
        else:
            out.append((f"privilege {p.name}", None if p.expires_ts is None else p.expires_ts - origin, skew))
    return out


@case("EXPIRY-1")
def test_requested_expiry_honoured(token_target: Target) -> None:
    t = token_target
    f = Findings()
    allowed = t.settings.max_skew
    lifetimes = list(dict.fromkeys(t.profile.lifetime(e) for e in (600, 7200)))  # inside the profile's limits
    asked = [("", expiry, timed_fetch(t, channel="conformance-expiry", expiry=expiry)) for expiry in lifetimes]
    if t.profile.has("post_get_token"):
        sent = time.time()
        body = {"tokenType": "rtc", "channel": "conformance-expiry", "role": "publisher", "uid": "7", "expire": 900}
        fetched = t.post_get_token(body)
        if fetched.token is not None:  # ROUTE-8 judges a missing token
            asked.append(("POST /getToken ", 900, Timed(fetched, sent, time.time())))
    for route, expiry, timed in asked:
        label = f"{route}expire={expiry}" if route else f"?expiry={expiry}"
        if timed.fetched.token is None and t.fetch_rtc(channel="conformance-expiry").token is not None:
            # The plain request works: refusing a valid ?expiry is this case's failure, not a missing prerequisite.
            f.add(f"token for a valid {label}", "a token (the same request without ?expiry gets one)",
                  str(timed.fetched.problem), timed.fetched.exchange)
            continue
        tok = need_token(timed.fetched)
        for what, lifetime, extra in _lifetimes(tok, timed):
            ok = lifetime is not None and abs(lifetime - expiry) <= allowed + extra
            shown = ("never expires" if lifetime is None
                     else f"it got a lifetime of {lifetime:.0f} s ({_human(lifetime)}), not the {expiry} s asked")
            f.check(ok, f"{label}: {what}", f"lapses {expiry} s after issue (+/- {allowed:g} s)", shown,
                    timed.fetched.exchange)
    f.conclude()


@case("EXPIRY-2")
def test_default_lifetime_bounded(token_target: Target) -> None:
    timed = timed_fetch(token_target, channel="conformance-default")
    tok = need_token(timed.fetched)
    f = Findings()
    allowed = token_target.settings.max_skew
    for what, lifetime, extra in _lifetimes(tok, timed):
        ok = lifetime is not None and 0 < lifetime <= DAY + allowed + extra
        shown = "never expires" if lifetime is None else f"it got a lifetime of {lifetime:.0f} s ({_human(lifetime)})"
        f.check(ok, f"default lifetime of the {what}", "in (0, 86400] s", shown, timed.fetched.exchange)
    f.conclude()


@case("EXPIRY-3")
def test_never_more_than_a_day(token_target: Target) -> None:
    t = token_target
    f = Findings()
    allowed = t.settings.max_skew
    # A fixed lifetime is asked for nothing; a server with limits is asked for its longest.
    asked: list[tuple[str, int | None]] = [("RTC", None)]
    if t.profile.expiry_input:
        asked.append(("RTC", t.profile.lifetime(DAY)))
    if t.profile.has("rtm"):
        asked += [("RTM", expiry) for expiry in (None, DAY)]
    for kind, expiry in asked:
        if kind == "RTC":
            timed = timed_fetch(t, channel="conformance-day", expiry=expiry)
            tok = need_token(timed.fetched)
        else:
            timed = timed_rtm(t, expiry)
            if timed.fetched.token is None:
                continue  # ROUTE-6 / TOKEN-1 judge a missing RTM token
            tok = timed.fetched.token
        label = f"{kind} token, " + ("default expiry" if expiry is None else f"?expiry={expiry}")
        if kind == "RTC" and expiry is None and not t.profile.expiry_input:
            label = "RTC token, fixed lifetime"
        for what, lifetime, extra in _lifetimes(tok, timed):
            ok = lifetime is not None and lifetime <= DAY + allowed + extra
            shown = ("never expires" if lifetime is None
                     else f"valid {lifetime:.0f} s ({_human(lifetime)}) after issue")
            f.check(ok, f"{label}: {what}", "valid at most 86400 s after issue", shown, timed.fetched.exchange)
        if tok.version == "006" and tok.ts is not None:
            ok = tok.ts != 0 and tok.ts - timed.sent <= DAY + allowed
            f.check(ok, f"{label}: token-level expiry (ts)", "at most 24 h from now",
                    "never (ts = 0)" if tok.ts == 0 else f"{tok.ts - timed.sent:.0f} s from now", timed.fetched.exchange)
    f.conclude()


@case("EXPIRY-4")
def test_issue_time_is_now(token_target: Target) -> None:
    t = token_target
    # A fixed lifetime is the profile's expiry.default: a 006 token's issue time is its join expiry minus that.
    asked = t.profile.lifetime(600) if t.profile.expiry_input else None
    expiry = asked if asked is not None else t.profile.default_expiry
    timed = timed_fetch(t, channel="conformance-clock", expiry=asked)
    tok = need_token(timed.fetched)
    allowed = t.settings.max_skew
    if tok.issue_ts is not None:
        issued, how = float(tok.issue_ts), "issue_ts"
    else:
        rtc = tok.rtc
        join = rtc.privilege("join_channel") if rtc else None
        if join is None or not join.value:
            fail("issue time of a 006 token (join privilege expiry minus ?expiry)", "a join privilege with an expiry",
                 "none", timed.fetched.exchange)
            return
        issued = float(join.value - expiry)
        how = (f"join privilege expiry - {expiry} s" if asked is not None
               else f"join privilege expiry - the fixed lifetime of {expiry} s the profile states")
    f = Findings()
    low, high = timed.sent - allowed, timed.received + allowed
    f.check(low <= issued <= high, f"issue time ({how}) against the harness clock",
            f"within {allowed:g} s of the request, sent at {_utc(timed.sent)}",
            f"{_utc(issued)}, {_offset(issued - timed.sent)} the request", timed.fetched.exchange)
    date = timed.fetched.exchange.headers.get("date")
    if date:
        try:
            server_now = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            server_now = None
        if server_now is not None:
            f.check(abs(issued - server_now) <= allowed + 1, f"issue time ({how}) against the server's Date header",
                    f"within {allowed:g} s of the Date header ({date})",
                    f"{_utc(issued)}, {_offset(issued - server_now)} it", timed.fetched.exchange)
    f.conclude()


def _utc(ts: float) -> str:
    """A Unix time as people read it: 2026-11-30T01:42:10Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset(seconds: float) -> str:
    """'600 s after' / '12 s before' / 'at the time of'."""
    if round(seconds) == 0:
        return "at the time of"
    return f"{abs(seconds):.0f} s {'after' if seconds > 0 else 'before'}"


_fresh_lock = threading.Lock()


def _fresh_pair(target: Target) -> tuple[Timed, Timed]:
    """Two fetches a second apart, made once per target: EXPIRY-5 and EXPIRY-7 judge the same pair."""
    with _fresh_lock:
        pair = target.memo.get("fresh-pair")
        if pair is None:
            # A fixed-lifetime server is asked for no lifetime: its renewal must be as fresh.
            expiry = target.profile.lifetime(600) if target.profile.expiry_input else None
            with urgent():  # on a clock: ahead of queued independent requests
                first = timed_fetch(target, channel="conformance-fresh", uid="77", expiry=expiry)
                # More than a second after the first answer, a fresh token must carry a later whole-second
                # issue time, whatever the server's clock offset.
                time.sleep(1.05)
                pair = target.memo["fresh-pair"] = (first, timed_fetch(target, channel="conformance-fresh", uid="77",
                                                                        expiry=expiry))
    return pair


@case("EXPIRY-5", prefetch=_fresh_pair)
def test_renewal_is_fresh(prefetched: tuple[Timed, Timed]) -> None:
    first, second = prefetched
    a = need_token(first.fetched)
    b = need_token(second.fetched)
    f = Findings()
    ex = second.fetched.exchange
    f.check(second.fetched.raw != first.fetched.raw, "token fetched again a second later", "a different token",
            "the very same token as a second earlier (a cached answer)", ex)
    a_exp, b_exp = a.earliest_privilege_expiry(), b.earliest_privilege_expiry()
    if a_exp is not None and b_exp is not None:
        shown = f"it lapses {b_exp - a_exp:+d} s from the first one's expiry (not recomputed from its own issue time)"
    else:
        shown = "a token without any expiry"
    f.check(a_exp is not None and b_exp is not None and b_exp > a_exp, "expiry of the token fetched a second later",
            "later than the first one's (recomputed from its own issue time)", shown, ex)
    f.conclude()


@case("EXPIRY-7", prefetch=_fresh_pair)
def test_salt_per_token(prefetched: tuple[Timed, Timed]) -> None:
    first, second = prefetched
    a = need_token(first.fetched)
    b = need_token(second.fetched)
    if first.fetched.raw == second.fetched.raw:
        pytest.skip("the same token twice: a cached answer, judged by EXPIRY-5")
    f = Findings()
    f.check(a.salt != b.salt, "salt of the token fetched a second later", "a salt of its own",
            f"the first token's salt again ({b.salt}): the server draws one salt per process", second.fetched.exchange)
    f.conclude()


#: The longest lifetime a renewal cycle waits out (lifetime - margin): a fixed lifetime (or an expiry.min) longer
#: than this is not waited for, and EXPIRY-6 says so; EXPIRY-5 judges the fetch a second later all the same.
RENEWAL_WAIT_LIMIT = 30


@dataclass
class RenewalCycle:
    first: Timed | None
    renewed: Timed | None
    first_expiry: float | None
    renew_at: float
    #: Why no cycle was run (a lifetime too long to wait out), else None.
    not_run: str | None = None


def _renewal_cycle(target: Target) -> RenewalCycle:
    with urgent():  # the renewal must arrive before expiry, whatever else is queued
        return _renew(target)


def _renewal_lifetime(target: Target) -> tuple[int | None, int, str | None]:
    """(lifetime to ask for or None for a fixed one, the lifetime in seconds, why no cycle can be run)."""
    p, s = target.profile, target.settings
    if not p.expiry_input:
        lifetime, asked = p.default_expiry, None
        what = f"every token lives the fixed {lifetime} s the profile states"
    else:
        asked = lifetime = p.lifetime(s.renew_expiry)
        what = f"the shortest lifetime the profile allows is {lifetime} s (expiry.min)"
    if lifetime - s.renew_margin > RENEWAL_WAIT_LIMIT:
        return asked, lifetime, (f"{what}: a renewal cycle would wait {lifetime - s.renew_margin:.0f} s for the "
                                 f"will-expire point (this run waits at most {RENEWAL_WAIT_LIMIT} s); EXPIRY-5 judges "
                                 "that a token fetched a second later is fresh")
    return asked, lifetime, None


def _renew(target: Target) -> RenewalCycle:
    s = target.settings
    asked, lifetime, not_run = _renewal_lifetime(target)
    if not_run is not None:
        return RenewalCycle(None, None, None, 0.0, not_run)
    first = timed_fetch(target, channel="conformance-renew", uid="4242", expiry=asked)
    tok = first.fetched.token
    if tok is None:
        return RenewalCycle(first, None, None, 0.0)
    expiry = tok.earliest_privilege_expiry()
    # The SDK warns renew_margin before expiry (30 s in real life); the client then renews.
    renew_at = (expiry if expiry is not None else first.sent + lifetime) - s.renew_margin
    time.sleep(max(0.0, min(renew_at - time.time(), lifetime)))
    renewed = timed_fetch(target, channel="conformance-renew", uid="4242", expiry=asked)
    return RenewalCycle(first, renewed, None if expiry is None else float(expiry), renew_at)


@case("EXPIRY-6", prefetch=_renewal_cycle)
def test_renew_before_expiry(prefetched: RenewalCycle, token_target: Target) -> None:
    cycle = prefetched
    if cycle.not_run is not None:
        pytest.skip(f"{NOT_APPLICABLE}: {cycle.not_run}")
    assert cycle.first is not None
    need_token(cycle.first.fetched, see="ROUTE-1, TOKEN-1")
    assert cycle.renewed is not None
    f = Findings()
    ex = cycle.renewed.fetched.exchange
    new = cycle.renewed.fetched.token
    if new is None:
        f.add("renewed token", "a valid token", str(cycle.renewed.fetched.problem), ex)
        f.conclude()
        return
    old_expiry = cycle.first_expiry
    f.check(old_expiry is not None and cycle.renewed.received < old_expiry, "arrival of the renewed token",
            "before the first token lapses", f"{cycle.renewed.received - (old_expiry or 0):+.2f} s after it lapsed", ex)
    if token_target.profile.uid_input:  # a uid the server chooses is TOKEN-4's to judge (one defect, one failure)
        f.check(new.binds("conformance-renew", 4242), "binding of the renewed token",
                "bound to channel 'conformance-renew' and uid '4242'",
                binding_difference(new, "conformance-renew", "4242"), ex)
    new_expiry = new.earliest_privilege_expiry()
    f.check(new_expiry is not None and old_expiry is not None and new_expiry > old_expiry,
            "expiry of the renewed token", "later than the first token's",
            "never expires" if new_expiry is None or old_expiry is None
            else f"it lapses {new_expiry - old_expiry:+.0f} s from the first token's expiry", ex)
    f.check(new_expiry is not None and new_expiry > cycle.renewed.received, "renewed token at arrival",
            "not yet expired", f"already expired {cycle.renewed.received - (new_expiry or 0):.0f} s before it arrived",
            ex)
    f.conclude()
