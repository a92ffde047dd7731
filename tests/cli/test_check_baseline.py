"""``check --baseline``: a deploy that fixes a defect passes the gate, one that introduces it fails.

The same URL serves a faulty server and then the reference (or the reverse), as a staging deployment does
from one deploy to the next; ``check`` runs as users run it (``python -m conformance``, a fresh process).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from conformance.reference.app import create_app, demo_settings
from conformance.reference.threaded import ThreadedServer
from tests.faulty.runner import child_environment
from tests.faulty.servers import FAULTS

SETTINGS = demo_settings()
#: Publisher tokens without publish privileges: TOKEN-6 (MUST) fails, the other TOKEN cases pass.
MUTE = next(f for f in FAULTS if f.key == "mute-publisher")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: An unknown role silently issued a subscriber token (the Go server's defect): INPUT-1 (SHOULD) fails.
DOWNGRADE = next(f for f in FAULTS if f.key == "role-downgraded")


def check(tmp: Path, port: int, app: Any, name: str, *extra: str, cases: str = "TOKEN",
          certificate: str | None = SETTINGS.certificate) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One ``check --case TOKEN`` run against ``app`` served on ``port``; its output and conformance.json."""
    with ThreadedServer(app, port=port) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "conformance", "check", server.url, "--case", cases, "--app-id", SETTINGS.app_id,
             "--report-dir", name, "--summary-md", f"{name}.md", *extra],
            cwd=tmp, env=child_environment(certificate), capture_output=True, text=True, timeout=180,
            check=False,
        )
    report = tmp / name / "conformance.json"
    return proc, json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}


def ids(doc: dict[str, Any], key: str) -> list[str]:
    return [c["id"] for c in doc["baseline"][key]]


