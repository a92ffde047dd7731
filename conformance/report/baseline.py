"""``check --baseline`` and ``load --baseline``: compare this run with an earlier report and gate on what got worse.

Both gates are built the same way (:func:`baseline_for_check`, :func:`baseline_for_load`): the baseline is read, and
refused when it describes another run unless forced (another profile, contract version or target for check;
another scenario, user count, run time or target for load; targets compared after one normalisation,
:func:`normalized_target`); the run is compared with it afterwards. What they compare differs:

**check** compares this run's cases with an earlier conformance.json.

A team that runs the check before every deploy wants to know what changed, not
to re-read the list of deviations it already knows. The gate therefore turns on
*changes*: a case that passed in the baseline and fails now (a regression), or a
case the baseline never judged (new to the contract, skipped, errored) that fails
now. Known failures that persist are listed but do not gate; fixes are listed too.

A regression gates at MUST and SHOULD level by default, with or without
--strict: a gate exists to catch what got worse, and a SHOULD that passed
yesterday and fails today (an unknown role silently downgraded, INPUT-1) is
exactly that. ``--gate must`` narrows it to MUST; a MAY case never gates.
Known failures never gate, whatever their level. Comparing runs of different
profiles, contract versions or targets compares different questions, so those
baselines are refused unless forced.

Lost coverage is a change too: a case that passed in the baseline and is now
skipped, not run, or (in a full run) absent is listed as *no longer judged*
(a CI secret that expired silently drops TOKEN-8's signature checks, and "0
regressions" would then hide it). At a level the gate judges it makes the gate exit 2,
"could not judge": the run cannot confirm what the baseline confirmed. A
gating regression still wins (exit 1). A --case subset does not lose the cases
it did not select. When the loss is intended, refresh the baseline with one run
without --baseline (docs/ci.md).

**load** fails when a run is measurably worse than an earlier load.json. Latency percentiles, throughput and
failure ratios move from run to run even when nothing changed; a gate that fires on that noise is switched off. The
tolerances below are set against measured noise (docs/load.md, "Comparing with
a baseline": two series of 5 identical runs against the reference server on a
shared 2-core machine): a percentile regresses only when it is both more than
twice the baseline's and over 50 ms above it (worst pairs measured: x3.5 at
6 -> 21 ms, +45 ms at 29 -> 74 ms); throughput only when it falls by more
than 25 % (worst pair measured: -10 %); the failure ratio when it grows by more
than 0.5 percentage point and the invalid-token ratio by more than 0.1 point
(both were 0 in every run: a correct server has no noise there).
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Outcomes that say the case held (xpassed: a declared deviation that no longer happens).
PASSING = ("passed", "xpassed")
#: Outcomes that say the case did not hold (xfailed: a declared, known deviation).
FAILING = ("failed", "xfailed")

EMBEDDED = "embedded reference server"

#: ``--gate``: the levels whose regressions fail the gate. MAY is in none of them.
GATES: dict[str, tuple[str, ...]] = {"should": ("MUST", "SHOULD"), "must": ("MUST",)}
DEFAULT_GATE = "should"


def gate_label(gate: str) -> str:
    """How the closing line names the gate: the levels it judges."""
    return " and ".join(GATES[gate]) + " regressions"


class BaselineError(Exception):
    """The baseline cannot be used: unreadable, not the report of that command, or for another run (unless forced)."""


def _read_json(path: str | Path) -> tuple[Path, Any]:
    """The baseline file parsed; unreadable or not JSON raises BaselineError (the same words for check and load)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline {str(p)!r}: {exc.strerror or exc}") from None
    try:
        return p, json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"the baseline {str(p)!r} is not JSON: {exc}") from None


def _gated(path: str, document: dict[str, Any], reasons: list[str], *, force: bool, refused: str
           ) -> tuple[dict[str, Any], list[str]]:
    """The gate both commands share: a baseline of another run is refused unless forced; forced, the notes say
    what differs."""
    if reasons and not force:
        raise BaselineError(f"the baseline {path!r} {refused}: {'; '.join(reasons)} (--baseline-force compares anyway)")
    return document, [f"forced: {r}" for r in reasons]


