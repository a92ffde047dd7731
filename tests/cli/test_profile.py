"""``token-conformance profile show|init|infer``: the resolved profile and its requests, a starter file that loads,
a profile inferred from an example request, and one-line errors (exit 2) for a bad profile or a failed inference."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response

from conformance.cli import main
from conformance.profiles import load_profile
from conformance.reference.app import Settings, create_app
from tests.faulty.asgi import ASGIApp, intercept, json_response
from tests.faulty.runner import serving
from tests.faulty.servers import AUTH_HEADER


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
    from conformance.settings.declarations import OPTIONS

    text = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text))
    parser = build_parser()
    known: set[str] = {o.pytest_flag for o in OPTIONS if o.pytest_flag}
    actions = [parser._subparsers._group_actions[0]]  # type: ignore[union-attr]
    while actions:
        for sub in actions.pop().choices.values():
            for action in sub._actions:
                known.update(action.option_strings)
                if action.choices and isinstance(action.choices, dict):
                    actions.append(action)
    assert named and named <= known, sorted(named - known)


# --- profile infer ----------------------------------------------------------------------------------------------


@pytest.fixture
def reference_url() -> Iterator[str]:
    with serving(lambda s: create_app(s)) as (url, _settings):
        yield url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_infer_writes_a_profile_that_show_accepts(tmp_path: Path, reference_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "inferred.json"
    argv = ["profile", "infer", reference_url, "--example", "GET /rtc/infer-room/publisher/uid/42/?expiry=600",
            "--output", str(target)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"written to {target}" in err and "found: uid: path segment 5" in err
    assert f"next: token-conformance profile show {target}; token-conformance check --profile {target}" in err
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["operations"]["rtc"]["path"] == "/rtc/{channel}/{role}/uid/{uid}/" and data["$comment"]
    assert main(["profile", "show", str(target)]) == 0
    assert "GET /rtc/my-channel/subscriber/uid/42/" in capsys.readouterr().out
    # An existing file is kept unless --force; '-' writes to standard output.
    assert main(argv) == 2
    assert f"{str(target)!r} exists; pass --force to overwrite it (or --output - for standard output)" in \
        capsys.readouterr().err
    assert main([*argv, "--force", "--name", "my-server"]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["name"] == "my-server"
    capsys.readouterr()
    assert main([*argv[:-1], "-"]) == 0
    assert json.loads(capsys.readouterr().out)["token_version"] == "007"


@pytest.mark.parametrize(("argv", "why"), [
    (["--example", "GET rtc"], "is not 'METHOD PATH[?QUERY] [JSON BODY]', e.g. 'GET /token?channel=c&uid=0' or"),
    (["--example", "GET /nowhere?channel=c"], "GET /nowhere?channel=c answered no token (404 application/json '{"),
    (["--example", "GET /rtc/c/publisher/uid/1/", "--output", "/nonexistent-dir/p.json"],
     "cannot write '/nonexistent-dir/p.json': no directory '/nonexistent-dir'"),
])
def test_infer_errors_are_one_line(reference_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   argv: list[str], why: str) -> None:
    output = ["--output", str(tmp_path / "p.json")] if "--output" not in argv else []
    assert main(["profile", "infer", reference_url, *argv, *output]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and why in err and "Traceback" not in err, err
    assert not (tmp_path / "p.json").exists()


def test_infer_from_an_unreachable_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["profile", "infer", url, "--example", "GET /t?c=1", "--output", str(tmp_path / "p.json"),
                 "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    # The URL once: "cannot connect to URL: ..." (not "cannot reach URL: cannot connect to URL: ...").
    assert err.startswith(f"token-conformance profile: error: cannot connect to {url}: ") and err.count("\n") == 1
    assert err.count(url) == 1


def _behind_bearer(settings: Settings) -> ASGIApp:
    """The reference app whose token routes want the test credential (AUTH_HEADER); /ping stays public."""
    name, expected = AUTH_HEADER

    def answer(request: Request) -> Response | None:
        if request.url.path.startswith("/rtc/") and request.headers.get(name) != expected:
            return json_response(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Bearer realm="tokens"'})
        return None

    return intercept(create_app(settings), answer)


def test_infer_sends_the_configured_credentials_and_never_writes_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    name, secret = AUTH_HEADER
    target = tmp_path / "p.json"
    argv = ["profile", "infer", "--example", "GET /rtc/infer-room/publisher/uid/7/", "--output", str(target)]
    with serving(_behind_bearer) as (url, _settings):
        assert main([*argv[:2], url, *argv[2:]]) == 2
        assert "a login wall (401): the server wants credentials; pass them with --header" in capsys.readouterr().err
        monkeypatch.setenv("TOKEN_SERVER_HEADERS", f"{name}: {secret}")
        assert main([*argv[:2], url, *argv[2:]]) == 0
    out = capsys.readouterr()
    assert secret not in target.read_text(encoding="utf-8") and secret not in out.err + out.out
    assert "Authorization" not in target.read_text(encoding="utf-8")


def test_infer_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["profile", "infer", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--example 'GET /api/v1/rtcToken?channelName=test&uid=0' --output my-profile.json" in out
    assert "--output FILE" in out or "-o FILE, --output FILE" in out
