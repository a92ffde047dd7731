"""Proofs that every conformance case can fail, and fails for the fault it is about.

Each fault of tests/faulty/servers.py differs from the reference server in one
way. Against it the suite must fail exactly the expected cases - nothing else
may fail, error or go unrun; skips are allowed only where the catalogue says a
prerequisite is missing - and exit 1 when a gating case fails (MUST, or SHOULD
under --strict), 0 when only a MAY case does. Each proof runs the sections of
the expected cases (slow cases only where expected); the full-suite picture is
tools/detection_score.py's job (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import pytest

from conformance.contract import REQUIREMENTS, Level, by_id
from conformance.reference.app import demo_settings
from conformance.reference.issuer import TokenIssuer
from conformance.tokens import verify
from tests.faulty.issuers import resign
from tests.faulty.runner import Run, assert_browser_row, judge, run_check, serving
from tests.faulty.servers import CONTROLS, FAULTS, NEEDS_CREDENTIALS, WEB_ORIGIN, Fault

UNEXPECTED_OUTCOMES = ("error", "not run", "xfailed", "xpassed")


def gating_exit(failed: set[str], strict: bool) -> int:
    return 1 if any(by_id(case).level.gates(strict) for case in failed) else 0


def describe(run: Run, cases: Set[str]) -> str:
    return "\n\n".join(f"{case}: {run.outcomes.get(case)}\n{run.message(case)[:1500]}" for case in sorted(cases))


def assert_proof(run: Run, fault: Fault, *, strict: bool = True) -> None:
    selected = set(fault.proof_cases)
    assert run.document is not None, f"no report (exit {run.exit_code}):\n{run.output[-3000:]}"
    assert set(run.outcomes) == selected
    assert not run.having(*UNEXPECTED_OUTCOMES), describe(run, run.having(*UNEXPECTED_OUTCOMES))
    expected = fault.expected & selected
    missed, extra = expected - run.failed, run.failed - expected
    assert not missed, f"not detected: {sorted(missed)}\n" + describe(run, missed)
    assert not extra, f"failed although the fault is not about them: {sorted(extra)}\n" + describe(run, extra)
    unexplained = run.skipped - fault.skips
    assert not unexplained, f"skipped without a failed prerequisite: {sorted(unexplained)}\n" + describe(run, unexplained)
    assert run.exit_code == gating_exit(run.failed, strict) == run.document["summary"]["exit_code"]
    if fault.web_origins:
        assert_browser_row(run, fault.web_origins, standard="failed", browser_reads=fault.browser_reads)



def _params() -> list[Any]:
    out = []
    for fault in FAULTS:
        marks = [pytest.mark.xfail(strict=True, reason=f"known miss: {fault.known_miss}")] if fault.known_miss else []
        out.append(pytest.param(fault, id=fault.key, marks=marks))
    return out


@pytest.mark.parametrize("fault", _params())
def test_fault_is_detected_by_its_cases_only(fault: Fault) -> None:
    assert_proof(judge(fault), fault)


# --- levels -------------------------------------------------------------------


def _fault(key: str) -> Fault:
    return next(f for f in FAULTS if f.key == key)


def test_a_should_fault_gates_only_in_strict_mode() -> None:
    fault = _fault("cacheable")
    assert fault.level == "SHOULD" and fault.expected == {"HEADER-1"}
    lenient = judge(fault, strict=False)
    assert_proof(lenient, fault, strict=False)
    assert lenient.exit_code == 0 and lenient.document is not None
    summary = lenient.document["summary"]
    assert summary["verdict"] == "conforming" and summary["failed_by_level"]["SHOULD"] == ["HEADER-1"]
    strict = judge(fault, strict=True)
    assert strict.exit_code == 1 and strict.failed == {"HEADER-1"}


def test_a_may_fault_never_gates() -> None:
    fault = _fault("no-preflight")
    assert fault.level == "MAY"
    run = judge(fault, strict=True)
    assert run.failed == {"HEADER-3"} and run.exit_code == 0


# --- the catalogue itself -----------------------------------------------------


def test_every_requirement_has_a_fault_of_its_own() -> None:
    primaries = {f.requirement for f in FAULTS}
    assert [r.id for r in REQUIREMENTS if r.id not in primaries] == []


def test_every_must_case_is_made_to_fail_by_a_detected_fault() -> None:
    detected = set().union(*(f.expected for f in FAULTS if not f.known_miss))
    assert [r.id for r in REQUIREMENTS if r.level is Level.MUST and r.id not in detected] == []


def test_catalogue_entries_are_complete() -> None:
    assert len(FAULTS) >= 30
    ids = {r.id for r in REQUIREMENTS}
    for f in FAULTS:
        assert f.fault.endswith(".") and f.expected <= ids and f.skips <= ids, f.key
        assert bool(f.also) == bool(f.why), f"{f.key}: every extra expected case needs its reason"
        assert f.requirement in f.proof_cases, f.key


def test_resigning_with_the_same_certificate_reproduces_the_token() -> None:
    """post-other-certificate changes the signature only: re-signed with the right certificate, nothing changes."""
    settings = demo_settings()
    issuer = TokenIssuer(settings.app_id, settings.certificate)
    for token in (issuer.rtc("a b", "publisher", "uid", "0", 600), issuer.rtm("bob", 60),
                  issuer.rtc("c", "subscriber", "userAccount", "Zoë", 60)):
        assert resign(token, settings.certificate) == token
        assert not verify(resign(token, "0" * 32), settings.certificate)


# --- controls: each fault-building mechanism, used without a fault, passes -----

CONTROL_CASES = {
    "crafted-issuer": "TOKEN,EXPIRY,SEC",
    "lax-rtc-route": "ROUTE,TOKEN,INPUT,HEADER",
    "rewrite-identity": "ROUTE,INPUT,HEADER,SEC",
    "path-identity": "ROUTE,INPUT",
    "json-request-identity": "ROUTE,TOKEN,INPUT,SEC",
    "resign-identity": "ROUTE,TOKEN,EXPIRY,SEC",
}


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_control_passes(name: str) -> None:
    with serving(CONTROLS[name]) as (url, settings):
        # A web app's origin declared: HEADER-5 judges the rebuilt reference too (a simple GET, ACAO *).
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id,
                        cases=CONTROL_CASES[name].split(","), web_origins=(WEB_ORIGIN,))
    assert run.document is not None, run.output[-3000:]
    # Without credentials configured the authentication cases skip (the auth-required control is test_deployed's).
    not_passed = {c for c, o in run.outcomes.items() if o != "passed" and not (o == "skipped" and c in NEEDS_CREDENTIALS)}
    assert not not_passed, describe(run, not_passed)
    assert run.exit_code == 0


# --- one root cause, one failure, named in the user's terms ------------------------


def test_node_uid0_fails_token4_alone_and_says_what_differs() -> None:
    """A 006 token bound to "0": TOKEN-8 verifies it against that binding (valid), TOKEN-4 names the CRC's source."""
    run = judge(_fault("node-uid0-as-text"))
    assert run.failed == {"TOKEN-4"}, {c: run.message(c)[:600] for c in run.failed}
    assert run.outcomes["TOKEN-8"] == "passed"
    assert "crc_uid is the CRC-32 of '0', not of ''" in run.message("TOKEN-4")
    # The terminal starts with the root causes, before pytest's failure details.
    _, _, tail = run.output.partition("root causes")
    assert tail and "TOKEN-4 [MUST]" in tail.splitlines()[1], run.output[-3000:]
    assert tail.index("TOKEN-4 [MUST]") < tail.index("Requirement:")


