"""What every load scenario shares: the simulated client and the bookkeeping (its options: options.py).

Importing this module (every scenario does) registers the scenario options with
Locust and the event listeners that

* aggregate the per-renewal detail from workers (``report_to_master`` /
  ``worker_report``), so a distributed run adds up like a local one;
* print a progress line every ``--progress-interval`` seconds (master/local);
* write the run's summary for ``token-conformance load`` (``--summary-file``)
  and set Locust's exit code from the SLOs (0 held, 1 breached, 2 no requests),
  so plain ``locust -f ...`` in CI gates the same way as the CLI.

The client reports its work as Locust request rows, by request type:
FETCH and RENEW (the HTTP requests, with their real response times), INVALID
(one row per reason a token was refused) and DROPPED (sessions whose token
expired before a valid renewal arrived; response time = how late, in ms).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC, calculate_response_time_percentile

# Imported here, not in the first request: conformance.client imports httpx (~0.2 s), which would be timed as
# the first fetch's latency.
from conformance.client import retry_after
from conformance.headers import HeaderError, resolve
from conformance.load.protocol import (
    DROPPED,
    FETCH,
    INVALID,
    LIMITED,
    NO_RENEWAL,
    PROGRESS_PREFIX,
    RENEW,
    SUMMARY_VERSION,
    TALLY_KEY,
    WORKER_SUMMARY_DIR_ENV,
)
from conformance.load.scenario import distributed, generator
from conformance.load.scenario.options import add_scenario_options, scenario_config, thresholds
from conformance.load.scenario.tally import Tally
from conformance.load.scenario.validation import (
    REASONS,
    OptionError,
    ScenarioConfig,
    SentRequest,
    check_token,
    connection_failure,
)
from conformance.load.slo import Breach, Observed, Thresholds, evaluate
from conformance.profiles import resolve_pointer

logger = logging.getLogger("conformance.loadtests")  # the name locust.log has always shown

events.init_command_line_parser.add_listener(add_scenario_options)

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


# --------------------------------------------------------------------------- run state


@dataclass
class RunState:
    """This process's view of the run. On a worker ``recorded`` is the part not yet sent to the master."""

    config: ScenarioConfig | None = None
    recorded: Tally | None = None
    #: Master only: what the workers reported, in total and per worker (counts).
    received: Tally | None = None
    per_worker: dict[str, Counter[str]] | None = None
    #: Worker only: everything this worker recorded, sent or not (for its own summary file).
    own: Tally | None = None
    started_at: float | None = None
    #: When the users were stopped (the end of the measured time; the summary is written later).
    stopped_at: float | None = None
    max_users: int = 0
    #: Scenario extras for the summary (the ramp's knee, the storm's cohorts).
    extra: dict[str, Any] | None = None
    #: Master only: each worker's generator figures (event-loop lag, CPU), by client id.
    generator_workers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Whether a generator-bound run is refused a verdict on latency (capacity judges the generator per step).
    generator_gate: bool = True
    #: How the run is judged; the ramp replaces it with its knee verdict.
    judge: Callable[[Observed, Thresholds], list[Breach]] = evaluate
    #: capacity: the run's generator story from its steps ({"bound", "reasons"}), which replaces the whole-run
    #: judgement, so that the generator line, the knee line and the exit code tell the same story.
    generator_verdict: Callable[[], dict[str, Any]] | None = None

    def reset(self) -> None:
        self.recorded, self.received, self.own = Tally(), Tally(), Tally()
        self.per_worker = {}
        self.generator_workers = {}
        self.max_users = 0
        self.started_at = None
        self.stopped_at = None


STATE = RunState()
STATE.reset()
STATE.extra = {}
#: This process's self-measurement (conformance.load.scenario.generator).
SELF_MEASUREMENT = generator.SelfMeasurement()


