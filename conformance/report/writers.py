"""conformance.json, conformance.html and the terminal table, from case records.

Every text has already been redacted by the time it reaches here; the writers
only format.
"""

from __future__ import annotations

import html
import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..contract import CONTRACT_VERSION, SECTIONS, Level
from .baseline import html_section as baseline_html
from .records import CaseRecord, Summary


def report_document(
    target: str, profile: dict[str, Any], summary: Summary, records: list[CaseRecord], *, now: datetime | None = None,
) -> dict[str, Any]:
    """conformance.json: when, by which tool and contract version, against what, the verdict, every case."""
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "generated_at": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tool": {"name": "token-conformance", "version": __version__},
        "contract_version": CONTRACT_VERSION,
        "target": target,
        "profile": profile,
        "summary": summary.as_dict(),
        "cases": [
            {
                "id": r.id,
                "section": r.section,
                "title": r.title,
                "requirement": r.requirement,
                "level": r.level,
                "outcome": r.outcome,
                "message": r.message,
                "duration_s": round(r.duration_s, 4),
            }
            for r in records
        ],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_COLOURS = {
    "passed": "#1a7f37", "failed": "#cf222e", "error": "#bc4c00", "skipped": "#6e7781",
    "xfailed": "#8250df", "xpassed": "#bf8700", "not run": "#6e7781",
}


#: The badge of a case skipped for want of a control: not an ordinary skip, nothing of it was judged.
NOT_JUDGED_COLOUR = "#9a6700"


def _shown_outcome(case: dict[str, Any], summary: dict[str, Any]) -> tuple[str, str]:
    """The outcome a reader sees and its colour: 'not judged' and 'partly judged' stand apart from skips and passes."""
    if case["id"] in summary.get("not_judged", []):
        return "not judged", NOT_JUDGED_COLOUR
    if case["id"] in summary.get("partly_judged", []):
        return f"{case['outcome']}, partly judged", _COLOURS[case["outcome"]]
    return case["outcome"], _COLOURS[case["outcome"]]


def _root_causes_html(summary: dict[str, Any]) -> str:
    causes = summary.get("root_causes") or []
    if not causes:
        return ""
    e = html.escape
    items = "".join(f'<li><a href="#{e(c["id"])}">{e(c["id"])}</a> [{e(c["level"])}] {e(c["title"])}: '
                    f'{e(c["cause"])}</li>' for c in causes)
    return f"<h2>Root causes</h2><p>One line per failed case, in contract order; details below.</p><ol>{items}</ol>"


def _judged_html(summary: dict[str, Any]) -> str:
    e = html.escape
    out = ""
    if summary.get("not_judged"):
        ids = summary["not_judged"]
        out += (f"<p class=note><b>Not judged</b> (no control request got a token, so a refusal proves nothing): "
                f"{len(ids)} &ndash; {e(', '.join(ids))}</p>")
    if summary.get("partly_judged"):
        ids = summary["partly_judged"]
        out += (f"<p class=note><b>Partly judged</b> (some rows' control got no token; each case says which): "
                f"{len(ids)} &ndash; {e(', '.join(ids))}</p>")
    return out


