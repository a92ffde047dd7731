"""Run a Locust scenario in a subprocess, bounded in time, and collect what it measured.

Locust is never imported here: gevent monkey-patches the process that imports
it, which breaks pytest, httpx and threads (anchors.md §4), so the harness
drives ``python -m locust --headless`` as a child and reads back files:
the scenario's summary (``--summary-file``) and Locust's CSV / HTML reports.

Bounds: Locust gets ``--run-time`` and ``--stop-timeout``; the parent gives it a
deadline on top (start-up allowance + run time + stop timeout + shutdown
allowance), then SIGTERM (Locust shuts down and writes its reports), then SIGKILL
to the whole process group (``--processes`` forks workers). Interrupted (Ctrl-C,
SIGTERM), the parent passes a SIGINT on to Locust, which then stops and writes what
it measured so far; the group is killed after a grace time or a second signal.

The child runs in an empty folder of its own: Locust puts its current directory
first on sys.path, so run from a clone's root the source folder ``conformance/``
would shadow the installed package the CLI itself runs from (every path handed
to the child is absolute).

The app certificate reaches the child through its environment only; every
line the child prints and every file it writes is scrubbed of it anyway.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..headers import to_env
from ..interruption import last_signal, signals_escalate
from ..layout import top_folder
from ..redact import Redactor
from ..settings.declarations import locust_dest, option
from ..settings.load_options import (
    DEFAULT_EXPECT_WORKERS_MAX_WAIT,
    DEFAULT_MASTER_BIND_HOST,
    DEFAULT_MASTER_PORT,
    DEFAULT_MASTER_WAIT,
    SLO_KEYS,
)
from .protocol import CERTIFICATE_ENV, PROGRESS_PREFIX, SCENARIOS, WORKER_SUMMARY_DIR_ENV
from .slo import Thresholds

#: Seconds Locust may take to start (imports, forking workers) before the run time counts.
STARTUP_ALLOWANCE = 30.0
#: Seconds for Locust to stop users, write its reports and exit after the run time.
SHUTDOWN_ALLOWANCE = 20.0
#: After SIGTERM, seconds before the process group is killed.
KILL_GRACE = 10.0

CSV_PREFIX = "locust"
HTML_NAME = "locust.html"
SUMMARY_NAME = "locust_summary.json"
LOG_NAME = "locust.log"
#: Files a run writes in the report directory; stale ones are removed first so an old
#: report can never pass for a new one.
OUTPUT_NAMES = (
    f"{CSV_PREFIX}_stats.csv",
    f"{CSV_PREFIX}_stats_history.csv",
    f"{CSV_PREFIX}_failures.csv",
    f"{CSV_PREFIX}_exceptions.csv",
    HTML_NAME,
    SUMMARY_NAME,
    LOG_NAME,
)
#: Locust log lines worth showing live (the rest go to locust.log).
_SHOWN_LEVELS = ("/WARNING/", "/ERROR/", "/CRITICAL/")
_NOISE = ("spawn rate is very high",)


def scenario_path(name: str) -> Path:
    """The locustfile of a bundled scenario (by name), or a user's locustfile (by path)."""
    if name in SCENARIOS:
        return top_folder("loadtests") / f"{name}.py"
    path = Path(name)
    if path.suffix == ".py" and path.is_file():
        return path.resolve()
    raise ValueError(f"unknown scenario {name!r}: use one of {', '.join(SCENARIOS)} or the path of a locustfile")


#: The line a worker's scenario prints once connected (conformance/load/scenario/distributed.py), and a master per worker.
WORKER_CONNECTED = "connected to the master at"
#: Locust's own log lines that say how a worker ended.
_MASTER_QUIT = "Got quit message from master"
_MASTER_LOST = "Didn't get heartbeat from master"
#: Locust's master when --expect-workers-max-wait ran out.
GAVE_UP_WAITING = "Gave up waiting for workers to connect"


@dataclass(frozen=True)
class MasterSpec:
    """A master for workers started elsewhere (Locust's --master, --expect-workers, --master-bind-*)."""

    expect_workers: int
    bind_host: str = DEFAULT_MASTER_BIND_HOST
    bind_port: int = DEFAULT_MASTER_PORT
    max_wait: int = DEFAULT_EXPECT_WORKERS_MAX_WAIT


