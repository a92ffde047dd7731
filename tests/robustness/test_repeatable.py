"""Parallel and repeated ``check`` runs: the same verdicts, the same per-case outcomes, one merged report.

Two targets: the embedded reference server (conforming) and a faulty server that keeps uids in a signed
32-bit integer, so uid 4294967295 wraps to -1 (TOKEN-4 fails, nothing else). Each is judged four times,
serially and with ``-n 4`` (pytest-xdist), twice each, over every case except the two slowest
(EXPIRY-6 waits out a renewal, PROP-1 generates requests): EXPIRY-5 still waits into the next second,
and EXPIRY-1..4 compare clocks with the skew tolerance given explicitly (``--max-skew``), so the cases
where timing matters are in. All four runs must agree exactly.
"""

from __future__ import annotations

import collections
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.contract import REQUIREMENTS
from conformance.reference.app import Settings, create_app
from conformance.reference.issuer import TokenIssuer
from conformance.reference.threaded import ThreadedServer

from . import hostile
from .hostile import CliRun, run_cli

SLOWEST = ("EXPIRY-6", "PROP-1")
CASES = [r.id for r in REQUIREMENTS if r.id not in SLOWEST]
#: The clock tolerance of EXPIRY-1..4, explicit so that a run never depends on a default changing.
MAX_SKEW = "5"


class WrappingIssuer(TokenIssuer):
    """uids held in a signed 32-bit integer (a C, Java or Go ``int32`` bug): 4294967295 becomes -1."""

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        if tokentype == "uid" and int(uid) > 2**31 - 1:
            uid = str(int(uid) - 2**32)
        return super().rtc(channel, role, tokentype, uid, expiry)


@dataclass
class Target:
    name: str
    url: str | None  # None: the embedded reference server (check starts it)
    args: tuple[str, ...]
    env: dict[str, str]


@dataclass
class Runs:
    """The four runs of one target, by label."""

    target: Target
    runs: dict[str, CliRun]


def judge(target: Target, folder: Path, *extra: str) -> CliRun:
    where = (target.url,) if target.url else ()
    return run_cli("check", *where, "--case", ",".join(CASES), "--max-skew", MAX_SKEW, *target.args, *extra,
                   report_dir=folder, env=target.env)


@pytest.fixture(params=["embedded", "uid-int32"])
def runs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runs]:
    """Judge the target serially, with -n 4, serially again and with -n 4 again.

    One test uses it per target (not a module fixture shared by several tests: under xdist each worker
    would build its own and repeat the four runs).
    """
    if request.param == "embedded":
        target = Target("embedded", None, (), hostile.child_environment())
        yield Runs(target, _four(target, tmp_path))
        return
    settings = Settings(app_id=secrets.token_hex(16), certificate=secrets.token_hex(16))
    app = create_app(settings, WrappingIssuer(settings.app_id, settings.certificate))
    with ThreadedServer(app) as server:
        target = Target(request.param, server.url, ("--app-id", settings.app_id),
                        hostile.child_environment(TOKEN_SERVER_APP_CERTIFICATE=settings.certificate))
        yield Runs(target, _four(target, tmp_path))


def _four(target: Target, folder: Path) -> dict[str, CliRun]:
    done = {}
    for label, extra in (("serial", ()), ("n4", ("-n", "4")), ("serial again", ()), ("n4 again", ("-n", "4"))):
        done[label] = judge(target, folder / label.replace(" ", "-"), *extra)
    return done


EXPECTED_FAILED = {"embedded": set(), "uid-int32": {"TOKEN-4"}}
#: Cases that do not apply without credentials (SEC-5, SEC-6) or a web origin (HEADER-5): skipped in every run, alike.
NEED_CREDENTIALS = {r.id for r in REQUIREMENTS if {"credentials", "web_origin"} & set(r.needs)}


@pytest.mark.slow
def test_serial_parallel_and_repeated_runs_agree(runs: Runs) -> None:
    _every_run_reaches_the_expected_verdict(runs)
    _runs_agree_case_by_case(runs)
    _a_parallel_run_writes_one_merged_report(runs)


