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
    assert "GET /ping" in out and "tokens: AccessToken 006" in out


@pytest.mark.parametrize(("name", "words"), [
    ("one-role-query", ["role: none in the request; every RTC token is a publisher token",
                        "lifetime: none in the request; every token lives a fixed 3600 s",
                        "GET /api/v1/rtcToken?channelName=my-channel&uid=42"]),
    ("chosen-uid-post", ["role: publisher = true, subscriber = false (typed JSON values)",
                         "uid: none in the request; the server chooses it and names it at /uid",
                         "accepted 10..86400 s", "health: none (ROUTE-5 does not apply)",
                         'POST /rtctoken {"channel": "my-channel", "isPublisher": true, "expire": 600}']),
    ("raw-token", ["rtc: 200 whose whole body is the token (text/plain)"]),
])
def test_show_says_what_a_server_does_not_take_in_words(name: str, words: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.faulty.small import profile

    assert main(["profile", "show", profile(name)]) == 0
    out = capsys.readouterr().out
    for text in words:
        assert text in out, (text, out)
    assert "RTC subscriber" not in out or name != "one-role-query"


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


def test_every_option_docs_profiles_names_is_accepted() -> None:
    """docs/profiles.md names options of check, profile show/init and the pytest plugin: each must exist there."""
    import re
    from pathlib import Path

    from conformance.cli import build_parser
    from conformance.plugin import _OPTIONS

    text = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    parser = build_parser()
    known: set[str] = {flag for flag, *_ in _OPTIONS}
    actions = [parser._subparsers._group_actions[0]]  # type: ignore[union-attr]
    while actions:
        for sub in actions.pop().choices.values():
            for action in sub._actions:
                known.update(action.option_strings)
                if action.choices and isinstance(action.choices, dict):
                    actions.append(action)
    assert named and named <= known, sorted(named - known)