def write_html(path: Path, document: dict[str, Any]) -> None:
    """A static, self-contained page: the verdict, the root causes, a section x level matrix, then every case."""
    summary = document["summary"]
    cases = document["cases"]
    e = html.escape
    rows = []
    sections = dict(SECTIONS)
    for c in cases:  # user cases (docs/plugin.md) get a row of their own section
        sections.setdefault(c["section"], ("your cases", ""))
    for key, (name, _intro) in sections.items():
        cells = []
        for level in Level:
            sel = [c for c in cases if c["section"] == key and c["level"] == level.value]
            if not sel:
                cells.append("<td class=empty>&ndash;</td>")
                continue
            badges = "".join(
                f'<a href="#{e(c["id"])}" class=badge style="background:{_shown_outcome(c, summary)[1]}" '
                f'title="{e(c["title"])}: {e(_shown_outcome(c, summary)[0])}">{e(c["id"])}</a>'
                for c in sel
            )
            cells.append(f"<td>{badges}</td>")
        rows.append(f"<tr><th>{e(key)}<br><small>{e(name)}</small></th>{''.join(cells)}</tr>")
    details = []
    for c in cases:
        msg = f"<pre>{e(c['message'])}</pre>" if c["message"] else ""
        shown, colour = _shown_outcome(c, summary)
        details.append(
            f'<section id="{e(c["id"])}"><h3><span class=badge style="background:{colour}">'
            f'{e(shown)}</span> {e(c["id"])} [{e(c["level"])}] {e(c["title"])}</h3>'
            f"<p>{e(c['requirement'])}</p>{msg}<p class=dur>{c['duration_s']:.3f} s</p></section>"
        )
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    strict = "strict (SHOULD failures gate)" if summary["strict"] else "MUST failures gate (SHOULD informational)"
    notes = "".join(f"<p class=note>{e(n)}</p>" for n in summary.get("notes", []))
    notes += "".join(f"<p class=note>hint: {e(h)}</p>" for h in summary.get("extra", {}).get("hints", []))
    tool = document.get("tool", {})
    stamp = (f'{e(document.get("generated_at", ""))} &middot; {e(tool.get("name", ""))} {e(tool.get("version", ""))}'
             f' &middot; contract {e(str(document.get("contract_version", "")))}')
    verdict_colour = {"conforming": "#1a7f37", "not conforming": "#cf222e"}.get(summary["verdict"], "#bc4c00")
    page = f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Token server conformance: {e(summary["verdict"])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#1f2328}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #d0d7de;padding:.4rem;vertical-align:top;text-align:left}}
.badge{{display:inline-block;color:#fff;padding:.1rem .4rem;margin:.1rem;border-radius:.3rem;font-size:.85rem;text-decoration:none}}
.empty{{color:#8c959f;text-align:center}}pre{{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap}}
.verdict{{font-size:1.4rem;color:#fff;background:{verdict_colour};padding:.5rem 1rem;border-radius:.4rem;display:inline-block}}
.dur{{color:#6e7781;font-size:.8rem}}.note{{color:#9a6700}}
</style></head><body>
<h1>Token server conformance</h1>
<p class=verdict>{e(verdict_label(summary))} (exit {summary["exit_code"]})</p>
<p><b>Target:</b> {e(document["target"])} &middot; <b>Profile:</b> {e(document["profile"].get("name", ""))}
&middot; {e(strict)} &middot; {e(counts)}</p>
<p>{e(summary["reason"])}</p>{notes}{_judged_html(summary)}
<p class=dur>{stamp}</p>
{_root_causes_html(summary)}
{baseline_html(document)}
<h2>Matrix</h2>
<table><tr><th>section</th>{"".join(f"<th>{lvl.value}</th>" for lvl in Level)}</tr>{"".join(rows)}</table>
<h2>Cases</h2>{"".join(details)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def verdict_label(summary: Summary | dict[str, Any]) -> str:
    """The verdict as people read it: a subset run says so, it is never mistaken for a full verdict."""
    s = summary if isinstance(summary, dict) else summary.as_dict()
    label = str(s["verdict"])
    if s.get("scope") == "subset":
        how = f" by {s['selection']}" if s.get("selection") else ""
        label += f" (subset run: {len(s.get('selected', []))} case(s) selected{how}, not a full verdict)"
    return label


def terminal_table(
    summary: Summary, records: list[CaseRecord], width: int = 100, *, gated_by_baseline: bool = False,
) -> list[str]:
    """Lines for the end of the terminal output: one per case (a skip says why), the counts, and the verdict last.

    ``width`` is the terminal's (pytest's writer honours $COLUMNS): titles longer than that end in "…", skip
    reasons wrap onto further lines. ``gated_by_baseline``: a baseline gate follows and sets the exit code, so the
    verdict line names none (a "CONFORMING (exit 0)" followed by a gate's "exit 2" says two different things)."""
    width = max(width, 60)
    indent = " " * 28
    lines = [f"{'case':<11} {'level':<6} {'outcome':<8} title"]
    for r in records:
        line = f"{r.id:<11} {r.level:<6} {r.outcome:<8} {r.title}"
        lines.append(line if len(line) <= width else line[: width - 1].rstrip() + "…")
        if (r.outcome in ("skipped", "xfailed") or (r.outcome == "passed" and r.id in summary.partly_judged)) \
                and r.message:
            # The reason is what the reader acts on: wrapped to the terminal, never cut.
            lines += textwrap.wrap(f"{r.outcome}: {r.message.splitlines()[0]}", width=width, initial_indent=indent,
                                   subsequent_indent=indent + "  ", break_on_hyphens=False)
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    lines.append("")
    lines.append(f"cases: {counts or 'none'}{' (strict)' if summary.strict else ''}")
    lines += [f"note: {n}" for n in summary.notes]
    if summary.not_judged:
        lines.append(f"not judged (no control request got a token): {len(summary.not_judged)} - "
                     f"{', '.join(summary.not_judged)}")
    if summary.partly_judged:
        lines.append(f"partly judged (some rows' control request got no token): {len(summary.partly_judged)} - "
                     f"{', '.join(summary.partly_judged)}")
    # Last, so the verdict is the final line of a CI log.
    tail = [summary.reason] if summary.reason else []
    if summary.scope == "subset":
        how = f" by {summary.selection}" if summary.selection else ""
        tail.append(f"subset run: {len(summary.selected)} case(s) selected{how}, not a full verdict")
    # An interrupted run is compared with nothing: its own exit code (2) stands.
    gated = gated_by_baseline and not summary.interrupted
    exit_note = "the baseline gate below sets the exit code" if gated else f"exit {summary.exit_code}"
    lines.append(f"verdict: {summary.verdict.upper()} ({exit_note}){' - ' + '; '.join(tail) if tail else ''}")
    return lines