def test_faulty_baseline_then_reference_is_a_fix_and_the_reverse_a_regression(tmp_path: Path) -> None:
    port = free_port()
    faulty, reference = MUTE.make(SETTINGS), create_app(SETTINGS)

    before, base_doc = check(tmp_path, port, faulty, "faulty")
    assert before.returncode == 1 and base_doc["summary"]["failed_by_level"]["MUST"] == ["TOKEN-6"], before.stdout

    # The deploy fixed it: exit 0, the fix named in the terminal, conformance.json, the HTML and the summary.
    fixed, doc = check(tmp_path, port, reference, "fixed", "--baseline", "faulty/conformance.json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert ids(doc, "fixes") == ["TOKEN-6"] and ids(doc, "regressions") == [] and ids(doc, "persisting") == []
    assert doc["baseline"]["exit_code"] == 0
    assert "fixes: 1" in fixed.stdout and fixed.stdout.rstrip().splitlines()[-1].startswith("gate: PASS (exit 0)")
    # The suite's verdict line leaves the exit code to the gate's line: one exit code in the log.
    assert "verdict: CONFORMING (the baseline gate below sets the exit code)" in fixed.stdout
    html = (tmp_path / "fixed" / "conformance.html").read_text(encoding="utf-8")
    assert "Against the baseline" in html and "Fixes (1)" in html
    assert "**Fixes: 1**" in (tmp_path / "fixed.md").read_text(encoding="utf-8")

    # The known defect persists in a second faulty run: listed, not gating, although the server is not conforming.
    again, doc = check(tmp_path, port, faulty, "again", "--baseline", "faulty/conformance.json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert doc["summary"]["verdict"] == "not conforming"
    assert ids(doc, "persisting") == ["TOKEN-6"] and ids(doc, "regressions") == []

    # The reverse: a baseline from the reference, then the faulty deploy: a gating regression, exit 1.
    broke, doc = check(tmp_path, port, faulty, "broke", "--baseline", "fixed/conformance.json")
    assert broke.returncode == 1, broke.stdout + broke.stderr
    assert doc["baseline"]["regressions"] == [
        {"id": "TOKEN-6", "level": "MUST", "title": doc["baseline"]["regressions"][0]["title"], "was": "passed",
         "now": "failed", "gating": True, "why": ""}
    ]
    assert "gate: FAIL (exit 1) - 1 gating regression(s): TOKEN-6" in broke.stdout
    md = (tmp_path / "broke.md").read_text(encoding="utf-8")
    assert "| TOKEN-6 | MUST | failed |" in md and "**Regressions: 1**" in md and "(gating)" in md


def test_a_baseline_of_another_target_is_refused_unless_forced(tmp_path: Path) -> None:
    first, _ = check(tmp_path, free_port(), create_app(SETTINGS), "first")
    assert first.returncode == 0, first.stdout + first.stderr
    other = free_port()
    refused, doc = check(tmp_path, other, create_app(SETTINGS), "refused", "--baseline", "first/conformance.json")
    assert refused.returncode == 2 and doc == {}
    assert "is for another run: it judged 'http://127.0.0.1:" in refused.stderr
    assert "--baseline-force" in refused.stderr and "Traceback" not in refused.stderr
    forced, doc = check(tmp_path, other, create_app(SETTINGS), "forced", "--baseline", "first/conformance.json",
                        "--baseline-force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert doc["baseline"]["notes"][0].startswith("forced: it judged")


def test_lost_coverage_is_listed_everywhere_and_gates_as_could_not_judge(tmp_path: Path) -> None:
    """A baseline judged with the certificate, then the same server without it: TOKEN-8 (signature, MUST) passed
    and is now skipped. '0 regressions, gate: PASS' would hide that the gate lost its signature check."""
    port = free_port()
    app = create_app(SETTINGS)
    before, base_doc = check(tmp_path, port, app, "signed")
    assert before.returncode == 0 and any(c["id"] == "TOKEN-8" and c["outcome"] == "passed"
                                          for c in base_doc["cases"]), before.stdout
    now, doc = check(tmp_path, port, app, "unsigned", "--baseline", "signed/conformance.json", certificate=None)
    assert now.returncode == 2, now.stdout + now.stderr
    assert "TOKEN-8" in ids(doc, "no_longer_judged") and ids(doc, "regressions") == []
    lost = next(c for c in doc["baseline"]["no_longer_judged"] if c["id"] == "TOKEN-8")
    assert lost["was"] == "passed" and lost["now"] == "skipped" and lost["gating"] and lost["why"]
    assert doc["baseline"]["exit_code"] == 2
    assert "no longer judged (passed in the baseline, not judged now):" in now.stdout
    last = now.stdout.rstrip().splitlines()[-1]
    assert last.startswith("gate: COULD NOT JUDGE (exit 2)") and "TOKEN-8" in last, last
    html = (tmp_path / "unsigned" / "conformance.html").read_text(encoding="utf-8")
    assert "No longer judged (passed in the baseline)" in html
    md = (tmp_path / "unsigned.md").read_text(encoding="utf-8")
    assert "**No longer judged (passed in the baseline):" in md and "- TOKEN-8 [MUST] passed → skipped (gating)" in md


def test_a_should_regression_fails_the_gate_without_strict(tmp_path: Path) -> None:
    """A regression the gate exists for: a good baseline, then a deploy that silently downgrades unknown roles to subscriber tokens.
    INPUT-1 is a SHOULD: the run's own verdict stays conforming without --strict, the gate fails (it got worse);
    --gate must narrows the gate to MUST and lets it through, listed."""
    port = free_port()
    cases = "INPUT-1,TOKEN-6"
    good, base_doc = check(tmp_path, port, create_app(SETTINGS), "good", cases=cases)
    assert good.returncode == 0 and {c["id"]: c["outcome"] for c in base_doc["cases"]}["INPUT-1"] == "passed"

    broke, doc = check(tmp_path, port, DOWNGRADE.make(SETTINGS), "broke", "--baseline", "good/conformance.json",
                       cases=cases)
    assert broke.returncode == 1, broke.stdout + broke.stderr
    assert doc["summary"]["verdict"] == "conforming" and doc["summary"]["failed_by_level"]["SHOULD"] == ["INPUT-1"]
    assert [(c["id"], c["level"], c["gating"]) for c in doc["baseline"]["regressions"]] == [("INPUT-1", "SHOULD", True)]
    out = broke.stdout.rstrip().splitlines()
    # One closing line: the gate, the process's one exit code, what the gate judges and the run's verdict.
    assert out[-1] == ("gate: FAIL (exit 1) - 1 gating regression(s): INPUT-1 "
                       "[gate on MUST and SHOULD regressions; this run's verdict: conforming]"), out[-1]
    assert not [line for line in out if line.startswith("verdict:") and "(exit" in line], out
    md = (tmp_path / "broke.md").read_text(encoding="utf-8")
    heading = md.splitlines()[0]
    assert heading.startswith("## ❌ Token server conformance: conforming (subset run"), heading
    assert heading.endswith(" · gate on MUST and SHOULD regressions: fail (exit 1)"), heading

    narrow, doc = check(tmp_path, port, DOWNGRADE.make(SETTINGS), "narrow", "--baseline", "good/conformance.json",
                        "--gate", "must", cases=cases)
    assert narrow.returncode == 0, narrow.stdout + narrow.stderr
    assert [(c["id"], c["gating"]) for c in doc["baseline"]["regressions"]] == [("INPUT-1", False)]
    assert narrow.stdout.rstrip().splitlines()[-1].startswith("gate: PASS (exit 0) - no gating regression")
    assert "[gate on MUST regressions; this run's verdict: conforming]" in narrow.stdout
