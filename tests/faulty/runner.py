"""Run the conformance suite against a faulty server: the shared engine of the proofs and the detection score.

The server runs in this process (ThreadedServer, 127.0.0.1, a free port); the
suite runs in a child process (``conformance.api.check``, what the ``check``
command calls), because a pytest session nested inside another one shares
plugins, module state and the terminal. The certificate
reaches the child through its environment only, as a user would pass it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.reference.app import Settings, demo_settings
from conformance.reference.threaded import ThreadedServer

from .servers import Factory, Fault

CERTIFICATE_ENV = "TOKEN_SERVER_APP_CERTIFICATE"
#: A guard against a hung child; a full strict run takes ~15 s on an idle machine.
CHILD_TIMEOUT_S = 240.0


@dataclass
class Run:
    """What one ``check`` run reported."""

    exit_code: int
    document: dict[str, Any] | None
    output: str
    seconds: float
    argv: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> dict[str, str]:
        return {c["id"]: c["outcome"] for c in (self.document or {}).get("cases", [])}

    def having(self, *outcomes: str) -> set[str]:
        return {case for case, outcome in self.outcomes.items() if outcome in outcomes}

    @property
    def failed(self) -> set[str]:
        return self.having("failed")

    @property
    def skipped(self) -> set[str]:
        return self.having("skipped")

    def message(self, case: str) -> str:
        for c in (self.document or {}).get("cases", []):
            if c["id"] == case:
                return str(c.get("message", ""))
        return ""


def child_environment(certificate: str | None, headers: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without anything that would steer the child's pytest or plugin, plus the certificate
    and the credentials (``$TOKEN_SERVER_HEADERS``, as a CI job would pass them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    if certificate:
        env[CERTIFICATE_ENV] = certificate
    if headers:
        env["TOKEN_SERVER_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in headers.items())
    return env


#: The child: ``conformance.api.check`` with options as JSON (never the certificate: that comes from the environment).
_CHILD = (
    "import json, sys\n"
    "from conformance.api import CheckOptions, check\n"
    "sys.exit(check(CheckOptions(**json.loads(sys.argv[1]))).exit_code)\n"
)
def check_options(url: str, report_dir: str, *, cases: Sequence[str] = (), strict: bool = True,
                  app_id: str | None = None, timeout: float | None = None, profile: str | None = None,
                  prop_examples: int | None = None, extra: Sequence[str] = (), workers: int | None = None,
                  web_origins: Sequence[str] = (), browser: bool = False) -> dict[str, Any]:
    """The ``CheckOptions`` of a child run, as JSON-able keyword arguments (``extra``: more pytest arguments;
    ``workers``: xdist's ``-n``)."""
    extra = list(extra)
    if prop_examples is not None:
        extra += ["--token-prop-examples", str(prop_examples)]
    return {"url": url, "report_dir": report_dir, "cases": ",".join(cases) or None, "strict": strict,
            "app_id": app_id, "timeout": timeout, "profile": profile, "extra_pytest_args": extra,
            "workers": workers, "web_origins": list(web_origins), "browser": browser}


def run_check(url: str, *, certificate: str | None = None, guard: float = CHILD_TIMEOUT_S,
              headers: dict[str, str] | None = None, **options: Any) -> Run:
    """``conformance.api.check`` against ``url`` in a child process; its exit code and conformance.json."""
    with tempfile.TemporaryDirectory(prefix="faulty-check-") as tmp:
        argv = [sys.executable, "-c", _CHILD, json.dumps(check_options(url, tmp, **options))]
        started = time.monotonic()
        proc = subprocess.run(argv, env=child_environment(certificate, headers), cwd=tmp, capture_output=True, text=True,
                              timeout=guard, check=False)
        report = Path(tmp) / "conformance.json"
        document = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
        return Run(proc.returncode, document, proc.stdout + proc.stderr, time.monotonic() - started, argv)


@contextmanager
def serving(factory: Factory, settings: Settings | None = None) -> Iterator[tuple[str, Settings]]:
    """Serve the app ``factory`` builds on a free loopback port: yields (url, settings)."""
    settings = settings or demo_settings()
    with ThreadedServer(factory(settings)) as server:
        yield server.url, settings


#: PROP-1 examples per operation in a proof (the suite's default, 25, is for judging real servers).
PROOF_PROP_EXAMPLES = 8


def judge(fault: Fault, *, full: bool = False, strict: bool = True) -> Run:
    """Run the suite against ``fault``: its proof selection, or with ``full`` every case at default settings."""
    from .servers import AUTH_HEADER

    with serving(fault.make) as (url, settings):
        return run_check(url, certificate=settings.certificate, strict=strict, timeout=fault.timeout,
                         headers=dict([AUTH_HEADER]) if fault.credentials else None,
                         cases=() if full else fault.proof_cases,
                         app_id=settings.app_id if fault.know_app_id else None, profile=fault.profile,
                         prop_examples=None if full else PROOF_PROP_EXAMPLES, web_origins=fault.web_origins,
                         browser=bool(fault.web_origins))


def assert_browser_row(run: Run, origins: tuple[str, ...], *, standard: str, browser_reads: bool) -> None:
    """HEADER-5's report records, per origin, the Fetch standard's verdict and the headless Chromium's."""
    assert run.document is not None
    rows = run.document["summary"]["extra"]["web_origins"]
    assert [r["origin"] for r in rows] == list(origins), rows
    from .servers import AUTH_HEADER

    secret = AUTH_HEADER[1].split()[-1]
    assert secret not in run.output and secret not in json.dumps(run.document), "the credential leaked"
    for row in rows:
        assert row["standard"] == standard, row
        assert row["browser"]["name"].startswith("Chromium ") and row["browser"]["read_token"] is browser_reads, row
