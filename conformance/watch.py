"""``token-conformance watch``: judge a production token server on a schedule, for Prometheus.

Operators want to learn that production issues bad tokens from an alert, not
from users. Each cycle sends one probe (a valid token request: its latency and
the lifetime granted become metrics) and, if the target answered, runs the
*safe subset* of the suite through :func:`conformance.api.check`: the same cases,
the same code path, the same reports as ``check``, only restricted to requests
a real client sends. Nothing here judges anything itself.

Safe means: valid requests only, at a client's rate. No load, no bad-input
catalogue (oversized or malformed requests fill production error logs and may
trip a WAF), no generated fuzzing. The excluded cases and why are listed in
:data:`UNSAFE` and in the docs.

A target that goes down is a cycle like any other: ``target_up`` 0, a log
line, ``consecutive_failures`` + 1; the loop never crashes on it. SIGTERM and
SIGINT stop the loop cleanly: a cycle in progress is abandoned (its partial
result is not published), the metrics server is shut down, exit code 0.

With ``--runs N`` watch is a bounded job a script waits for, so its exit code
says what the runs found, as ``check``'s does: 1 if any run was not conforming,
else 2 if any run could not judge (target down, login wall, errors) or a signal
stopped it before N runs, else 0 (see :func:`runs_exit_code`).
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__, interruption
from .caselist import no_case_message
from .contract import REQUIREMENTS
from .redact import Redactor
from .report.records import OUTCOMES
from .settings.declarations import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from .settings.inputs import Inputs

# Late imports (prometheus_client, the API, the HTTP client, the profiles) where they are used: they cost ~0.5 s of
# import (python -X importtime) that `token-conformance --help` would pay, as it reads PREFIX from this module.

#: Cases reviewed as watch-safe: they send only requests a real client sends (valid routes, roles, uids and
#: lifetimes; an Origin header, a CORS preflight - HEADER-5's, for the declared web origins, is what a browser sends;
#: LATENCY-2's ten requests one at a time). An allow-list: a case
#: added to the contract later is not run by watch until someone reviews it and adds it here.
SAFE_CASES: tuple[str, ...] = (
    "ROUTE-1", "ROUTE-2", "ROUTE-3", "ROUTE-4", "ROUTE-5", "ROUTE-6", "ROUTE-7", "ROUTE-8", "ROUTE-9",
    "TOKEN-1", "TOKEN-2", "TOKEN-3", "TOKEN-4", "TOKEN-5", "TOKEN-6", "TOKEN-7", "TOKEN-8", "TOKEN-9",
    "EXPIRY-1", "EXPIRY-2", "EXPIRY-3", "EXPIRY-4", "EXPIRY-5", "EXPIRY-6", "EXPIRY-7",
    "HEADER-1", "HEADER-2", "HEADER-3", "HEADER-4", "HEADER-5",
    "SEC-4", "LATENCY-1", "LATENCY-2",
)
_WHY_NOT = {
    "INPUT": "sends malformed or oversized requests (the bad-input catalogue)",
    "PROP": "sends generated (fuzzed) requests in volume",
    "SEC-1": "sweeps the bad-input catalogue for the certificate",
    "SEC-2": "sweeps the bad-input catalogue for stack traces",
    "SEC-3": "sweeps the bad-input catalogue for tokens in errors",
    "SEC-5": "sends requests with missing and wrong credentials (may trip lockouts or intrusion alerts)",
    "SEC-6": "judges the refusals of SEC-5's missing and wrong credentials",
}


def _why_not(case: str, section: str) -> str:
    return _WHY_NOT.get(case) or _WHY_NOT.get(section) or "not reviewed as watch-safe yet"


#: Every other case of the contract, and why watch does not run it.
UNSAFE: dict[str, str] = {r.id: _why_not(r.id, r.section) for r in REQUIREMENTS if r.id not in SAFE_CASES}

#: The safe cases in contract order (a case removed from the contract drops out here).
_SAFE_IN_CONTRACT: tuple[str, ...] = tuple(r.id for r in REQUIREMENTS if r.id in SAFE_CASES)

PREFIX = "token_conformance_"


class WatchError(Exception):
    """A selection or option that cannot be watched (a usage error)."""


def select_cases(pattern: str | None) -> tuple[str, ...]:
    """The safe cases matching ``pattern`` (ids, globs or sections, as ``check --case``); all safe ones if None.

    A pattern naming an unsafe case is refused with the reason, never silently narrowed.
    """
    if not pattern:
        return _SAFE_IN_CONTRACT
    chosen: list[str] = []
    for raw in (p.strip() for p in pattern.split(",") if p.strip()):
        part = raw.upper()
        matches = [r.id for r in REQUIREMENTS
                   if r.id == part or fnmatch.fnmatchcase(r.id, part) or r.section == part]
        if not matches:
            raise WatchError(no_case_message("--case", [raw], "watch --list"))
        unsafe = [m for m in matches if m not in _SAFE_IN_CONTRACT]
        if unsafe and part in unsafe:  # named explicitly
            raise WatchError(f"{part} is not watch-safe: {UNSAFE.get(part, 'not in the safe subset')}")
        safe = [m for m in matches if m in _SAFE_IN_CONTRACT]
        if not safe:
            reasons = sorted({UNSAFE.get(m, "") for m in unsafe})
            raise WatchError(f"--case {part!r} matches only cases watch does not run ({', '.join(unsafe)}): "
                             + "; ".join(reasons))
        chosen += [m for m in safe if m not in chosen]
    return tuple(c for c in _SAFE_IN_CONTRACT if c in chosen)


@dataclass
class WatchOptions:
    url: str
    interval: float = 60.0
    cases: tuple[str, ...] = _SAFE_IN_CONTRACT
    #: The profile as the user named it (its name goes into the metrics' info and the reports).
    profile: str | None = None
    app_id: str | None = None
    certificate_file: str | None = None
    timeout: float | None = None
    insecure: bool = False
    strict: bool = False
    report_dir: str = "reports/watch"
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    #: Stop after this many cycles (None: until a signal). For scripts and tests.
    max_runs: int | None = None
    #: Origins of the web apps that fetch tokens (HEADER-5), handed to check as they are.
    web_origins: tuple[str, ...] = ()
    #: The profile, request headers and app certificate, read once (conformance.settings.inputs) and handed to
    #: every run's probe and check. None: read from ``profile`` and ``certificate_file`` when the watch starts.
    inputs: Inputs | None = field(default=None, repr=False)

    def redactor(self) -> Any:
        """Redacts the certificate and the header values from every log line."""
        inputs = self.inputs
        redactor = Redactor([inputs.certificate if inputs is not None else None])
        for value in (inputs.headers.values() if inputs is not None else ()):
            redactor.add_header_value(value)
        return redactor


#: ``runs_total``'s result label values: every one exists (at 0) from the first scrape, so that an alert on
#: ``increase(...{result="not_conforming"}[1h])`` sees the first failure as 0 -> 1 instead of a series that
#: appears at 1 (which increase() does not count).
RESULTS: tuple[str, ...] = ("conforming", "not_conforming", "could_not_judge", "down")


def label_value(text: str) -> str:
    """A label value as PromQL matchers are written: no spaces (``not run`` -> ``not_run``)."""
    return "_".join(text.split())


class Metrics:
    """The Prometheus metrics, on their own registry (the process's default one is left alone).

    Ready from the first scrape: every ``runs_total`` result is a series at 0, every watched case's outcome a
    series at 0 (no outcome yet) until a run sets one, and no ``_created`` series (one timestamp per series that
    alert rules never use and that doubles what a scrape stores).
    """

    def __init__(self, cases: tuple[str, ...] = ()) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        # Process-wide; the watch process serves only these metrics.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        r = self.registry
        self.case_outcome = Gauge(PREFIX + "case_outcome", "1 for the outcome of each case in the last complete run "
                                  "(one series per outcome: a state set)", ["case", "level", "outcome"], registry=r)
        self.request_seconds = Histogram(
            PREFIX + "token_request_duration_seconds", "latency of the probe token request of each run",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=r)
        self.lifetime = Gauge(PREFIX + "token_lifetime_seconds",
                              "lifetime granted to the probe token (default expiry), seconds after issue", registry=r)
        self.last_complete = Gauge(PREFIX + "last_complete_run_timestamp_seconds",
                                   "unix time at which the last complete (judged) run ended", registry=r)
        self.consecutive = Gauge(PREFIX + "consecutive_failures",
                                 "runs in a row that were not conforming or could not reach the target", registry=r)
        self.up = Gauge(PREFIX + "target_up", "1 if the target answered the last probe, else 0", registry=r)
        self.conforming = Gauge(PREFIX + "conforming", "1 if the last complete run was conforming, else 0",
                                registry=r)
        self.runs = Counter(PREFIX + "runs", "runs by result: " + ", ".join(RESULTS), ["result"], registry=r)
        for result in RESULTS:
            self.runs.labels(result=result)
        self.started = Gauge(PREFIX + "watch_started_timestamp_seconds",
                             "unix time at which this watch started (the staleness alert's reference before the "
                             "first complete run)", registry=r)
        levels = {req.id: req.level.value for req in REQUIREMENTS}
        for case in cases:
            for outcome in OUTCOMES:
                self.case_outcome.labels(case=case, level=levels[case], outcome=label_value(outcome)).set(0)
        self.run_seconds = Gauge(PREFIX + "run_duration_seconds", "wall time of the last run", registry=r)
        self.info = Gauge(PREFIX + "watch_info", "what is watched (always 1)", ["target", "profile", "version"],
                          registry=r)

    def serve(self, port: int, addr: str) -> Callable[[], None]:
        """Serve /metrics; returns the function that stops the server."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, addr=addr, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop


@dataclass
class WatchProbe:
    """What the probe request of one watch cycle found: the target up, its latency, the lifetime it granted."""

    up: bool
    latency_s: float | None = None
    lifetime_s: float | None = None
    problem: str = ""


def send_watch_probe(opts: WatchOptions, inputs: Inputs, certificate_redactor: Any) -> WatchProbe:
    """One valid RTC token request, as a client sends it: latency, lifetime granted, or why there is none."""
    from .client import TokenServerClient
    from .target import RunSettings, Target

    settings = RunSettings(url=opts.url, profile=inputs.profile, timeout=opts.timeout or DEFAULT_TIMEOUT)
    client = TokenServerClient(opts.url, timeout=settings.timeout, verify_tls=not opts.insecure,
                               headers=dict(inputs.headers))
    try:
        sent = time.time()
        fetched = Target(settings, client).fetch_rtc(channel="conformance-watch")
    finally:
        client.close()
    ex = fetched.exchange
    if ex.error:
        return WatchProbe(up=False, problem=certificate_redactor.redact(ex.error))
    result = WatchProbe(up=True, latency_s=ex.elapsed_s)
    tok = fetched.token
    if tok is None:
        result.problem = certificate_redactor.redact(fetched.problem or "no token")
    else:
        expiry = tok.earliest_privilege_expiry()
        if expiry is not None:
            result.lifetime_s = float(expiry - (tok.issue_ts if tok.issue_ts is not None else int(sent)))
    return result


@dataclass
class Watcher:
    """The loop: probe, check, publish, log; until stopped."""

    opts: WatchOptions
    log: TextIO = field(default_factory=lambda: sys.stdout)
    metrics: Metrics = field(init=False)
    stop_event: threading.Event = field(default_factory=threading.Event)
    consecutive: int = 0
    metrics_started: bool = False
    _in_cycle: bool = False

    def __post_init__(self) -> None:
        if self.opts.inputs is None:
            from .settings.inputs import read_inputs

            self.opts = replace(self.opts, inputs=read_inputs(self.opts.profile, (), None, self.opts.certificate_file))
        self.metrics = Metrics(self.opts.cases)  # the watched cases' outcome series exist from the first scrape

    @property
    def inputs(self) -> Inputs:
        assert self.opts.inputs is not None  # read in __post_init__
        return self.opts.inputs

    def emit(self, event: str, **fields: Any) -> None:
        """One JSON line (the certificate and credentials redacted, whatever a message quoted)."""
        record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event, **fields}
        line = self.opts.redactor().redact(json.dumps(record, ensure_ascii=False))
        self.log.write(line + "\n")
        self.log.flush()

    def cycle(self) -> dict[str, Any]:
        """One run: the probe, then the safe cases through api.check if the target answered."""
        from .api import CheckOptions, check

        inputs = self.inputs
        redactor = self.opts.redactor()
        started = time.monotonic()
        m = self.metrics
        p = send_watch_probe(self.opts, inputs, redactor)
        m.up.set(1 if p.up else 0)
        if p.latency_s is not None:
            m.request_seconds.observe(p.latency_s)
        if p.lifetime_s is not None:
            m.lifetime.set(p.lifetime_s)
        record: dict[str, Any] = {"target": self.opts.url, "target_up": p.up,
                                  "probe_latency_s": None if p.latency_s is None else round(p.latency_s, 4),
                                  "token_lifetime_s": p.lifetime_s}
        if not p.up:
            result, verdict = "down", "could not judge"
            record.update(verdict=verdict, exit_code=2, reason=f"the target does not answer: {p.problem}")
        else:
            buffer = io.StringIO()  # pytest's terminal output: the JSON lines are this command's output
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                res = check(CheckOptions(
                    url=self.opts.url, profile=self.opts.profile, app_id=self.opts.app_id, strict=self.opts.strict,
                    cases=",".join(self.opts.cases), report_dir=self.opts.report_dir,
                    certificate_file=self.opts.certificate_file, timeout=self.opts.timeout,
                    insecure=self.opts.insecure, web_origins=self.opts.web_origins,
                ), inputs)
            if interruption.received or self.stop_event.is_set():
                # check() took SIGINT/SIGTERM as the end of its run (its own handlers): ours, too. Nothing of
                # this partial run is published.
                self.stop_event.set()
                raise KeyboardInterrupt
            verdict = res.verdict
            doc = res.document or {}
            summary = doc.get("summary", {})
            result = verdict
            record.update(verdict=verdict, exit_code=res.exit_code, reason=summary.get("reason", ""),
                          counts={k: v for k, v in summary.get("counts", {}).items() if v},
                          failed=[c["id"] for c in doc.get("cases", []) if c["outcome"] in ("failed", "error")])
            if p.problem:
                record["probe_problem"] = p.problem
            if res.document is not None and res.exit_code in (0, 1):
                self._publish_cases(doc)
                m.last_complete.set(time.time())
                m.conforming.set(1 if res.exit_code == 0 else 0)
        self.consecutive = 0 if result == "conforming" else self.consecutive + 1
        m.consecutive.set(self.consecutive)
        m.runs.labels(result=label_value(result)).inc()
        elapsed = time.monotonic() - started
        m.run_seconds.set(elapsed)
        record.update(consecutive_failures=self.consecutive, duration_s=round(elapsed, 3))
        return record

    def _publish_cases(self, doc: dict[str, Any]) -> None:
        for c in doc.get("cases", []):
            for outcome in OUTCOMES:
                self.metrics.case_outcome.labels(case=c["id"], level=c["level"], outcome=label_value(outcome)).set(
                    1 if c["outcome"] == outcome else 0)

    def run(self) -> int:
        """Cycle every ``interval`` seconds (start to start; a slow cycle is followed at once) until stopped.

        0 when stopped by a signal without ``max_runs``; with it, :func:`runs_exit_code` of the runs made.
        """
        profile = self.inputs.profile.name
        self.metrics.info.labels(target=self.opts.url, profile=profile, version=__version__).set(1)
        self.metrics.started.set(time.time())
        stop_server = None
        if self.opts.metrics_port is not None:
            stop_server = self.metrics.serve(self.opts.metrics_port, self.opts.metrics_addr)
            self.metrics_started = True
        self.emit("start", target=self.opts.url, profile=profile, interval_s=self.opts.interval,
                  cases=list(self.opts.cases),
                  metrics=None if self.opts.metrics_port is None
                  else f"http://{self.opts.metrics_addr}:{self.opts.metrics_port}/metrics")
        runs = 0
        codes: list[int] = []
        try:
            with self._signals():
                while not self.stop_event.is_set():
                    began = time.monotonic()
                    try:
                        self._in_cycle = True
                        record = self.cycle()
                    except KeyboardInterrupt:
                        break  # a stop signal in the middle of a cycle: its partial result is not published
                    finally:
                        self._in_cycle = False
                    runs += 1
                    codes.append(int(record.get("exit_code", 2)))
                    self.emit("run", run=runs, **record)
                    if self.opts.max_runs is not None and runs >= self.opts.max_runs:
                        break
                    self.stop_event.wait(max(0.0, self.opts.interval - (time.monotonic() - began)))
        finally:
            if stop_server is not None:
                stop_server()
            code = 0 if self.opts.max_runs is None else runs_exit_code(codes, self.opts.max_runs)
            self.emit("stop", runs=runs, **({} if self.opts.max_runs is None else {"exit_code": code}))
        return code

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT: stop waiting at once; abandon a cycle in progress (pytest stops on KeyboardInterrupt)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.stop_event.set()
            if self._in_cycle:
                raise KeyboardInterrupt

        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def runs_exit_code(codes: list[int], wanted: int) -> int:
    """``watch --runs N``'s exit code from its runs' exit codes (check's: 0, 1 or 2).

    1 if any run found the server not conforming (a judged defect outranks an unjudged run, as in check); else 2
    if any run could not judge, or fewer than ``wanted`` runs were made (a signal stopped the job); else 0.
    """
    if 1 in codes:
        return 1
    if any(c != 0 for c in codes) or len(codes) < wanted:
        return 2
    return 0
