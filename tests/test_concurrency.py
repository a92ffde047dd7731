"""The request gate, the fan-out, traffic counting, and concurrent runs reaching the serial run's verdict."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from benchmarks.delay_proxy import DelayProxy
from conformance.concurrency import GatedClient, RequestGate, fan_out, merge_intervals, urgent
from conformance.reference.threaded import ThreadedServer
from tests.faulty.runner import Run, run_check, serving
from tests.faulty.servers import FAULTS, Fault, reference_factory

# --- the gate ----------------------------------------------------------------------------------


def test_gate_bounds_what_is_in_flight() -> None:
    gate = RequestGate(3, start=3)
    lock = threading.Lock()
    inside, peak = 0, 0

    def work(_: int) -> None:
        nonlocal inside, peak
        gate.acquire()
        try:
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1
        finally:
            gate.release()

    fan_out(work, range(20), workers=10)
    assert peak == 3


def test_gate_serves_urgent_waiters_first() -> None:
    gate = RequestGate(1)
    gate.acquire()
    order: list[str] = []
    normal = threading.Thread(target=lambda: (gate.acquire(), order.append("normal"), gate.release()))
    normal.start()
    time.sleep(0.05)  # the ordinary request queues first
    hurry = threading.Thread(target=lambda: (gate.acquire(urgent=True), order.append("urgent"), gate.release()))
    hurry.start()
    time.sleep(0.05)
    gate.release()
    normal.join(2)
    hurry.join(2)
    assert order == ["urgent", "normal"]


def test_gate_opens_gradually() -> None:
    gate = RequestGate(16)
    assert gate.limit == 4
    for _ in range(20):
        gate.widen()
    assert gate.limit == 16
    assert RequestGate(1).limit == 1 and RequestGate(3, start=1).limit == 1


def test_gate_narrows_to_one() -> None:
    gate = RequestGate(8)
    gate.narrow("429")
    gate.narrow("second reason ignored")
    gate.widen()
    assert (gate.limit, gate.ceiling, gate.narrowed) == (1, 1, "429")
    with pytest.raises(ValueError):
        RequestGate(0)


def test_fan_out_keeps_order_and_raises_the_first_error() -> None:
    assert fan_out(lambda x: x * 2, [3, 1, 2], workers=3) == [6, 2, 4]
    assert fan_out(lambda x: x, [], workers=3) == []

    def boom(x: int) -> int:
        if x == 2:
            raise KeyError(x)
        return x

    with pytest.raises(KeyError):
        fan_out(boom, [1, 2, 3], workers=3)


def test_fan_out_with_one_worker_runs_in_turn_on_this_thread() -> None:
    seen: list[str] = []
    fan_out(lambda x: seen.append(threading.current_thread().name), [1, 2, 3], workers=1)
    assert set(seen) == {threading.current_thread().name}


def test_fan_out_passes_urgency_on() -> None:
    from conformance import concurrency

    with urgent():
        flags = fan_out(lambda _: concurrency._is_urgent(), [1, 2], workers=2)
    assert flags == [True, True]


def test_merge_intervals() -> None:
    assert merge_intervals([(3, 4), (0, 1), (0.5, 2), (2, 2.5)]) == [(0, 2.5), (3, 4)]


# --- counting ------------------------------------------------------------------------------------


@contextmanager
def _server(app: Any) -> Iterator[str]:
    with ThreadedServer(app) as server:
        yield server.url


def _slow_app(delay: float, status: int = 200, headers: dict[str, str] | None = None, times: int = 10**9) -> Any:
    """Answers ``status`` with ``headers`` the first ``times`` times, then a plain 200."""
    answered = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal answered
        request = Request(scope, receive)
        if request.url.path == "/redirect":
            response: Response = Response(status_code=302, headers={"Location": "/ok"})
        else:
            time.sleep(delay)  # blocks uvicorn's loop on purpose: answers one at a time, like a tiny server
            answered += 1
            special = answered <= times
            response = JSONResponse({"ok": True}, status_code=status if special else 200,
                                    headers=headers if special else None)
        await response(scope, receive, send)

    return app


def test_gated_client_counts_requests_hops_and_waiting_time() -> None:
    with _server(_slow_app(0.05)) as url:
        client = GatedClient(url, concurrency=4, timeout=5)
        try:
            results = fan_out(lambda _: client.get("/ok"), range(4), workers=4)
            client.get("/redirect")  # two hops
            traffic = client.traffic()
        finally:
            client.close()
    assert all(r.status == 200 for r in results)
    assert traffic.requests == 6
    # The server answers one request at a time: the run waited about 6 x 50 ms, not the sum of overlaps.
    assert 0.25 <= traffic.waiting_s < 2.0
    assert traffic.as_dict() == {"requests_sent": 6, "waiting_s": round(traffic.waiting_s, 3)}


def test_requests_not_sent_after_the_breaker_are_not_counted() -> None:
    client = GatedClient("http://127.0.0.1:9", concurrency=2, timeout=2)  # discard port: refused
    try:
        first = client.get("/")
        second = client.get("/")
    finally:
        client.close()
    assert first.error and "cannot connect" in first.error
    assert second.error and second.error.startswith("not sent")
    assert client.traffic().requests == 1


@pytest.mark.parametrize(
    ("status", "headers"),
    [(429, {"Retry-After": "0"}), (200, {"RateLimit-Remaining": "0"}), (200, {"X-RateLimit-Remaining": "0"})],
    ids=["429", "ratelimit-remaining", "x-ratelimit-remaining"],
)
def test_announced_rate_limit_narrows_the_gate(status: int, headers: dict[str, str]) -> None:
    with _server(_slow_app(0.0, status, headers, times=1)) as url:
        client = GatedClient(url, concurrency=8, timeout=5)
        try:
            ex = client.get("/ok")
        finally:
            client.close()
    assert ex.status == 200  # a 429 is waited out and retried by the client
    assert client.gate.limit == 1
    assert client.gate.narrowed
    assert client.traffic().requests == (2 if status == 429 else 1)


def test_remaining_requests_keep_the_gate_open() -> None:
    with _server(_slow_app(0.0, 200, {"RateLimit-Remaining": "10"})) as url:
        client = GatedClient(url, concurrency=8, timeout=5)
        try:
            client.get("/ok")
        finally:
            client.close()
    assert client.gate.limit == 5 and client.gate.narrowed is None  # 4 to start, one more per answer


# --- concurrent runs judge as the serial run does -----------------------------------------------

#: Faulty servers whose defects sit in the sections that run concurrently: bad input (fanned out and
#: shared between cases) and what PROP-1 sends (its findings, judged in order).
COMPARED = ("uid-text-accepted", "no-ping")


def _fault(name: str) -> Fault:
    return next(f for f in FAULTS if f.key == name)


def _judge(factory: Any, concurrency: int, cases: tuple[str, ...] = ()) -> Run:
    with serving(factory) as (url, settings):
        host, port = url.removeprefix("http://").split(":")
        # 20 ms per answer: the concurrent run's requests really overlap, as against a remote server.
        with DelayProxy((host, int(port)), 0.02) as proxy:
            return run_check(proxy.url, certificate=settings.certificate, strict=True, app_id=settings.app_id,
                             prop_examples=6, cases=cases, extra=["--token-concurrency", str(concurrency)])


def _compared_cases(fault: Fault) -> tuple[str, ...]:
    """A faulty server's comparison runs the sections its defect sits in (its proof's selection), with PROP-1 when
    the defect is one PROP-1 finds: the concurrent parts it was chosen for. The reference server's runs are full."""
    extra = ("PROP-1",) if "PROP-1" in fault.expected and "PROP-1" not in fault.proof_cases else ()
    return (*fault.proof_cases, *extra)