@events.init.add_listener
def _on_init(environment: Any, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:  # used as a library without options: nothing to register
        return
    try:
        STATE.config = scenario_config(options)
    except OptionError as exc:
        sys.stderr.write(f"token-conformance scenario: {exc}\n")
        sys.exit(2)
    if not SELF_MEASUREMENT.running:
        gevent.spawn(SELF_MEASUREMENT.run)
    if not isinstance(environment.runner, WorkerRunner) and float(options.progress_interval) > 0:
        gevent.spawn(_progress, environment, float(options.progress_interval))
    # Locust sets its --run-time timer right after this event, from the event loop's cached clock, which has not
    # moved since the loop last ran: on a busy machine the imports before it took seconds, and a 4 s run was
    # stopped 0.35 s after it started (clients that wait for their random start then sent nothing). Refresh it.
    gevent.get_hub().loop.update_now()


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    # A worker receives the master's options just before this event: configure from them.
    STATE.reset()
    SELF_MEASUREMENT.reset()
    STATE.started_at = time.time()
    if environment.parsed_options is not None:
        STATE.config = scenario_config(environment.parsed_options)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    STATE.stopped_at = time.time()


@events.spawning_complete.add_listener
def _on_spawned(user_count: int, **_kwargs: Any) -> None:
    STATE.max_users = max(STATE.max_users, user_count)


@events.report_to_master.add_listener
def _on_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    assert STATE.recorded is not None and STATE.own is not None
    delta = STATE.recorded.take()
    STATE.own.merge(delta)
    data[TALLY_KEY] = delta
    data[generator.REPORT_KEY] = SELF_MEASUREMENT.figures("worker", client_id)


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    figures = data.get(generator.REPORT_KEY)
    if figures:
        STATE.generator_workers[client_id] = figures
    delta = data.get(TALLY_KEY)
    if not delta:
        return
    assert STATE.received is not None and STATE.per_worker is not None
    STATE.received.merge(delta)
    STATE.per_worker.setdefault(client_id, Counter()).update(delta.get("counts", {}))


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    if isinstance(environment.runner, WorkerRunner):
        _write_worker_summary(environment)
        return
    if getattr(options, "csv_prefix", None):
        # Locust's CSV writer runs once a second and is not run again at shutdown, so its
        # _stats.csv would miss the last second; yield long enough for one more pass.
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
    summary = build_summary(environment)
    environment.process_exit_code = summary["exit_code"]
    path = str(getattr(options, "summary_file", "") or "")
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
        tmp.replace(target)


def _write_worker_summary(environment: Any) -> None:
    folder = os.environ.get(WORKER_SUMMARY_DIR_ENV, "")
    if not folder or STATE.own is None or STATE.recorded is None:
        return
    own = STATE.own.copy()
    own.merge(STATE.recorded.to_dict())  # anything recorded after the last report (normally nothing)
    client_id = getattr(environment.runner, "client_id", str(os.getpid()))
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"worker-{client_id}.json").write_text(
            json.dumps({"client_id": client_id, "tally": own.to_dict(), "unsent": STATE.recorded.to_dict()}),
            encoding="utf-8",
        )
    except OSError as exc:
        logger.warning("cannot write the worker summary to %s: %s", folder, exc.strerror)


# --------------------------------------------------------------------------- summary


def _entry(stats_entry: Any) -> dict[str, Any]:
    n = stats_entry.num_requests
    pct = stats_entry.get_response_time_percentile
    return {
        "requests": n,
        "failures": stats_entry.num_failures,
        "p50_ms": pct(0.5) if n else None,
        "p95_ms": pct(0.95) if n else None,
        "p99_ms": pct(0.99) if n else None,
        "avg_ms": round(stats_entry.avg_response_time, 3) if n else None,
        "max_ms": stats_entry.max_response_time if n else None,
        "rps": round(stats_entry.total_rps, 3) if n else 0.0,
        "per_second": {str(k): v for k, v in sorted(stats_entry.num_reqs_per_sec.items())},
        "failures_per_second": {str(k): v for k, v in sorted(stats_entry.num_fail_per_sec.items())},
    }


def request_rows(stats: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Locust's own (aggregated) rows of our request types: {type: {name: entry}}."""
    rows: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in (FETCH, RENEW, INVALID, DROPPED)}
    for (name, method), stats_entry in stats.entries.items():
        if method in rows:
            rows[method][name] = _entry(stats_entry)
    return rows


def observed_from(stats: Any) -> Observed:
    """What the SLOs judge, from Locust's aggregated stats (so a master sees all workers)."""
    requests = failures = 0
    p95: dict[str, float | None] = {}
    for kind in (FETCH, RENEW):
        entries = [e for (_name, method), e in stats.entries.items() if method == kind]
        n = sum(e.num_requests for e in entries)
        requests += n
        failures += sum(e.num_failures for e in entries)
        if n:
            p95[kind.lower()] = float(max(e.get_response_time_percentile(0.95) for e in entries if e.num_requests))
        else:
            p95[kind.lower()] = None
    dropped = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == DROPPED)
    invalid = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == INVALID)
    limited = sum(e.num_requests for (_n, m), e in stats.entries.items() if m == LIMITED)
    return Observed(requests=requests, failures=failures, p95_ms=p95, dropped=dropped, invalid=invalid,
                    limited=limited)


