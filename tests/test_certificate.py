"""A malformed app certificate is a configuration mistake said in one line (exit 2), never a false TOKEN-8.

Judged as a certificate, ``bad`` would make every signature "invalid": a correct server would fail a MUST case
and ``decode`` would answer "signature": "invalid". Every command (and the plugin) reads it through
conformance.certificate, whatever the source (file or environment).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.certificate import CERTIFICATE_ENV, CertificateError, read_certificate
from conformance.cli import main

GOOD = "5cfd2fd1755d40ecb72977518be15d3b"
TOKEN_007 = "007eJxTYLhwYN7O"  # not decoded: the certificate is refused before


@pytest.mark.parametrize("value", ["bad", GOOD[:31], GOOD + "0", "g" + GOOD[1:]])
def test_a_file_that_is_not_32_hex_characters_is_refused(tmp_path: Path, value: str) -> None:
    (tmp_path / "c").write_text(value + "\n", encoding="utf-8")
    with pytest.raises(CertificateError, match="an app certificate is 32 hexadecimal characters") as info:
        read_certificate(str(tmp_path / "c"))
    assert value not in str(info.value)  # the message names the file, never its content


def test_the_environment_is_checked_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CERTIFICATE_ENV, "bad")
    with pytest.raises(CertificateError, match=f"\\${CERTIFICATE_ENV} does not hold an app certificate"):
        read_certificate(None)
    monkeypatch.setenv(CERTIFICATE_ENV, f" {GOOD.upper()}\n")
    assert read_certificate(None) == GOOD.upper()


@pytest.mark.parametrize("argv", [
    ["check", "http://127.0.0.1:9"],
    ["decode", TOKEN_007],
    ["load", "http://127.0.0.1:9"],
    ["watch", "http://127.0.0.1:9", "--runs", "1"],
])
def test_every_command_refuses_it_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c").write_text("bad\n", encoding="utf-8")
    code = main([*argv, "--certificate-file", "c"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"token-conformance {argv[0]}: error: the certificate file 'c' does not hold an app "
                                "certificate: an app certificate is 32 hexadecimal characters (it has 3 characters)"]


def test_the_plugin_refuses_it_as_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "c").write_text("bad\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider",
         "--token-case", "TOKEN-8", "--token-app-certificate-file", "c"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "an app certificate is 32 hexadecimal characters" in result.stderr
    assert "signed with another app certificate" not in result.stdout
