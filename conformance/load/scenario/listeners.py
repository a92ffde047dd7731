"""The Locust event listeners every scenario needs, registered once by :func:`register` (token_client.py calls it,
so every scenario's client brings them). They

* add the scenario options to Locust's parser (options.py);
* configure the run from the options, start the generator's self-measurement and the progress lines;
* aggregate the per-renewal detail from workers (``report_to_master`` / ``worker_report``), so a distributed run
  adds up like a local one;
* at exit, write the run's summary for ``token-conformance load`` (``--summary-file``) and set Locust's exit code
  from it (summary.py), or on a worker its own counts (``$TOKEN_LOAD_WORKER_SUMMARY_DIR``).

The capacity scenario adds its own (arrivals.py, capacity.py); the ramp and renew_storm their options.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from conformance.load.protocol import TALLY_KEY, WORKER_SUMMARY_DIR_ENV
from conformance.load.scenario import generator
from conformance.load.scenario.options import add_scenario_options, scenario_config
from conformance.load.scenario.run_state import SELF_MEASUREMENT, STATE
from conformance.load.scenario.summary import build_summary, print_progress
from conformance.load.scenario.validation import OptionError

logger = logging.getLogger("conformance.loadtests")  # the name locust.log has always shown

#: Whether :func:`register` has run in this process.
_registered = False


def register() -> None:
    """Add the options and the listeners to Locust's events, once per process whichever scenario asks first."""
    global _registered
    if _registered:
        return
    _registered = True
    events.init_command_line_parser.add_listener(add_scenario_options)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stop.add_listener(_on_test_stop)
    events.spawning_complete.add_listener(_on_spawned)
    events.report_to_master.add_listener(_on_report)
    events.worker_report.add_listener(_on_worker_report)
    events.quitting.add_listener(_on_quitting)


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
        gevent.spawn(print_progress, environment, float(options.progress_interval))
    # Locust sets its --run-time timer right after this event, from the event loop's cached clock, which has not
    # moved since the loop last ran: on a busy machine the imports before it took seconds, and a 4 s run was
    # stopped 0.35 s after it started (clients that wait for their random start then sent nothing). Refresh it.
    gevent.get_hub().loop.update_now()


def _on_test_start(environment: Any, **_kwargs: Any) -> None:
    # A worker receives the master's options just before this event: configure from them.
    STATE.reset()
    SELF_MEASUREMENT.reset()
    STATE.started_at = time.time()
    if environment.parsed_options is not None:
        STATE.config = scenario_config(environment.parsed_options)


def _on_test_stop(environment: Any, **_kwargs: Any) -> None:
    STATE.stopped_at = time.time()


def _on_spawned(user_count: int, **_kwargs: Any) -> None:
    STATE.max_users = max(STATE.max_users, user_count)


def _on_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    assert STATE.recorded is not None and STATE.own is not None
    delta = STATE.recorded.take()
    STATE.own.merge(delta)
    data[TALLY_KEY] = delta
    data[generator.REPORT_KEY] = SELF_MEASUREMENT.figures("worker", client_id)


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
    if summary["exit_code"]:
        # Plain `locust -f` shows only its tables and "exit code 1": say why (under `token-conformance load` this
        # line goes to locust.log, the CLI prints its own verdict).
        reasons = [b["message"] for b in summary["slo"]["breaches"]] or ["no token request completed"]
        sys.stderr.write(f"token-conformance scenario: exit {summary['exit_code']}: {'; '.join(reasons)}\n")
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
