"""Load's Python API: :class:`LoadOptions` in, :class:`LoadResult` out (``token-conformance load`` is a thin layer).

:func:`run_load` checks the options (a mistake raises :class:`LoadOptionError` before anything starts), chooses the
target (a URL, probed with one GET, or the embedded reference server), runs the Locust child
(``conformance.load.runner``), writes the reports and judges the run: the result carries the exit code
(0 the SLOs held, 1 breached or regressed against the baseline, 2 could not judge), load.json as written, the
report paths and the lines to show. :func:`run_worker` is ``load --worker``. Nothing here imports locust.

Lines shown while the run goes (progress, what runs where) go to the ``show`` callback as they come; the text
summary, the Markdown summary and the closing lines are in the result, redacted, for the caller to print.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..interruption import last_signal, signals_as_interrupt
from ..reference.server import ReferenceServer
from ..report.baseline import LoadComparison, compare_load, load_terminal_lines
from ..settings.load_options import DEFAULT_EXPECT_WORKERS_MAX_WAIT, DEFAULT_MASTER_BIND_HOST, DEFAULT_MASTER_PORT
from .markdown import load_markdown
from .options import (
    BaselineInUse,
    LoadOptionError,
    LoadOptions,
    Prepared,
    Show,
    check_roles,
    parse_seconds,
    prepare,
    prepare_worker,
)
from .protocol import CERTIFICATE_ENV, NO_RENEWAL
from .report import (
    LOAD_JSON,
    PLOTS,
    build_load_json,
    mark_interrupted,
    remove_previous_reports,
    render_html,
    write_baseline_plot,
    write_load_reports,
)
from .runner import (
    GAVE_UP_WAITING,
    CredentialRefusal,
    LoadPlan,
    MasterSpec,
    run_locust,
    unreachable_reason,
)
from .runner import run_worker as run_locust_worker
from .terminal import failure_reasons_line, text_summary

__all__ = ["LoadOptionError", "LoadOptions", "LoadResult", "parse_seconds", "run_load", "run_worker"]

@dataclass
class LoadResult:
    """How a run ended: the exit code, load.json as written (None when none was), and what to print.

    ``summary`` goes to stdout, then ``markdown`` to the CI summary (--summary-md, $GITHUB_STEP_SUMMARY; None:
    nothing to write), then ``messages`` to stderr, in that order. All three are redacted.
    """

    exit_code: int
    document: dict[str, Any] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    comparison: LoadComparison | None = None
    summary: str | None = None
    markdown: str | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """"passed" (exit 0), "failed" (1: an SLO breached, or a regression against the baseline), "interrupted",
        or "not judged" (2: could not run or judge)."""
        return verdict_of(self.exit_code, self.document)

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The judged steps of a stepped scenario (capacity, ramp); empty for the others."""
        doc = self.document or {}
        for key in ("capacity", "ramp"):
            steps = (doc.get(key) or {}).get("steps")
            if steps:
                return list(steps)
        return []


def verdict_of(exit_code: int, document: dict[str, Any] | None) -> str:
    """LoadResult.verdict, and load.json's ``verdict``: the same word for the same run."""
    if document is not None and document.get("interrupted"):
        return "interrupted"
    return {0: "passed", 1: "failed"}.get(exit_code, "not judged")