@dataclass(frozen=True)
class LoadPlan:
    """Everything one run needs; ``scenario_options`` are the scenario's own (argparse dest -> value)."""

    scenario: str
    url: str
    users: int
    spawn_rate: float
    run_time: int
    report_dir: Path
    stop_timeout: int = 3
    processes: int | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    scenario_options: dict[str, Any] = field(default_factory=dict)
    progress_interval: float = 3.0
    certificate: str | None = field(default=None, repr=False)
    #: Configured request headers (credentials): to the child through $TOKEN_SERVER_HEADERS, never argv.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: A master for workers on other machines (None: a local run, or --processes on this machine).
    master: MasterSpec | None = None

    def redactor(self) -> Redactor:
        """Hides the certificate and every configured header value."""
        redactor = Redactor([self.certificate])
        for value in self.headers.values():
            redactor.add_header_value(value)
        return redactor

    @property
    def deadline(self) -> float:
        """Seconds after start at which the parent stops waiting for Locust."""
        startup = STARTUP_ALLOWANCE * (2 if self.processes else 1)
        if self.master:  # the workers may take up to max_wait to come; Locust gives up then
            startup += self.master.max_wait
        return startup + self.run_time + self.stop_timeout + SHUTDOWN_ALLOWANCE


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _locust_flag(key: str) -> str:
    """The Locust scenario's flag of load's option ``key`` (declared with it: conformance/settings)."""
    return _flag(locust_dest(key))


