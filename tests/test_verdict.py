"""Findings and CaseFailure: what a failed case tells the person who has to fix the server."""

from __future__ import annotations

import pytest

from conformance.verdict import CaseFailure, Finding, Findings, fail


class FakeExchange:
    """Anything with curl() and summary() can be quoted in a finding."""

    def __init__(self, path: str) -> None:
        self.path = path

    def curl(self) -> str:
        return f"curl -sS -i http://127.0.0.1:8080{self.path}"

    def summary(self, limit: int = 200) -> str:
        return "200 application/json '{}'"


def test_findings_collect_several_then_fail_once() -> None:
    f = Findings()
    assert not f
    assert f.check(True, "ignored", "x", "x") is True
    assert f.check(False, "uid 4294967296", "a 4xx without a token", "200: a token was issued",
                   FakeExchange("/rtc/c/publisher/uid/4294967296/")) is False
    f.add("expiry abc", ["400", "422"], "200")
    assert f
    assert len(f.items) == 2
    with pytest.raises(CaseFailure) as info:
        f.conclude()
    failure = info.value
    assert isinstance(failure, AssertionError)  # pytest reports it as a failure, not an error
    assert [x.what for x in failure.findings] == ["uid 4294967296", "expiry abc"]
    text = str(failure)
    assert text == failure.render()
    assert text.splitlines() == [
        "- uid 4294967296",
        "    Expected: a 4xx without a token",
        "    Actual:   200: a token was issued",
        "    Reproduce: curl -sS -i http://127.0.0.1:8080/rtc/c/publisher/uid/4294967296/",
        "- expiry abc",
        "    Expected one of:",
        "      * 400",
        "      * 422",
        "    Actual:   200",
    ]


def test_conclude_without_findings_passes() -> None:
    f = Findings()
    f.check(True, "fine", "200", "200")
    f.conclude()  # no exception


def test_finding_render_without_curl() -> None:
    text = Finding("GET /ping", ('200 {"message": "pong"}',), "404").render()
    assert "Reproduce" not in text
    assert 'Expected: 200 {"message": "pong"}' in text


def test_fail_raises_one_finding() -> None:
    with pytest.raises(CaseFailure) as info:
        fail("Content-Type", "application/json", "text/html", FakeExchange("/rtc/c/publisher/uid/0/"))
    (finding,) = info.value.findings
    assert finding.expected == ("application/json",)
    assert finding.curl == "curl -sS -i http://127.0.0.1:8080/rtc/c/publisher/uid/0/"


def test_tokens_in_messages_are_shortened_but_recognisable() -> None:
    from conformance.verdict import shorten_tokens

    token = "007eJxTYLhwYN7O" + "A" * 180 + "Q3dA"
    legacy = "006" + "970ca35de60c44645bbae8a215061b33" + "IAD" + "x" * 120
    text = f"200 application/json '{{\"rtcToken\":\"{token}\"}}' and {legacy}, uid 4294967296, channel conformance"
    short = shorten_tokens(text)
    assert token not in short and legacy not in short
    assert "'{\"rtcToken\":\"007eJxTYLhwYN7…Q3dA\"}'" in short
    assert "006970ca35de60…xxxx" in short
    assert "uid 4294967296, channel conformance" in short  # nothing else is touched
