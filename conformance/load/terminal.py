"""The text summary of a load run, as the terminal shows it (load.json and load.html hold the same figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .report import capacity_line
from .runner import CSV_PREFIX, HTML_NAME

__all__ = ["failure_reasons_line", "text_summary"]


def failure_reasons_line(counts: dict[str, int], limit: int = 3) -> str:
    """The most frequent reasons first: "the body is not JSON" (12), "HTTP 503" (3)."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    more = len(counts) - len(top)
    return ", ".join(f'"{reason}" ({n})' for reason, n in top) + (f" and {more} more" if more > 0 else "")


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:g} ms"


def _other_files(files: dict[str, Path]) -> str:
    """load.json and the Locust reports that exist: a run killed while stopping leaves no locust.html."""
    folder = files["load_json"].parent
    locust = [name for name in (HTML_NAME,) if (folder / name).is_file()]
    if any(folder.glob(f"{CSV_PREFIX}_*.csv")):
        locust.append(f"{CSV_PREFIX}_*.csv")
    return files["load_json"].name + (f", Locust: {', '.join(locust)}" if locust else "")


def text_summary(doc: dict[str, Any], files: dict[str, Path]) -> str:
    lines = [f"{doc['scenario']} against {doc['target']}"]
    for kind in ("fetch", "renew"):
        k = doc[kind]
        lines.append(
            f"  {kind:6} {k['requests']:>7} requests {k['failures']:>5} failed   p50 {_ms(k['p50_ms'])}"
            f"  p95 {_ms(k['p95_ms'])}  p99 {_ms(k['p99_ms'])}  {k['rps']:g}/s"
        )
    lines.append(
        f"  cycles {doc['cycles']}  sessions {doc['sessions']['started']} started / "
        f"{doc['sessions']['completed']} completed  dropped {doc['dropped']}  invalid tokens {doc['invalid_tokens']}"
    )
    if doc.get("rate_limited"):
        lines.append(f"  rate limited: {doc['rate_limited']} answers 429 / 503 + Retry-After (waited out, not failures)")
    if doc["failure_reasons"]:
        lines.append(f"  failures: {failure_reasons_line(doc['failure_reasons'])}")
    if "capacity" in doc:
        lines.append(f"  {capacity_line(doc['capacity'])}")
    elif "knee" in doc:
        knee = doc["knee"]
        lines.append(
            f"  ramp: {knee['users']} users held at {knee['rps']} requests/s (a closed model: see docs/load.md)"
            if knee
            else "  ramp: no step held"
        )
    gen = doc.get("generator")
    if gen and gen.get("processes"):
        lag50, lag, cpu = gen.get("worst_lag_p50_ms"), gen.get("worst_lag_p95_ms"), gen.get("worst_cpu")
        state = "GENERATOR-BOUND" if gen.get("bound") else "not the bottleneck"
        lines.append(
            f"  generator: {state}: event-loop lag p50 {_ms(lag50)} p95 {_ms(lag)}, "
            f"CPU {'-' if cpu is None else f'{cpu:.0%}'} "
            f"of a core (worst of {len(gen['processes'])} process{'es' if len(gen['processes']) > 1 else ''})"
        )
    dist = doc.get("distributed") or {}
    if dist.get("workers"):
        lost = set(dist.get("lost") or [])
        lines.append(f"  workers: {dist.get('connected')} connected of {dist.get('expected')} expected"
                     + (f", {len(lost)} LOST" if lost else ""))
        others = [v for v in dist.get("versions") or [] if v != dist.get("master_version")]
        if others:
            lines.append(f"  WARNING: workers run token-conformance {', '.join(others)}, the master "
                         f"{dist.get('master_version')}: install the same version everywhere")
        for row in dist["workers"]:
            counts = (doc.get("workers") or {}).get(row["id"], {})
            lines.append(
                f"    {row['id']} ({row.get('host') or '?'}): {counts.get('fetch', 0)} fetch, "
                f"{counts.get('renew', 0)} renew, {counts.get('invalid', 0)} invalid"
                + (f"; LOST {row.get('lost_s')} s into the run ({row.get('lost_how')})" if row["id"] in lost else "")
            )
    t = doc["slo"]["thresholds"]
    limits = (
        f"p95 <= {t.get('max_p95_ms', 0):g} ms, failures <= {t.get('max_failure_ratio', 0):.2%}, "
        f"dropped <= {t.get('max_dropped')}, invalid <= {t.get('max_invalid')}"
    )
    if not doc["options"].get("signature_checked", True):
        lines.append("  signatures NOT checked (no app certificate)")
    if doc.get("interrupted"):
        verdict = f"INTERRUPTED by {doc['interrupted']}: " + (
            "partial figures" if doc["requests"] else "nothing measured") + ", SLOs not judged"
    elif "capacity" in doc:
        verdict = "each step judged on its own requests" + ("" if doc["slo"]["passed"] else ": NO CAPACITY MEASURED")
    else:
        verdict = "SLOs held" if doc["slo"]["passed"] else "SLOs BREACHED"
    lines.append(f"  {verdict} ({limits})")
    lines.append(f"  report: {files['load_html']}  ({_other_files(files)})")
    return "\n".join(lines)
