"""The simulated client every scenario runs: :class:`TokenClient`, a session's fetch, checks and renewals.

It reports its work as Locust request rows, by request type: FETCH and RENEW (the HTTP requests, with their real
response times), INVALID (one row per reason a token was refused), DROPPED (sessions whose token expired before a
valid renewal arrived; response time = how late, in ms) and LIMITED (a rate limiter's answers, waited out). Its
counters go to the run state (run_state.py).

Importing this module registers the run's bookkeeping with Locust (``listeners.register()``, once per process):
without it a client's rows would be neither summarised nor judged. Options: options.py; docs/load.md.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from locust import FastHttpUser, task

from conformance.headers import HeaderError, resolve
from conformance.load.protocol import DROPPED, FETCH, INVALID, LIMITED, RENEW
from conformance.load.scenario import listeners
from conformance.load.scenario.options import scenario_config
from conformance.load.scenario.responses import rate_limited, token_in
from conformance.load.scenario.run_state import STATE
from conformance.load.scenario.tally import Tally
from conformance.load.scenario.validation import REASONS, SentRequest, check_token

__all__ = ["DROP_REASONS", "DroppedSession", "InvalidToken", "Session", "TokenClient", "headers_from_environment"]

listeners.register()

#: Why a session was dropped (DROPPED row names).
DROP_REASONS: dict[str, str] = {
    "late": "the renewal answered only after the previous token had expired",
    "no_renewal": "no valid renewal before the previous token expired (failed or invalid renewals)",
    "pending": "the previous token expired while its renewal was still outstanding at the end of the run",
}


class InvalidToken(Exception):
    """An INVALID row's failure: the server sent a token this client cannot use."""


class DroppedSession(Exception):
    """A DROPPED row's failure: the client would have been dropped from the call."""


@dataclass
class Session:
    """One client in one call: who it is, the token it holds and how many renewals it has done."""

    channel: str
    role: str
    tokentype: str
    uid: int | str
    path: str
    #: The request as the profile builds it (method and body too: any shape); None: GET ``path``.
    request: Any = None
    expires: int | None = None
    received_at: float = 0.0
    renewals: int = 0
    in_flight: bool = False


def headers_from_environment() -> dict[str, str]:
    """The configured headers from $TOKEN_SERVER_HEADERS (``Name: value`` lines); a bad line stops the run."""
    try:
        return resolve()
    except HeaderError as exc:
        raise SystemExit(f"token-conformance: {exc}") from None