def _print_show(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- a run -----------------------------------------------------------------------------------------------------


def run_load(options: LoadOptions, show: Show = _print_show) -> LoadResult:
    """One load run (or ``options.worker``: :func:`run_worker`). Raises :class:`LoadOptionError` before it starts.

    SIGINT and SIGTERM end the run as "interrupted" (exit 2): Locust and the embedded server are stopped and
    load.json keeps what was measured (conformance/interruption.py, conformance.load.runner).
    """
    opts = dataclasses.replace(options)  # resolved in place (users, processes, run time): the caller's stays
    check_roles(opts)
    if opts.worker:
        return run_worker(opts, show)
    prepared, auto_note = prepare(opts, show)
    if auto_note:
        show(f"load: {auto_note}")
    started = time.monotonic()
    with signals_as_interrupt():
        try:
            return _run_on_target(prepared, show)
        except KeyboardInterrupt:
            return _interrupted(prepared, time.monotonic() - started)


def _interrupted(run: Prepared, elapsed: float) -> LoadResult:
    """Interrupted outside Locust's run (probe, server start, report writing): load.json says so anyway.

    Written with whatever this run has measured, or the bare document: a stale load.json of an earlier run must
    not pass for this one.
    """
    opts = run.opts
    signal_name = last_signal()
    if run.measured:
        doc = run.measured[-1]
    else:
        doc = build_load_json({}, scenario=opts.scenario, target=run.url or "embedded reference server",
                              embedded=run.url is None, plan={"users": opts.users, "run_time_s": run.run_time})
    if not doc.get("interrupted"):
        mark_interrupted(doc, signal_name, elapsed, lost=None if run.measured else "before the load started")
    path = run.report_dir / LOAD_JSON
    try:
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    except OSError:
        pass
    return LoadResult(
        exit_code=2,
        document=doc,
        files={"load_json": path},
        markdown=None if run.measured else load_markdown(doc),  # CI pages show the Markdown summary: it says so too
        messages=[f"token-conformance load: {doc['reason']} (exit 2; report: {path})"],
    )


def _plan_for(run: Prepared, target: str, certificate: str | None, app_id: str | None) -> LoadPlan:
    opts = run.opts
    master = None
    if opts.master:
        assert opts.expect_workers is not None
        master = MasterSpec(
            expect_workers=opts.expect_workers,
            bind_host=opts.master_bind_host or DEFAULT_MASTER_BIND_HOST,
            bind_port=opts.master_bind_port or DEFAULT_MASTER_PORT,
            max_wait=opts.expect_workers_max_wait or DEFAULT_EXPECT_WORKERS_MAX_WAIT,
        )
    options = dict(run.values)
    if app_id:
        options["app_id"] = app_id
    assert opts.users is not None and not isinstance(opts.processes, str)
    return LoadPlan(
        scenario=opts.scenario,
        url=target,
        users=opts.users,
        spawn_rate=opts.spawn_rate,
        run_time=run.run_time,
        report_dir=run.report_dir,
        stop_timeout=run.stop_timeout,
        processes=opts.processes,
        thresholds=run.thresholds,
        scenario_options=options,
        progress_interval=opts.progress_interval,
        certificate=certificate,
        headers=run.headers,
        master=master,
    )


def _run_on_target(run: Prepared, show: Show) -> LoadResult:
    if run.url is not None:
        # Any answer will do (a POST shape answers a GET with 405): the probe asks whether the target is there.
        profile = run.config.profile
        probe_path = profile.rtc_request("load-probe", "publisher", "uid", "1", lenient=True,
                                         expiry=run.config.expiry if profile.expiry_input else None).path
        problem = unreachable_reason(
            run.url,
            probe_path,
            timeout=run.config.request_timeout,
            verify_tls=not run.config.insecure,
            headers=run.headers,
        )
        if problem:
            # A 401/403 is an answer: the address is right, the credentials are not.
            refused = isinstance(problem, CredentialRefusal)
            what = f"{run.url} refused the probe request" if refused else f"cannot reach {run.url}"
            remove_previous_reports(run.report_dir, keep=run.opts.baseline)
            return LoadResult(exit_code=2, messages=[f"token-conformance load: error: {what}: {problem}"])
        return _execute(run, _plan_for(run, run.url, run.certificate, None), show, embedded=False)
    with ReferenceServer() as server:
        plan = _plan_for(run, server.url, server.settings.certificate, server.settings.app_id)
        return _execute(run, plan, show, embedded=True)


def _against_baseline(baseline: BaselineInUse, doc: dict[str, Any], files: dict[str, Path]) -> LoadComparison:
    """Compare, plot both runs side by side, and add both to load.json and load.html."""
    comparison = compare_load(baseline.document, doc, baseline_path=baseline.path)
    comparison.notes = baseline.notes
    doc["baseline"] = comparison.as_dict()
    images = {name: files[name] for name in PLOTS if name in files}
    images["baseline"] = write_baseline_plot(baseline.document, doc, files["load_json"].with_name("baseline.png"))
    doc.setdefault("files", {})["baseline"] = "baseline.png"
    files["load_json"].write_text(json.dumps(doc, indent=2), encoding="utf-8")
    files["load_html"].write_text(render_html(doc, images), encoding="utf-8")
    return comparison


def _execute(run: Prepared, plan: LoadPlan, show_raw: Show, *, embedded: bool) -> LoadResult:
    redactor = plan.redactor()

    def show(line: str) -> None:
        show_raw(redactor.redact(line))

    where = f"{plan.url} (embedded reference server)" if embedded else plan.url
    show(
        f"load: {plan.scenario} against {where}: "
        + ("" if plan.scenario == "capacity" else f"{plan.users} users, ")
        + f"{plan.run_time} s"
        + (f", {plan.processes} processes" if plan.processes else "")
        + (f", master for {plan.master.expect_workers} worker{'s' if plan.master.expect_workers > 1 else ''} "
           f"listening on {plan.master.bind_host}:{plan.master.bind_port} (waiting up to {plan.master.max_wait} s "
           "for them)" if plan.master else "")
    )
    if plan.master:
        show("load: the workers check the tokens, each with the certificate and headers of its own environment")
    elif not plan.certificate:
        show(
            "load: signatures are NOT checked: no app certificate "
            f"(give it in {CERTIFICATE_ENV} or --certificate-file to verify every token's signature)"
        )
    outcome = run_locust(plan, show)
    if outcome.summary is None and not outcome.interrupted and plan.master:
        arrived = _workers_arrived(outcome.log_path)
        if arrived is not None:
            return _too_few_workers(plan, embedded, arrived)
    if outcome.summary is None and not outcome.interrupted:
        messages = [f"token-conformance load: error: Locust exited with code {outcome.returncode} and left no summary"]
        messages += ["  " + line for line in outcome.tail[-15:]]
        messages.append(f"  full log: {outcome.log_path}")
        return LoadResult(exit_code=2, messages=[redactor.redact(m) for m in messages])
    summary = outcome.summary or {}
    plan_info: dict[str, Any] = {
        "users": plan.users,
        "spawn_rate": plan.spawn_rate,
        "run_time_s": plan.run_time,
        "stop_timeout_s": plan.stop_timeout,
        "processes": plan.processes,
        "locust_exit_code": outcome.returncode,
        "overran": outcome.overran,
        "interrupted": outcome.interrupted,
    }
    if plan.master:
        plan_info["master"] = {"expect_workers": plan.master.expect_workers, "bind_host": plan.master.bind_host,
                               "bind_port": plan.master.bind_port, "max_wait_s": plan.master.max_wait}
    doc = build_load_json(summary, scenario=plan.scenario, target=plan.url, embedded=embedded, plan=plan_info)
    if outcome.summary is None:  # killed before it reported: the limits it was given, at least
        doc["slo"]["thresholds"] = plan.thresholds.as_dict()
    if outcome.interrupted:
        mark_interrupted(doc, outcome.interrupted, outcome.interrupted_after or outcome.elapsed,
                         lost=None if outcome.summary else "Locust ended without reporting")
    run.measured.append(doc)
    files = write_load_reports(plan.report_dir, doc, outcome.summary)
    comparison = (  # partial figures of an interrupted run are no measurement to compare
        _against_baseline(run.baseline, doc, files)
        if run.baseline and doc["requests"] and not outcome.interrupted
        else None
    )
    text = redactor.redact(text_summary(doc, files))
    if comparison is not None:
        text += "\n" + "\n".join(load_terminal_lines(comparison))
    code, messages = _judge(doc, outcome.interrupted, outcome.overran, comparison, files)
    # Every load.json says how the run ended, as LoadResult does (an interrupted one already does).
    doc.setdefault("verdict", verdict_of(code, doc))
    doc.setdefault("exit_code", code)
    files["load_json"].write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return LoadResult(
        exit_code=code,
        document=doc,
        files=files,
        comparison=comparison,
        summary=text,
        markdown=redactor.redact(load_markdown(doc)),
        messages=[redactor.redact(m) for m in messages],
    )


def _judge(doc: dict[str, Any], interrupted: str | None, overran: bool, comparison: LoadComparison | None,
           files: dict[str, Path]) -> tuple[int, list[str]]:
    """The exit code of a run that left a report, and the lines that say why."""
    if interrupted:
        return 2, [f"token-conformance load: {doc['reason']} (exit 2; report: {files['load_json']})"]
    if overran:
        return 2, ["token-conformance load: error: Locust overran its time bound and was stopped; results are partial"]
    if doc["requests"] == 0:
        return 2, ["token-conformance load: error: no token request completed; nothing to judge"]
    messages: list[str] = []
    # A breach is a finding (exit 1); a run that renewed nothing, or whose latency is the generator's, and
    # breached nothing else judged too little (2).
    gen = doc.get("generator") or {}
    if gen.get("bound"):
        messages.append("token-conformance load: the generator was the bottleneck: " + "; ".join(gen.get("reasons", [])))
        messages.append(f"  what to do: {gen.get('advice')}")
    breaches = [b for b in doc["slo"]["breaches"] if b["slo"] not in ("renewals", "generator", "workers")]
    if breaches and doc["renew"]["requests"] == 0:
        # A finding wins over "could not judge" (README, docs/load.md): failures, invalid tokens or dropped
        # sessions stand whether or not anything was renewed. Say that renewal was not judged, though: first,
        # so that the breach stays the last line.
        messages.append("token-conformance load: note: no renewal was made, so renewal was not judged; "
                        "the SLO breached below decides the exit code (1)")
    for breach in breaches:
        messages.append(f"SLO breached: {breach['slo']}: {breach['message']}")
        if breach["slo"] == "failure_ratio" and doc["failure_reasons"]:
            messages.append(f"  why: {failure_reasons_line(doc['failure_reasons'])}")
    if breaches:
        return 1, messages
    if doc["renew"]["requests"] == 0:
        return 2, [*messages, f"token-conformance load: error: {NO_RENEWAL}"]
    lost = [b for b in doc["slo"]["breaches"] if b["slo"] == "workers"]
    if lost:
        return 2, [*messages, f"token-conformance load: error: {lost[0]['message']}"]
    if any(b["slo"] == "generator" for b in doc["slo"]["breaches"]):
        return 2, [*messages, "token-conformance load: error: no verdict on latency measured by a saturated generator"]
    if not doc["slo"]["passed"]:
        return 1, messages
    return (1 if comparison is not None and comparison.regressions else 0), messages


_ARRIVED = re.compile(r"worker (\S+) connected \((\d+)")


def _workers_arrived(log_path: Path) -> list[str] | None:
    """The workers that connected, when the master gave up waiting for the rest (None: it did not give up)."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if GAVE_UP_WAITING not in text:
        return None
    return list(dict.fromkeys(m.group(1) for m in _ARRIVED.finditer(text)))


def _too_few_workers(plan: LoadPlan, embedded: bool, arrived: list[str]) -> LoadResult:
    """The master gave up waiting: exit 2, saying how many came; load.json says so (no stale report passes)."""
    assert plan.master is not None
    expected = plan.master.expect_workers
    names = f" ({', '.join(arrived)})" if arrived else ""
    reason = (f"the master waited {plan.master.max_wait} s for {expected} worker{'s' if expected > 1 else ''}: "
              f"{len(arrived)} arrived{names}; no load was run (start the workers with --worker --master-host "
              f"<this machine> --master-port {plan.master.bind_port}, or lower --expect-workers)")
    doc = build_load_json({}, scenario=plan.scenario, target=plan.url, embedded=embedded,
                          plan={"users": plan.users, "run_time_s": plan.run_time, "expect_workers": expected})
    doc.update(verdict="not judged", exit_code=2, reason=reason,
               distributed={"expected": expected, "connected": len(arrived), "workers": [{"id": w} for w in arrived],
                            "lost": []})
    doc["slo"]["thresholds"] = plan.thresholds.as_dict()
    path = plan.report_dir / LOAD_JSON
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return LoadResult(exit_code=2, document=doc, files={"load_json": path}, markdown=load_markdown(doc),
                      messages=[f"token-conformance load: error: {reason} (exit 2; report: {path})"])


# --- a worker machine --------------------------------------------------------------------------------------------


def run_worker(options: LoadOptions, show_raw: Show = _print_show) -> LoadResult:
    """``load --worker``: serve a master until it ends the run; exit 0 then, 2 without a master or when it is lost."""
    plan, note = prepare_worker(dataclasses.replace(options))
    processes = plan.processes
    redactor = plan.redactor()

    def show(line: str) -> None:
        show_raw(redactor.redact(line))

    if note:
        show(f"load: {note}")
    show(f"load: worker for the master at {plan.master_host}:{plan.master_port}"
         + (f", {processes} processes" if processes else "")
         + f" (waiting up to {plan.master_wait:g} s for it)")
    if not plan.certificate:
        show(f"load: signatures are NOT checked on this worker: no app certificate (give it in {CERTIFICATE_ENV} "
             "or --certificate-file)")
    with signals_as_interrupt():
        outcome = run_locust_worker(plan, show)
    counts: dict[str, int] = {}
    for doc in outcome.summaries:
        for key, n in ((doc.get("tally") or {}).get("counts") or {}).items():
            counts[key] = counts.get(key, 0) + int(n)
    own = (f"this machine's workers sent {counts.get('fetch', 0)} fetches and {counts.get('renew', 0)} renewals "
           f"({counts.get('invalid', 0)} invalid tokens); counts in {plan.report_dir}/worker-*.json")

    def ended(code: int, *lines: str) -> LoadResult:
        return LoadResult(exit_code=code, messages=[redactor.redact(line) for line in lines])

    if outcome.ended == "master ended the run" and not counts.get("fetch") and not counts.get("renew"):
        return ended(2, f"token-conformance load: error: the master ended the run before this machine's workers "
                     f"sent any request (did it give up waiting for its workers, or have fewer users than "
                     f"workers?); {own}")
    if outcome.ended == "master ended the run":
        return LoadResult(exit_code=0, summary=f"worker: the master ended the run; {own}")
    if outcome.ended == "no master":
        return ended(2, f"token-conformance load: error: no master answered at {plan.master_host}:{plan.master_port} "
                     f"within {plan.master_wait:g} s (is it started with --master, is the port open?); "
                     f"log: {outcome.log_path}")
    if outcome.ended == "lost the master":
        return ended(2, f"token-conformance load: error: lost the master (no heartbeat for 60 s); {own}")
    if outcome.ended == "interrupted":
        return ended(2, f"token-conformance load: worker interrupted by {outcome.interrupted}; {own}")
    return ended(2, f"token-conformance load: error: the worker ended (Locust exit code {outcome.returncode}) "
                 f"without the master ending the run; log: {outcome.log_path}",
                 *("  " + line for line in outcome.tail[-10:]))