def test_clock_fault_says_the_times_in_words() -> None:
    """EXPIRY-4 names times as ISO dates and the difference in words, not a collapsed range of Unix timestamps."""
    import re

    run = judge(_fault("clock-ahead"))
    assert "EXPIRY-4" in run.failed, run.output[-2000:]
    message = run.message("EXPIRY-4")
    assert re.search(r"Expected: within \d+ s of the request, sent at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", message), message
    assert re.search(r"Actual: +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, (59\d|60\d) s after the request", message), message
    assert not re.search(r"\b1\d{9}\b", message.split("Reproduce")[0]), message  # no raw Unix time


def test_failure_messages_quote_tokens_shortened() -> None:
    """A token in Actual: or the root cause is shortened (007eJx…); the Reproduce line gets the full one."""
    import re

    run = judge(_fault("uid-large-wrapped"))
    assert "INPUT-5" in run.failed, run.output[-2000:]
    message = run.message("INPUT-5")
    assert "007eJ" in message and "…" in message, message
    assert not re.search(r"00[67][A-Za-z0-9+/_=-]{40,}", message + run.output), message


def test_reproduce_lines_say_which_variable_holds_a_header_from_the_environment() -> None:
    """Credentials from $TOKEN_SERVER_HEADERS appear in curl lines as $TOKEN_HEADER_<NAME>: one hint says to set it."""
    fault = _fault("uid-large-wrapped")
    with serving(fault.make) as (url, settings):
        run = run_check(url, certificate=settings.certificate, cases=["INPUT-5"], app_id=settings.app_id,
                        headers={"X-Api-Key": "s3cr3t-value"})
    assert run.failed == {"INPUT-5"}, run.output[-2000:]
    assert '-H "X-Api-Key: $TOKEN_HEADER_X_API_KEY"' in run.message("INPUT-5")
    hint = "hint: Reproduce lines read header values from the environment: export TOKEN_HEADER_X_API_KEY='...'"
    assert hint in run.output
    assert any("TOKEN_HEADER_X_API_KEY" in h for h in run.document["summary"]["extra"]["hints"])  # type: ignore[index]
    assert "s3cr3t-value" not in run.output


def test_the_standard_and_the_browser_disagree_only_on_the_wildcard() -> None:
    """HEADER-5's table: the Fetch standard's verdict and headless Chromium's agree on every web server of the two
    catalogues except '*' in Access-Control-Allow-Headers, which Chromium lets cover Authorization. Each proof
    (here and tests/variants) checks its own row against the report of a real --browser run."""
    from tests.variants.servers import VARIANTS

    table = {f.key: ("failed", f.browser_reads) for f in FAULTS if f.web_origins}
    table |= {v.key: ("passed", True) for v in VARIANTS if v.web_origins}
    assert table == {
        "web-preflight-401": ("failed", False),
        "web-authorization-not-allowed": ("failed", False),
        "web-wildcard-headers": ("failed", True),
        "web-no-acao-on-answer": ("failed", False),
        "web-other-origin": ("failed", False),
        "web-allow-list": ("passed", True),
        "web-wildcard-origin": ("passed", True),
        "web-cors-middleware": ("passed", True),
    }
    assert {key for key, (standard, reads) in table.items() if (standard == "passed") != reads} == {"web-wildcard-headers"}
