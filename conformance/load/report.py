"""Turn a run's summary into ``load.json``, the plots and a self-contained ``load.html``.

``load.json`` is the machine-readable verdict (its documented keys: scenario,
target, requests, failures, fetch, renew, cycles, dropped, invalid_tokens, slo;
more are added, never renamed). The numbers come from Locust's own aggregated
rows (so they match its CSV and HTML reports, across workers) and the SLO
verdict from the scenario, which judged them with ``conformance.load.slo``.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..report.baseline import load_html_section as baseline_html
from ..stats import quantile
from .protocol import FETCH, RENEW
from .runner import CSV_PREFIX, HTML_NAME, LOG_NAME, OUTPUT_NAMES, SUMMARY_NAME

LOAD_JSON = "load.json"
LOAD_HTML = "load.html"
PLOTS = {"latency": "latency.png", "rate": "rate.png", "renewal_leads": "renewal_leads.png",
         "capacity": "capacity.png"}
BASELINE_PNG = "baseline.png"
#: The files of a run that could be read as its verdict: a run that stops before it measures must not leave the
#: last run's behind (locust_summary.json says "exit_code": 0, locust.html and the CSVs show its figures).
VERDICT_FILES = (LOAD_JSON, LOAD_HTML, *OUTPUT_NAMES, *PLOTS.values(), BASELINE_PNG)


def remove_previous_reports(report_dir: str | Path, keep: str | Path | None = None) -> None:
    """A run that judged nothing (a usage error, an unreachable target): a green load.json of the last run must
    not stay for CI to read, nor Locust's reports and the plots of that run. ``keep``: the --baseline file, which
    may be the last run's load.json (or any file of that folder): it stays."""
    kept = Path(keep).resolve() if keep else None
    for name in VERDICT_FILES:
        path = Path(report_dir) / name
        try:
            if kept is None or path.resolve() != kept:
                path.unlink(missing_ok=True)
        except OSError:
            pass  # not ours to fix: the error that stopped the run is what the user needs to see


def _kind(rows: dict[str, Any], kind: str, seconds: float | None) -> dict[str, Any]:
    """One kind of request over all its rows (there is one route per kind; be safe with more).

    ``rps`` is requests over the run's measured time (``seconds``), not Locust's
    ``total_rps``, which divides by the span between the first and the last
    request: 5 fetches sent in the first 14 ms of a 3 s run would read 351/s.
    """
    entries = [e for e in rows.get(kind, {}).values() if e.get("requests")]
    if not entries:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "rps": 0.0, "requests": 0, "failures": 0}
    requests = sum(e["requests"] for e in entries)
    if seconds and seconds > 0:
        rps = round(requests / seconds, 3)
    else:  # an old summary without the run's times: Locust's figure
        rps = round(sum(e["rps"] for e in entries), 3)
    if len(entries) == 1:
        e = entries[0]
        return {
            "p50_ms": e["p50_ms"],
            "p95_ms": e["p95_ms"],
            "p99_ms": e["p99_ms"],
            "rps": rps,
            "requests": e["requests"],
            "failures": e["failures"],
        }
    return {  # several rows: the slowest row's percentiles (conservative), summed counts and rates
        "p50_ms": max(e["p50_ms"] for e in entries),
        "p95_ms": max(e["p95_ms"] for e in entries),
        "p99_ms": max(e["p99_ms"] for e in entries),
        "rps": rps,
        "requests": requests,
        "failures": sum(e["failures"] for e in entries),
    }


def lead_stats(leads: list[float], total: int) -> dict[str, Any]:
    """Summary of the renewal leads (seconds before the old token expired)."""
    if not leads:
        return {"count": total, "min": None, "p5": None, "p50": None, "max": None, "late": 0}
    values = sorted(leads)
    return {
        "count": total,
        "sampled": len(values),
        "min": values[0],
        "p5": quantile(values, 0.05),
        "p50": quantile(values, 0.5),
        "max": values[-1],
        "late": sum(1 for v in values if v <= 0),
    }


