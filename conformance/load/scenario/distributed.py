"""Master and workers (Locust's own distributed mode): who took part, who was lost, and what a worker says.

Imported by ``conformance.load.scenario.summary`` (so by every scenario); it only
registers listeners and keeps its own state, so the scenarios need not know
about it.

Master side:

* every worker that connects is printed as a progress line
  (``[load] worker <id> connected (1 of 2 expected)``): the CLI shows them live
  and, when the workers never all come, says how many arrived;
* while the users run, each worker's state is looked at once a second: a worker
  that goes missing (no heartbeat: killed, network cut) or quits is noted with
  the time; one still gone when the users are stopped is **lost**, and the run
  cannot pass (``workers`` breach: exit 2, or 1 when another SLO broke): the
  load went on with fewer clients than asked;
* what each worker said about itself (host, version, whether it checks
  signatures) goes into the summary (``distributed``).

Worker side: once connected it prints one line (the CLI's sign that the master
was found) and adds to each report what the master needs to know about it —
never its certificate or credential headers, which stay in its environment.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust import argument_parser, events
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from conformance import __version__
from conformance.load.protocol import CERTIFICATE_ENV, PROGRESS_PREFIX
from conformance.load.slo import Breach

#: Key of the worker's self-description in its reports to the master.
REPORT_KEY = "token_conformance_worker"
#: The ``slo`` name of the breach a lost worker causes (the run is not judged: exit 2 unless another SLO broke).
LOST_SLO = "workers"
#: Seconds between looks at the workers' states while the users run.
POLL_INTERVAL = 1.0


@dataclass
class WorkerRecord:
    """What the master knows about one worker."""

    client_id: str
    connected_at: float
    about: dict[str, Any] = field(default_factory=dict)
    reports: int = 0
    last_report_at: float | None = None
    #: When it was first seen missing or gone while the users ran (None: present).
    gone_at: float | None = None
    #: "missing" (no heartbeat: killed, network) or "quit" (it left: Ctrl-C, SIGTERM on the worker).
    how: str | None = None


@dataclass
class MasterState:
    expected: int = 0
    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    started_at: float | None = None
    #: Workers gone when the users were stopped (client id -> record).
    lost: dict[str, WorkerRecord] = field(default_factory=dict)
    stopping_seen: bool = False


MASTER = MasterState()

# A worker handling the master's spawn message builds Locust's whole option parser once per option the master
# sent (``argument_parser.default_args_dict()`` inside a comprehension, Locust 2.47 runners.py): ~100 parsers, which
# blocked a worker's event loop for 4-6 s on this busy 2-core machine, so the master saw no heartbeat, called the
# workers missing and `--processes 2` measured nothing. The defaults never change within a process: build them once.
if not hasattr(argument_parser.default_args_dict, "cache_info"):
    argument_parser.default_args_dict = functools.lru_cache(maxsize=1)(argument_parser.default_args_dict)


def _say(line: str) -> None:
    sys.stderr.write(f"{PROGRESS_PREFIX} {line}\n")
    sys.stderr.flush()


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    runner = runner or environment.runner
    options = environment.parsed_options
    if isinstance(runner, WorkerRunner):
        # Connected: Locust creates the worker runner (and waits for the master's ack) before this event.
        _say(f"worker {runner.client_id} connected to the master at {runner.master_host}:{runner.master_port}")
    elif isinstance(runner, MasterRunner):
        MASTER.expected = int(getattr(options, "expect_workers", 0) or 0) if options is not None else 0
        gevent.spawn(_watch, runner)


@events.worker_connect.add_listener
def _on_worker_connect(client_id: str, **_kwargs: Any) -> None:
    known = client_id in MASTER.workers
    MASTER.workers.setdefault(client_id, WorkerRecord(client_id, time.time()))
    if not known:
        expected = f" of {MASTER.expected} expected" if MASTER.expected else ""
        _say(f"worker {client_id} connected ({len(MASTER.workers)}{expected})")


@events.report_to_master.add_listener
def _on_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    # No secret here: whether a certificate is configured, never the certificate (docs/load.md, "Several machines").
    data[REPORT_KEY] = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
        "signature_checked": bool(os.environ.get(CERTIFICATE_ENV, "").strip()),
    }


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    record = MASTER.workers.setdefault(client_id, WorkerRecord(client_id, time.time()))
    record.reports += 1
    record.last_report_at = time.time()
    about = data.get(REPORT_KEY)
    if isinstance(about, dict):
        record.about = about


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        MASTER.started_at = time.time()
        MASTER.lost = {}
        MASTER.stopping_seen = False
        for record in MASTER.workers.values():
            record.gone_at, record.how = None, None


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    """A worker whose users have just stopped reports at once, while the master still counts it in.

    Locust's worker answers the master's "stop" with "client_stopped", on which the master forgets it until its
    "client_ready" (--stop-timeout later), and discards any report that arrives in between ("Discarded report from
    unrecognized worker"); the final one, at "quit", races the master's 0.5 s wait. On a busy machine the last
    seconds' counts were lost that way (a worker's own counts 17 fetches, the master's 12). Reporting here, before
    "client_stopped" leaves, keeps the master's counts equal to the workers' own.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner._send_stats()


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_kwargs: Any) -> None:
    """The users are about to be stopped: whoever is gone now was lost during the run."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    _look(runner)
    MASTER.stopping_seen = True
    MASTER.lost = {cid: r for cid, r in MASTER.workers.items() if r.gone_at is not None}


def _look(runner: Any) -> None:
    now = time.time()
    for cid, record in MASTER.workers.items():
        client = runner.clients.get(cid)
        gone = "quit" if client is None else "missing" if client.state == STATE_MISSING else None
        if gone and record.gone_at is None:
            record.gone_at, record.how = now, gone
            at = f" {now - MASTER.started_at:.0f} s into the run" if MASTER.started_at else ""
            _say(f"worker {cid} lost{at} ({_HOW[gone]})")
        elif not gone and record.gone_at is not None:
            _say(f"worker {cid} is back (heartbeats again)")
            record.gone_at, record.how = None, None


_HOW = {
    "missing": "no heartbeat for 3 s: killed, crashed or cut off",
    "quit": "it quit: stopped on its machine",
}


def _watch(runner: Any) -> None:
    while True:
        gevent.sleep(POLL_INTERVAL)
        if runner.state in ("spawning", "running") and MASTER.started_at is not None:
            _look(runner)


def lost_breach(environment: Any) -> Breach | None:
    """On a master: the breach naming the workers lost while the users ran, if any."""
    if not isinstance(environment.runner, MasterRunner):
        return None
    lost = MASTER.lost if MASTER.stopping_seen else {}
    if not lost:
        return None
    start = MASTER.started_at or 0.0
    named = ", ".join(
        f"{cid} ({r.about.get('host', '?')}, {_HOW[r.how or 'missing'].split(':')[0]}, "
        f"{(r.gone_at or start) - start:.0f} s into the run)"
        for cid, r in sorted(lost.items())
    )
    message = (
        f"{len(lost)} of {len(MASTER.workers)} workers lost during the run: {named}; the load went on with "
        "fewer clients than asked, so the run is not judged as asked (their counts until then are included)"
    )
    return Breach(LOST_SLO, 0, len(lost), message)


def summary(environment: Any) -> dict[str, Any] | None:
    """The master's view of its workers for the summary (None on a local run or a worker)."""
    if not isinstance(environment.runner, MasterRunner):
        return None
    start = MASTER.started_at
    rows = []
    for cid, record in sorted(MASTER.workers.items()):
        rows.append({
            "id": cid,
            "host": record.about.get("host"),
            "pid": record.about.get("pid"),
            "version": record.about.get("version"),
            "signature_checked": record.about.get("signature_checked"),
            "reports": record.reports,
            "connected_s": round(record.connected_at - start, 2) if start else None,
            "last_report_s": round(record.last_report_at - start, 2) if start and record.last_report_at else None,
            "lost": cid in MASTER.lost,
            "lost_s": round(record.gone_at - start, 2) if start and cid in MASTER.lost and record.gone_at else None,
            "lost_how": record.how if cid in MASTER.lost else None,
        })  # fmt: skip
    versions = sorted({str(r["version"]) for r in rows if r["version"]})
    return {
        "expected": MASTER.expected,
        "connected": len(rows),
        "lost": sorted(MASTER.lost),
        "workers": rows,
        "versions": versions,
        "master_version": __version__,
    }


def signatures_checked_by_workers(environment: Any) -> bool | None:
    """On a master: whether every worker that reported verifies signatures (None: no worker said)."""
    if not isinstance(environment.runner, MasterRunner):
        return None
    said = [r.about["signature_checked"] for r in MASTER.workers.values() if "signature_checked" in r.about]
    return all(said) if said else None
