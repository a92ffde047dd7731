"""``token-conformance load --master`` and ``--worker``: separate processes on loopback, as on several machines.

Each test starts the master and its workers as independent ``token-conformance load`` processes (nothing shared
but the network and the target URL), the workers through a relay that records every byte crossing the
master-worker connection. No timing is asserted: the machine may be busy; every process is bounded and killed
at the end of the test if it is still there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from conformance.load.protocol import CERTIFICATE_ENV

from . import faulty

HEADER_SECRET = "s3cr3t-header-value-4242"
#: Load small enough for a busy 2-core machine, with renewals within a few seconds.
SCENARIO = ["--expiry", "3", "--renew-margin", "1.5", "--cycles", "2", "--spawn-rate", "50",
            "--progress-interval", "1"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Relay:
    """A TCP relay in front of the master's port that keeps every byte it carries, both ways.

    What it records is what a network between the machines would see (ZeroMQ over TCP, msgpack inside, no
    encryption), so a secret absent here never crossed the wire.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                with self.lock:
                    self.captured += chunk
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.listener.close()


class Proc:
    """A ``token-conformance load`` process with its output in files."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        self._out, self._err = open(self.out_path, "wb"), open(self.err_path, "wb")
        self.popen = subprocess.Popen([sys.executable, "-m", "conformance", "load", *argv], env=env,
                                      stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)  # fmt: skip

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout=timeout)
        self._out.close()
        self._err.close()
        return code

    @property
    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    @property
    def out(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def end(self) -> None:
        """The end of a test: nothing it started outlives it (Locust children included)."""
        if self.popen.poll() is None:
            for child in psutil.Process(self.popen.pid).children(recursive=True):
                child.kill()
            self.popen.kill()
            self.popen.wait()
        self._out.close()
        self._err.close()


def environment(certificate: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "TOKEN_SERVER_"))}
    if certificate:
        env[CERTIFICATE_ENV] = certificate
    env["TOKEN_SERVER_HEADERS"] = f"X-Load-Key: {HEADER_SECRET}"
    return env


@contextmanager
def processes() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.end()


def master_argv(url: str, app_id: str, port: int, folder: Path, *, expect: int, run_time: str, users: int = 6,
                max_wait: int = 30, p95_ms: int = 500) -> list[str]:
    return [url, "--master", "--max-p95-ms", str(p95_ms), "--expect-workers", str(expect), "--expect-workers-max-wait", str(max_wait),
            "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), "--app-id", app_id,
            "--users", str(users), "--run-time", run_time, *SCENARIO, "--report-dir", str(folder / "master"),
            "--summary-md", str(folder / "summary.md")]  # fmt: skip


def worker_argv(port: int, folder: Path, name: str) -> list[str]:
    return ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port), "--master-wait", "60",
            "--report-dir", str(folder / name)]  # fmt: skip


def worker_id(proc: Proc) -> str:
    match = re.search(r"worker (\S+) connected to the master", proc.err)
    assert match, proc.err
    return match.group(1)


def own_counts(folder: Path) -> dict[str, Any]:
    """A worker's own counts minus what it recorded after its last report (which the master never saw)."""
    (path,) = sorted(folder.glob("worker-*.json"))
    doc = json.loads(path.read_text())
    counts = dict(doc["tally"]["counts"])
    for key, n in doc["unsent"].get("counts", {}).items():
        counts[key] -= n
    return {"client_id": doc["client_id"], **counts}


