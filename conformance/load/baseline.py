"""``load --baseline load.json``: fail when a run is measurably worse than an earlier one.

Latency percentiles, throughput and failure ratios move from run to run even
when nothing changed; a gate that fires on that noise is switched off. The
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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")
KINDS = ("fetch", "renew")


class LoadBaselineError(Exception):
    """The baseline cannot be compared with this run (unreadable, not a load.json, another run unless forced)."""


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the baseline a figure may be before it is a regression (see the module doc)."""

    latency_ratio: float = 2.0
    latency_floor_ms: float = 50.0
    throughput_drop: float = 0.25
    failure_ratio_points: float = 0.005
    invalid_ratio_points: float = 0.001


def load_baseline(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadBaselineError(f"cannot read the baseline {str(p)!r}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise LoadBaselineError(f"the baseline {str(p)!r} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), dict) for k in KINDS) or "requests" not in doc:
        raise LoadBaselineError(f"the baseline {str(p)!r} is not a load.json written by 'token-conformance load'")
    if doc.get("interrupted"):
        raise LoadBaselineError(f"the baseline {str(p)!r} is a run interrupted by {doc['interrupted']}: its figures "
                                "are partial; compare with a run that went to its end")
    if not doc["requests"]:
        raise LoadBaselineError(f"the baseline {str(p)!r} completed no request: nothing to compare with")
    return doc


def refusal_reasons(
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
    if embedded_before != (target is None) or (
        target is not None and str(baseline.get("target", "")).rstrip("/").lower() != target.rstrip("/").lower()
    ):
        before = "the embedded reference server" if embedded_before else repr(baseline.get("target"))
        reasons.append(f"it loaded {before}, this run {target or 'the embedded reference server'!r}")
    return reasons


@dataclass
class Row:
    metric: str
    baseline: float | None
    now: float | None
    limit: str
    regressed: bool


@dataclass
class LoadComparison:
    baseline: str
    tolerance: dict[str, float]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regressed]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "regressions": [r.metric for r in self.regressions], "passed": not self.regressions}


def throughput(doc: dict[str, Any]) -> float:
    """Token requests per second over both kinds (steadier than either alone: measured -10 % vs -24 % worst)."""
    return float(sum(float(doc[k].get("rps") or 0.0) for k in KINDS))


def _ratio(doc: dict[str, Any], count: str) -> float:
    requests = int(doc.get("requests") or 0)
    if count == "failures":
        return float(doc.get("failure_ratio", 0.0))
    return int(doc.get(count) or 0) / requests if requests else 0.0


def compare(baseline: dict[str, Any], now: dict[str, Any], *, tolerance: Tolerance | None = None,
            baseline_path: str = "") -> LoadComparison:
    t = tolerance or Tolerance()
    out = LoadComparison(baseline=baseline_path, tolerance=asdict(t))
    for kind in KINDS:
        for p in PERCENTILES:
            before, after = baseline[kind].get(p), now[kind].get(p)
            regressed = (before is not None and after is not None and after > before * t.latency_ratio
                         and after - before > t.latency_floor_ms)
            out.rows.append(Row(f"{kind} {p.removesuffix('_ms')} (ms)", before, after,
                                f"> x{t.latency_ratio:g} and > +{t.latency_floor_ms:g} ms", regressed))
    before_rps, after_rps = throughput(baseline), throughput(now)
    out.rows.append(Row("throughput (requests/s)", round(before_rps, 3), round(after_rps, 3),
                        f"< -{t.throughput_drop:.0%}", after_rps < before_rps * (1 - t.throughput_drop)))
    for label, key, points in (("failure ratio", "failures", t.failure_ratio_points),
                               ("invalid-token ratio", "invalid_tokens", t.invalid_ratio_points)):
        before, after = _ratio(baseline, key), _ratio(now, key)
        out.rows.append(Row(label, round(before, 6), round(after, 6), f"> +{points * 100:g} points",
                            after - before > points))
    return out


def terminal_lines(comp: LoadComparison) -> list[str]:
    lines = [f"baseline: {comp.baseline}"] + [f"  note: {n}" for n in comp.notes]
    for r in comp.rows:
        mark = "REGRESSED" if r.regressed else "ok"
        lines.append(f"  {r.metric:26} {_fmt(r.baseline):>10} -> {_fmt(r.now):<10} {mark:9} (regression: {r.limit})")
    names = ", ".join(r.metric for r in comp.regressions)
    lines.append(f"baseline gate: {'FAIL - regressed: ' + names if names else 'PASS - no regression beyond noise'}")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def plot(baseline: dict[str, Any], now: dict[str, Any], path: Path) -> Path:
    """Side by side: the percentiles of both kinds and the throughput, baseline vs this run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{k} {p.removesuffix('_ms')}" for k in KINDS for p in PERCENTILES]
    before = [float(baseline[k].get(p) or 0) for k in KINDS for p in PERCENTILES]
    after = [float(now[k].get(p) or 0) for k in KINDS for p in PERCENTILES]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [4, 1]})
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], before, width=0.4, label="baseline", color="#8c959f")
    ax.bar([x + 0.2 for x in xs], after, width=0.4, label="this run", color="#0969da")
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set_ylabel("latency (ms)")
    # Above the bars, outside the axes: a legend inside hides the tallest bars.
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.08), ncol=2, fontsize=8, frameon=False)
    ax.set_title("Latency percentiles", pad=24)
    ax2.bar([0, 1], [throughput(baseline), throughput(now)], color=["#8c959f", "#0969da"])
    ax2.set_xticks([0, 1], ["baseline", "this run"])
    ax2.set_title("Requests/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def html_section(doc: dict[str, Any]) -> str:
    """The comparison table for load.html ('' without a baseline); the plot comes with the other figures."""
    import html

    comp = doc.get("baseline")
    if not isinstance(comp, dict):
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(r['metric'])}</th><td>{_fmt(r['baseline'])}</td><td>{_fmt(r['now'])}</td>"
        f"<td>{e(r['limit'])}</td><td style=\"color:{'#cf222e' if r['regressed'] else '#1a7f37'}\">"
        f"{'regressed' if r['regressed'] else 'ok'}</td></tr>"
        for r in comp["rows"]
    )
    notes = "".join(f"<p><i>{e(n)}</i></p>" for n in comp.get("notes", []))
    return (f"<h2>Against the baseline</h2><p>Baseline <code>{e(comp['baseline'])}</code>: "
            f"{'no regression beyond noise' if comp['passed'] else 'regressed: ' + e(', '.join(comp['regressions']))}"
            f"</p>{notes}<table><tr><th></th><th>baseline</th><th>this run</th><th>regression when</th><th></th></tr>"
            f"{rows}</table>")
