"""Load runs against a server as deployed: behind a bearer token and a rate limiter.

The rate limiter's 429s are counted apart from failures (``rate_limited`` in load.json), waited out as
Retry-After says, and gated only by their own SLO (--max-limited-ratio); the credential reaches Locust
through $TOKEN_SERVER_HEADERS and appears in no file of the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import faulty
from .outcomes import breached, held
from .test_runs import run_load

SECRET = "Bearer load-test-credential-93be1c"


def guarded(app: faulty.ASGIApp, every: int = 3, after: bytes = b"0") -> faulty.ASGIApp:
    """401 without the credential; every ``every``-th token request answered 429 with Retry-After ``after``.

    Retry-After 0 by default: a renewal limited twice in a row, 1.5 s before expiry, would rightly drop
    its session, which is not what these tests are about."""
    count = 0

    async def wrapped(scope: faulty.Scope, receive: faulty.Receive, send: faulty.Send) -> None:
        nonlocal count
        if faulty.is_token_request(scope):
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            if auth != SECRET:
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b'{"error": "unauthorized"}'})
                return
            count += 1
            if count % every == 0:
                await send({"type": "http.response.start", "status": 429, "headers": [(b"retry-after", after)]})
                await send({"type": "http.response.body", "body": b'{"error": "slow down"}'})
                return
        await app(scope, receive, send)

    return wrapped


def test_rate_limits_are_counted_apart_and_credentials_never_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_SERVER_HEADERS", f"Authorization: {SECRET}")
    with faulty.serving(guarded) as (url, settings):
        monkeypatch.setenv("TOKEN_SERVER_APP_CERTIFICATE", settings.certificate)
        code, doc, out, err = run_load(capsys, tmp_path, "--users", "4", "--run-time", "6s", url=url)
    assert doc is not None, err[-2000:]
    assert doc["rate_limited"] > 0 and doc["failures"] == 0, doc
    assert held(code, doc), err[-2000:]
    assert "rate limited:" in out
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.suffix in (".csv", ".html", ".json", ".log", ".txt"):
            assert "load-test-credential" not in f.read_text(encoding="utf-8", errors="replace"), f.name


def test_limited_ratio_slo_gates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with faulty.serving(guarded) as (url, settings):
        monkeypatch.setenv("TOKEN_SERVER_APP_CERTIFICATE", settings.certificate)
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "4", "--run-time", "6s", "--header",
                                        f"Authorization: {SECRET}", "--max-limited-ratio", "0.05", url=url)
    assert code == 1 and doc is not None and "limited_ratio" in breached(doc), err[-2000:]
    assert "load-test-credential" not in err


def test_without_credentials_load_says_to_pass_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with faulty.serving(guarded) as (url, _settings):
        code, _doc, _out, err = run_load(capsys, tmp_path, "--users", "1", "--run-time", "6s", url=url)
    assert code == 2 and "requires authentication" in err and "--header" in err
    # The server answered: the address is right, only the credentials are missing (newcomer finding 22).
    assert "cannot reach" not in err and "refused the probe request" in err, err


def test_wrong_credentials_are_named_as_refused_not_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with faulty.serving(guarded) as (url, _settings):
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "1", "--run-time", "6s", "--header",
                                        "Authorization: Bearer not-the-right-one", url=url)
    assert code == 2 and doc is None and not (tmp_path / "locust.log").exists(), err  # never started Locust
    assert f"{url} refused the probe request: the server refuses the configured credentials (401)" in err, err
    assert "cannot reach" not in err and "not-the-right-one" not in err
