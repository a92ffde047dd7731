"""summarize(): the verdict and exit code of a run, from case outcomes alone.

0 conforming, 1 not conforming, 2 could not judge; never green on an empty, erroring or aborted run.
"""

from __future__ import annotations

import pytest

from conformance.contract import REQUIREMENTS, Level, by_id
from conformance.report import OUTCOMES, CaseRecord, summarize

MUST_ID = next(r.id for r in REQUIREMENTS if r.level is Level.MUST)
SHOULD_ID = next(r.id for r in REQUIREMENTS if r.level is Level.SHOULD)
MAY_ID = next(r.id for r in REQUIREMENTS if r.level is Level.MAY)


def rec(requirement_id: str, outcome: str) -> CaseRecord:
    r = CaseRecord.for_requirement(by_id(requirement_id))
    r.outcome = outcome
    return r


def run(*outcomes: tuple[str, str], strict: bool = False, abort: str | None = None) -> tuple[int, str, str]:
    s = summarize([rec(i, o) for i, o in outcomes], strict=strict, abort_reason=abort)
    return s.exit_code, s.verdict, s.reason


def test_record_carries_the_requirement() -> None:
    r = CaseRecord.for_requirement(by_id(MUST_ID))
    req = by_id(MUST_ID)
    assert (r.id, r.section, r.title, r.requirement, r.level) == (req.id, req.section, req.title, req.sentence, "MUST")
    assert r.outcome == "not run"


@pytest.mark.parametrize("strict", [False, True])
def test_all_passed_conforms(strict: bool) -> None:
    assert run((MUST_ID, "passed"), (SHOULD_ID, "passed"), (MAY_ID, "passed"), strict=strict) == (0, "conforming", "")


@pytest.mark.parametrize("strict", [False, True])
def test_must_failure_gates(strict: bool) -> None:
    code, verdict, reason = run((MUST_ID, "failed"), (SHOULD_ID, "passed"), strict=strict)
    assert (code, verdict) == (1, "not conforming")
    assert MUST_ID in reason


def test_should_failure_gates_only_when_strict() -> None:
    code, verdict, reason = run((MUST_ID, "passed"), (SHOULD_ID, "failed"))
    assert (code, verdict) == (0, "conforming")
    assert SHOULD_ID in reason and "--strict" in reason
    code, verdict, reason = run((MUST_ID, "passed"), (SHOULD_ID, "failed"), strict=True)
    assert (code, verdict) == (1, "not conforming")
    assert SHOULD_ID in reason


@pytest.mark.parametrize("strict", [False, True])
def test_may_failure_never_gates(strict: bool) -> None:
    assert run((MUST_ID, "passed"), (MAY_ID, "failed"), strict=strict)[:2] == (0, "conforming")


def test_errors_mean_could_not_judge() -> None:
    code, verdict, reason = run((MUST_ID, "error"), (SHOULD_ID, "error"))
    assert (code, verdict) == (2, "could not judge")
    assert MUST_ID in reason and SHOULD_ID in reason
    assert run((MUST_ID, "passed"), (SHOULD_ID, "error"))[0] == 2


def test_gating_failure_wins_over_errors() -> None:
    assert run((MUST_ID, "failed"), (SHOULD_ID, "error"))[0] == 1


@pytest.mark.parametrize("outcomes", [(), (("skipped",) * 3), (("not run",) * 3), ("skipped", "not run")])
def test_nothing_ran_means_could_not_judge(outcomes: tuple[str, ...]) -> None:
    ids = [r.id for r in REQUIREMENTS]
    s = summarize([rec(i, o) for i, o in zip(ids, outcomes, strict=False)], strict=False)
    assert (s.exit_code, s.verdict, s.reason) == (2, "could not judge", "no case ran")
    assert s.cases_run == 0


def test_aborted_run_never_conforms() -> None:
    code, verdict, reason = run((MUST_ID, "passed"), (SHOULD_ID, "not run"), abort="the target stopped answering")
    assert (code, verdict, reason) == (2, "could not judge", "the target stopped answering")


def test_xfailed_and_xpassed_do_not_gate() -> None:
    code, verdict, _ = run((MUST_ID, "xfailed"), (SHOULD_ID, "xpassed"), (MAY_ID, "passed"), strict=True)
    assert (code, verdict) == (0, "conforming")


def test_only_xfailed_counts_as_a_run() -> None:
    assert run((MUST_ID, "xfailed"))[0] == 0


def test_counts_and_failed_by_level() -> None:
    s = summarize([rec(MUST_ID, "failed"), rec(SHOULD_ID, "failed"), rec(MAY_ID, "skipped")], strict=False)
    assert set(s.counts) == set(OUTCOMES)
    assert s.counts["failed"] == 2 and s.counts["skipped"] == 1 and s.counts["passed"] == 0
    assert s.failed_by_level == {"MUST": [MUST_ID], "SHOULD": [SHOULD_ID], "MAY": []}
    assert s.cases_run == 2
    d = s.as_dict()
    assert d["exit_code"] == 1 and d["verdict"] == "not conforming" and d["strict"] is False


def test_a_skipped_must_case_is_noted_unless_it_does_not_apply() -> None:
    """A MUST skipped for want of a certificate leaves the verdict short and says so; one that does not apply
    to this target (no credentials configured, a route the profile lacks) leaves nothing unjudged."""
    unjudged = rec("TOKEN-8", "skipped")
    unjudged.message = "no app certificate: pass --certificate-file"
    absent = rec("SEC-5", "skipped")
    absent.message = "not applicable: no credentials configured (--header), nothing to enforce"
    notes = summarize([rec(MUST_ID, "passed"), unjudged, absent], strict=False).notes
    assert len(notes) == 1 and "TOKEN-8" in notes[0] and "SEC-5" not in notes[0]
    assert summarize([rec(MUST_ID, "passed"), absent], strict=True).notes == []
