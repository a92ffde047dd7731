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
from typing import Any

import pytest

from conformance.plugin.handover import Handover, handed_inputs
from conformance.plugin.options import _web_origins, read_option
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


def _config(command_line: dict[str, Any], ini: dict[str, Any], **extra: Any) -> Any:
    """What read_option uses of a pytest.Config: its command line, its ini keys, its stash (a worker: its input)."""
    return SimpleNamespace(stash={}, getoption=lambda dest, default=None: command_line.get(dest, default),
                           getini=lambda name: ini.get(name), **extra)


def test_an_option_is_read_from_the_command_line_then_the_hand_over_then_ini_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API hands its option values over typed; a caller's own pytest argument still wins, and what the API
    left unset falls through to ini and the environment, as when the API's flags were on the command line."""
    monkeypatch.setenv("TOKEN_TIMEOUT", "9")
    monkeypatch.setenv("TOKEN_MAX_SKEW", "4")
    command_line: dict[str, Any] = {}
    ini: dict[str, Any] = {"token_max_rps": "11"}
    config = _config(command_line, ini)
    Handover(Inputs(load_profile(None)), {"timeout": 2.5, "max_rps": 3.0,
                                         "web_origin": ["https://a.example.com"]}).pytest_configure(config)
    assert read_option(config, "timeout") == 2.5 and read_option(config, "max_rps") == 3.0
    assert read_option(config, "max_skew") == 4.0  # not handed: the environment
    command_line.update(token_timeout="7", token_web_origin=["https://b.example.com"])
    assert read_option(config, "timeout") == 7.0
    # A repeatable option: the handed values, then the command line's (as the API's flags came first).
    assert _web_origins(config) == ("https://a.example.com", "https://b.example.com")


def test_without_a_hand_over_the_plugin_reads_its_own_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's own pytest run: --token-* options, ini keys, environment, as always."""
    monkeypatch.setenv("TOKEN_TIMEOUT", "9")
    config = _config({"token_max_skew": "3"}, {"token_max_rps": "11"})
    assert (read_option(config, "timeout"), read_option(config, "max_skew"), read_option(config, "max_rps")) == \
        (9.0, 3.0, 11.0)


def test_an_xdist_worker_reads_the_options_its_controller_handed_on() -> None:
    inputs = Inputs(load_profile(None), {"X-Key": "secret-value"}, None)
    node = SimpleNamespace(workerinput={})
    Handover(inputs, {"case": "ROUTE-1", "timeout": 2.5, "strict": True}).pytest_configure_node(node)
    json.dumps(node.workerinput)  # it crosses a pipe: JSON-able
    worker = _config({}, {}, workerinput=node.workerinput)
    assert read_option(worker, "case") == "ROUTE-1" and read_option(worker, "timeout") == 2.5
    assert read_option(worker, "strict") is True and read_option(worker, "deviations") is None
