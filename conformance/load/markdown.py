"""The Markdown summary of one load run (--summary-md, $GITHUB_STEP_SUMMARY): what the terminal says, as a CI page
shows it. Writing it is conformance.report.markdown's, shared with check."""

from __future__ import annotations

from typing import Any

from ..report.markdown import table_cell
from .report import capacity_line


def load_markdown(doc: dict[str, Any]) -> str:
    """Markdown for one ``load`` run (its load.json document, with the baseline comparison when there was one)."""
    slo = doc["slo"]
    comp = doc.get("baseline") if isinstance(doc.get("baseline"), dict) else None
    failed = not slo["passed"] or (comp is not None and not comp["passed"]) or not doc.get("requests")
    head = "SLOs held" if slo["passed"] else "SLOs breached"
    icon = "❌" if failed else "✅"
    if doc.get("interrupted"):
        head, icon = f"interrupted by {doc['interrupted']} (exit 2)", "⚠️"
    lines = [f"## {icon} Token server load: {head}", "",
             f"Scenario `{doc['scenario']}` against `{doc['target']}` · {doc['requests']} requests · "
             f"failure ratio {doc['failure_ratio']:.2%} · invalid tokens {doc['invalid_tokens']} · "
             f"dropped sessions {doc['dropped']}", "",
             "| | requests | failures | p50 | p95 | p99 | rate |", "|---|---|---|---|---|---|---|"]
    for kind in ("fetch", "renew"):
        k = doc[kind]
        cells = [k["requests"], k["failures"]] + [
            "–" if k[p] is None else f"{k[p]:g} ms" for p in ("p50_ms", "p95_ms", "p99_ms")] + [f"{k['rps']:g}/s"]
        lines.append(f"| {kind} | " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    if doc.get("reason"):
        lines += [table_cell(doc["reason"]), ""]
    if isinstance(doc.get("capacity"), dict):  # the finding itself, as the terminal and load.html say it
        lines += [f"**Capacity:** {table_cell(capacity_line(doc['capacity']))}", ""]
    lines += [f"- SLO breached: {table_cell(b.get('message', b))}" for b in slo["breaches"]]
    if comp is not None:
        lines += ["", f"### Against the baseline: {'✅ no regression beyond noise' if comp['passed'] else '❌ regressed'}",
                  "", "| metric | baseline | this run | regression when | |", "|---|---|---|---|---|"]
        lines += [f"| {r['metric']} | {r['baseline']} | {r['now']} | {table_cell(r['limit'])} | "
                  f"{'**regressed**' if r['regressed'] else 'ok'} |" for r in comp["rows"]]
    return "\n".join(lines).rstrip() + "\n"