def _overall_p50(stats: Any) -> float | None:
    """The median response time of all FETCH and RENEW requests together."""
    merged: dict[int, int] = {}
    for (_name, method), entry in stats.entries.items():
        if method in (FETCH, RENEW):
            for rt, n in entry.response_times.items():
                merged[rt] = merged.get(rt, 0) + n
    total = sum(merged.values())
    return float(calculate_response_time_percentile(merged, total, 0.5)) if total else None


def build_summary(environment: Any) -> dict[str, Any]:
    """The run as the CLI reads it: Locust's rows, the tally, the SLO verdict and the exit code."""
    options = environment.parsed_options
    limits = thresholds(options)
    observed = observed_from(environment.stats)
    breaches = STATE.judge(observed, limits)
    is_master = isinstance(environment.runner, MasterRunner)
    assert STATE.recorded is not None and STATE.received is not None
    tally = STATE.received.copy() if is_master else STATE.recorded.copy()
    if is_master:
        tally.merge(STATE.recorded.to_dict())  # a master records nothing itself, but be exact
    renewals = sum(e.num_requests for (_n, m), e in environment.stats.entries.items() if m == RENEW)
    own = SELF_MEASUREMENT.figures("master" if is_master else "local", getattr(environment.runner, "client_id", "local"))
    senders = list(STATE.generator_workers.values()) if is_master else [own]
    gen = generator.judge(senders, _overall_p50(environment.stats), max(filter(None, observed.p95_ms.values()), default=None))
    gen["processes"] = [own, *(STATE.generator_workers[k] for k in sorted(STATE.generator_workers))]
    gen["gate"] = STATE.generator_gate
    if STATE.generator_verdict is not None:
        # capacity judged the generator step by step; the whole run's figures mix steps it kept up with and
        # the one it did not. Those stay in ``run_figures``; bound / reasons are the steps' verdict.
        gen["run_figures"] = {"bound": gen["bound"], "reasons": gen["reasons"]}
        gen.update(STATE.generator_verdict())
        gen["advice"] = (gen.get("advice") or "rates above it were not measured: spread the load over more "
                         "generator processes (--processes N, one per free core) or machines (Locust workers, "
                         "docs/load.md)") if gen["bound"] else None
    if gen["bound"] and STATE.generator_gate:
        # The latency is (partly) the generator's: no verdict on it either way. Other findings stand.
        breaches = [b for b in breaches if not b.slo.endswith("_p95_ms")]
        breaches.append(Breach("generator", 0, 1, "generator-bound: " + "; ".join(gen["reasons"])))
    lost = distributed.lost_breach(environment)  # a worker lost mid-run: fewer clients than asked
    if lost is not None:
        breaches.append(lost)
    if observed.requests and not renewals and not breaches:
        # Nothing renewed and nothing else wrong: the renewals were never judged, so the run cannot pass.
        breaches = [Breach("renewals", 1, 0, NO_RENEWAL)]
        exit_code = 2
    elif observed.requests == 0:
        exit_code = 2
    elif breaches and all(b.slo in ("generator", distributed.LOST_SLO) for b in breaches):
        exit_code = 2  # nothing judged on the server's latency, or not the load asked, and nothing else broke
    else:
        exit_code = 1 if breaches else 0
    config = STATE.config
    options = config.as_dict() if config is not None else {}
    by_workers = distributed.signatures_checked_by_workers(environment)
    if by_workers is not None:  # a master checks no token: its workers do, each with its own certificate
        options["signature_checked"] = by_workers
    return {
        "version": SUMMARY_VERSION,
        "host": environment.host,
        "mode": "master" if is_master else "local",
        "started_at": STATE.started_at,
        "stopped_at": STATE.stopped_at,
        "ended_at": time.time(),
        "max_users": STATE.max_users,
        "options": options,
        "thresholds": limits.as_dict(),
        "rows": request_rows(environment.stats),
        "observed": {
            "requests": observed.requests,
            "failures": observed.failures,
            "p95_ms": observed.p95_ms,
            "dropped": observed.dropped,
            "invalid": observed.invalid,
            "limited": observed.limited,
        },
        "tally": tally.to_dict(),
        "workers": {cid: dict(c) for cid, c in sorted((STATE.per_worker or {}).items())},
        "extra": dict(STATE.extra or {}),
        "generator": gen,
        "distributed": distributed.summary(environment),
        "slo": {"passed": not breaches and observed.requests > 0, "breaches": [b.as_dict() for b in breaches]},
        "exit_code": exit_code,
    }