def per_second(rows: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kind in (FETCH, RENEW):
        merged: dict[str, int] = {}
        for entry in rows.get(kind, {}).values():
            for second, n in entry.get("per_second", {}).items():
                merged[second] = merged.get(second, 0) + int(n)
        out[kind] = merged
    return out


def build_load_json(
    summary: dict[str, Any], *, scenario: str, target: str, embedded: bool, plan: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The load.json document from the scenario's summary and the run's plan (users, run time...).

    Like conformance.json it says when it was written and by which tool (``generated_at``, ``tool``), and when
    the load itself started (``started_at``), so two runs' documents can be told apart and ordered.
    """
    rows = summary.get("rows", {})
    observed = summary.get("observed", {})
    tally = summary.get("tally", {})
    counts = tally.get("counts", {})
    seconds = per_second(rows)
    totals: dict[str, int] = {}
    for kind_counts in seconds.values():
        for second, n in kind_counts.items():
            totals[second] = totals.get(second, 0) + n
    requests = int(observed.get("requests", 0))
    failures = int(observed.get("failures", 0))
    started = summary.get("started_at")
    ended = summary.get("stopped_at") or summary.get("ended_at")
    duration = ended - started if started and ended else None
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    doc: dict[str, Any] = {
        "generated_at": _iso(when),
        "started_at": _iso(datetime.fromtimestamp(started, timezone.utc)) if started else None,
        "tool": {"name": "token-conformance", "version": __version__},
        "scenario": scenario,
        "target": target,
        "embedded_reference_server": embedded,
        "requests": requests,
        "failures": failures,
        "failure_ratio": round(failures / requests, 6) if requests else 0.0,
        "fetch": _kind(rows, FETCH, duration),
        "renew": _kind(rows, RENEW, duration),
        "cycles": int(counts.get("cycles", 0)),
        "dropped": int(observed.get("dropped", 0)),
        "invalid_tokens": int(observed.get("invalid", 0)),
        # Rate-limited answers (429 / 503 + Retry-After): waited out and retried, never counted as failures.
        "rate_limited": int(observed.get("limited", 0)),
        "slo": {
            "passed": bool(summary.get("slo", {}).get("passed")),
            "breaches": list(summary.get("slo", {}).get("breaches", [])),
            "thresholds": summary.get("thresholds", {}),
        },
        "sessions": {
            "started": int(counts.get("sessions_started", 0)),
            "completed": int(counts.get("sessions_completed", 0)),
        },
        "invalid_reasons": tally.get("invalid_reasons", {}),
        "dropped_reasons": tally.get("dropped_reasons", {}),
        "failure_reasons": tally.get("failure_reasons", {}),
        "examples": tally.get("examples", {}),
        "renewal_lead_s": lead_stats(list(tally.get("leads", [])), int(tally.get("leads_total", 0))),
        "peak_rps": max(totals.values(), default=0),
        "duration_s": round(duration, 2) if duration else None,
        "max_users": summary.get("max_users"),
        "mode": summary.get("mode"),
        "workers": summary.get("workers", {}),
        "options": summary.get("options", {}),
        "plan": plan,
    }
    extra = summary.get("extra", {})
    if "ramp" in extra:
        doc["knee"] = extra["ramp"].get("knee")
        doc["ramp"] = extra["ramp"]
    if "storm" in extra:
        doc["storm"] = extra["storm"]
    if "capacity" in extra:
        doc["capacity"] = extra["capacity"]
        doc["knee"] = extra["capacity"].get("knee")  # only when the server broke an SLO (None otherwise)
    doc["generator"] = summary.get("generator") or {}
    if summary.get("distributed"):  # a master: each worker, whether it was lost (conformance/load/scenario/distributed.py)
        doc["distributed"] = summary["distributed"]
    return doc


#: ``ended_by`` of a stepped scenario (capacity, ramp) that a signal ended.
INTERRUPTED = "interrupted"


def mark_interrupted(doc: dict[str, Any], signal_name: str, elapsed_s: float, *, lost: str | None = None) -> None:
    """Make ``doc`` say the run was interrupted: partial figures, no SLO verdict, exit 2.

    ``slo.passed`` becomes false (a gate reading only that key must not see green) and
    ``slo.judged`` false (it was not breached either); ``verdict``, ``reason`` and
    ``exit_code`` say what happened; ``lost`` why no figure was kept, if none was.
    """
    run_time = (doc.get("plan") or {}).get("run_time_s")
    of = f" of the {run_time} s run" if run_time else ""
    what = f"{lost}: no figure was kept" if lost else "the figures are what was measured until then"
    doc["interrupted"] = signal_name
    doc["verdict"] = "interrupted"
    doc["exit_code"] = 2
    doc["reason"] = f"interrupted by {signal_name} after {elapsed_s:.1f} s{of}: {what}; the SLOs were not judged"
    doc["slo"]["passed"] = False
    doc["slo"]["judged"] = False
    for key in ("capacity", "ramp"):
        # The scenario's child sees Locust stopping, not why: it records "run time". The signal ended it.
        stepped = doc.get(key)
        if isinstance(stepped, dict) and stepped.get("ended_by") in (None, "run time"):
            stepped["ended_by"] = INTERRUPTED


def verdict_text(doc: dict[str, Any]) -> str:
    """The report's headline: 'SLOs held', 'SLOs breached', or 'interrupted (...)'."""
    if doc.get("interrupted"):
        return f"interrupted by {doc['interrupted']}: SLOs not judged"
    return "SLOs held" if doc["slo"]["passed"] else "SLOs breached"


def write_baseline_plot(baseline: dict[str, Any], now: dict[str, Any], path: Path) -> Path:
    """baseline.png: this run's percentiles and throughput beside the baseline's."""
    from .plots import baseline_plot

    return baseline_plot(baseline, now, path)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


# Late imports: the plots (matplotlib) are imported by the two functions that draw them. At the top they made
# `python -c "import conformance.load.api"` 2.7x slower (0.53 s -> 1.49 s of CPU, 32 -> 75 MiB, farm-bench medians):
# a load that stops on a usage error or an unreachable target, and every `load --worker`, would pay that first.


def write_plots(report_dir: Path, summary: dict[str, Any], max_p95_ms: float | None) -> dict[str, Path]:
    from . import plots

    origin = summary.get("started_at")
    history = plots.read_history(report_dir / f"{CSV_PREFIX}_stats_history.csv", origin)
    tally = summary.get("tally", {})
    margin = summary.get("options", {}).get("renew_margin_s")
    capacity = (summary.get("extra") or {}).get("capacity")
    for stale in PLOTS.values():  # a plot this run does not draw must not be an earlier run's
        (report_dir / stale).unlink(missing_ok=True)
    if capacity is not None:
        # An open model: no users (one arrival loop per process) and no renewal schedule to judge; the steps are
        # the finding. Offered rate over time on the rate plot, latency against the offered rate with the knee.
        steps = capacity.get("steps") or []
        targets = [(s.get("started_s", 0.0), s.get("started_s", 0.0) + s.get("seconds", 0.0), s["target_rps"])
                   for s in steps]
        return {
            "capacity": plots.capacity_plot(steps, report_dir / PLOTS["capacity"], capacity.get("knee"), max_p95_ms),
            "latency": plots.latency_plot(history, report_dir / PLOTS["latency"], max_p95_ms),
            "rate": plots.rate_plot(history, per_second(summary.get("rows", {})), report_dir / PLOTS["rate"], origin,
                                    targets=targets),
        }
    return {
        "latency": plots.latency_plot(history, report_dir / PLOTS["latency"], max_p95_ms),
        "rate": plots.rate_plot(history, per_second(summary.get("rows", {})), report_dir / PLOTS["rate"], origin),
        "renewal_leads": plots.leads_histogram(
            list(tally.get("leads", [])), report_dir / PLOTS["renewal_leads"], margin
        ),
    }


def capacity_line(capacity: dict[str, Any]) -> str:
    """The capacity scenario's finding in one line (terminal, load.html, Markdown): what was measured, and
    what was not. It tells the same story as the generator line and the exit code (docs/load.md)."""
    knee = capacity.get("knee")
    steps = capacity.get("steps") or []
    held = capacity.get("highest_held_rps")
    if knee:
        if knee.get("rps") is None:
            return (f"no rate held: the server broke {', '.join(knee['broken'])} even at "
                    f"{knee['broke_at_rps']:g} requests/s")
        return (
            f"knee: {knee['rps']:g} requests/s held (achieved {knee.get('achieved_rps')}/s); the server broke "
            f"{', '.join(knee['broken'])} at {knee['broke_at_rps']:g} requests/s"
        )
    if capacity.get("limited_by") == "generator":
        at = capacity.get("generator_bound_at_rps") or (steps[-1].get("target_rps", 0) if steps else 0)
        measured = f"the server held up to {held:g} requests/s" if held else "no step held"
        return (
            f"no knee: generator-bound at {at:g} requests/s: {measured}; rates from {at:g} requests/s up were not "
            "measured. Add generator processes (--processes N, one per free core) or Locust workers on other "
            "machines (docs/load.md)"
        )
    if not steps:
        return "no step was judged: the run ended before its first step did"
    ended = str(capacity.get("ended_by") or "")
    if ended == INTERRUPTED:  # a lower bound too, but more run time would not have helped: the user stopped it
        measured = f"the server held up to {held:g} requests/s" if held else "no step had held yet"
        return f"no knee found before the run was interrupted: {measured}"
    if ended.startswith("every step held"):
        return f"no knee up to {held or 0:g} requests/s: {ended} (the plan's --max-rate)"
    return (f"no knee found before the run ended ({ended or 'run time'}): the server held up to {held or 0:g} "
            "requests/s, a lower bound; give --run-time more room (or leave it at its default)")


def step_rows(capacity: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per step, as the per-step table shows it (target, achieved, p50, p95, failures, generator)."""
    rows = []
    for s in capacity.get("steps") or []:
        gen = s.get("generator") or {}
        conns = s.get("connections") or {}
        p95 = max((v for v in (s.get("p95_ms") or {}).values() if v is not None), default=None)
        if s.get("held"):
            verdict = "held"
        else:
            who = "generator" if gen.get("bound") else "server"
            verdict = f"broke ({who}): " + "; ".join(b.get("message", b.get("slo", "")) for b in s.get("breaches", []))
        cpu = gen.get("cpu")
        rows.append({
            "step": s.get("step"),
            "target": s.get("target_rps"),
            "achieved": s.get("achieved_rps"),
            "sent": s.get("sent"),
            "seconds": s.get("seconds"),
            "p50": s.get("p50_ms"),
            "p95": p95,
            "failures": s.get("failures", round((s.get("failure_ratio") or 0) * (s.get("requests") or 0))),
            "connections": (f"{conns.get('per_process')}" if conns.get("processes", 1) == 1 else
                            f"{conns.get('per_process')} x {conns.get('processes')} processes")
            + (f" ({conns['used']} carried requests)" if conns.get("used") is not None else ""),
            "generator": ("BOUND: " if gen.get("bound") else "ok: ")
            + f"lag p50 {_fmt(gen.get('lag_p50_ms'))} ms, late p50 {_fmt(gen.get('late_p50_ms'))} ms, "
            + f"CPU {'–' if cpu is None else f'{cpu:.0%}'}",
            "partial": bool(s.get("partial")),
            "verdict": verdict,
        })  # fmt: skip
    return rows


def _step_table(capacity: dict[str, Any]) -> str:
    e = html.escape
    head = ("<tr><th>step</th><th>target /s</th><th>achieved /s</th><th>sent</th><th>p50</th><th>p95</th>"
            "<th>failures</th><th>connections</th><th>generator</th><th>verdict</th></tr>")
    body = []
    for r in step_rows(capacity):
        step = f"{r['step']}" + (f" (partial, {r['seconds']:g} s)" if r["partial"] else "")
        body.append(
            f"<tr><td>{e(step)}</td><td>{_fmt(r['target'])}</td><td>{_fmt(r['achieved'])}</td><td>{_fmt(r['sent'])}</td>"
            f"<td>{_fmt(r['p50'], ' ms')}</td><td>{_fmt(r['p95'], ' ms')}</td><td>{_fmt(r['failures'])}</td>"
            f"<td>{e(str(r['connections']))}</td><td>{e(r['generator'])}</td><td>{e(r['verdict'])}</td></tr>"
        )
    plan = capacity.get("plan")
    return (f"<h2>Steps</h2><p>{e(str(plan)) if plan else ''}</p>"
            f"<table>{head}{''.join(body)}</table>")


def _process_label(proc: dict[str, Any]) -> str:
    """'local process on host H (pid P)', 'worker on host H (pid P)': never a bare Locust client id."""
    role = str(proc.get("role") or "process")
    ident = str(proc.get("id") or "")
    host = proc.get("host") or (ident.rsplit("_", 1)[0] if "_" in ident else None)
    where = f" on host {host}" if host else " on this host"
    pid = f" (pid {proc['pid']})" if proc.get("pid") else ""
    return f"generator: {role} process{where}{pid}"


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"
    return f"{value}{unit}"


def render_html(doc: dict[str, Any], images: dict[str, Path]) -> str:
    """A single page, images embedded (data: URIs), so it can be mailed or archived alone."""
    e = html.escape
    slo = doc["slo"]
    verdict = verdict_text(doc)
    colour = "#1a7f37" if slo["passed"] else "#9a6700" if doc.get("interrupted") else "#cf222e"
    breaches = "".join(f"<li>{e(str(b.get('message', b)))}</li>" for b in slo["breaches"])
    rows = []
    for kind in ("fetch", "renew"):
        k = doc[kind]
        rows.append(
            f"<tr><th>{kind}</th><td>{_fmt(k['requests'])}</td><td>{_fmt(k['failures'])}</td>"
            f"<td>{_fmt(k['p50_ms'], ' ms')}</td><td>{_fmt(k['p95_ms'], ' ms')}</td>"
            f"<td>{_fmt(k['p99_ms'], ' ms')}</td><td>{_fmt(k['rps'], '/s')}</td></tr>"
        )
    capacity = doc.get("capacity")
    facts: dict[str, Any] = {}
    if capacity is not None:
        # An open model: no users, no sessions kept through a renewal period, no renewal schedule.
        facts["capacity"] = capacity_line(capacity)
        facts["plan"] = capacity.get("plan")
        facts["ended by"] = capacity.get("ended_by")
        facts["invalid tokens"] = doc["invalid_tokens"]
        facts["failure ratio"] = f"{doc['failure_ratio']:.2%}"
        facts["peak requests in one second"] = doc["peak_rps"]
        facts["duration (s)"] = doc["duration_s"]
    else:
        facts = {
            "cycles (renewals in time)": doc["cycles"],
            "sessions started / completed": f"{doc['sessions']['started']} / {doc['sessions']['completed']}",
            "dropped sessions": doc["dropped"],
            "invalid tokens": doc["invalid_tokens"],
            "failure ratio": f"{doc['failure_ratio']:.2%}",
            "peak requests in one second": doc["peak_rps"],
            "renewal lead p5 / p50 (s)": f"{_fmt(doc['renewal_lead_s']['p5'])} / {_fmt(doc['renewal_lead_s']['p50'])}",
            "users (max)": doc["max_users"],
            "duration (s)": doc["duration_s"],
        }
    if capacity is None and "knee" in doc:
        knee = doc["knee"]
        facts["ramp (closed model)"] = f"{knee['users']} users, {knee['rps']} req/s" if knee else "no step held"
    gen = doc.get("generator") or {}
    for proc in gen.get("processes", []):
        lag, cpu = proc.get("lag_ms", {}), proc.get("cpu", {})
        facts[f"{_process_label(proc)}: loop lag p50 / p95 / max, CPU mean / max"] = (
            f"{_fmt(lag.get('p50'))} / {_fmt(lag.get('p95'))} / {_fmt(lag.get('max'))} ms, "
            f"{_fmt(cpu.get('mean'))} / {_fmt(cpu.get('max'))} of a core"
        )
    dist = doc.get("distributed") or {}
    for row in dist.get("workers", []):
        counts = (doc.get("workers") or {}).get(row["id"], {})
        state = f"LOST {_fmt(row.get('lost_s'))} s into the run ({row.get('lost_how')})" if row.get("lost") else "ok"
        facts[f"worker {row['id']} ({row.get('host') or '?'})"] = (
            f"{counts.get('fetch', 0)} fetch, {counts.get('renew', 0)} renew, {counts.get('invalid', 0)} invalid; "
            f"signatures {'checked' if row.get('signature_checked') else 'NOT checked'}; {state}"
        )
    fact_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(_fmt(v)))}</td></tr>" for k, v in facts.items())
    reasons = {f"invalid: {k}": v for k, v in doc["invalid_reasons"].items()}
    reasons.update({f"dropped: {k}": v for k, v in doc["dropped_reasons"].items()})
    reasons.update({f"failed: {k}": v for k, v in doc.get("failure_reasons", {}).items()})
    reason_rows = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in reasons.items())
    figures = []
    for name, path in images.items():
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            figures.append(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{data}"></figure>')
    links = " · ".join(
        f'<a href="{e(n)}">{e(n)}</a>'
        for n in (LOAD_JSON, HTML_NAME, f"{CSV_PREFIX}_stats.csv", f"{CSV_PREFIX}_stats_history.csv",
                  f"{CSV_PREFIX}_failures.csv", SUMMARY_NAME, LOG_NAME)
    )  # fmt: skip
    unchecked = (
        "<p><strong>Signatures were not checked</strong>: no app certificate was given "
        "(TOKEN_SERVER_APP_CERTIFICATE or --certificate-file); a token signed with the wrong key would pass.</p>"
    )
    bound = ""
    if gen.get("bound"):
        bound = (
            "<p><strong>Generator-bound</strong>: " + e("; ".join(gen.get("reasons", []))) + ". "
            + e(str(gen.get("advice") or "")) + "</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load: {e(doc["scenario"])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1f2328}}
table{{border-collapse:collapse;margin:.5rem 0 1.2rem}}th,td{{padding:.25rem .7rem;border-bottom:1px solid #d0d7de;text-align:left}}
td{{font-variant-numeric:tabular-nums}}.verdict{{font-weight:600;color:{colour}}}img{{max-width:100%}}figure{{margin:1rem 0}}
</style></head><body>
<h1>Load run: {e(doc["scenario"])}</h1>
<p>Target <code>{e(doc["target"])}</code>{" (embedded reference server)" if doc["embedded_reference_server"] else ""}.
<span class="verdict">{verdict}</span></p>
{f"<p>{e(doc['reason'])}</p>" if doc.get("interrupted") else ""}
{f"<ul>{breaches}</ul>" if breaches else ""}
{"" if doc["options"].get("signature_checked", True) else unchecked}
{bound}
<table><tr><th></th><th>requests</th><th>failures</th><th>p50</th><th>p95</th><th>p99</th><th>rate</th></tr>{"".join(rows)}</table>
<table>{fact_rows}</table>
{_step_table(capacity) if capacity is not None else ""}
{f"<table>{reason_rows}</table>" if reason_rows else ""}
{baseline_html(doc)}
{"".join(figures)}
<p>Files: {links}</p>
<p><small>{e(doc.get("generated_at") or "")} &middot; token-conformance {e(__version__)}</small></p>
</body></html>
"""


def write_load_reports(report_dir: Path, doc: dict[str, Any], summary: dict[str, Any] | None) -> dict[str, Path]:
    """Write plots (not without a summary), load.json and load.html; returns the paths by name."""
    # load.json first, then again with the plots' names: a run interrupted while plotting keeps its figures.
    (report_dir / LOAD_JSON).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    images = {} if summary is None else write_plots(report_dir, summary, doc["slo"]["thresholds"].get("max_p95_ms"))
    files = {name: path for name, path in images.items()}
    doc["files"] = {
        **{name: path.name for name, path in images.items()},
        "load_html": LOAD_HTML,
        "locust_html": HTML_NAME,
        "locust_csv_prefix": CSV_PREFIX,
        "summary": SUMMARY_NAME,
        "log": LOG_NAME,
    }
    (report_dir / LOAD_JSON).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    (report_dir / LOAD_HTML).write_text(render_html(doc, images), encoding="utf-8")
    files["load_json"] = report_dir / LOAD_JSON
    files["load_html"] = report_dir / LOAD_HTML
    return files