@pytest.mark.slow
def test_master_and_two_workers_pass_add_up_and_keep_secrets_off_the_wire(tmp_path: Path) -> None:
    port = free_port()
    relay = Relay(port)
    # Answers in 60 ms: the latency is the server's, so a busy machine's scheduling delays in the generators
    # (a few ms) cannot make the run generator-bound, and the verdict can be asserted as a plain pass.
    with faulty.serving(lambda app: faulty.slow(app, 0.06)) as (url, settings), processes() as procs:
        env = environment(settings.certificate)
        # A p95 objective a loaded machine cannot break by itself: the pass must not hinge on the machine's load.
        master = Proc("master", master_argv(url, settings.app_id, port, tmp_path, expect=2, run_time="8s",
                                            p95_ms=3000), env, tmp_path)  # fmt: skip
        procs.append(master)
        for name in ("w1", "w2"):
            procs.append(Proc(name, worker_argv(relay.port, tmp_path, name), env, tmp_path))
        code = master.wait(timeout=120)
        # The workers end by themselves once the master has ended the run: nothing stops them here.
        worker_codes = [p.wait(timeout=60) for p in procs[1:]]
    relay.close()

    assert code == 0, master.err[-3000:] + master.out[-2000:]
    assert worker_codes == [0, 0], [p.err[-1500:] for p in procs[1:]]
    assert "SLOs held" in master.out
    doc = json.loads((tmp_path / "master" / "load.json").read_text())
    assert doc["slo"]["passed"] and doc["mode"] == "master"
    assert doc["options"]["signature_checked"] is True  # the workers had the certificate
    dist = doc["distributed"]
    assert dist["expected"] == 2 and dist["connected"] == 2 and dist["lost"] == []
    ids = {worker_id(procs[1]), worker_id(procs[2])}
    assert {row["id"] for row in dist["workers"]} == ids == set(doc["workers"])
    # Totals add up: Locust's rows (load.json fetch/renew) = the sum over workers = each worker's own counts.
    for kind in ("fetch", "renew"):
        per_worker = [doc["workers"][i][kind] for i in ids]
        assert all(n > 0 for n in per_worker), (kind, doc["workers"])
        assert doc[kind]["requests"] == sum(per_worker), kind
    for name in ("w1", "w2"):
        own = own_counts(tmp_path / name)
        received = doc["workers"][own["client_id"]]
        assert {k: own.get(k, 0) for k in ("fetch", "renew")} == {k: received.get(k, 0) for k in ("fetch", "renew")}
    for name in ("load.html", "latency.png", "rate.png", "renewal_leads.png", "locust.html"):
        assert (tmp_path / "master" / name).is_file(), name
    assert all(i in (tmp_path / "master" / "load.html").read_text() for i in ids)
    assert "SLOs held" in (tmp_path / "summary.md").read_text()

    # What crossed the wire: the scenario and its options (so the capture works), never the secrets.
    wire = bytes(relay.captured)
    assert b"renew_margin" in wire and settings.app_id.encode() in wire and url.encode() in wire
    for secret in (settings.certificate, settings.certificate.upper(), HEADER_SECRET):
        assert secret.encode() not in wire, "a secret crossed the master-worker connection"
    for proc in procs:
        assert settings.certificate not in proc.out + proc.err and HEADER_SECRET not in proc.out + proc.err


@pytest.mark.slow
def test_a_worker_killed_mid_run_is_named_and_the_run_does_not_pass(tmp_path: Path) -> None:
    port = free_port()
    with faulty.serving() as (url, settings), processes() as procs:
        env = environment(settings.certificate)
        master = Proc("master", master_argv(url, settings.app_id, port, tmp_path, expect=2, run_time="16s"), env,
                      tmp_path)  # fmt: skip
        procs.append(master)
        procs.append(Proc("w1", worker_argv(port, tmp_path, "w1"), env, tmp_path))
        # The second worker's machine has no certificate: the run must not claim signatures were checked.
        procs.append(Proc("w2", worker_argv(port, tmp_path, "w2"), environment(None), tmp_path))
        # Once requests are flowing, the first worker's machine dies: its Locust process is killed outright.
        deadline = time.monotonic() + 90
        while not re.search(r"requests=[1-9]", master.err):
            assert master.popen.poll() is None and time.monotonic() < deadline, master.err[-2000:]
            time.sleep(0.3)
        victim = worker_id(procs[1])
        for child in psutil.Process(procs[1].popen.pid).children(recursive=True):
            child.send_signal(signal.SIGKILL)
        code = master.wait(timeout=120)
        assert procs[2].wait(timeout=60) == 0  # the survivor still ends by itself
        assert procs[1].wait(timeout=30) == 2  # and the victim's CLI says it did not end with the master

    doc = json.loads((tmp_path / "master" / "load.json").read_text())
    assert doc["distributed"]["lost"] == [victim]
    (lost,) = [b for b in doc["slo"]["breaches"] if b["slo"] == "workers"]
    assert victim in lost["message"] and "fewer clients" in lost["message"]
    assert not doc["slo"]["passed"]
    others = [b for b in doc["slo"]["breaches"] if b["slo"] not in ("workers", "generator")]
    assert code == (1 if others else 2), master.err[-2000:]
    assert victim in master.err and "LOST" in master.out
    assert victim in (tmp_path / "master" / "load.html").read_text()
    survivor = worker_id(procs[2])
    rows = {row["id"]: row for row in doc["distributed"]["workers"]}
    assert rows[survivor]["signature_checked"] is False and rows[victim]["signature_checked"] is True
    assert doc["options"]["signature_checked"] is False and "signatures NOT checked" in master.out


@pytest.mark.slow
def test_a_master_with_too_few_workers_exits_2_and_says_how_many_came(tmp_path: Path) -> None:
    port = free_port()
    with faulty.serving() as (url, settings), processes() as procs:
        env = environment(settings.certificate)
        master = Proc("master", master_argv(url, settings.app_id, port, tmp_path, expect=2, run_time="6s",
                                            max_wait=8), env, tmp_path)  # fmt: skip
        procs.append(master)
        procs.append(Proc("w1", worker_argv(port, tmp_path, "w1"), env, tmp_path))
        code = master.wait(timeout=90)
        worker_code = procs[1].wait(timeout=60)  # it ends by itself when the master gives up
    assert code == 2, master.err[-2000:]
    assert "1 arrived" in master.err and worker_id(procs[1]) in master.err
    doc = json.loads((tmp_path / "master" / "load.json").read_text())
    assert doc["verdict"] == "not judged" and doc["exit_code"] == 2 and not doc["slo"]["passed"]
    assert doc["distributed"]["connected"] == 1 and doc["distributed"]["expected"] == 2
    assert "1 arrived" in (tmp_path / "summary.md").read_text()
    assert worker_code == 2 and "before this machine's workers sent any request" in procs[1].err


