"""The reference server passes the whole suite; judged with another profile, it fails exactly where they differ.

The first proof is what makes the faulty-server proofs meaningful: a case that
failed against the correct server would be a false alarm. The second documents
profile handling: the agora-node-tokenserver profile asks for role "audience"
(which the reference server refuses) and for 006 tokens (it issues 007), and
has no POST /getToken.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conformance.contract import REQUIREMENTS
from conformance.reference.app import create_app
from tests.faulty.runner import child_environment, run_check, serving
from tests.faulty.servers import NEEDS_CREDENTIALS

ALL_CASES = {r.id for r in REQUIREMENTS}


def test_reference_server_passes_every_case_strictly(tmp_path: Path) -> None:
    """``token-conformance check --strict`` with no URL: the embedded reference server, certificate known; a web app
    at https://app.example.com reads its token (a simple GET, Access-Control-Allow-Origin: *), so HEADER-5 runs."""
    argv = [sys.executable, "-m", "conformance", "check", "--strict", "--report-dir", str(tmp_path),
            "--web-origin", "https://app.example.com"]
    proc = subprocess.run(argv, env=child_environment(None), cwd=tmp_path, capture_output=True, text=True,
                          timeout=240, check=False)
    output = proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))
    outcomes = {c["id"]: c["outcome"] for c in doc["cases"]}
    assert set(outcomes) == ALL_CASES
    # Without --header the authentication cases skip: the embedded server has no credentials to enforce.
    not_passed = {case: outcome for case, outcome in outcomes.items()
                  if outcome != "passed" and not (outcome == "skipped" and case in NEEDS_CREDENTIALS)}
    assert not not_passed, output[-4000:]
    assert proc.returncode == 0 and doc["summary"]["verdict"] == "conforming" and doc["summary"]["strict"] is True
    assert (tmp_path / "junit.xml").is_file() and (tmp_path / "conformance.html").is_file()


# Against the reference server, the agora-node-tokenserver profile fails:
NODE_PROFILE_FAILS = {
    "ROUTE-1": "the subscriber role is called 'audience' there; the reference server answers 400",
    "TOKEN-2": "the profile expects 006 tokens, the reference server issues 007",
    "PROP-1": "generated requests with role 'audience' are refused (positive_data_acceptance)",
}
# ...and skips:
NODE_PROFILE_SKIPS = {
    "ROUTE-8": "the profile has no POST /getToken",
    "TOKEN-7": "no 'audience' token to judge",
    "TOKEN-8": "its subscriber token is refused, and the case skips as a whole",
    "SEC-4": "its subscriber token is refused, and the case skips as a whole",
    "SEC-5": "no credentials configured",
    "SEC-6": "no credentials configured",
    "HEADER-5": "no web origin declared",
}


def test_node_profile_against_the_reference_server_fails_where_they_differ() -> None:
    with serving(create_app) as (url, settings):
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                        profile="agora-node-tokenserver")
    assert run.document is not None, run.output[-3000:]
    assert run.document["profile"]["name"] == "agora-node-tokenserver"
    assert run.failed == set(NODE_PROFILE_FAILS), {c: run.message(c)[:800] for c in run.failed}
    assert run.skipped == set(NODE_PROFILE_SKIPS)
    assert "not applicable: profile 'agora-node-tokenserver' has no post_get_token route" in run.message("ROUTE-8")
    assert "'audience'" in run.message("ROUTE-1")
    assert run.having("passed") == ALL_CASES - set(NODE_PROFILE_FAILS) - set(NODE_PROFILE_SKIPS)
    assert run.exit_code == 1
