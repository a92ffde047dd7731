"""Scenario ``capacity``: an open model — token requests arrive at a target rate until the server's knee is found.

Simulated users (``fetch_and_renew``, ``ramp``) are a closed model: each sends
its next request only after the last one answered and a renewal period passed,
so with real token lifetimes one machine cannot reach a server's limit, and a
slow answer slows the arrivals down (the server is spared the very load that
would show its limit). Here, as with wrk2's constant throughput or k6's
arrival-rate executors, requests are *sent on a schedule*, whether or not the
earlier ones have been answered.

The rates come from a plan (``conformance/load/scenario/capacity_plan.py``): by default a
search — double the rate every ``--step-time`` s while steps hold, then bisect
between the highest rate held and the lowest broken until they are within
10 %, and stop; with ``--step-rate`` the linear plan ``--start-rate``,
``+ --step-rate``, ... up to ``--max-rate``, stopping at the first break.

Each request is a validated token request, the same as the other scenarios
send and check: a new session's fetch, or the renewal of a token fetched at
least a second earlier (so "a renewal lapses later" is checked too); about one
in two is a renewal. A process spreads its arrivals over many connections
(``capacity_plan.connections_for``: rate x observed latency, with headroom),
taken in turn, as many clients would: a server that gives out under many
connections breaks at the rate where it does.

Every step is judged on its own requests with the run's SLOs, plus two rules
of the open model: fewer than 90 % of the target answered while more was
sent (``rate``), and a backlog at the step's end that the newest request
would wait longer than the p95 objective for (``backlog``). A step that
broke is the server's (it feeds the knee) unless the generator could not keep
to the schedule (its lag, CPU or lateness: ``generator.judge_schedule``):
such a step bounds the search, which bisects below it as below any break;
when the lowest rate that broke is the generator's, no knee is claimed
(``capacity_plan.limited_by``).

Nothing is sent at a new rate once the run is over: the shape stops the
arrivals when it ends, and the step running when Locust stops the run (its
``--run-time``, Ctrl-C) is judged then and kept as ``partial``.

One arrival loop runs per Locust user; the harness starts one user per
generator process (``--processes``). The shape runs where the stats are (the
local process, or the master) and tells every process its share of the rate
(``ArrivalControl``; a master sends it to its workers as ``RATE_MESSAGE``).

    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 150s
    locust -f loadtests/capacity.py --host URL --headless -u 1 -r 1 -t 120s \\
        --start-rate 200 --step-rate 200 --max-rate 4000 --step-time 10
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.pool import Pool
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import MasterRunner, WorkerRunner

from conformance.load.protocol import FETCH, INVALID, RENEW
from conformance.load.scenario import common, generator, step_records
from conformance.load.scenario.capacity_plan import (
    DRAIN_MAX_S,
    LinearPlan,
    SearchPlan,
    StepOutcome,
    connections_for,
    knee_of,
    limited_by,
    share,
)
from conformance.load.scenario.common import SELF_MEASUREMENT, STATE, Session
from conformance.load.scenario.options import add_capacity_options, plan_of, thresholds
from conformance.load.scenario.steps import Snapshot
from conformance.load.scenario.validation import REASONS, SentRequest, check_token
from conformance.load.slo import Breach, Observed, Thresholds, evaluate
from conformance.stats import quantile

__all__ = ["ArrivalClient", "ArrivalControl", "Capacity"]

#: Requests one generator process keeps outstanding at most; past it, an arrival is a failure
#: ("not sent: ... outstanding") — the server has stopped keeping up (or the generator has).
MAX_OUTSTANDING = 2000
#: Held tokens kept for renewal at most (older ones are dropped unrenewed: not a failure).
MAX_HELD = 5000
#: How late (ms) this process sent each request after its scheduled instant, in order (the shape reads each
#: step's slice). A generator that cannot keep to the schedule falls further behind with every request.
LATENESS_MS: list[float] = []
#: Spawn rate that starts the arrival loops at once.
AT_ONCE = 1_000_000.0
#: Custom Locust message a master sends its workers at every change of rate (data: ArrivalControl.as_message()).
RATE_MESSAGE = "token_conformance_capacity_rate"

events.init_command_line_parser.add_listener(add_capacity_options)


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


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kwargs: Any) -> None:
    """The run is ending (run time, Ctrl-C, the shape itself): judge the running step, then send nothing more."""
    shape = environment.shape_class
    if isinstance(shape, Capacity):
        shape.stop_now("run time")
    CONTROL.stop()


@events.test_start.add_listener
def _on_test_start(**_kwargs: Any) -> None:
    # Not the rate: a worker may get the master's first rate before its spawn message (this event).
    CONTROL.opened = 0


class ArrivalClient(common.TokenClient):
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
        if not verdict.ok:
            assert verdict.reason is not None
            self.tally.invalid(verdict.reason, verdict.detail)
            self.fire(INVALID, verdict.reason, ms, common.InvalidToken(REASONS[verdict.reason]))
            return
        self.tally.count("fetch_ok")
        self.tally.count("sessions_started")
        session.expires, session.received_at = verdict.expires_ts, received
        if len(self.held) < MAX_HELD:
            self.held.append(session)

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
        if not verdict.ok:
            assert verdict.reason is not None
            self.tally.invalid(verdict.reason, verdict.detail)
            self.fire(INVALID, verdict.reason, ms, common.InvalidToken(REASONS[verdict.reason]))
            return
        self.tally.count("renew_ok")
        self.tally.count("cycles")
        self.tally.lead(old - received)
        self.tally.count("sessions_completed")

    def on_stop(self) -> None:
        self.held.clear()  # an open model holds no session through its expiry: nothing is dropped


#: A step that broke on latency is the server's, whatever the generator's lag, when the generator did send the
#: step's rate and the step's p95 is at least this many times the event loop's lag p95: the generator can add
#: to a request's measured time only the wait for its loop, and a loop that delays a wake-up by tens of ms cannot
#: hold answers for seconds (lateness delays the sending, which the measured time does not include). Measured on
#: this 2-core VM at load 7-15: servers saturated at 120 and 250/s gave p95 1 100-2 100 ms with lag p95 64 ms and
#: less; the breaks docs/performance.md attributes to a starved generator had p95 4.5-8 x the lag p95.
SERVER_P95_OVER_LAG = 10.0


def server_outran_lag(gen: dict[str, Any], offered_share: float | None, p95_ms: float | None,
                      breaches: list[Breach]) -> dict[str, Any]:
    """Clear a generator verdict on a step whose latency is far beyond anything the generator can add.

    ``offered_share``: what was sent over the target (None on a master, which does not know)."""
    lag95 = gen.get("worst_lag_p95_ms")
    cpu = gen.get("worst_cpu")
    sent_it = (offered_share is None or offered_share >= 0.9) and (cpu is None or cpu < generator.CPU_SATURATED)
    latency = any(b.slo.endswith("_p95_ms") or b.slo == "backlog" for b in breaches)
    if gen["bound"] and sent_it and latency and p95_ms and lag95 and p95_ms >= SERVER_P95_OVER_LAG * lag95:
        gen["bound"] = False
        gen["cleared"] = (f"p95 {p95_ms:g} ms is {p95_ms / lag95:.0f} x the event loop's lag p95 ({lag95:.0f} ms) "
                          f"and the step's rate was sent: the server's, not the generator's ("
                          + "; ".join(gen["reasons"]) + ")")
        gen["reasons"] = []
    return gen


class Capacity(LoadTestShape):
    """Runs the plan: one step at a time, each judged on its own requests, until the plan or the run ends.

    The step records (``steps`` in load.json ``capacity``) are the API the reports and a master read: target
    and achieved rate, requests sent and answered, p50/p95, failures, the generator's lag, CPU and lateness,
    the connections, and whether it held and why not.
    """

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self.new_run()

    def new_run(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.plan: LinearPlan | SearchPlan | None = None
        self.phase: str | None = None  # "step", "drain"; None before the first step
        self.rate = 0.0
        self.epoch = 0
        self.step_started = 0.0
        self.drain_started = 0.0
        self.drain_epoch = 0  # a master's first epoch of the drain: the workers' records from it on are polls
        self.snapshot: Snapshot | None = None
        self.lag_mark = 0
        self.late_mark = 0
        self.cpu_mark = (time.monotonic(), generator._cpu())
        self.ended_by: str | None = None
        self.limited_by: str | None = None
        self.connections = 0
        self.pending_rate = 0.0
        self.collect_started = 0.0
        self.closing_epoch = -1
        RECORDS.clear()

    def reset_time(self) -> None:
        super().reset_time()
        self.new_run()
        STATE.judge = self.judge
        STATE.generator_gate = False

    # ---- the arrivals

    @property
    def users(self) -> int:
        assert self.runner is not None
        options: Any = self.runner.environment.parsed_options
        return max(int(options.num_users or 1), 1)

    def send_rate(self, rate: float) -> None:
        """Every arrival loop sends its share of ``rate`` from now on (0: nothing), over enough connections."""
        assert self.runner is not None
        self.rate = rate
        self.epoch += 1
        per_loop = share(rate, self.users)
        self.connections = connections_for(per_loop, self.latency_s())
        CONTROL.set(per_loop, self.connections, self.epoch)
        if isinstance(self.runner, MasterRunner):
            self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())

    def latency_s(self) -> float | None:
        """The latency the connections are sized on: the highest p95 of the last step that held."""
        held = [s for s in self.steps if s["held"]]
        if not held:
            return None
        p95 = max((v for v in held[-1]["p95_ms"].values() if v is not None), default=None)
        return None if p95 is None else p95 / 1000.0

    def outstanding(self) -> int | None:
        """Requests sent and not yet answered, when this process is the one sending them (not on a master)."""
        return None if isinstance(self.runner, MasterRunner) else CONTROL.in_flight

    def poll_workers_outstanding(self) -> int | None:
        """On a master during a drain: what the workers still had in flight at the last poll, or None until every
        worker has answered it. A poll is a new epoch at rate 0: each worker closes its record of the one before,
        with its outstanding requests in it (as at a step's end), and the master asks again at its next tick."""
        polled = self.epoch - 1
        if polled >= self.drain_epoch:
            records, complete = self.records_of(polled)
            if not complete:
                return None  # the answers to the last poll are on their way: do not ask again yet
            outstanding = sum(int(r.get("outstanding") or 0) for r in records)
            if outstanding == 0:
                return 0
        self.send_rate(0.0)
        return None

    # ---- judging one step

    def generator_figures(self) -> list[dict[str, Any]]:
        """The generator during the step that just ended: this process's own window, or the workers' last reports."""
        if STATE.generator_workers:
            return list(STATE.generator_workers.values())  # cumulative per worker: the best a master knows
        lags = SELF_MEASUREMENT.lags_ms[self.lag_mark :]
        late = LATENESS_MS[self.late_mark :]
        wall0, cpu0 = self.cpu_mark
        wall = time.monotonic() - wall0
        cpu = (generator._cpu() - cpu0) / wall if wall > 0 else None
        return [{
            "role": "local", "id": "local", "samples": len(lags),
            "lag_ms": {"p50": quantile(lags, 0.5), "p95": quantile(lags, 0.95)},
            "cpu": {"mean": round(cpu, 3) if cpu is not None else None},
            "late_ms": {"p50": quantile(late, 0.5), "p95": quantile(late, 0.95)},
        }]  # fmt: skip

    def judge_step(self, final: bool, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Judge the step that just ended: on this process's own figures, or on a master on its workers' records
        of the step (``records``: what each sent and how late, its answers, lag, CPU and backlog)."""
        assert self.runner is not None and self.snapshot is not None and self.plan is not None
        environment = self.runner.environment
        target = self.rate
        seconds = self.get_run_time() - self.step_started
        if records is not None:
            seconds = self.collect_started - self.step_started
            now, self.snapshot = step_records.merged(records), Snapshot()
        else:
            now = Snapshot.take(environment.stats)
        observed = now.since(self.snapshot)
        limits = thresholds(environment.parsed_options)
        breaches = evaluate(observed, limits)
        achieved = observed.requests / seconds if seconds > 0 else 0.0
        # Short of the target is the server's only if it left unanswered what was sent: an arrival loop that
        # started late (a busy machine: 0.25 s into a 2 s step) sent 14 of 16, all answered. A master knows
        # neither what its workers sent nor, within Locust's 3 s report interval, what they got back: it does not
        # apply this rule (per-process step records are the next step: docs/load.md). LATENESS_MS holds one entry
        # per request sent here.
        master = isinstance(self.runner, MasterRunner) and records is None
        if records is not None:  # the workers said what they sent (conformance/load/scenario/step_records.py)
            sent: int | None = sum(int(r["sent"]) for r in records)
        else:
            sent = None if master else len(LATENESS_MS) - self.late_mark
        offered = sent / seconds if sent is not None and seconds > 0 else target
        if not master and achieved < 0.9 * min(target, offered) and not breaches:
            breaches.append(Breach("rate", target, round(achieved, 2),
                                   f"{achieved:.0f} of {target:g} requests/s answered in the step"))  # fmt: skip
        backlog = self.outstanding() if records is None else sum(int(r["outstanding"]) for r in records)
        if backlog is not None and target > 0 and backlog / target * 1000.0 > limits.max_p95_ms and not breaches:
            # Little's law: the newest request waits behind the backlog for about backlog / rate seconds.
            breaches.append(Breach("backlog", limits.max_p95_ms, round(backlog / target * 1000.0, 1),
                                   f"{backlog} requests still unanswered at the step's end: the newest waits about "
                                   f"{backlog / target * 1000.0:.0f} ms (p95 objective {limits.max_p95_ms:g} ms)"))
        figures = self.generator_figures() if records is None else step_records.figures(records)
        late50 = max((f.get("late_ms", {}).get("p50") or 0.0 for f in figures), default=0.0)
        gen = generator.judge(figures, now.p50_since(self.snapshot),
                              max(filter(None, observed.p95_ms.values()), default=None))
        gen = generator.judge_schedule(gen, late50, target)
        gen = server_outran_lag(gen, offered / target if sent is not None and target > 0 else None,
                                max(filter(None, observed.p95_ms.values()), default=None), breaches)
        step = {
            "step": len(self.steps) + 1,
            "plan": self.plan.kind,
            "target_rps": target,
            "started_s": round(self.step_started, 2),
            "seconds": round(seconds, 2),
            "requests": observed.requests,
            "sent": sent,
            "offered_rps": round(offered, 2) if sent is not None else None,
            "achieved_rps": round(achieved, 2),
            "p50_ms": now.p50_since(self.snapshot),
            "p95_ms": observed.p95_ms,
            "failures": observed.failures,
            "failure_ratio": round(observed.failure_ratio, 6),
            "invalid": observed.invalid,
            "outstanding_at_end": backlog,
            "connections": {
                "per_process": self.connections,
                "processes": self.users,
                # Connections that carried a request in the step (this process, or all the workers' records).
                "used": sum(int(r["connections_used"]) for r in records) if records is not None
                else None if isinstance(self.runner, MasterRunner) else len(CONTROL.used),
            },
            # On a master: what each worker sent, how late, its answers, lag and CPU in the step.
            "processes": step_records.per_process(records) if records is not None else None,
            "generator": {
                "bound": gen["bound"],
                "lag_p50_ms": gen["worst_lag_p50_ms"],
                "lag_p95_ms": gen["worst_lag_p95_ms"],
                "cpu": gen["worst_cpu"],
                "late_p50_ms": round(late50, 2),
                "reasons": gen["reasons"],
                "cleared": gen.get("cleared"),
            },
            "partial": final,
            "held": not breaches,
            "breaches": [b.as_dict() for b in breaches],
        }
        self.steps.append(step)
        self.publish()
        return step

    def counted(self) -> list[dict[str, Any]]:
        """The steps a finding rests on: every full step, and a partial one (cut by the run's end) that ran at
        least half a step. The others are kept and shown, but too short to judge a rate by."""
        half = (self.plan.step_time if self.plan else 1.0) / 2
        return [s for s in self.steps if not s["partial"] or s["seconds"] >= half]

    def outcomes(self) -> list[StepOutcome]:
        return [StepOutcome(s["target_rps"], s["held"], bool(s["generator"]["bound"])) for s in self.counted()]

    def generator_break(self) -> dict[str, Any] | None:
        """The lowest-rate step the generator could not keep to (the one that bounds what was measured)."""
        bound = [s for s in self.counted() if not s["held"] and s["generator"]["bound"]]
        return min(bound, key=lambda s: s["target_rps"]) if bound else None

    def knee(self) -> dict[str, Any] | None:
        """Only when the server broke an SLO: the highest rate that held below the lowest it broke."""
        if self.limited_by != "server":
            return None
        held_rate, broke_rate = knee_of(self.outcomes())
        if broke_rate is None:
            return None
        broke = next(s for s in self.counted() if s["target_rps"] == broke_rate and not s["held"])
        held = next((s for s in reversed(self.counted()) if s["held"] and s["target_rps"] == held_rate), None)
        return {
            "rps": held_rate,
            "achieved_rps": held["achieved_rps"] if held else None,
            "broke_at_rps": broke_rate,
            "broken": [b["slo"] for b in broke["breaches"]],
            "resolution": round(broke_rate / held_rate - 1, 3) if held_rate else None,
        }

    def publish(self) -> None:
        held = [s["target_rps"] for s in self.counted() if s["held"]]
        generator_step = self.generator_break()
        STATE.extra = {
            **(STATE.extra or {}),
            "capacity": {
                "plan": self.plan.describe() if self.plan else None,
                "plan_kind": self.plan.kind if self.plan else None,
                "steps": self.steps,
                "knee": self.knee(),
                "limited_by": self.limited_by,
                "highest_held_rps": max(held) if held else None,
                "generator_bound_at_rps": generator_step["target_rps"] if generator_step else None,
                "ended_by": self.ended_by,
            },
        }

    def judge(self, observed: Observed, limits: Thresholds) -> list[Breach]:
        """The run's verdict: a measurement; it passes when a step held and the generator did not end it."""
        if not self.steps:
            return [Breach("knee", 1, 0, "the run ended before a step could be judged (run time < step time?)")]
        broke = self.generator_break()
        if self.limited_by == "generator" and broke is not None:
            return [Breach("generator", 0, 1, f"the generator could not keep to {broke['target_rps']:g} requests/s: "
                           + "; ".join(broke["generator"]["reasons"] or ["it fell behind the schedule"]))]  # fmt: skip
        if not any(s["held"] for s in self.counted()):
            # The lowest rate tried (the search halves below its start before it gives up).
            lowest = min(self.steps, key=lambda s: s["target_rps"])
            reasons = "; ".join(b["message"] for b in lowest["breaches"])
            which = "the first step" if lowest is self.steps[0] else "the lowest step"
            return [Breach("knee", 1, 0, f"even {which} ({lowest['target_rps']:g} requests/s) broke: {reasons}")]
        return []

    def generator_verdict(self) -> dict[str, Any]:
        """The run's generator story for the summary, from the steps (what the knee line says too)."""
        step = self.generator_break()
        if self.limited_by == "generator" and step is not None:
            return {"bound": True, "reasons": [f"at {step['target_rps']:g} requests/s (step {step['step']}): "
                                               + "; ".join(step["generator"]["reasons"])]}
        return {"bound": False, "reasons": []}

    # ---- the run

    def finish(self, reason: str) -> None:
        if self.ended_by is None:
            self.ended_by = reason
            self.phase = None
            CONTROL.stop()
            if self.runner is not None and isinstance(self.runner, MasterRunner):
                self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())
            self.publish()

    def stop_now(self, reason: str) -> None:
        """The run ends now (its run time, Ctrl-C): the running step is judged as it stands and kept (partial)."""
        if self.ended_by is not None or self.runner is None:
            return
        if isinstance(self.runner, MasterRunner) and self.phase in ("step", "collect"):
            # The workers' records of the running step (or of the one being collected) are still to come.
            final = self.phase == "step"
            if final:
                self.collect_started, self.closing_epoch = self.get_run_time(), self.epoch
                CONTROL.stop()
                self.runner.send_message(RATE_MESSAGE, CONTROL.as_message())
            deadline = time.monotonic() + step_records.COLLECT_MAX_S
            records, complete = self.records_of(self.closing_epoch)
            while not complete and time.monotonic() < deadline:
                gevent.sleep(0.1)
                records, complete = self.records_of(self.closing_epoch)
            if records and (not final or self.collect_started - self.step_started >= 0.5):
                step = self.judge_step(final=final, records=records)
                step["records"] = f"{len(records)} of {len(self.expected_workers())} workers"
                if step in self.counted():
                    self.attribute(step)
            self.finish(reason)
            return
        if self.phase == "step" and self.snapshot is not None and self.get_run_time() - self.step_started >= 0.5:
            step = self.judge_step(final=True)
            if step in self.counted():
                self.attribute(step)
        self.finish(reason)

    def attribute(self, step: dict[str, Any]) -> None:
        """Who limits the run after ``step``: whoever broke the lowest rate that broke (``limited_by``)."""
        if not step["held"]:
            self.limited_by = limited_by(self.outcomes())

    def begin_step(self, rate: float) -> None:
        assert self.runner is not None
        self.phase = "step"
        self.step_started = self.get_run_time()
        self.snapshot = Snapshot.take(self.runner.environment.stats)
        self.lag_mark = len(SELF_MEASUREMENT.lags_ms)
        self.late_mark = len(LATENESS_MS)
        self.cpu_mark = (time.monotonic(), generator._cpu())
        self.send_rate(rate)
        self.publish()

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        STATE.judge = self.judge
        STATE.generator_gate = False
        STATE.generator_verdict = self.generator_verdict
        options: Any = self.runner.environment.parsed_options
        if self.ended_by is not None:
            return None
        if self.plan is None:
            self.plan = plan_of(options)
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            self.stop_now("run time")
            return None
        if self.phase is None:
            if isinstance(self.runner, MasterRunner) and self.runner.user_count < self.users and elapsed < 10:
                # The workers' arrival loops are not up yet: a first step started now would be judged on a
                # fraction of its rate (seen: 8 of 24 requests sent, a 'rate' break of a server at a third of its
                # capacity). Wait for their spawn reports (at most 10 s).
                return self.users, AT_ONCE
            self.begin_step(self.plan.start)
        elif self.phase == "step" and elapsed - self.step_started >= self.plan.step_time:
            if isinstance(self.runner, MasterRunner):
                # Close the step on the workers (a new epoch at the same rate): each sends its record of it, and
                # the step is judged on them all once they are in (next tick), lateness included.
                self.phase, self.collect_started, self.closing_epoch = "collect", elapsed, self.epoch
                self.send_rate(self.rate)
            elif not self.after_step(self.judge_step(final=False), elapsed):
                return None
        elif self.phase == "collect":
            records, complete = self.records_of(self.closing_epoch)
            if complete or elapsed - self.collect_started >= step_records.COLLECT_MAX_S:
                step = self.judge_step(final=False, records=records or None)
                step["records"] = f"{len(records)} of {len(self.expected_workers())} workers"
                if not self.after_step(step, elapsed):
                    return None
        elif self.phase == "drain":
            # A master learns its workers' backlog by polling them (a local run counts its own): without it, a
            # fixed 2 s pause let the next, lower, step be judged on the last one's backlog (seen with --processes 2:
            # 265 answers/s "achieved" at a 225/s step, and a knee of 200 against a server wrk put at 339/s).
            master = isinstance(self.runner, MasterRunner)
            outstanding = self.poll_workers_outstanding() if master else self.outstanding()
            waited = elapsed - self.drain_started
            if outstanding == 0 or waited >= DRAIN_MAX_S:
                if self.steps:
                    self.steps[-1]["drain_s"] = round(waited, 2)
                self.begin_step(self.pending_rate)
        return self.users, AT_ONCE

    def after_step(self, step: dict[str, Any], elapsed: float) -> bool:
        """The next step, a drain before it, or the end (False) after a judged step."""
        assert self.plan is not None
        self.attribute(step)
        rate = self.plan.next_rate(self.outcomes())
        if rate is None:
            self.finish(self.end_reason())
            return False
        if step["held"]:
            self.begin_step(rate)
        else:  # let the server answer the backlog first: the next, lower, step is judged on its own
            self.phase, self.drain_started, self.pending_rate = "drain", elapsed, rate
            self.send_rate(0.0)
            self.drain_epoch = self.epoch
        return True

    def expected_workers(self) -> set[str]:
        """The workers whose records a master waits for: those connected and not missing."""
        runner = self.runner
        assert isinstance(runner, MasterRunner)
        return {c.id for c in runner.clients.values() if c.state != "missing"}

    def records_of(self, epoch: int) -> tuple[list[dict[str, Any]], bool]:
        """The workers' records of ``epoch`` so far, and whether every expected worker's is in."""
        got = RECORDS.get(epoch, {})
        return list(got.values()), bool(got) and self.expected_workers() <= set(got)

    def end_reason(self) -> str:
        broke = self.generator_break()
        if self.limited_by == "generator" and broke is not None:
            return f"the generator could not keep to {broke['target_rps']:g} requests/s"
        knee = self.knee()
        if knee is not None:
            return (f"knee found: {knee['rps']:g} requests/s held, {knee['broke_at_rps']:g} broke"
                    if knee["rps"] is not None else f"even {knee['broke_at_rps']:g} requests/s broke")
        assert self.plan is not None
        return f"every step held up to {self.plan.maximum:g} requests/s"