def _progress(environment: Any, interval: float) -> None:
    """One line every ``interval`` seconds while users run: what a person watching needs to see.

    The rate is the token requests answered since the previous line over the time
    between the lines (Locust's ``current_rps`` excludes the current second and
    reads 0 for the first few seconds of a run).
    """
    last_requests, last_time = 0, None
    while True:
        gevent.sleep(interval)
        runner = environment.runner
        if runner is None or STATE.started_at is None or runner.state not in ("spawning", "running"):
            last_requests, last_time = 0, None
            continue
        stats = environment.stats
        observed = observed_from(stats)
        now = time.time()
        since = last_time if last_time is not None else STATE.started_at
        rps = (observed.requests - last_requests) / (now - since) if now > since else 0.0
        last_requests, last_time = observed.requests, now
        sys.stderr.write(
            f"{PROGRESS_PREFIX} {now - STATE.started_at:5.0f}s users={runner.user_count} "
            f"rps={rps:.1f} requests={observed.requests} fails={observed.failures} "
            f"invalid={observed.invalid} dropped={observed.dropped}\n"
        )
        sys.stderr.flush()


# --------------------------------------------------------------------------- the client


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


#: A token answer is well under 1 KiB; a body past this is a failed request, and reading stops there.
MAX_BODY_BYTES = 64 * 1024


def _capped_body(response: Any) -> bytes | None:
    """The body, read (when streamed) at most MAX_BODY_BYTES; None past that.

    An endless body would otherwise be read for the whole run and grow the
    generator's memory. Stopping mid-message makes geventhttpclient close
    that connection rather than return it to the pool.
    """
    stream = getattr(response, "_response", None)
    if stream is None or not hasattr(stream, "read"):
        content = response.content or b""
        return content if len(content) <= MAX_BODY_BYTES else None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(16384)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
    return b"".join(chunks)


def _token_in(response: Any, pointer: str = "/rtcToken", success: int = 200) -> tuple[str | None, str | None]:
    """(token, None) or (None, why there is no token) — as a client reads a body (client-behaviour.md 3).

    ``pointer`` and ``success`` are the profile's: where its answer carries the token, and its success status.
    """
    status = response.status_code
    if status != success:
        if not status:
            return None, connection_failure(getattr(response, "error", None))
        return None, f"HTTP {status}"
    raw = _capped_body(response)
    if raw is None:
        return None, f"body over {MAX_BODY_BYTES // 1024} KiB"
    try:
        body = json.loads(raw)
    except ValueError:
        return None, "the body is not JSON"
    try:
        token = resolve_pointer(body, pointer) if isinstance(body, dict) else None
    except KeyError:
        token = None
    if not isinstance(token, str):
        return None, f"no string under {pointer[1:] if pointer.count('/') == 1 else pointer!r}"
    return token, None


def headers_from_environment() -> dict[str, str]:
    """The configured headers from $TOKEN_SERVER_HEADERS (``Name: value`` lines); a bad line stops the run."""
    try:
        return resolve()
    except HeaderError as exc:
        raise SystemExit(f"token-conformance: {exc}") from None


#: A 429 without Retry-After: wait this long (seconds) before the next attempt.
DEFAULT_RETRY_AFTER = 1.0


def _rate_limited(response: Any) -> float | None:
    """Seconds to wait if ``response`` is a rate limiter's (429, or 503 with Retry-After); else None."""
    status = response.status_code
    if status not in (429, 503):
        return None
    after = retry_after(response.headers.get("Retry-After") if response.headers else None)
    if status == 503 and after is None:
        return None
    return DEFAULT_RETRY_AFTER if after is None else after


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
        # stream=True: the body is read by _capped_body, with a size cap, not whole by Locust.
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
            self.limited_for = _rate_limited(response)
            token, error = _token_in(response, self.operation.token, self.operation.status)
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
