"""Servers that take fewer inputs: each fault of the long tail fails its own case, through its profile.

The correct servers of the same shapes pass ``--strict`` (tests/variants/servers.py: one-role-query,
chosen-uid-post, fixed-lifetime, raw-token); here each fault (tests/faulty/small.py) fails exactly its expected
cases among a narrow selection, every other case of the selection passing or saying why it does not apply, and
the messages say the serious part (whom a wrapped uid's token admits, what a bad role's token lets one do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.faulty import small
from tests.faulty.runner import Run, run_check, serving
from tests.faulty.small import SMALL_BY_KEY, SMALL_FAULTS, SmallFault

from .test_proofs import UNEXPECTED_OUTCOMES, describe, gating_exit

NOT_APPLICABLE = "not applicable"


def _judge(fault: SmallFault) -> Run:
    with serving(fault.make) as (url, settings):
        return run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                         profile=fault.profile, cases=fault.cases)


@pytest.mark.parametrize("fault", SMALL_FAULTS, ids=[f.key for f in SMALL_FAULTS])
def test_small_server_fault_fails_its_case_only(fault: SmallFault) -> None:
    run = _judge(fault)
    assert run.document is not None, run.output[-3000:]
    assert set(run.outcomes) == set(fault.cases)
    assert not run.having(*UNEXPECTED_OUTCOMES), describe(run, run.having(*UNEXPECTED_OUTCOMES))
    assert run.failed == fault.expected, describe(run, run.failed ^ fault.expected)
    for case in run.skipped - fault.skips:  # only what the shape cannot express
        assert run.message(case).startswith(NOT_APPLICABLE), describe(run, {case})
    for case in fault.skips:
        assert "judged by" in run.message(case), describe(run, {case})
    assert run.exit_code == gating_exit(run.failed, True) == 1


def _messages(key: str, case: str) -> str:
    fault = SMALL_BY_KEY[key]
    with serving(fault.make) as (url, settings):
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                        profile=fault.profile, cases=(case,))
    assert run.failed == {case}, run.output[-3000:]
    return run.message(case)


def test_a_wrapped_uid_names_whom_its_token_admits() -> None:
    message = _messages("key-uid-wrapped", "INPUT-5")
    assert "uid 4294967296 above 4294967295" in message
    assert "bound to uid 0: any user" in message


def test_a_bad_role_value_that_publishes_says_so() -> None:
    message = _messages("post-truthy-role", "INPUT-1")
    for sent in ("role 'no' (a truthy string)", "role 'false' (a truthy string)", "a number as role"):
        assert sent in message, message
    assert "with publisher privileges (publish audio stream" in message
    # null is falsy in JavaScript: a subscriber token, which fails safe but is still no refusal
    null_row = message[message.index("- role null"):].split("Reproduce:")[0]
    assert "(a subscriber token)" in null_row, null_row


def test_an_answer_naming_another_uid_than_the_token_fails_token_4() -> None:
    message = _messages("post-answers-other-uid", "TOKEN-4")
    assert "(the uid the answer names)" in message and "crc_uid is not the CRC-32 of" in message


@pytest.mark.parametrize(("make", "name"), [(small.one_role_query(), "one-role-query"),
                                            (small.chosen_uid_post(), "chosen-uid-post"),
                                            (small.raw_token(), "raw-token")])
def test_a_working_profile_of_your_own_gets_no_family_hint(make: Any, name: str, tmp_path: Path) -> None:
    # The answer carries a token at the profile's pointer: no "another server family", "another JSON API" or "write
    # a profile" hint, even when TOKEN-2 fails (the profile says 007 where the server issues 006, or the reverse).
    data = json.loads(Path(small.profile(name)).read_text(encoding="utf-8"))
    data["token_version"] = "007" if data["token_version"] == "006" else "006"
    wrong_version = tmp_path / "profile.json"
    wrong_version.write_text(json.dumps(data), encoding="utf-8")
    with serving(make) as (url, settings):
        for profile, failed in ((small.profile(name), set()), (str(wrong_version), {"TOKEN-2"})):
            run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                            profile=profile, cases=("ROUTE-1", "TOKEN-2"))
            assert run.document is not None and run.failed == failed, run.output[-2000:]
            hints = run.document["summary"].get("extra", {}).get("hints", [])
            assert hints == [], hints
            assert "hint:" not in run.output, run.output[-2000:]


def test_a_short_fixed_lifetime_is_renewed_and_judged(tmp_path: Path) -> None:
    # EXPIRY-6 waits out a fixed lifetime it can (12 s: renewal 2 s before expiry) and judges the renewal; a fixed
    # lifetime of an hour is "not applicable" with the reason (the variant fixed-lifetime shows it).
    data = json.loads(Path(small.profile("fixed-lifetime")).read_text(encoding="utf-8"))
    data["expiry"]["default"] = 12
    path = tmp_path / "fixed-12s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with serving(small.fixed_lifetime(12)) as (url, settings):
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                        profile=str(path), cases=("EXPIRY-6",))
    assert run.document is not None and run.outcomes == {"EXPIRY-6": "passed"}, run.output[-2000:]


@pytest.mark.parametrize(("version", "token_8"), [("007", "passed"), ("006", "skipped")])
def test_a_chosen_uid_only_inside_the_token_is_judged_as_far_as_the_token_allows(
        version: str, token_8: str, tmp_path: Path) -> None:
    # No uid pointer: a 007 token carries its uid, so TOKEN-4 and TOKEN-8 judge against it; a 006 token carries
    # only its CRC-32: TOKEN-4 judges the channel and says the uid is not judged, TOKEN-8 is not applicable.
    data = json.loads(Path(small.profile("chosen-uid-post")).read_text(encoding="utf-8"))
    data["token_version"] = version
    del data["operations"]["rtc"]["uid"]
    path = tmp_path / "no-pointer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with serving(small.chosen_uid_post(version=version, names_uid=False)) as (url, settings):
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                        profile=str(path), cases=("TOKEN-1", "TOKEN-4", "TOKEN-8"))
    assert run.document is not None and run.failed == set(), run.output[-2000:]
    assert run.outcomes["TOKEN-4"] == "passed" and run.outcomes["TOKEN-8"] == token_8, run.outcomes
    if token_8 == "skipped":
        assert "a signature that covers a uid cannot be verified without it" in run.message("TOKEN-8")