def test_a_worker_without_a_master_gives_up_with_exit_2(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    with processes() as procs:
        worker = Proc("w", ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                            "--master-wait", "3", "--report-dir", str(tmp_path / "w")], environment(None), tmp_path)
        procs.append(worker)
        code = worker.wait(timeout=60)
    assert code == 2
    assert f"no master answered at 127.0.0.1:{port} within 3 s" in worker.err
    assert "Traceback" not in worker.err


@pytest.mark.slow
def test_capacity_over_a_master_and_two_workers_judges_each_step_on_both(tmp_path: Path) -> None:
    """A server of about 24 tokens/s, the linear plan 10, 20, 30, 40/s: each step's rate is divided between the
    workers, and judged on both workers' own records (what each sent and how late), not on cumulative reports."""
    port = free_port()
    with faulty.serving(lambda app: faulty.limited(app, 24)) as (url, settings), processes() as procs:
        env = environment(settings.certificate)
        master = Proc("master", [url, "--scenario", "capacity", "--master", "--expect-workers", "2",
                                 "--expect-workers-max-wait", "30", "--master-bind-host", "127.0.0.1",
                                 "--master-bind-port", str(port), "--app-id", settings.app_id, "--start-rate", "10",
                                 "--step-rate", "10", "--max-rate", "40", "--step-time", "2", "--run-time", "30s",
                                 "--max-p95-ms", "400", "--progress-interval", "0",
                                 "--report-dir", str(tmp_path / "master")], env, tmp_path)  # fmt: skip
        procs.append(master)
        for name in ("w1", "w2"):
            procs.append(Proc(name, worker_argv(port, tmp_path, name), env, tmp_path))
        code = master.wait(timeout=150)
        [p.wait(timeout=60) for p in procs[1:]]
    doc = json.loads((tmp_path / "master" / "load.json").read_text())
    cap = doc["capacity"]
    ids = {worker_id(procs[1]), worker_id(procs[2])}
    judged = [s for s in cap["steps"] if s.get("processes")]
    assert judged and len(judged) >= len(cap["steps"]) - 1, cap["steps"]  # a step cut by the end may lack them
    for step in judged:
        assert {p["id"] for p in step["processes"]} == ids, step
        assert step["sent"] == sum(p["sent"] for p in step["processes"]), step
        assert all(p["sent"] > 0 and p["late_p50_ms"] is not None for p in step["processes"]), step
        assert step["generator"]["late_p50_ms"] == round(max(p["late_p50_ms"] for p in step["processes"]), 2), step
    # Each worker sent about half of each step (its share of the rate), within the noise of a busy machine.
    first = judged[0]
    assert all(p["sent"] <= 0.75 * first["sent"] for p in first["processes"]), first
    assert code in (0, 2), master.err[-3000:]
    if code == 0:  # the server's knee, not a generator story
        assert cap["limited_by"] == "server" and doc["knee"]["rps"] is not None, cap


@pytest.mark.slow
def test_an_interrupted_master_says_so_and_its_workers_end_by_themselves(tmp_path: Path) -> None:
    port = free_port()
    with faulty.serving() as (url, settings), processes() as procs:
        env = environment(settings.certificate)
        master = Proc("master", master_argv(url, settings.app_id, port, tmp_path, expect=2, run_time="30s"), env,
                      tmp_path)  # fmt: skip
        procs.append(master)
        for name in ("w1", "w2"):
            procs.append(Proc(name, worker_argv(port, tmp_path, name), env, tmp_path))
        deadline = time.monotonic() + 90
        while not re.search(r"requests=[1-9]", master.err):
            assert master.popen.poll() is None and time.monotonic() < deadline, master.err[-2000:]
            time.sleep(0.3)
        master.popen.send_signal(signal.SIGTERM)  # a CI job's timeout
        code = master.wait(timeout=60)
        worker_codes = [p.wait(timeout=60) for p in procs[1:]]  # told to quit by the stopping master
    assert code == 2, master.err[-2000:]
    doc = json.loads((tmp_path / "master" / "load.json").read_text())
    assert doc["interrupted"] == "SIGTERM" and doc["verdict"] == "interrupted" and not doc["slo"]["passed"]
    assert doc["requests"] > 0 and doc["distributed"]["connected"] == 2  # what was measured until then
    assert "interrupted by SIGTERM" in (tmp_path / "summary.md").read_text()
    assert worker_codes == [0, 0], [p.err[-1000:] for p in procs[1:]]
