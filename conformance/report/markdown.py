"""A short Markdown summary for CI pages (GitHub's job summary, a GitLab MR note, any file).

CI pages show Markdown, not our HTML report: the verdict, the failing cases
with their levels and, with a baseline, the regressions, fixes and known
failures. ``check`` and ``load`` write it to ``--summary-md FILE`` and, when
GitHub Actions sets ``GITHUB_STEP_SUMMARY``, append it there as well.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .baseline import DEFAULT_GATE, gate_label
from .writers import verdict_label

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def table_cell(text: Any) -> str:
    """Table-safe: one line, no pipe breaking the table."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _quote(notes: list[Any]) -> list[str]:
    """Quote lines, then a blank line: without it Markdown pulls the next line into the quote."""
    return [f"> {table_cell(n)}" for n in notes] + ([""] if notes else [])


def check_markdown(document: dict[str, Any] | None, *, target: str, reason: str = "", exit_code: int = 2) -> str:
    """Markdown for one ``check`` run; ``document`` None when no report was written (a refused baseline, a usage
    error, a run stopped before the suite started): the page still says why, and the exit code."""
    if document is None:
        return (f"## ⚠️ Token server conformance: could not judge (exit {exit_code})\n\nTarget: `{target}`\n\n"
                f"{table_cell(reason) or 'no report was written'}\n")
    summary = document["summary"]
    comp = document.get("baseline")
    icon = {"conforming": "✅", "not conforming": "❌"}.get(summary["verdict"], "⚠️")
    outcome = f"(exit {summary['exit_code']})"
    if isinstance(comp, dict):
        # With a baseline the gate sets the exit code: one heading, one exit code (never "conforming (exit 0)"
        # above "could not judge (exit 2)").
        icon = {0: "✅", 1: "❌"}.get(comp["exit_code"], "⚠️")
        gate = {0: "pass", 1: "fail"}.get(comp["exit_code"], "could not judge")
        outcome = f"· gate on {gate_label(str(comp.get('gate', DEFAULT_GATE)))}: {gate} (exit {comp['exit_code']})"
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    profile = (document.get("profile") or {}).get("name", "")
    lines = [
        f"## {icon} Token server conformance: {verdict_label(summary)} {outcome}",
        "",
        f"Target: `{document['target']}` · profile: `{profile}` · {'strict' if summary['strict'] else 'not strict'}"
        f" · {counts}",
        "",
    ]
    lines += _quote(summary.get("notes", []))
    if summary.get("reason"):
        lines += [table_cell(summary["reason"]), ""]
    failing = [c for c in document["cases"] if c["outcome"] in ("failed", "error")]
    if failing:
        lines += ["| case | level | outcome | title |", "|---|---|---|---|"]
        lines += [f"| {c['id']} | {c['level']} | {c['outcome']} | {table_cell(c['title'])} |" for c in failing]
        lines.append("")
    if isinstance(comp, dict):
        gate = {0: "✅ pass", 1: "❌ fail"}.get(comp["exit_code"], "⚠️ could not judge")
        lines += [f"### Against the baseline: {gate} (exit {comp['exit_code']})", "", table_cell(comp["reason"]), ""]
        lines += _quote(comp.get("notes", []))
        for key, title in (("regressions", "Regressions"), ("fixes", "Fixes"), ("persisting", "Persisting failures"),
                           ("no_longer_judged", "No longer judged (passed in the baseline)")):
            items = comp.get(key, [])
            if key == "no_longer_judged" and not items:
                continue
            lines.append(f"**{title}: {len(items)}**")
            lines += [f"- {c['id']} [{c['level']}] {c['was']} → {c['now']}{' (gating)' if c.get('gating') else ''}"
                      f": {table_cell(c['title'])}{' — ' + table_cell(c['why']) if c.get('why') else ''}" for c in items]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_summary(markdown: str, path: str | None) -> list[Path]:
    """Write to ``path`` (replacing it) and append to $GITHUB_STEP_SUMMARY when set; the files written.

    A summary that cannot be written is reported by the caller, never fatal: the verdict matters more.
    """
    written = []
    failure: OSError | None = None
    if path:
        try:
            Path(path).write_text(markdown, encoding="utf-8")
            written.append(Path(path))
        except OSError as exc:  # the step summary is still written: the CI page must not go blank
            failure = exc
    step = os.environ.get(STEP_SUMMARY_ENV)
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
        written.append(Path(step))
    if failure is not None:
        raise failure
    return written


def summary_folder_problem(path: str | None) -> str | None:
    """--summary-md must be writable before the run starts, not found unwritable after it. Its folder is created
    as --report-dir's is: ``--summary-md reports/summary.md`` in a fresh CI workspace is the common case."""
    if not path:
        return None
    try:
        Path(path).resolve().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--summary-md: cannot create the folder of {path!r}: {exc.strerror or exc}"
    return None