def read_check_baseline(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a conformance.json; raises BaselineError with a reason a person can act on."""
    p, doc = _read_json(path)
    cases = doc.get("cases") if isinstance(doc, dict) else None
    if not isinstance(cases, list) or not isinstance(doc.get("summary"), dict) or not all(
        isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("outcome"), str) for c in cases
    ):
        raise BaselineError(
            f"the baseline {str(p)!r} is not a conformance.json written by 'token-conformance check' "
            "(it needs 'summary' and 'cases' with id and outcome)"
        )
    checked: dict[str, Any] = doc
    return checked


def baseline_for_check(path: str, *, force: bool, profile: str, target: str | None, contract_version: str
                   ) -> tuple[dict[str, Any], list[str]]:
    """``check --baseline``: the conformance.json, refused when it judged another question unless ``force``;
    with the notes saying what differs when forced."""
    doc = read_check_baseline(path)
    reasons = refusal_reasons(doc, profile=profile, target=target, contract_version=contract_version)
    return _gated(path, doc, reasons, force=force, refused="is for another run")


def contract_version_of(document: dict[str, Any]) -> str | None:
    """The contract version a report was judged against; None for reports written before it was recorded."""
    for value in (
        document.get("contract_version"),
        (document.get("contract") or {}).get("version") if isinstance(document.get("contract"), dict) else None,
        (document.get("tool") or {}).get("contract_version") if isinstance(document.get("tool"), dict) else None,
    ):
        if value is not None:
            return str(value)
    return None


def normalized_target(label: str | None) -> str:
    """Targets as compared: every embedded reference server is the same target, whatever its port."""
    text = (label or "").strip()
    if not text or text.startswith(EMBEDDED):
        return EMBEDDED
    return text.rstrip("/").lower()


def refusal_reasons(
    baseline: dict[str, Any], *, profile: str, target: str | None, contract_version: str
) -> list[str]:
    """Why this baseline does not describe the same question as the run about to start (empty: it does)."""
    reasons = []
    base_profile = (baseline.get("profile") or {}).get("name") if isinstance(baseline.get("profile"), dict) else None
    if base_profile and base_profile != profile:
        reasons.append(f"it was run with profile {base_profile!r}, this run uses {profile!r}")
    base_version = contract_version_of(baseline)
    if base_version is not None and base_version != contract_version:
        reasons.append(f"it was judged against contract {base_version}, this run uses contract {contract_version}")
    base_target, now_target = normalized_target(baseline.get("target")), normalized_target(target)
    if base_target != now_target:
        reasons.append(f"it judged {baseline.get('target')!r}, this run judges {target or EMBEDDED!r}")
    return reasons


@dataclass
class Change:
    id: str
    level: str
    title: str
    was: str
    now: str
    gating: bool = False
    #: Why the case is not judged now (its skip reason), for the no-longer-judged list.
    why: str = ""


@dataclass
class Comparison:
    """This run against its baseline: three lists and the gate's exit code."""

    baseline: str
    baseline_verdict: str
    baseline_contract_version: str | None
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    persisting: list[Change] = field(default_factory=list)
    #: Passed in the baseline, not judged now (skipped, not run, or absent from a full run): lost coverage.
    no_longer_judged: list[Change] = field(default_factory=list)
    exit_code: int = 0
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    #: ``--gate``: "should" (MUST and SHOULD regressions gate, the default) or "must".
    gate: str = DEFAULT_GATE
    #: This run's own verdict (conforming, not conforming, could not judge), named in the closing line.
    verdict: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def terminal_lines(self) -> list[str]:
        lines = [f"baseline: {self.baseline} (was {self.baseline_verdict})"]
        lines += [f"  note: {n}" for n in self.notes]
        for title, changes in (("regressions", self.regressions), ("fixes", self.fixes),
                               ("persisting failures (known, not gating)", self.persisting)):
            lines.append(f"{title}: {len(changes)}")
            for c in changes:
                tag = " [gating]" if c.gating else ""
                lines.append(f"  {c.id:<10} {c.level:<6} {c.was} -> {c.now}{tag}  {c.title}")
        if self.no_longer_judged:
            lines.append(f"no longer judged (passed in the baseline, not judged now): {len(self.no_longer_judged)}")
            for c in self.no_longer_judged:
                tag = " [gating]" if c.gating else ""
                why = f" - {' '.join(c.why.split())[:160]}" if c.why else ""
                lines.append(f"  {c.id:<10} {c.level:<6} {c.was} -> {c.now}{tag}  {c.title}{why}")
        lines.append(self.closing_line())
        return lines

    def closing_line(self) -> str:
        """The last line of a CI log: the gate's answer, the single exit code the process returns, what the gate
        judges and this run's own verdict (which, with a baseline, does not set the exit code)."""
        answer = "PASS" if self.exit_code == 0 else "FAIL" if self.exit_code == 1 else "COULD NOT JUDGE"
        verdict = f"; this run's verdict: {self.verdict}" if self.verdict else ""
        return f"gate: {answer} (exit {self.exit_code}) - {self.reason} [gate on {gate_label(self.gate)}{verdict}]"


def compare(
    baseline: dict[str, Any], current: dict[str, Any], *, baseline_path: str = "", gate: str = DEFAULT_GATE,
) -> Comparison:
    """Classify every case of ``current`` against ``baseline`` and decide the gate.

    Exit code: 1 on a gating regression (a judged failure at a level of ``gate``: MUST and SHOULD by default,
    MUST only with ``gate="must"``; never MAY); else 2 when the run could not be judged (aborted, nothing ran,
    case errors) or a gated case it judged before is no longer judged; else 0, whatever failures persist.
    ``--strict`` changes the run's verdict, not the gate.
    """
    if gate not in GATES:
        raise ValueError(f"gate must be one of {', '.join(GATES)}, not {gate!r}")
    summary = current["summary"]
    gating_levels = GATES[gate]
    before = {c["id"]: c["outcome"] for c in baseline.get("cases", [])}
    result = Comparison(
        baseline=baseline_path, baseline_verdict=str(baseline.get("summary", {}).get("verdict", "unknown")),
        baseline_contract_version=contract_version_of(baseline), gate=gate, verdict=str(summary.get("verdict", "")),
    )
    for c in current.get("cases", []):
        was, now = before.get(c["id"], "absent"), c["outcome"]
        change = Change(id=c["id"], level=c["level"], title=c.get("title", ""), was=was, now=now)
        if now in ("skipped", "not run") and was in PASSING:
            change.gating, change.why = c["level"] in gating_levels, str(c.get("message", ""))
            result.no_longer_judged.append(change)
        elif now in FAILING and was in FAILING:
            result.persisting.append(change)
        elif now in FAILING:  # passed before, or never judged (new to the contract, skipped, errored)
            change.gating = now == "failed" and c["level"] in gating_levels
            result.regressions.append(change)
        elif now in PASSING and was in FAILING:
            result.fixes.append(change)
    if summary.get("scope", "full") == "full":  # a --case subset does not lose what it did not select
        now_ids = {c["id"] for c in current.get("cases", [])}
        for b in baseline.get("cases", []):
            if b["id"] not in now_ids and b["outcome"] in PASSING:
                result.no_longer_judged.append(Change(
                    id=b["id"], level=b["level"], title=b.get("title", ""), was=b["outcome"], now="absent",
                    gating=b["level"] in gating_levels, why="not in this run"))
    gating = [c.id for c in result.regressions if c.gating]
    lost = [c.id for c in result.no_longer_judged if c.gating]
    errors = int(summary.get("counts", {}).get("error", 0))
    if summary.get("exit_code") == 2 and not errors:
        result.exit_code, result.reason = 2, f"this run could not be judged: {summary.get('reason', '')}"
    elif gating:
        result.exit_code, result.reason = 1, f"{len(gating)} gating regression(s): {', '.join(gating)}"
    elif errors:
        result.exit_code, result.reason = 2, f"case error(s) leave the comparison open: {summary.get('reason', '')}"
    elif lost:
        result.exit_code, result.reason = 2, (
            f"{len(lost)} gating case(s) that passed in the baseline are no longer judged: {', '.join(lost)} "
            "(restore what they need, e.g. the certificate or credentials; if the loss is intended, refresh the "
            "baseline with one run without --baseline)")
    else:
        known = f"; {len(result.persisting)} known failure(s) persist" if result.persisting else ""
        fixed = f"; {len(result.fixes)} fixed" if result.fixes else ""
        unjudged = (f"; {len(result.no_longer_judged)} no longer judged (not gating)"
                    if result.no_longer_judged else "")
        result.reason = "no gating regression" + fixed + known + unjudged
    return result


def html_section(document: dict[str, Any]) -> str:
    """The comparison as an HTML block for conformance.html ('' when the run had no baseline)."""
    comp = document.get("baseline")
    if not isinstance(comp, dict):
        return ""
    e = html.escape
    parts = [f"<h2>Against the baseline</h2><p><b>Baseline:</b> {e(str(comp['baseline']))} "
             f"(was {e(str(comp['baseline_verdict']))}) &middot; <b>Gate</b> on "
             f"{e(gate_label(str(comp.get('gate', DEFAULT_GATE))))}: exit {comp['exit_code']} (the process's exit "
             f"code) &ndash; {e(str(comp['reason']))}</p>"]
    parts += [f"<p><i>{e(n)}</i></p>" for n in comp.get("notes", [])]
    for key, title in (("regressions", "Regressions"), ("fixes", "Fixes"), ("persisting", "Persisting failures"),
                       ("no_longer_judged", "No longer judged (passed in the baseline)")):
        items = comp.get(key, [])
        if key == "no_longer_judged" and not items:
            continue
        rows = "".join(
            f'<li><a href="#{e(c["id"])}">{e(c["id"])}</a> [{e(c["level"])}] {e(c["was"])} &rarr; {e(c["now"])}'
            f'{" <b>gating</b>" if c.get("gating") else ""} &ndash; {e(c["title"])}'
            f'{" &ndash; <i>" + e(c["why"]) + "</i>" if c.get("why") else ""}</li>'
            for c in items
        )
        parts.append(f"<h3>{title} ({len(items)})</h3>" + (f"<ul>{rows}</ul>" if rows else "<p>none</p>"))
    return "".join(parts)


# --- load ---------------------------------------------------------------------------------------------------

PERCENTILE_KEYS = ("p50_ms", "p95_ms", "p99_ms")
LOAD_SECTIONS = ("fetch", "renew")


@dataclass(frozen=True)
class LoadTolerance:
    """How much worse than the baseline a figure may be before it is a regression (see the module doc)."""

    latency_ratio: float = 2.0
    latency_floor_ms: float = 50.0
    throughput_drop: float = 0.25
    failure_ratio_points: float = 0.005
    invalid_ratio_points: float = 0.001


def read_load_baseline(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a load.json of a finished run; raises BaselineError with a reason a person can act on."""
    p, doc = _read_json(path)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), dict) for k in LOAD_SECTIONS) or "requests" not in doc:
        raise BaselineError(f"the baseline {str(p)!r} is not a load.json written by 'token-conformance load'")
    if doc.get("interrupted"):
        raise BaselineError(f"the baseline {str(p)!r} is a run interrupted by {doc['interrupted']}: its figures "
                            "are partial; compare with a run that went to its end")
    if not doc["requests"]:
        raise BaselineError(f"the baseline {str(p)!r} completed no request: nothing to compare with")
    return doc


def baseline_for_load(path: str, *, force: bool, scenario: str, target: str | None, users: int, run_time_s: int
                  ) -> tuple[dict[str, Any], list[str]]:
    """``load --baseline``: the load.json, refused when it measured another run unless ``force``; with the notes
    saying what differs when forced."""
    doc = read_load_baseline(path)
    reasons = load_refusal_reasons(doc, scenario=scenario, target=target, users=users, run_time_s=run_time_s)
    return _gated(path, doc, reasons, force=force, refused="measured another run")


def load_refusal_reasons(
    baseline: dict[str, Any], *, scenario: str, target: str | None, users: int, run_time_s: int
) -> list[str]:
    """Why the baseline measured something else than the run about to start (empty: comparable).

    Users and run time are part of the measurement: throughput follows the user count, and a short run is
    dominated by its start (every client fetching at once).
    """
    reasons = []
    if baseline.get("scenario") != scenario:
        reasons.append(f"it ran scenario {baseline.get('scenario')!r}, this run {scenario!r}")
    plan = baseline.get("plan") or {}
    base_users = plan.get("users", baseline.get("max_users"))
    if base_users is not None and base_users != users:
        reasons.append(f"it ran {base_users} users, this run {users}")
    if plan.get("run_time_s") is not None and plan["run_time_s"] != run_time_s:
        reasons.append(f"it ran {plan['run_time_s']} s, this run {run_time_s} s")
    embedded_before = bool(baseline.get("embedded_reference_server"))
    # load.json names an embedded server by its URL (its port changes from run to run): compared as check's are.
    if normalized_target(EMBEDDED if embedded_before else str(baseline.get("target", ""))) != normalized_target(target):
        before = "the embedded reference server" if embedded_before else repr(baseline.get("target"))
        reasons.append(f"it loaded {before}, this run {target or 'the embedded reference server'!r}")
    return reasons


@dataclass
class LoadRow:
    metric: str
    baseline: float | None
    now: float | None
    limit: str
    regressed: bool


@dataclass
class LoadComparison:
    baseline: str
    tolerance: dict[str, float]
    rows: list[LoadRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[LoadRow]:
        return [r for r in self.rows if r.regressed]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "regressions": [r.metric for r in self.regressions], "passed": not self.regressions}


def throughput(doc: dict[str, Any]) -> float:
    """Token requests per second over both kinds (steadier than either alone: measured -10 % vs -24 % worst)."""
    return float(sum(float(doc[k].get("rps") or 0.0) for k in LOAD_SECTIONS))


def _ratio(doc: dict[str, Any], count: str) -> float:
    requests = int(doc.get("requests") or 0)
    if count == "failures":
        return float(doc.get("failure_ratio", 0.0))
    return int(doc.get(count) or 0) / requests if requests else 0.0


def compare_load(baseline: dict[str, Any], now: dict[str, Any], *, tolerance: LoadTolerance | None = None,
                 baseline_path: str = "") -> LoadComparison:
    """Each figure of ``now`` against ``baseline``: regressed when worse beyond the tolerance."""
    t = tolerance or LoadTolerance()
    out = LoadComparison(baseline=baseline_path, tolerance=asdict(t))
    for kind in LOAD_SECTIONS:
        for p in PERCENTILE_KEYS:
            before, after = baseline[kind].get(p), now[kind].get(p)
            regressed = (before is not None and after is not None and after > before * t.latency_ratio
                         and after - before > t.latency_floor_ms)
            out.rows.append(LoadRow(f"{kind} {p.removesuffix('_ms')} (ms)", before, after,
                                f"> x{t.latency_ratio:g} and > +{t.latency_floor_ms:g} ms", regressed))
    before_rps, after_rps = throughput(baseline), throughput(now)
    out.rows.append(LoadRow("throughput (requests/s)", round(before_rps, 3), round(after_rps, 3),
                        f"< -{t.throughput_drop:.0%}", after_rps < before_rps * (1 - t.throughput_drop)))
    for label, key, points in (("failure ratio", "failures", t.failure_ratio_points),
                               ("invalid-token ratio", "invalid_tokens", t.invalid_ratio_points)):
        before, after = _ratio(baseline, key), _ratio(now, key)
        out.rows.append(LoadRow(label, round(before, 6), round(after, 6), f"> +{points * 100:g} points",
                            after - before > points))
    return out


def load_terminal_lines(comp: LoadComparison) -> list[str]:
    lines = [f"baseline: {comp.baseline}"] + [f"  note: {n}" for n in comp.notes]
    for r in comp.rows:
        mark = "REGRESSED" if r.regressed else "ok"
        lines.append(f"  {r.metric:26} {_shown_value(r.baseline):>10} -> {_shown_value(r.now):<10} {mark:9} (regression: {r.limit})")
    names = ", ".join(r.metric for r in comp.regressions)
    lines.append(f"baseline gate: {'FAIL - regressed: ' + names if names else 'PASS - no regression beyond noise'}")
    return lines


def _shown_value(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def load_html_section(doc: dict[str, Any]) -> str:
    """The comparison table for load.html ('' without a baseline); the plot comes with the other figures."""
    comp = doc.get("baseline")
    if not isinstance(comp, dict):
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(r['metric'])}</th><td>{_shown_value(r['baseline'])}</td><td>{_shown_value(r['now'])}</td>"
        f"<td>{e(r['limit'])}</td><td style=\"color:{'#cf222e' if r['regressed'] else '#1a7f37'}\">"
        f"{'regressed' if r['regressed'] else 'ok'}</td></tr>"
        for r in comp["rows"]
    )
    notes = "".join(f"<p><i>{e(n)}</i></p>" for n in comp.get("notes", []))
    return (f"<h2>Against the baseline</h2><p>Baseline <code>{e(comp['baseline'])}</code>: "
            f"{'no regression beyond noise' if comp['passed'] else 'regressed: ' + e(', '.join(comp['regressions']))}"
            f"</p>{notes}<table><tr><th></th><th>baseline</th><th>this run</th><th>regression when</th><th></th></tr>"
            f"{rows}</table>")