def _free_loopback_port() -> int:
    """A port free on 127.0.0.1 now (the kernel's choice; Locust binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust_command(plan: LoadPlan) -> list[str]:
    """The child's argv. Never the certificate: argv is visible to every user of the machine (ps)."""
    out = plan.report_dir.resolve()
    argv = [
        sys.executable, "-m", "locust",
        "-f", str(scenario_path(plan.scenario)),
        "--host", plan.url,
        "--headless", "--only-summary",
        "--users", str(plan.users),
        "--spawn-rate", f"{plan.spawn_rate:g}",
        "--run-time", f"{plan.run_time}s",
        "--stop-timeout", f"{plan.stop_timeout}s",
        "--csv", str(out / CSV_PREFIX), "--csv-full-history",
        "--html", str(out / HTML_NAME),
        _locust_flag("summary_file"), str(out / SUMMARY_NAME),
        _locust_flag("progress_interval"), f"{plan.progress_interval:g}",
    ]  # fmt: skip
    for key in SLO_KEYS:  # Thresholds' fields are the SLO options' keys
        limit = getattr(plan.thresholds, key)
        argv += [_locust_flag(key), str(limit) if option(key).kind == "int" else f"{limit:g}"]
    if plan.processes:
        # Locust's master would listen for its forked workers on tcp://*:5557: every interface, and the same port
        # for every run on the machine (a second run at the same time fails with "Address already in use").
        port = _free_loopback_port()
        argv += ["--processes", str(plan.processes), "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                 "--master-host", "127.0.0.1", "--master-port", str(port)]  # fmt: skip
    if plan.master:
        # Workers connect from elsewhere; each takes the scenario file (-f -) and its options from this master.
        argv += ["--master", "--master-bind-host", plan.master.bind_host,
                 "--master-bind-port", str(plan.master.bind_port),
                 "--expect-workers", str(plan.master.expect_workers),
                 "--expect-workers-max-wait", str(plan.master.max_wait)]  # fmt: skip
    for dest, value in plan.scenario_options.items():
        if value is None or value is False or value == "":
            continue
        if dest == locust_dest("profile") and Path(str(value)).is_file():
            value = Path(str(value)).resolve()  # the child runs elsewhere (module docstring)
        argv += [_flag(dest)] if value is True else [_flag(dest), str(value)]
    return argv


def locust_environment(plan: LoadPlan | WorkerPlan) -> dict[str, str]:
    """The child's environment: ours, without stray LOCUST_* settings, plus the certificate if known.

    The certificate and the credential headers reach Locust here and only here: never argv, and never the
    master-worker connection (a worker's come from its own environment or files).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.pop(CERTIFICATE_ENV, None)
    if plan.certificate:
        env[CERTIFICATE_ENV] = plan.certificate
    env.pop("TOKEN_SERVER_HEADERS", None)
    if plan.headers:
        env["TOKEN_SERVER_HEADERS"] = to_env(plan.headers)
    env.pop(WORKER_SUMMARY_DIR_ENV, None)
    if isinstance(plan, WorkerPlan):  # each worker process writes its own counts at exit: worker-<id>.json
        env[WORKER_SUMMARY_DIR_ENV] = str(plan.report_dir.resolve())
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Outcome:
    """What the child left behind."""

    returncode: int | None
    summary: dict[str, Any] | None
    elapsed: float
    overran: bool
    log_path: Path
    tail: list[str]
    command: list[str]
    #: The signal that interrupted the run (SIGINT, SIGTERM), None when it ran to its end.
    interrupted: str | None = None
    #: Seconds from start to that signal.
    interrupted_after: float | None = None


def _read_lines(stream: Any, redactor: Redactor, log: Any, tail: deque[str], on_line: Callable[[str], None]) -> None:
    for raw in iter(stream.readline, b""):
        line = redactor.redact(raw.decode("utf-8", "replace").rstrip("\n"))
        log.write(line + "\n")
        log.flush()
        tail.append(line)
        if line.startswith(PROGRESS_PREFIX):
            on_line(line)
        elif any(level in line for level in _SHOWN_LEVELS) and not any(n in line for n in _NOISE):
            on_line("locust: " + line.split(": ", 1)[-1])


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, sig)
        else:  # pragma: no cover - no process groups
            process.kill() if sig == getattr(signal, "SIGKILL", None) else process.terminate()
    except ProcessLookupError:
        pass


def _terminate_group(process: subprocess.Popen[bytes], *, wait: bool = True) -> None:
    """SIGTERM to the child's process group, then SIGKILL if it is still there after KILL_GRACE."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        if wait:
            process.wait()


def _stop_interrupted(
    process: subprocess.Popen[bytes], stop_timeout: float, on_line: Callable[[str], None], signal_name: str
) -> None:
    """End an interrupted run: SIGINT to Locust's master, then SIGTERM and SIGKILL to its group.

    SIGINT is Locust's own Ctrl-C: it writes locust.html, fires ``quitting`` (the scenario writes
    its summary) and tells its workers to quit. The child runs in a session of its own, so a
    terminal's Ctrl-C reaches only us: we pass it on. A further SIGINT or SIGTERM while it stops
    kills the group at once (what it measured is then lost, and said so).
    """
    said: list[str] = []

    def hurry(name: str) -> None:
        if not said:
            said.append(name)
            on_line(f"load: {name} again: killing Locust now; what it measured is lost")
        _signal_group(process, signal.SIGKILL)

    with signals_escalate(hurry):
        on_line(f"load: interrupted by {signal_name}: stopping Locust, keeping what it measured "
                "(Ctrl-C again kills it at once)")
        try:
            os.kill(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=stop_timeout + KILL_GRACE)
        except subprocess.TimeoutExpired:
            _terminate_group(process)


def run_locust(plan: LoadPlan, on_line: Callable[[str], None] = lambda s: None) -> Outcome:
    """Run the plan's Locust child to completion (or to its deadline) and read its summary."""
    plan.report_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_NAMES:
        (plan.report_dir / name).unlink(missing_ok=True)
    redactor = plan.redactor()
    command = locust_command(plan)
    log_path = plan.report_dir / LOG_NAME
    tail: deque[str] = deque(maxlen=40)
    started = time.monotonic()
    overran = False
    interrupted: str | None = None
    interrupted_after: float | None = None
    with open(log_path, "w", encoding="utf-8") as log, tempfile.TemporaryDirectory(prefix="token-load-") as cwd:
        process = subprocess.Popen(
            command,
            cwd=cwd,  # nothing there can shadow the installed package (module docstring)
            env=locust_environment(plan),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we can end it and its forked workers, only them
        )
        assert process.stdout is not None
        reader = threading.Thread(
            target=_read_lines, args=(process.stdout, redactor, log, tail, on_line), name="locust-output", daemon=True
        )
        try:  # from here on, a signal (even one while the reader starts) stops the child: none outlives us
            reader.start()
            try:
                process.wait(timeout=plan.deadline)
            except subprocess.TimeoutExpired:
                overran = True
                on_line(f"locust: still running {plan.deadline:.0f} s after start; stopping it")
                _terminate_group(process)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM (conformance.interruption): stop Locust the way its own Ctrl-C does, so that it
            # writes its reports and the scenario its summary of what was measured so far.
            interrupted, interrupted_after = last_signal(), time.monotonic() - started
            _stop_interrupted(process, plan.stop_timeout, on_line, interrupted)
        except BaseException:
            # Anything else: never leave a load generator running behind us.
            _terminate_group(process, wait=False)
            raise
        finally:
            if process.poll() is None:  # a signal landed between the steps above: no generator outlives us
                _signal_group(process, signal.SIGKILL)
                process.wait()
            if reader.ident is not None:
                reader.join(timeout=5)
        if overran or interrupted:  # workers forked by --processes may outlive a stopped master: end the group
            _signal_group(process, signal.SIGKILL)
    scrub_files(plan.report_dir, redactor)
    summary = None
    summary_path = plan.report_dir / SUMMARY_NAME
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except ValueError:
            summary = None
    return Outcome(process.returncode, summary, time.monotonic() - started, overran, log_path, list(tail), command,
                   interrupted, interrupted_after)


# --------------------------------------------------------------------------- a worker for a master elsewhere

#: The worker's Locust output (its own file: a master may write locust.log into the same folder).
WORKER_LOG_NAME = "locust-worker.log"
#: Each worker process's own counts at exit (written by the scenario, conformance/load/scenario/listeners.py).
WORKER_SUMMARY_GLOB = "worker-*.json"


@dataclass(frozen=True)
class WorkerPlan:
    """A worker (Locust's --worker) for a master started elsewhere: the scenario and its options come from the
    master; the certificate and credential headers from here."""

    master_host: str
    master_port: int = DEFAULT_MASTER_PORT
    report_dir: Path = Path("reports")
    processes: int | None = None
    master_wait: float = DEFAULT_MASTER_WAIT
    certificate: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def redactor(self) -> Redactor:
        redactor = Redactor([self.certificate])
        for value in self.headers.values():
            redactor.add_header_value(value)
        return redactor


def worker_command(plan: WorkerPlan) -> list[str]:
    """The worker's argv: ``-f -`` takes the master's scenario file, so master and workers always run the same one."""
    argv = [sys.executable, "-m", "locust", "-f", "-", "--worker",
            "--master-host", plan.master_host, "--master-port", str(plan.master_port)]  # fmt: skip
    if plan.processes:
        argv += ["--processes", str(plan.processes)]
    return argv


@dataclass
class WorkerOutcome:
    """How a worker's run went: whether it found its master, and how it ended."""

    returncode: int | None
    connected: bool
    #: "master ended the run", "lost the master", "no master", "interrupted", "ended" (Locust exited by itself)
    ended: str
    elapsed: float
    log_path: Path
    tail: list[str]
    #: Each worker process's own counts (worker-<id>.json), as it wrote them at exit.
    summaries: list[dict[str, Any]]
    interrupted: str | None = None


def run_worker(plan: WorkerPlan, on_line: Callable[[str], None] = lambda s: None) -> WorkerOutcome:
    """Run a Locust worker until its master ends the run; give up after ``master_wait`` s without a master.

    Bounded: until connected, by ``master_wait``; then by the master, which quits its workers when it ends,
    and by Locust's heartbeat: a worker whose master is gone (killed, network) quits after 60 s.
    """
    plan.report_dir.mkdir(parents=True, exist_ok=True)
    for stale in plan.report_dir.glob(WORKER_SUMMARY_GLOB):
        stale.unlink()
    redactor = plan.redactor()
    log_path = plan.report_dir / WORKER_LOG_NAME
    tail: deque[str] = deque(maxlen=40)
    connected = threading.Event()
    started = time.monotonic()
    interrupted: str | None = None
    gave_up = False

    def watch(line: str) -> None:
        if WORKER_CONNECTED in line:
            connected.set()
        on_line(line)

    with open(log_path, "w", encoding="utf-8") as log, tempfile.TemporaryDirectory(prefix="token-worker-") as cwd:
        env = locust_environment(plan)
        env["TMPDIR"] = cwd  # Locust writes the master's scenario file to the temp folder: ours, not a shared /tmp
        process = subprocess.Popen(
            worker_command(plan), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None
        reader = threading.Thread(
            target=_read_lines, args=(process.stdout, redactor, log, tail, watch), name="locust-worker", daemon=True
        )
        try:
            reader.start()
            deadline = started + plan.master_wait
            while not connected.is_set() and process.poll() is None:
                if time.monotonic() > deadline:
                    gave_up = True
                    _terminate_group(process)
                    break
                connected.wait(0.2)
            if not gave_up:
                process.wait()  # the master quits its workers when it ends (or Locust's 60 s heartbeat does)
        except KeyboardInterrupt:
            interrupted = last_signal()
            _stop_interrupted(process, 3.0, on_line, interrupted)
        except BaseException:
            _terminate_group(process, wait=False)
            raise
        finally:
            if process.poll() is None:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            if reader.ident is not None:
                reader.join(timeout=5)
        _signal_group(process, signal.SIGKILL)  # forked worker processes (--processes) never outlive us
    scrub_files(plan.report_dir, redactor)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    if interrupted:
        ended = "interrupted"
    elif gave_up or not connected.is_set():
        ended = "no master"
    elif _MASTER_LOST in text:
        ended = "lost the master"
    elif _MASTER_QUIT in text:
        ended = "master ended the run"
    else:
        ended = "ended"
    summaries = []
    for path in sorted(plan.report_dir.glob(WORKER_SUMMARY_GLOB)):
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError:
            continue
    return WorkerOutcome(process.returncode, connected.is_set(), ended, time.monotonic() - started, log_path,
                         list(tail), summaries, interrupted)


def free_cores(reserve: int = 0) -> tuple[int, str]:
    """``--processes auto``: one generator process per free core, and why that many.

    Free = the cores this process may run on, less the busy ones (the 1-minute load average, rounded), less
    ``reserve`` (the embedded server's); at least 1.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average (Windows)
        load = 0.0
    busy = min(usable, round(load))
    free = max(1, usable - busy - reserve)
    why = (f"{usable} usable core{'s' if usable > 1 else ''}, load average {load:.1f} (about {busy} busy)"
           + (f", {reserve} for the embedded server" if reserve else ""))  # fmt: skip
    return free, why


def scrub_files(folder: Path, redactor: Redactor) -> list[Path]:
    """Remove the certificate from every text file of a run (belt and braces: it is never given to them)."""
    if not redactor:
        return []
    scrubbed = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in (".csv", ".html", ".json", ".log", ".txt"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = redactor.redact(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            scrubbed.append(path)
    return scrubbed


class CredentialRefusal(str):
    """A probe problem where the target *was* reached but refused the request (401/403): the user's fix is the
    credentials, not the address, so it must not be reported as "cannot reach"."""


def unreachable_reason(url: str, path: str, timeout: float = 10.0, *, verify_tls: bool = True,
                       headers: Mapping[str, str] | None = None) -> str | None:
    """One GET before the run: None if the target answered at all (any status but 401/403), else why not
    (a ``CredentialRefusal`` when it answered 401/403).

    Through the suite's bounded client: an overall deadline (a server dripping one
    byte a second cannot hold it), a capped body, no redirects followed.
    """
    # Late on purpose: httpx costs `token-conformance load --help` (which reads this module's defaults) 0.4 s.
    from ..client import TokenServerClient

    client = TokenServerClient(url, timeout=timeout, verify_tls=verify_tls, max_body=64 * 1024, headers=headers)
    try:
        exchange = client.get(path, follow_redirects=False)
    finally:
        client.close()
    if exchange.error is None and exchange.status in (401, 403):
        if not headers:
            return CredentialRefusal(f"the server requires authentication ({exchange.status}); pass it with --header "
                                     "'Name: value' (or $TOKEN_SERVER_HEADERS, --header-file)")
        return CredentialRefusal(f"the server refuses the configured credentials ({exchange.status}): "
                                 "check their values")
    if exchange.error is None:
        return None
    if exchange.error.startswith("no complete response"):
        return f"no answer within {timeout:g} s"
    return exchange.error