@pytest.mark.parametrize("target", ["reference", *COMPARED])
def test_concurrent_run_reaches_the_serial_verdict_case_by_case(target: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty cache: the serial run generates PROP-1's requests, the concurrent one rebuilds them from the cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    factory = reference_factory() if target == "reference" else _fault(target).make
    cases = () if target == "reference" else _compared_cases(_fault(target))
    serial = _judge(factory, 1, cases)
    if not cases or "PROP-1" in cases:
        assert list((tmp_path / "token-conformance").glob("prop-1-*.json")), "the serial run wrote no PROP-1 cache"
    concurrent = _judge(factory, 16, cases)
    assert serial.document is not None and concurrent.document is not None, serial.output[-2000:]
    assert concurrent.outcomes == serial.outcomes
    assert concurrent.exit_code == serial.exit_code
    if target != "reference":  # the defect was found, by the cases that own it
        assert serial.failed == _fault(target).expected, f"{target}: {sorted(serial.failed)}"
    # The same requests, once each, whatever the order they went out in.
    extra_s, extra_c = serial.document["summary"]["extra"], concurrent.document["summary"]["extra"]
    # (A full run sends well over 100 requests; a faulty server's sections about 50.)
    assert extra_c["requests_sent"] == extra_s["requests_sent"] > (100 if target == "reference" else 30)