class TokenClient(FastHttpUser):
    """A client of the token server, as the SDK drives it (client-behaviour.md).

    It takes a channel and uid (roles and token types drawn from the mixes),
    fetches a token, checks it, sleeps until ``expiry - renew margin`` (the
    will-expire callback), renews, checks again, and after ``--cycles``
    renewals leaves; a new client takes its place at once, so the user count
    stays what Locust was asked for. A renewal that brings no valid token
    before the old one expires drops the session.

    Waiting happens in ``wait_time`` (not inside the task), so Locust can stop a
    waiting client at once and ``--stop-timeout`` only bounds requests in flight.

    No artificial lock-step: real clients join at random instants and their
    clocks and timers are not aligned on the server's seconds. So each client
    starts after a random delay within one renewal period (``start_spread``),
    and renews at its own token's expiry - margin - its own sub-second phase
    (never later than the margin says). Without that, tokens carrying whole
    seconds put every client that fetched in the same second on the same renewal
    instant, and the burst queues inside the generator (measured as latency).
    ``renew_storm`` turns both off: there the waves are the point.
    """

    #: Start after a random delay within one renewal period (False: at once, e.g. renew_storm's cohorts).
    start_spread = True
    #: Renew at a per-client random phase within the second before expiry - margin (False: on the second).
    phase_spread = True

    def __init__(self, environment: Any) -> None:
        config = STATE.config or scenario_config(environment.parsed_options)
        # Must be set before FastHttpUser builds its session; the SDK's timeout is 10 s.
        self.network_timeout = config.request_timeout
        self.connection_timeout = config.request_timeout
        # FastHttpUser never verifies TLS by default; a conformance client does, unless told not to.
        self.insecure = config.insecure
        super().__init__(environment)
        self.config = config
        self.rng = random.Random()
        self.operation = config.profile.operations["rtc"]
        self.route = self.operation.path
        self.session: Session | None = None
        period = max(config.expiry - config.renew_margin, 0.0)
        self.phase = self.rng.random() if self.phase_spread else 0.0
        self.due = time.time() + (self.rng.uniform(0.0, period) if self.start_spread else 0.0)
        #: Credentials from $TOKEN_SERVER_HEADERS (set by ``token-conformance load``, or by hand for plain Locust).
        self.headers = headers_from_environment()
        #: Seconds the last token request's rate limiter asked to wait (None: it was not rate limited).
        self.limited_for: float | None = None

    def wait_time(self) -> float:
        return max(0.0, self.due - time.time())

    def renewal_point(self, session: Session) -> float:
        """When to renew: the token's expiry - margin, brought forward by this client's phase (< 1 s).

        The phase never takes more than half the time left before that point, so a
        short test cycle cannot turn it into renewing at once, again and again.
        """
        assert session.expires is not None
        point: float = session.expires - self.config.renew_margin
        slack = point - session.received_at
        return point - min(self.phase, max(slack, 0.0) / 2)

    # ---- bookkeeping helpers

    @property
    def tally(self) -> Tally:
        assert STATE.recorded is not None
        return STATE.recorded

    def fire(self, kind: str, name: str, response_time: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=response_time,
            response_length=0,
            exception=exception,
            context={},
            response=None,
            url=None,
            start_time=time.time(),
        )

    def new_session(self) -> Session:
        config, rng = self.config, self.rng
        role = config.roles.choose(rng)
        tokentype = config.tokentypes.choose(rng)
        channel = f"load-{rng.getrandbits(40):010x}"
        uid: int | str = rng.randint(1, 2**32 - 1) if tokentype == "uid" else f"user-{rng.getrandbits(48):012x}"
        # The profile builds the request (method, path and query, body): any route shape is driven the same way.
        expiry = config.expiry if config.profile.expiry_input else None  # a fixed lifetime is not asked for
        request = config.profile.rtc_request(channel, role, tokentype, str(uid), expiry=expiry, lenient=True)
        return Session(channel, role, tokentype, uid, request.path, request=request)

    def drop(self, session: Session, reason: str, late_s: float, detail: str) -> None:
        self.tally.dropped(reason, detail)
        self.fire(DROPPED, reason, max(late_s, 0.0) * 1000.0, DroppedSession(DROP_REASONS[reason]))
        self.session = None
        self.due = time.time()

    # ---- one request

    def request_token(self, kind: str, session: Session, client: Any = None) -> tuple[str | None, float, float, float]:
        """GET the route (on ``client``, default this user's session); returns (token or None, response ms,
        sent at, received at)."""
        sent = time.time()
        session.in_flight = True
        # No redirects: Locust would follow them to any host, taking the load off the target.
        # A 3xx is a failed request ("HTTP 302"): the profile's route is the canonical one.
        # stream=True: the body is read by responses.capped_body, with a size cap, not whole by Locust.
        self.limited_for = None
        request = session.request
        method = request.method if request is not None else "GET"
        body: dict[str, Any] = {}
        if request is not None and request.json_body is not None:
            body["json"] = request.json_body
        elif request is not None and request.form is not None:
            body["data"] = request.form
        with (client or self.client).request(method, session.path, name=self.route, catch_response=True, allow_redirects=False,
                                 stream=True, headers=self.headers, **body) as response:
            # Our request types instead of "GET" (documented attribute of Locust's response context).
            response.request_meta["request_type"] = kind
            self.limited_for = rate_limited(response)
            token, error = token_in(response, self.operation.token, self.operation.status)
            if self.limited_for is not None:
                # A rate limiter's answer is neither a failure nor a latency sample: its own row, waited out.
                response.request_meta["request_type"] = LIMITED
                response.success()
                self.tally.count("limited")
            elif error is None:
                response.success()
            else:
                response.failure(error)
                self.tally.failure(error)
        session.in_flight = False
        received = time.time()
        return token, float(response.request_meta.get("response_time") or 0.0), sent, received

    # ---- the task: one step of the session state machine

    @task
    def step(self) -> None:
        if time.time() < self.due:
            # Locust runs a user's first task before its first wait: without this, every client would fetch the
            # moment it is spawned (all of them in the first second at a high --spawn-rate), and the start spread
            # would never be used. Returning hands over to wait_time(), which sleeps until ``due``.
            return
        if self.session is None:
            self.session = self.new_session()
        session = self.session
        if session.expires is None:
            self.fetch(session)
            return
        now = time.time()
        if now >= session.expires:
            self.drop(session, "no_renewal", now - session.expires, "the token expired before a valid renewal")
            return
        self.renew(session)

    def fetch(self, session: Session) -> None:
        config = self.config
        token, ms, sent, received = self.request_token(FETCH, session)
        if self.limited_for is not None:
            self.due = time.time() + self.limited_for
            return
        self.tally.count("fetch")  # counted when answered, like Locust's row (a killed request is in neither)
        if token is None:
            self.due = time.time() + config.retry_interval
            return
        request = SentRequest(session.channel, session.role, session.tokentype, session.uid, config.expiry, sent, received)
        verdict = check_token(token, request, config)
        if not verdict.ok:
            assert verdict.reason is not None
            self.tally.invalid(verdict.reason, verdict.detail)
            self.fire(INVALID, verdict.reason, ms, InvalidToken(REASONS[verdict.reason]))
            self.due = time.time() + config.retry_interval
            return
        assert verdict.expires_ts is not None
        self.tally.count("fetch_ok")
        self.tally.count("sessions_started")
        session.expires, session.received_at = verdict.expires_ts, received
        self.due = self.renewal_point(session)

    def renew(self, session: Session) -> None:
        config = self.config
        assert session.expires is not None
        old = session.expires
        token, ms, sent, received = self.request_token(RENEW, session)
        if self.limited_for is not None:
            self.due = min(time.time() + self.limited_for, float(old))  # at expiry at the latest: then it drops
            return
        self.tally.count("renew")
        verdict = None
        if token is not None:
            request = SentRequest(
                session.channel,
                session.role,
                session.tokentype,
                session.uid,
                config.expiry,
                sent,
                received,
                replaces_expiry=old,
                # Tokens carry whole seconds: only a renewal a second later must lapse strictly later.
                require_later=sent - session.received_at >= 1.0,
            )
            verdict = check_token(token, request, config)
            if not verdict.ok:
                assert verdict.reason is not None
                self.tally.invalid(verdict.reason, verdict.detail)
                self.fire(INVALID, verdict.reason, ms, InvalidToken(REASONS[verdict.reason]))
        if verdict is None or not verdict.ok:
            retry_at = time.time() + config.retry_interval
            self.due = min(retry_at, float(old))  # at expiry at the latest: then the session drops
            return
        assert verdict.expires_ts is not None
        lead = old - received
        self.tally.lead(lead)
        if lead <= 0:
            self.drop(session, "late", -lead, f"the renewal answered {-lead:.2f} s after the token expired")
            return
        self.tally.count("renew_ok")
        self.tally.count("cycles")
        session.expires, session.received_at = verdict.expires_ts, received
        session.renewals += 1
        if session.renewals >= config.cycles:
            self.tally.count("sessions_completed")
            self.session = None
            self.due = time.time()
        else:
            self.due = self.renewal_point(session)

    def on_stop(self) -> None:
        # Stopped after the token lapsed without a valid renewal (typically: a renewal still
        # waiting on a server that stopped answering): that client was dropped too.
        session = self.session
        if session is not None and session.expires is not None:
            late = time.time() - session.expires
            if late >= 0 and session.in_flight:
                self.drop(session, "pending", late, "the run ended with the renewal outstanding past expiry")
            elif late >= 0:
                self.drop(session, "no_renewal", late, "the token expired before a valid renewal")
