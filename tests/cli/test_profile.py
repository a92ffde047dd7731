"""``token-conformance profile show|init``: the resolved profile and its requests, a starter file that loads,
and one-line errors (exit 2) for a bad profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.profiles import load_profile


def test_show_a_bundled_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "agora-node-tokenserver"]) == 0
    out = capsys.readouterr().out
    assert "GET /rtc/my-channel/audience/uid/42/" in out  # the role word of the family
    assert "GET /rtc/my-channel/publisher/uid/42/?expiry=600" in out
    assert "GET /ping" in out and "tokens 006" in out


def test_show_json_is_the_resolved_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "--json", "agora-token-service"]) == 0
    assert json.loads(capsys.readouterr().out) == load_profile("agora-token-service").document()


@pytest.mark.parametrize("shape", ["path", "query", "json"])
def test_init_writes_a_starter_that_loads(tmp_path: Path, shape: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.json"
    assert main(["profile", "init", str(target), "--shape", shape]) == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["$comment"] and data["extends"] == "agora-token-service"
    assert load_profile(str(target)).name == "my-token-server"
    assert main(["profile", "show", str(target)]) == 0
    out = capsys.readouterr().out
    assert {"path": "GET /rtc/", "query": "GET /token?channel=my-channel", "json": "POST /api/token {"}[shape] in out
    assert main(["profile", "init", str(target)]) == 2  # never overwrites without --force
    assert "exists" in capsys.readouterr().err
    assert main(["profile", "init", str(target), "--force"]) == 0


def test_bad_profile_is_one_line_with_the_json_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"operations": {"rtc": {"path": "/t/{channel}/{uid}", "token": "token"}}}), encoding="utf-8")
    for argv in (["profile", "show", str(bad)], ["check", "--profile", str(bad)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "$.operations.rtc.token: 'token' is not a JSON pointer" in err
        assert "Traceback" not in err


def test_unknown_profile_and_no_action(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "agora-go"]) == 2
    assert "unknown profile 'agora-go'" in capsys.readouterr().err
    assert main(["profile"]) == 2
