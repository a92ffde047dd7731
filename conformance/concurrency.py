"""How many requests are in flight at once, and what the run cost the target.

A staging server is 20-150 ms away: sent one after another, the suite's ~120
requests cost a minute per run. Independent requests therefore go out
concurrently, but through one gate so that the target never sees more than
``limit`` requests of ours at a time, and the gate narrows to one request at a
time as soon as the target announces a rate limit (a 429, or a ``RateLimit``
/ ``X-RateLimit-Remaining`` header at 0). Requests that must be ordered (the
renewal cycle, the freshness pair) are ordered by the code that sends them; the
gate only gives them priority, so a queue of independent requests cannot push
a renewal past its token's expiry.

The gate sits above :class:`~conformance.client.TokenServerClient` (a subclass
that only adds to ``request``): every request still goes through the client's own bounds (overall deadline,
the breaker, one timeout for a silent server, any pacing it applies).

The same wrapper counts what is sent (requests and redirect hops) and how much
wall time had at least one request outstanding, for the report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .client import Exchange, TokenServerClient
from .settings.declarations import DEFAULT_CONCURRENCY

#: Slots open at first; one more per answer up to the bound (DEFAULT_CONCURRENCY, ``--token-concurrency``).
START_CONCURRENCY = 4

T = TypeVar("T")
R = TypeVar("R")

_context = threading.local()


@contextmanager
def urgent() -> Iterator[None]:
    """Requests sent in this block (this thread) jump the gate's queue: they are on a clock."""
    before = getattr(_context, "urgent", False)
    _context.urgent = True
    try:
        yield
    finally:
        _context.urgent = before


def _is_urgent() -> bool:
    return bool(getattr(_context, "urgent", False))


class RequestGate:
    """A counting semaphore with an adjustable limit and a priority lane (urgent requests first).

    It opens gradually: ``start`` slots at first (4), one more per answer up to
    ``limit`` (two round trips to 16). A target that stops answering is thus
    met with a few requests, not ``limit`` of them, before the client's
    breaker trips.
    """

    def __init__(self, limit: int, start: int | None = None) -> None:
        if limit < 1:
            raise ValueError("the concurrency limit must be at least 1")
        self.ceiling = limit
        self.limit = min(limit, max(1, start if start is not None else START_CONCURRENCY))
        self.narrowed: str | None = None
        self._in_use = 0
        self._urgent_waiting = 0
        self._cond = threading.Condition()

    def acquire(self, urgent: bool = False) -> None:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    self._cond.wait_for(lambda: self._in_use < self.limit)
                finally:
                    self._urgent_waiting -= 1
            else:
                self._cond.wait_for(lambda: self._in_use < self.limit and not self._urgent_waiting)
            self._in_use += 1

    def release(self) -> None:
        with self._cond:
            self._in_use -= 1
            self._cond.notify_all()

    def widen(self) -> None:
        """An answer came back: one more slot, up to the ceiling (never after a narrowing)."""
        with self._cond:
            if self.narrowed is None and self.limit < self.ceiling:
                self.limit += 1
                self._cond.notify_all()

    def narrow(self, reason: str) -> None:
        """One request at a time from now on (the target announced a rate limit)."""
        with self._cond:
            if self.narrowed is None:
                self.narrowed = reason
                self.limit = self.ceiling = 1


@dataclass
class Traffic:
    """What a run sent: requests (redirect hops included) and the wall time with one or more outstanding."""

    requests: int = 0
    waiting_s: float = 0.0
    #: (start, end) wall-clock intervals with at least one request outstanding (merged).
    intervals: list[tuple[float, float]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"requests_sent": self.requests, "waiting_s": round(self.waiting_s, 3)}


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _announces_limit(ex: Exchange) -> str | None:
    if ex.status == 429:
        return "the target answered 429 Too Many Requests"
    for name in ("ratelimit-remaining", "x-ratelimit-remaining"):
        value = ex.headers.get(name)
        if value is not None and value.strip().split(",")[0].split(";")[0].strip() == "0":
            return f"the target announced {name}: 0"
    return None


