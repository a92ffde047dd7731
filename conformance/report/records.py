"""Case outcomes and the run's verdict, independent of how they were produced."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contract import Level, Requirement

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "not run")


@dataclass
class CaseRecord:
    id: str
    section: str
    title: str
    requirement: str
    level: str
    outcome: str = "not run"
    message: str = ""
    duration_s: float = 0.0

    @classmethod
    def for_requirement(cls, req: Requirement) -> CaseRecord:
        return cls(id=req.id, section=req.section, title=req.title, requirement=req.sentence, level=req.level.value)


@dataclass
class Summary:
    verdict: str
    exit_code: int
    strict: bool
    counts: dict[str, int]
    failed_by_level: dict[str, list[str]]
    reason: str = ""
    cases_run: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(records: list[CaseRecord], *, strict: bool, abort_reason: str | None = None) -> Summary:
    """The verdict: 0 conforming, 1 not conforming, 2 could not judge. Never green on an empty or aborted run."""
    counts = Counter(r.outcome for r in records)
    failed: dict[str, list[str]] = {lvl.value: [] for lvl in Level}
    for r in records:
        if r.outcome == "failed":
            failed[r.level].append(r.id)
    ran = sum(counts[o] for o in ("passed", "failed", "error", "xfailed", "xpassed"))
    gating = failed["MUST"] + (failed["SHOULD"] if strict else [])
    verdict, exit_code, reason = _verdict(records, counts, failed, gating, ran, abort_reason)
    return Summary(
        verdict=verdict, exit_code=exit_code, strict=strict, reason=reason,
        counts={o: counts.get(o, 0) for o in OUTCOMES}, failed_by_level=failed, cases_run=ran,
    )


def _verdict(
    records: list[CaseRecord], counts: Counter[str], failed: dict[str, list[str]], gating: list[str], ran: int,
    abort_reason: str | None,
) -> tuple[str, int, str]:
    """In order: an aborted or empty run cannot be judged; a gating failure is a judgement even next to
    errors; errors alone leave the run unjudged."""
    if abort_reason:
        return "could not judge", 2, abort_reason
    if ran == 0:
        return "could not judge", 2, "no case ran"
    if gating:
        return "not conforming", 1, f"{len(gating)} gating failure(s): {', '.join(gating)}"
    if counts["error"]:
        errs = [r.id for r in records if r.outcome == "error"]
        return "could not judge", 2, f"case error(s): {', '.join(errs)}"
    note = ""
    if failed["SHOULD"]:
        note = f"SHOULD failure(s) not gating without --strict: {', '.join(failed['SHOULD'])}"
    return "conforming", 0, note