def _every_run_reaches_the_expected_verdict(runs: Runs) -> None:
    failed = EXPECTED_FAILED[runs.target.name]
    for label, run in runs.runs.items():
        run.assert_clean()
        assert run.exit_code == (1 if failed else 0), f"{label}: {run.output[-3000:]}"
        outcomes = run.outcomes()
        assert sorted(outcomes) == sorted(CASES), label
        assert {c for c, o in outcomes.items() if o == "failed"} == failed, f"{label}: {outcomes}"
        assert {c for c, o in outcomes.items() if o not in ("passed", "failed")} == NEED_CREDENTIALS, label
        assert ("bringing up nodes" in run.output) == label.startswith("n4"), label  # xdist really ran (or not)


def _runs_agree_case_by_case(runs: Runs) -> None:
    reference = runs.runs["serial"]
    expected = (reference.exit_code, _verdict(reference), reference.outcomes(), _counts(reference))
    for label, run in runs.runs.items():
        assert (run.exit_code, _verdict(run), run.outcomes(), _counts(run)) == expected, label


def _a_parallel_run_writes_one_merged_report(runs: Runs) -> None:
    serial, parallel = runs.runs["serial"], runs.runs["n4"]
    doc = parallel.document()
    assert doc is not None
    ids = [c["id"] for c in doc["cases"]]
    assert sorted(ids) == sorted(CASES) and len(ids) == len(set(ids))  # every case once, none lost
    assert (parallel.report_dir / "conformance.html").is_file()
    assert _junit(parallel) == _junit(serial)
    # The failure explains itself the same way whichever process ran it.
    for case in EXPECTED_FAILED[runs.target.name]:
        assert "4294967295" in _message(parallel, case) and "4294967295" in _message(serial, case)


def _verdict(run: CliRun) -> str:
    doc = run.document()
    assert doc is not None, run.output[-3000:]
    return str(doc["summary"]["verdict"])


def _counts(run: CliRun) -> dict[str, Any]:
    doc = run.document()
    assert doc is not None
    return dict(doc["summary"]["counts"])


def _message(run: CliRun, case: str) -> str:
    doc = run.document() or {}
    return next(str(c.get("message", "")) for c in doc.get("cases", []) if c["id"] == case)


def _junit(run: CliRun) -> dict[str, str]:
    """JUnit test case name -> outcome (passed, failure, error, skipped); every case exactly once."""
    root = ET.parse(run.report_dir / "junit.xml").getroot()
    found: dict[str, str] = {}
    names: collections.Counter[str] = collections.Counter()
    for case in root.iter("testcase"):
        name = case.get("name", "")
        names[name] += 1
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[name] = kinds[0] if kinds else "passed"
    assert all(n == 1 for n in names.values()), names
    return found


# --- requests: a parallel run asks the target what a serial run asks ---------------------------------


@pytest.mark.slow
def test_a_parallel_run_sends_what_a_serial_run_sends(tmp_path: Path) -> None:
    settings = Settings(app_id=secrets.token_hex(16), certificate=secrets.token_hex(16))
    app = create_app(settings)
    fresh: list[str] = []

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "conformance-fresh" in scope["path"]:
            fresh.append(scope["path"])
        await app(scope, receive, send)

    env = hostile.child_environment(TOKEN_SERVER_APP_CERTIFICATE=settings.certificate)
    cases = "EXPIRY-5,ROUTE-1,ROUTE-6,TOKEN-1"
    counts = {}
    with ThreadedServer(counting) as server:
        for label, extra in (("serial", ()), ("n4", ("-n", "4"))):
            fresh.clear()
            run = run_cli("check", server.url, "--case", cases, *extra, report_dir=tmp_path / label, env=env)
            run.assert_clean()
            assert run.exit_code == 0, run.output[-3000:]
            counts[label] = len(fresh)
    assert counts["serial"] == 2
    assert counts["n4"] == counts["serial"], counts