class GatedClient(TokenServerClient):
    """A :class:`TokenServerClient` whose requests pass the gate and are counted.

    Only ``request`` is added to: the bounds (deadline, breaker, size cap, redirects) are the base class's.
    """

    def __init__(self, base_url: str, *, concurrency: int = DEFAULT_CONCURRENCY, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.gate = RequestGate(concurrency)
        self._count_lock = threading.Lock()
        self._requests = 0
        self._outstanding = 0
        self._busy_since = 0.0
        self._intervals: list[tuple[float, float]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Exchange:
        if self.down:  # the breaker answers at once: nothing to queue for, nothing sent
            return super().request(method, path, **kwargs)
        self.gate.acquire(_is_urgent())
        try:
            self._begin()
            try:
                ex = super().request(method, path, **kwargs)
            finally:
                self._end()
        finally:
            self.gate.release()
        # Each rate-limited attempt the client waited out and retried was a request sent too.
        sent = 0 if ex.error and ex.error.startswith("not sent") else 1 + len(ex.redirects) + ex.limited
        with self._count_lock:
            self._requests += sent
        reason = _announces_limit(ex)
        if reason:
            self.gate.narrow(reason)
        elif ex.status is not None:
            self.gate.widen()
        return ex

    def _rate_limit_wait(self, ex: Exchange) -> float | None:
        """The client's Retry-After handling, plus: from the first limited answer on, one request at a time."""
        wait = super()._rate_limit_wait(ex)
        if wait is not None:
            self.gate.narrow(f"the target answered {ex.status} with Retry-After")
        return wait

    def _begin(self) -> None:
        with self._count_lock:
            if self._outstanding == 0:
                self._busy_since = time.time()
            self._outstanding += 1

    def _end(self) -> None:
        with self._count_lock:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._intervals.append((self._busy_since, time.time()))

    def traffic(self) -> Traffic:
        with self._count_lock:
            intervals = merge_intervals(self._intervals)
            self._intervals = intervals
            return Traffic(self._requests, sum(e - s for s, e in intervals), list(intervals))


# --- running independent work concurrently ---------------------------------------------------------


def run_in_daemons(tasks: list[tuple[Callable[[], Any], Future[Any]]], workers: int, name: str) -> None:
    """Run each ``fn`` into its future on ``workers`` daemon threads, in the order given.

    Daemon threads: a run that ends early (target down, Ctrl-C) must not wait for
    queued work. A cancelled future's work is not started.
    """
    queue = iter(list(tasks))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                task = next(queue, None)
            if task is None:
                return
            fn, future = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to whoever waits on the future (a case re-raises it)
                future.set_exception(exc)

    for n in range(max(1, min(workers, len(tasks)))):
        threading.Thread(target=work, name=f"{name}-{n}", daemon=True).start()


def concurrency_of(client: TokenServerClient) -> int:
    """The client's bound on requests in flight (1 for a plain, ungated client)."""
    return client.gate.ceiling if isinstance(client, GatedClient) else 1


def fan_out(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]`` with the calls concurrent; results (and the first exception) in order.

    For independent requests only: the gate bounds what is in flight, and with
    ``workers`` 1 (a serial run) the calls are made in turn on this thread.
    Requests made in the calls keep the caller's urgency.
    """
    items = list(items)
    if len(items) <= 1 or workers <= 1:
        return [fn(x) for x in items]
    urgent_flag = _is_urgent()

    def bind(x: T) -> Callable[[], R]:
        def call() -> R:
            _context.urgent = urgent_flag
            return fn(x)
        return call

    futures: list[Future[R]] = [Future() for _ in items]
    run_in_daemons([(bind(x), f) for x, f in zip(items, futures, strict=True)], workers, "conformance-fan-out")
    return [f.result() for f in futures]
