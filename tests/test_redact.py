"""The redactor: the certificate never leaves the process, whatever its letter case; nothing else is touched."""

from __future__ import annotations

import pytest

from conformance.redact import REDACTED, Redactor

CERT = "5cfd2fd1755d40ecb72977518be15d3b"


@pytest.mark.parametrize("variant", [CERT, CERT.upper(), CERT.lower(), "5CFD2fd1755D40ecb72977518BE15d3b"])
def test_certificate_replaced_in_any_case(variant: str) -> None:
    r = Redactor([CERT])
    text = f'500 application/json \'{{"error": "bad config", "cert": "{variant}"}}\''
    out = r.redact(text)
    assert variant not in out
    assert CERT not in out.lower()
    assert out == text.replace(variant, REDACTED)


def test_every_occurrence_replaced() -> None:
    r = Redactor([CERT])
    out = r.redact(f"{CERT} and {CERT.upper()}\n{CERT}{CERT}")
    assert out == f"{REDACTED} and {REDACTED}\n{REDACTED}{REDACTED}"


@pytest.mark.parametrize("secret", [None, "", "abc"])
def test_missing_or_short_secrets_ignored(secret: str | None) -> None:
    r = Redactor([secret])
    assert not r
    assert r.redact("abc abcdef") == "abc abcdef"


def test_empty_redactor_is_identity() -> None:
    r = Redactor()
    assert not r
    assert r.redact(CERT) == CERT


def test_several_secrets_and_late_additions() -> None:
    r = Redactor([CERT])
    other = "0123456789abcdef0123456789abcdef"
    assert r.redact(other) == other
    r.add(other)
    r.add(other.upper())  # the same secret again changes nothing
    assert r
    assert r.redact(f"{CERT}/{other}") == f"{REDACTED}/{REDACTED}"


def test_secret_containing_another_is_replaced_whole() -> None:
    r = Redactor(["abcd", "abcdabcd-long"])
    assert r.redact("x abcdabcd-long y abcd") == f"x {REDACTED} y {REDACTED}"


def test_regex_characters_in_secrets_are_literal() -> None:
    r = Redactor(["a.b*c(d)"])
    assert r.redact("a.b*c(d) axbbc(d)") == f"{REDACTED} axbbc(d)"
