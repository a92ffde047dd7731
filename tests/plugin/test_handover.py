"""check hands the headers and the certificate it read once to the plugin in-process, and to xdist workers.

The child process runs ``conformance.api.check`` with the headers and the certificate file given as options
and an environment holding no ``TOKEN_*`` variable: with two xdist workers sending the requests, a server that
refuses requests without the credential answers tokens, and the signature is verified with the certificate,
only if the hand-over reached the workers (nothing else carries them: not argv, not the environment).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from conformance.plugin.handover import Handover, handed_inputs
from conformance.profiles import load_profile
from conformance.settings.inputs import Inputs
from tests.faulty.runner import check_options, child_environment, serving
from tests.faulty.servers import AUTH_HEADER, CREDENTIAL_CONTROLS

#: The child: conformance.api.check with the options as JSON.
CHILD = (
    "import json, sys\n"
    "from conformance.api import CheckOptions, check\n"
    "sys.exit(check(CheckOptions(**json.loads(sys.argv[1]))).exit_code)\n"
)


def test_xdist_workers_get_the_headers_and_the_certificate_without_the_environment(tmp_path: Path) -> None:
    name, value = AUTH_HEADER
    cert_file = tmp_path / "certificate"
    with serving(CREDENTIAL_CONTROLS["auth-required"]) as (url, s):
        cert_file.write_text(s.certificate, encoding="utf-8")
        options = check_options(url, str(tmp_path / "reports"), cases=["ROUTE-1", "TOKEN-8", "SEC-5"],
                                app_id=s.app_id, workers=2)
        options.update(headers=[f"{name}: {value}"], certificate_file=str(cert_file))
        env = child_environment(None)
        assert not [k for k in env if k.startswith("TOKEN_")]
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(options)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    document = json.loads((tmp_path / "reports" / "conformance.json").read_text(encoding="utf-8"))
    outcomes = {c["id"]: c["outcome"] for c in document["cases"]}
    assert outcomes == {"ROUTE-1": "passed", "TOKEN-8": "passed", "SEC-5": "passed"}, output[-3000:]
    assert proc.returncode == 0
    assert value not in output and s.certificate not in output


def test_the_hand_over_is_what_the_plugin_reads_and_hides_its_secrets() -> None:
    certificate = "0123456789abcdef0123456789abcdef"
    inputs = Inputs(load_profile(None), {"X-Key": "secret-value"}, certificate)

    config = SimpleNamespace(stash={})
    Handover(inputs).pytest_configure(config)  # type: ignore[arg-type]
    handed = handed_inputs(config)  # type: ignore[arg-type]
    assert handed is not None and handed.headers == {"X-Key": "secret-value"} and handed.profile is inputs.profile
    assert handed.certificate == certificate
    assert "secret-value" not in repr(handed) and certificate not in repr(handed)
    assert "secret-value" not in repr(inputs) and certificate not in repr(inputs)
