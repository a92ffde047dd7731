"""The regression gate's rules, on hand-made reports (the end-to-end runs are in tests/cli/test_check_baseline.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.report.baseline import BaselineError, compare, read_check_baseline, refusal_reasons
from conformance.report.markdown import check_markdown, write_summary


def doc(outcomes: dict[str, str], *, strict: bool = False, exit_code: int = 0, errors: int = 0,
        verdict: str = "conforming", target: str = "http://staging:8080", **top: Any) -> dict[str, Any]:
    levels = {"ROUTE-1": "MUST", "ROUTE-2": "SHOULD", "HEADER-3": "MAY", "TOKEN-6": "MUST", "TOKEN-7": "SHOULD"}
    return {
        "target": target, "profile": {"name": "agora-token-service"},
        "summary": {"verdict": verdict, "exit_code": exit_code, "strict": strict, "reason": "",
                    "counts": {"error": errors, "failed": sum(o == "failed" for o in outcomes.values())}},
        "cases": [{"id": i, "level": levels[i], "title": i.lower(), "outcome": o} for i, o in outcomes.items()],
        **top,
    }


def test_lists_and_gate() -> None:
    base = doc({"ROUTE-1": "passed", "ROUTE-2": "failed", "TOKEN-6": "failed", "TOKEN-7": "passed"})
    now = doc({"ROUTE-1": "passed", "ROUTE-2": "passed", "TOKEN-6": "failed", "TOKEN-7": "failed",
               "HEADER-3": "failed"}, exit_code=1, verdict="not conforming")
    c = compare(base, now)
    assert [x.id for x in c.fixes] == ["ROUTE-2"]
    assert [x.id for x in c.persisting] == ["TOKEN-6"]
    # A SHOULD regression gates by default, --strict or not; a MAY case new to the contract is listed, never gating.
    assert [(x.id, x.gating) for x in c.regressions] == [("TOKEN-7", True), ("HEADER-3", False)]
    assert c.exit_code == 1 and c.reason == "1 gating regression(s): TOKEN-7"
    # --gate must: the SHOULD regression is listed, not gating; the known MUST failure does not gate either.
    c = compare(base, now, gate="must")
    assert [(x.id, x.gating) for x in c.regressions] == [("TOKEN-7", False), ("HEADER-3", False)]
    assert c.exit_code == 0 and "1 known failure(s) persist" in c.reason


@pytest.mark.parametrize("strict", [False, True])
def test_should_regressions_gate_with_or_without_strict_and_new_gating_cases_gate(strict: bool) -> None:
    base = doc({"TOKEN-7": "passed"})
    # The run's verdict is conforming without --strict (a SHOULD failure), the gate still fails: it got worse.
    now = doc({"TOKEN-7": "failed"}, strict=strict, exit_code=1 if strict else 0)
    c = compare(base, now)
    assert c.exit_code == 1 and c.regressions[0].gating
    assert compare(base, now, gate="must").exit_code == 0
    # ROUTE-1 absent from the baseline (a case new to the contract) fails at MUST: gating under either gate.
    for gate in ("should", "must"):
        c = compare(base, doc({"TOKEN-7": "passed", "ROUTE-1": "failed"}, exit_code=1), gate=gate)
        assert c.exit_code == 1 and c.regressions[0].was == "absent" and c.regressions[0].gating


def test_may_never_gates() -> None:
    base = doc({"HEADER-3": "passed"})
    for gate in ("should", "must"):
        c = compare(base, doc({"HEADER-3": "failed"}, strict=True), gate=gate)
        assert c.exit_code == 0 and [(x.id, x.gating) for x in c.regressions] == [("HEADER-3", False)]
        lost = compare(base, doc({"HEADER-3": "skipped"}), gate=gate)
        assert lost.exit_code == 0 and not lost.no_longer_judged[0].gating
    with pytest.raises(ValueError, match="gate must be one of"):
        compare(base, base, gate="may")


def test_the_closing_line_states_gate_verdict_and_the_one_exit_code() -> None:
    c = compare(doc({"TOKEN-7": "passed"}), doc({"TOKEN-7": "failed"}))
    assert c.terminal_lines()[-1] == ("gate: FAIL (exit 1) - 1 gating regression(s): TOKEN-7 "
                                      "[gate on MUST and SHOULD regressions; this run's verdict: conforming]")
    lost = compare(doc({"ROUTE-1": "passed"}), doc({"ROUTE-1": "skipped"}), gate="must")
    last = lost.terminal_lines()[-1]
    assert last.startswith("gate: COULD NOT JUDGE (exit 2) - ") and "exit 0" not in last
    assert last.endswith("[gate on MUST regressions; this run's verdict: conforming]")


def test_unjudged_runs_stay_unjudged() -> None:
    base = doc({"ROUTE-1": "passed"})
    aborted = doc({"ROUTE-1": "not run"}, exit_code=2, verdict="could not judge")
    assert compare(base, aborted).exit_code == 2
    erred = doc({"ROUTE-1": "error"}, exit_code=2, errors=1, verdict="could not judge")
    assert compare(base, erred).exit_code == 2
    # A gating regression is a judgement even next to an error, as in the plain verdict.
    both = doc({"ROUTE-1": "failed", "TOKEN-6": "error"}, exit_code=1, errors=1)
    assert compare(base, both).exit_code == 1


def test_declared_deviations_never_gate() -> None:
    c = compare(doc({"ROUTE-1": "passed"}), doc({"ROUTE-1": "xfailed"}))
    assert c.exit_code == 0 and [(x.id, x.gating) for x in c.regressions] == [("ROUTE-1", False)]


def test_refusals() -> None:
    base = doc({}, contract_version="0.9")
    reasons = refusal_reasons(base, profile="agora-node-tokenserver", target="http://prod:8080",
                              contract_version="1.0")
    assert len(reasons) == 3
    assert "profile 'agora-token-service'" in reasons[0] and "contract 0.9" in reasons[1] and "prod" in reasons[2]
    # No contract version recorded (reports before it was): not a reason; the trailing slash is not either.
    assert refusal_reasons(doc({}), profile="agora-token-service", target="http://STAGING:8080/",
                           contract_version="1.0") == []
    embedded = doc({}, target="embedded reference server http://127.0.0.1:4000")
    assert refusal_reasons(embedded, profile="agora-token-service", target=None, contract_version="1.0") == []


def test_read_check_baseline_errors(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read"):
        read_check_baseline(tmp_path / "missing.json")
    (tmp_path / "a.json").write_text("{", encoding="utf-8")
    with pytest.raises(BaselineError, match="not JSON"):
        read_check_baseline(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"requests": 3}), encoding="utf-8")
    with pytest.raises(BaselineError, match=r"not a conformance\.json"):
        read_check_baseline(tmp_path / "b.json")


def test_markdown_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = doc({"ROUTE-1": "failed", "ROUTE-2": "passed"}, exit_code=1, verdict="not conforming")
    now["baseline"] = compare(doc({"ROUTE-1": "passed", "ROUTE-2": "failed"}), now).as_dict()
    md = check_markdown(now, target="x")
    assert md.startswith("## ❌ Token server conformance: not conforming · gate on MUST and SHOULD regressions: "
                         "fail (exit 1)")
    assert "| ROUTE-1 | MUST | failed | route-1 |" in md
    assert "### Against the baseline: ❌ fail (exit 1)" in md and "- ROUTE-1 [MUST] passed → failed (gating)" in md
    assert "**Fixes: 1**" in md
    assert "could not judge" in check_markdown(None, target="http://x", reason="the target does not answer")
    step = tmp_path / "step.md"
    step.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    written = write_summary(md, str(tmp_path / "s.md"))
    assert written == [tmp_path / "s.md", step]
    assert step.read_text(encoding="utf-8").startswith("earlier step\n## ❌")  # appended, not replaced


def test_lost_coverage_is_listed_and_gates_at_a_gating_level() -> None:
    base = doc({"ROUTE-1": "passed", "ROUTE-2": "passed", "TOKEN-6": "passed"})
    skipped = doc({"ROUTE-1": "passed", "ROUTE-2": "skipped"})  # TOKEN-6 absent from a full run
    skipped["cases"][1]["message"] = "no certificate"
    c = compare(base, skipped)
    assert [(x.id, x.now, x.gating) for x in c.no_longer_judged] == [("ROUTE-2", "skipped", True),
                                                                    ("TOKEN-6", "absent", True)]
    assert c.no_longer_judged[0].why == "no certificate"
    assert c.exit_code == 2 and "no longer judged: ROUTE-2, TOKEN-6" in c.reason
    assert any(line.startswith("no longer judged") for line in c.terminal_lines())
    # Only a SHOULD lost: it gates (exit 2) as SHOULD regressions do; under --gate must it is listed, not gating.
    only_should = doc({"ROUTE-1": "passed", "ROUTE-2": "skipped", "TOKEN-6": "passed"})
    assert compare(base, only_should).exit_code == 2
    c = compare(base, only_should, gate="must")
    assert c.exit_code == 0 and "1 no longer judged (not gating)" in c.reason
    # A --case subset does not lose what it did not select; a gating regression still wins.
    subset = doc({"ROUTE-1": "passed"})
    subset["summary"]["scope"] = "subset"
    assert compare(base, subset).no_longer_judged == [] and compare(base, subset).exit_code == 0
    both = doc({"ROUTE-1": "failed", "TOKEN-6": "skipped"}, exit_code=1)
    assert compare(base, both).exit_code == 1


def test_markdown_quotes_end_before_the_next_block() -> None:
    """A note quote directly followed by '**Regressions**' pulls the heading into the quote (finding 21)."""
    now = doc({"ROUTE-1": "failed"}, exit_code=1, verdict="not conforming")
    now["summary"]["notes"] = ["a MUST case was skipped"]
    comp = compare(doc({"ROUTE-1": "passed"}), now)
    comp.notes = ["forced: the baseline is of another target"]
    now["baseline"] = comp.as_dict()
    lines = check_markdown(now, target="x").splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(">") and not lines[i + 1].startswith(">"):
            assert lines[i + 1] == "", lines[i:i + 2]
