"""Case outcomes and the run's verdict, independent of how they were produced."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..cases import NOT_APPLICABLE
from ..contract import Level, Requirement

#: The outcome of a case skipped for want of a control, as the reports show it; its skip message starts so
#: (conformance.suite._support.NOT_JUDGED_NOTE).
NOT_JUDGED = "not judged"
#: The outcome of a case that judged some rows only; its message starts so (suite._support.PARTLY_JUDGED_NOTE).
PARTLY_JUDGED = "partly judged"
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
    def for_requirement(cls, req: Requirement, profile: Any = None) -> CaseRecord:
        """The record of ``req``; with ``profile``, its sentence names the requests that profile sends."""
        # Late: this module loads with every command (even --help), the profiles package would make that 1.26x
        # slower (farm-bench medians 0.34 s -> 0.41 s); a record for a profile comes after it has loaded anyway.
        from ..profiles.wording import sentence_for

        return cls(id=req.id, section=req.section, title=req.title, requirement=sentence_for(req, profile),
                   level=req.level.value)


@dataclass
class Summary:
    verdict: str
    exit_code: int
    strict: bool
    counts: dict[str, int]
    failed_by_level: dict[str, list[str]]
    reason: str = ""
    cases_run: int = 0
    #: "full" when every contract case was selected, else "subset" (--case, -k): never read as a full verdict.
    scope: str = "full"
    #: The selected case ids, in contract order (user cases after them).
    selected: list[str] = field(default_factory=list)
    #: What selected them (the --case pattern and/or -k expression); empty for a full run.
    selection: str = ""
    #: The signal that interrupted the run (SIGINT, SIGTERM), else None.
    interrupted: str | None = None
    #: Things a reader must not miss next to a green verdict (MUST cases skipped, SHOULD failures).
    notes: list[str] = field(default_factory=list)
    #: Cases skipped because the valid control request of their bad inputs got no token: nothing was judged.
    not_judged: list[str] = field(default_factory=list)
    #: Cases that judged some of their rows only: the others' control got no token (their message says which).
    partly_judged: list[str] = field(default_factory=list)
    #: One line per failed case, in contract order: {id, level, title, cause} (the first finding of each).
    root_causes: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    records: list[CaseRecord], *, strict: bool, abort_reason: str | None = None, interrupted: str | None = None,
    contract_ids: tuple[str, ...] | None = None, selection: str = "",
) -> Summary:
    """The verdict: 0 conforming, 1 not conforming, 2 could not judge or interrupted.

    Never green on an empty, aborted or interrupted run. ``contract_ids`` (every id of the contract) tells a
    full run from a subset: a subset's verdict is labelled as such in every report.
    """
    counts = Counter(r.outcome for r in records)
    failed: dict[str, list[str]] = {lvl.value: [] for lvl in Level}
    for r in records:
        if r.outcome == "failed":
            failed.setdefault(r.level, []).append(r.id)
    ran = sum(counts[o] for o in ("passed", "failed", "error", "xfailed", "xpassed"))
    gating = failed["MUST"] + (failed["SHOULD"] if strict else [])
    verdict, exit_code, reason = _verdict(records, counts, failed, gating, ran, abort_reason, interrupted)
    selected = [r.id for r in records]
    full = contract_ids is None or set(contract_ids) <= set(selected)
    return Summary(
        verdict=verdict, exit_code=exit_code, strict=strict, reason=reason,
        counts={o: counts.get(o, 0) for o in OUTCOMES}, failed_by_level=failed, cases_run=ran,
        scope="full" if full else "subset", selected=selected, selection="" if full else selection,
        interrupted=interrupted, notes=_notes(records),
        not_judged=[r.id for r in records if r.outcome == "skipped" and r.message.startswith(NOT_JUDGED)],
        partly_judged=[r.id for r in records if r.outcome in ("passed", "failed") and PARTLY_JUDGED in r.message],
    )


def _notes(records: list[CaseRecord]) -> list[str]:
    """What a verdict does not cover: MUST cases that were skipped, so not judged (a missing certificate, a
    decoded token that never came). Under --strict too: a skip is not a pass. A case that does not apply to
    this target (``NOT_APPLICABLE``) leaves nothing unjudged and gets no note."""
    notes = []
    skipped_must = [
        r for r in records
        if r.level == "MUST" and r.outcome == "skipped" and not r.message.startswith(NOT_APPLICABLE)
    ]
    if skipped_must:
        by_reason: dict[str, list[str]] = {}
        for r in skipped_must:
            by_reason.setdefault(r.message or "skipped", []).append(r.id)
        notes.append(
            f"{len(skipped_must)} MUST case(s) skipped, not judged: "
            + "; ".join(f"{', '.join(ids)} ({reason})" for reason, ids in by_reason.items())
        )
    return notes


def _verdict(
    records: list[CaseRecord], counts: Counter[str], failed: dict[str, list[str]], gating: list[str], ran: int,
    abort_reason: str | None, interrupted: str | None = None,
) -> tuple[str, int, str]:
    """In order: an interrupted, aborted or empty run cannot be judged; a gating failure is a judgement even
    next to errors; errors alone leave the run unjudged."""
    if interrupted:
        not_run = [r.id for r in records if r.outcome == "not run"]
        tail = f"; not run: {', '.join(not_run)}" if 0 < len(not_run) <= 5 else f"; {len(not_run)} not run" if not_run else ""
        done = len(records) - len(not_run)  # passed, failed, skipped ...: every case that got its turn
        return "interrupted", 2, f"interrupted by {interrupted} after {done} of {len(records)} case(s){tail}"
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
