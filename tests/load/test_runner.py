"""How the Locust child is built: argv, environment, scenario files, scrubbing (no run)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from conformance.load.protocol import CERTIFICATE_ENV, SCENARIOS, WORKER_SUMMARY_DIR_ENV
from conformance.load.runner import (
    LoadPlan,
    MasterSpec,
    WorkerPlan,
    locust_command,
    locust_environment,
    scenario_path,
    scrub_files,
    unreachable_reason,
    worker_command,
)
from conformance.load.slo import Thresholds
from conformance.redact import REDACTED, Redactor

CERT = "0123456789abcdef0123456789abcdef"


def plan(tmp_path: Path, **kw: object) -> LoadPlan:
    fields: dict[str, object] = {
        "scenario": "fetch_and_renew", "url": "http://127.0.0.1:9", "users": 5, "spawn_rate": 2.5, "run_time": 7,
        "report_dir": tmp_path, "certificate": CERT, "thresholds": Thresholds(max_p95_ms=250),
        "scenario_options": {"expiry": 4, "renew_margin": 2.0, "strict_roles": True, "app_id": None, "role_mix": ""},
        **kw,
    }  # fmt: skip
    return LoadPlan(**fields)  # type: ignore[arg-type]


def test_the_certificate_goes_to_the_environment_never_to_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_USERS", "1000")  # a stray setting must not change the run
    p = plan(tmp_path)
    argv = locust_command(p)
    assert not any(CERT in a for a in argv)
    env = locust_environment(p)
    assert env[CERTIFICATE_ENV] == CERT and "LOCUST_USERS" not in env
    assert CERTIFICATE_ENV not in locust_environment(plan(tmp_path, certificate=None))
    assert CERT not in repr(p)


def test_argv_bounds_the_run_and_passes_the_scenario_options(tmp_path: Path) -> None:
    argv = locust_command(plan(tmp_path, processes=2))
    joined = " ".join(argv)
    for part in ("--headless", "--run-time 7s", "--stop-timeout 3s", "--users 5", "--spawn-rate 2.5",
                 "--processes 2", "--expiry 4", "--renew-margin 2.0", "--slo-p95-ms 250", "--csv-full-history"):  # fmt: skip
        assert part in joined, part
    assert "--strict-roles" in argv and "--app-id" not in argv and "--role-mix" not in argv
    # The master listens for its workers on loopback only, on a port of its own (runs side by side do not collide).
    port = argv[argv.index("--master-bind-port") + 1]
    assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1" and port != "5557"
    assert (argv[argv.index("--master-host") + 1], argv[argv.index("--master-port") + 1]) == ("127.0.0.1", port)
    assert "--master-bind-port" not in locust_command(plan(tmp_path))  # one process: no master, no port
    assert argv[argv.index("--summary-file") + 1] == str(tmp_path.resolve() / "locust_summary.json")


def test_deadline_covers_run_and_stop_time(tmp_path: Path) -> None:
    p = plan(tmp_path, run_time=60, stop_timeout=5)
    assert 65 < p.deadline < 65 + 60
    assert plan(tmp_path, processes=4).deadline > p.deadline - 60 + 7


def test_bundled_scenarios_ship_as_files() -> None:
    for name in SCENARIOS:
        path = scenario_path(name)
        assert path.is_file() and path.name == f"{name}.py"
        assert "import pytest" not in path.read_text()
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_path("nope")


def test_scrub_removes_a_leaked_certificate_from_report_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(f"x,{CERT.upper()},y\n")
    (tmp_path / "b.json").write_text('{"clean": true}')
    scrubbed = scrub_files(tmp_path, Redactor([CERT]))
    assert scrubbed == [tmp_path / "a.csv"]
    assert (tmp_path / "a.csv").read_text() == f"x,{REDACTED},y\n"


def test_probe_tells_an_unreachable_target() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    assert unreachable_reason(f"http://127.0.0.1:{port}", "/ping", timeout=2) is not None


class Dripping:
    """A raw server that answers a 200 whose body arrives one byte every ``pause`` seconds, forever."""

    def __init__(self, pause: float, chunk: bytes = b"x") -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.pause, self.chunk = pause, chunk
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
            while not self.stop.is_set():
                try:
                    conn.sendall(self.chunk)
                except OSError:
                    return
                time.sleep(self.pause)

    def __enter__(self) -> Dripping:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


def test_probe_has_an_overall_deadline_against_a_dripping_server() -> None:
    with Dripping(pause=0.2) as server:
        started = time.monotonic()
        problem = unreachable_reason(server.url, "/rtc/x/publisher/uid/1/", timeout=1)
    assert problem == "no answer within 1 s"
    assert time.monotonic() - started < 5  # not the ~forever of per-read timeouts


def test_probe_stops_reading_an_endless_body() -> None:
    with Dripping(pause=0.001, chunk=b"x" * 4096) as server:
        assert unreachable_reason(server.url, "/", timeout=5) is None  # it answered: reachable; the body was cut at the cap


def test_a_profile_file_reaches_the_child_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child runs in an empty folder of its own (so nothing shadows the package): relative paths would break."""
    (tmp_path / "mine.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    argv = locust_command(plan(tmp_path, scenario_options={"token_profile": "mine.json"}))
    assert argv[argv.index("--token-profile") + 1] == str(tmp_path.resolve() / "mine.json")
    argv = locust_command(plan(tmp_path, scenario_options={"token_profile": "agora-token-service"}))
    assert argv[argv.index("--token-profile") + 1] == "agora-token-service"


def test_a_master_listens_where_asked_and_waits_a_bounded_time(tmp_path: Path) -> None:
    p = plan(tmp_path, master=MasterSpec(expect_workers=3, bind_host="10.1.2.3", bind_port=6000, max_wait=45))
    argv = locust_command(p)
    for flag, value in (("--master-bind-host", "10.1.2.3"), ("--master-bind-port", "6000"), ("--expect-workers", "3"),
                        ("--expect-workers-max-wait", "45")):  # fmt: skip
        assert argv[argv.index(flag) + 1] == value, flag
    assert "--master" in argv and "--processes" not in argv and "--expiry" in argv
    assert p.deadline >= plan(tmp_path).deadline + 45  # the wait for workers is inside the parent's bound
    assert not any(CERT in a for a in argv)


def test_a_worker_takes_the_scenario_from_the_master_and_its_secrets_from_its_environment(tmp_path: Path) -> None:
    w = WorkerPlan(master_host="10.0.0.5", master_port=6000, report_dir=tmp_path, processes=2, certificate=CERT,
                   headers={"X-Key": "hunter2"})  # fmt: skip
    argv = worker_command(w)
    assert argv[argv.index("-f") + 1] == "-"  # the master's scenario file: master and workers run the same one
    assert "--worker" in argv and argv[argv.index("--master-host") + 1] == "10.0.0.5"
    assert argv[argv.index("--master-port") + 1] == "6000" and argv[argv.index("--processes") + 1] == "2"
    assert not any(CERT in a or "hunter2" in a for a in argv) and "--expiry" not in argv
    env = locust_environment(w)
    assert env[CERTIFICATE_ENV] == CERT and "hunter2" in env["TOKEN_SERVER_HEADERS"]
    assert env[WORKER_SUMMARY_DIR_ENV] == str(tmp_path.resolve())
    assert CERT not in repr(w) and "hunter2" not in repr(w)
    assert WORKER_SUMMARY_DIR_ENV not in locust_environment(plan(tmp_path))
