"""The capacity scenario's arrivals: an open model, token requests *sent on a schedule* at the rate the shape sets.

Simulated users (``fetch_and_renew``, ``ramp``) are a closed model: each sends
its next request only after the last one answered and a renewal period passed,
so with real token lifetimes one machine cannot reach a server's limit, and a
slow answer slows the arrivals down (the server is spared the very load that
would show its limit). Here, as with wrk2's constant throughput or k6's
arrival-rate executors, requests are sent on a schedule, whether or not the
earlier ones have been answered.

Each request is a validated token request, the same as the other scenarios
send and check: a new session's fetch, or the renewal of a token fetched at
least a second earlier (so "a renewal lapses later" is checked too); about one
in two is a renewal. A process spreads its arrivals over many connections
(``capacity_plan.connections_for``: rate x observed latency, with headroom),
taken in turn, as many clients would: a server that gives out under many
connections breaks at the rate where it does.

One arrival loop (:class:`ArrivalClient`) runs per Locust user; the harness starts one user per generator
process (``--processes``). The shape (capacity.py) runs where the stats are (the local process, or the master)
and tells every process its share of the rate (:class:`ArrivalControl`; a master sends it to its workers as
``RATE_MESSAGE``, and each worker sends back its record of every step, step_records.py).

Importing this module registers those messages and the per-request record with Locust: only the capacity
scenario imports it.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.pool import Pool
from locust import events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import MasterRunner, WorkerRunner

from conformance.load.protocol import FETCH, INVALID, RENEW
from conformance.load.scenario import step_records
from conformance.load.scenario.run_state import SELF_MEASUREMENT
from conformance.load.scenario.token_client import InvalidToken, Session, TokenClient
from conformance.load.scenario.validation import REASONS, SentRequest, Verdict, check_token

__all__ = ["CONTROL", "LATENESS_MS", "RATE_MESSAGE", "RECORDS", "ArrivalClient", "ArrivalControl"]

#: Requests one generator process keeps outstanding at most; past it, an arrival is a failure
#: ("not sent: ... outstanding") — the server has stopped keeping up (or the generator has).
MAX_OUTSTANDING = 2000
#: Held tokens kept for renewal at most (older ones are dropped unrenewed: not a failure).
MAX_HELD = 5000
#: How late (ms) this process sent each request after its scheduled instant, in order (the shape reads each
#: step's slice). A generator that cannot keep to the schedule falls further behind with every request.
LATENESS_MS: list[float] = []
#: Custom Locust message a master sends its workers at every change of rate (data: ArrivalControl.as_message()).
RATE_MESSAGE = "token_conformance_capacity_rate"


@dataclass
class ArrivalControl:
    """What this process's arrival loops send now: set by the shape (local) or by the master's RATE_MESSAGE.

    ``rate`` is each arrival loop's share (requests/s; 0: send nothing), ``connections`` the connections each
    loop spreads it over, ``epoch`` changes with every new step (the loops restart their schedule from now).
    The loops count here what they have in flight and which connections carried a request since the epoch.
    """

    rate: float = 0.0
    connections: int = 2
    epoch: int = 0
    #: The run is over: the loops return, so Locust stops them at once instead of after --stop-timeout.
    stopped: bool = False
    in_flight: int = 0
    used: set[int] = field(default_factory=set)
    opened: int = 0

    def set(self, rate: float, connections: int, epoch: int) -> None:
        self.rate, self.connections, self.epoch = rate, connections, epoch
        self.used = set()
        self.stopped = False

    def stop(self) -> None:
        self.set(0.0, self.connections, self.epoch + 1)
        self.stopped = True

    def as_message(self) -> dict[str, Any]:
        return {"rate": self.rate, "connections": self.connections, "epoch": self.epoch, "stopped": self.stopped}


CONTROL = ArrivalControl()
#: A worker's record of the step now running (conformance/load/scenario/step_records.py); None elsewhere.
RECORDER: step_records.EpochRecorder | None = None
#: A master's records of its workers' steps: epoch -> worker id -> record.
RECORDS: dict[int, dict[str, dict[str, Any]]] = {}


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    global RECORDER
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        RECORDER = step_records.EpochRecorder()

        def on_rate(environment: Any, msg: Any, **_kw: Any) -> None:
            data = msg.data or {}
            epoch = int(data.get("epoch", 0))
            if RECORDER is not None and epoch != RECORDER.epoch:
                # The master moved on: this worker's record of the step that ended goes to it now.
                if RECORDER.epoch >= 0:
                    record = RECORDER.close(runner.client_id, LATENESS_MS, SELF_MEASUREMENT.lags_ms, CONTROL.in_flight,
                                            len(CONTROL.used))
                    runner.send_message(step_records.STEP_MESSAGE, record)
                RECORDER.open(epoch, LATENESS_MS, SELF_MEASUREMENT.lags_ms)
            CONTROL.set(float(data.get("rate", 0.0)), int(data.get("connections", 2)), epoch)
            if data.get("stopped"):
                CONTROL.stop()

        runner.register_message(RATE_MESSAGE, on_rate)
    elif isinstance(runner, MasterRunner):
        def on_step(environment: Any, msg: Any, **_kw: Any) -> None:
            data = msg.data or {}
            RECORDS.setdefault(int(data.get("epoch", -1)), {})[str(data.get("id") or msg.node_id)] = data

        runner.register_message(step_records.STEP_MESSAGE, on_step)


@events.request.add_listener
def _on_request(request_type: str, response_time: float, exception: Any = None, **_kwargs: Any) -> None:
    if RECORDER is not None and RECORDER.epoch >= 0:
        RECORDER.on_request(request_type, response_time, exception)


@events.test_start.add_listener
def _on_test_start(**_kwargs: Any) -> None:
    # Not the rate: a worker may get the master's first rate before its spawn message (this event).
    CONTROL.opened = 0


class ArrivalClient(TokenClient):
    """One arrival loop: sends validated token requests on the schedule, each in its own greenlet, over a
    rotating set of connections (the least recently used first)."""

    concurrency = 1  # this user's own session is not used for the arrivals: each connection is a session
    start_spread = False
    phase_spread = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.held: collections.deque[Session] = collections.deque()
        #: Connections not carrying a request now, least recently used first; all of them, by id.
        self.idle: collections.deque[FastHttpSession] = collections.deque()
        self.pool: dict[int, FastHttpSession] = {}

    def wait_time(self) -> float:
        return 0.0

    def new_connection(self) -> FastHttpSession:
        """A session of its own with one connection (opened at its first request, kept alive after)."""
        session = FastHttpSession(
            base_url=self.host, request_event=self.environment.events.request, user=self,
            network_timeout=self.network_timeout, connection_timeout=self.connection_timeout,
            max_redirects=self.max_redirects, max_retries=self.max_retries, insecure=self.insecure,
            concurrency=1, ssl_context_factory=self.ssl_context_factory, headers=self.default_headers,
        )  # fmt: skip
        self.pool[id(session)] = session
        CONTROL.opened += 1
        return session

    def resize(self, target: int) -> None:
        """Grow to ``target`` connections, or close idle ones above it (in use ones stay until they return)."""
        while len(self.pool) < target:
            self.idle.append(self.new_connection())
        while len(self.pool) > target and self.idle:
            session = self.idle.pop()  # the most recently used: the others are the ones waiting longest
            self.pool.pop(id(session), None)
            session.client.clientpool.close()

    def take(self) -> FastHttpSession | None:
        if self.idle:
            return self.idle.popleft()
        if len(self.pool) < MAX_OUTSTANDING:
            return self.new_connection()  # every connection busy: one more client, as a population would have
        return None

    @task
    def arrivals(self) -> None:
        pool = Pool(MAX_OUTSTANDING)
        epoch, due = -1, time.monotonic()
        while True:
            if CONTROL.epoch != epoch:  # a new step: its schedule starts now, over its number of connections
                epoch, due = CONTROL.epoch, time.monotonic()
                self.resize(CONTROL.connections)
            if CONTROL.stopped:
                return  # requests in flight finish in their own greenlets; nothing new is sent
            rate = CONTROL.rate
            if rate <= 0:
                gevent.sleep(0.05)
                continue
            now = time.monotonic()
            if due > now:
                gevent.sleep(min(due - now, 0.25))  # wake up at least 4 times a second to see a new step
                continue
            LATENESS_MS.append(max(0.0, (now - due) * 1000.0))
            connection = self.take() if not pool.full() else None
            if connection is None:
                self.fire(FETCH, self.route, 0.0,
                          RuntimeError(f"not sent: {MAX_OUTSTANDING} requests outstanding"))
                self.tally.failure(f"not sent: {MAX_OUTSTANDING} requests outstanding")
            else:
                pool.spawn(self.one_request, connection)
            due += 1.0 / rate

    def one_request(self, connection: FastHttpSession) -> None:
        CONTROL.in_flight += 1
        CONTROL.used.add(id(connection))
        try:
            self.request_one(connection)
        finally:
            CONTROL.in_flight -= 1
            if id(connection) in self.pool:
                self.idle.append(connection)

    def request_one(self, connection: FastHttpSession) -> None:
        now = time.time()
        while self.held and self.held[0].expires is not None and self.held[0].expires - now < 1.0:
            self.held.popleft()  # too close to expiry to renew safely: let it go
        if self.held and now - self.held[0].received_at >= 1.0:
            self.renew_one(self.held.popleft(), connection)
        else:
            self.fetch_one(connection)

    def fetch_one(self, connection: FastHttpSession) -> None:
        config = self.config
        session = self.new_session()
        token, ms, sent, received = self.request_token(FETCH, session, connection)
        self.tally.count("fetch")
        if token is None:
            return
        verdict = check_token(
            token, SentRequest(session.channel, session.role, session.tokentype, session.uid, config.expiry, sent, received),
            config,
        )
        if self.refused(verdict, ms):
            return
        self.tally.count("fetch_ok")
        self.tally.count("sessions_started")
        session.expires, session.received_at = verdict.expires_ts, received
        if len(self.held) < MAX_HELD:
            self.held.append(session)

    def refused(self, verdict: Verdict, ms: float) -> bool:
        """A token this client cannot use: counted and reported as an INVALID row (True), else False."""
        if verdict.ok:
            return False
        assert verdict.reason is not None
        self.tally.invalid(verdict.reason, verdict.detail)
        self.fire(INVALID, verdict.reason, ms, InvalidToken(REASONS[verdict.reason]))
        return True

    def renew_one(self, session: Session, connection: FastHttpSession) -> None:
        config = self.config
        assert session.expires is not None
        old = session.expires
        token, ms, sent, received = self.request_token(RENEW, session, connection)
        self.tally.count("renew")
        if token is None:
            return
        request = SentRequest(
            session.channel, session.role, session.tokentype, session.uid, config.expiry, sent, received,
            replaces_expiry=old, require_later=sent - session.received_at >= 1.0,
        )  # fmt: skip
        verdict = check_token(token, request, config)
        if self.refused(verdict, ms):
            return
        self.tally.count("renew_ok")
        self.tally.count("cycles")
        self.tally.lead(old - received)
        self.tally.count("sessions_completed")

    def on_stop(self) -> None:
        self.held.clear()  # an open model holds no session through its expiry: nothing is dropped


#: Locust hands a subclass its base's tasks too: without this, an arrival loop first ran TokenClient.step (a whole
#: client session) about half the time, and after the loop stopped, such a session's lapsed token was counted dropped.
ArrivalClient.tasks = [ArrivalClient.arrivals]
