"""Where the reference server's app id and certificate come from, and what it refuses to start with."""

from __future__ import annotations

import httpx
import pytest

from conformance.reference.app import Settings, app_from_env, settings_from_env
from conformance.reference.issuer import TokenIssuer, is_hex32
from conformance.reference.threaded import ThreadedServer
from conformance.tokens import decode, verify

# Fixed values: parametrized test ids contain them, and pytest-xdist workers must collect the same ids.
APP_ID = "5ad1e0a4c3f84d2b9e6a7c8d9e0f1a2b"
CERT = "0f9e8d7c6b5a49382716051a2b3c4d5e"


def test_both_unset_generates_a_fresh_demo_pair() -> None:
    first, generated = settings_from_env({})
    second, _ = settings_from_env({"APP_ID": "", "APP_CERTIFICATE": "  "})
    assert generated
    assert is_hex32(first.app_id) and is_hex32(first.certificate)
    assert first.app_id != first.certificate
    assert (first.app_id, first.certificate) != (second.app_id, second.certificate)
    assert (first.default_expiry, first.max_expiry) == (3600, 86400)


@pytest.mark.parametrize(
    "env",
    [
        {"APP_ID": APP_ID, "APP_CERTIFICATE": CERT},
        {"APP_ID": f" {APP_ID}\n", "APP_CERTIFICATE": f"{CERT}\n"},
    ],
)
def test_both_set_are_used(env: dict[str, str]) -> None:
    settings, generated = settings_from_env(env)
    assert not generated
    assert (settings.app_id, settings.certificate) == (APP_ID, CERT)


def test_upper_case_hex_is_accepted() -> None:
    settings, _ = settings_from_env({"APP_ID": APP_ID.upper(), "APP_CERTIFICATE": CERT.upper()})
    assert settings.certificate == CERT.upper()


@pytest.mark.parametrize(
    ("env", "needles"),
    [
        ({"APP_ID": APP_ID}, ("APP_CERTIFICATE is not",)),
        ({"APP_ID": APP_ID, "APP_CERTIFICATE": ""}, ("APP_CERTIFICATE is not",)),
        ({"APP_CERTIFICATE": CERT}, ("APP_ID is not",)),
        ({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT[:31]}, ("APP_CERTIFICATE", "31 characters")),
        ({"APP_ID": APP_ID, "APP_CERTIFICATE": CERT + "0"}, ("APP_CERTIFICATE", "33 characters")),
        ({"APP_ID": APP_ID, "APP_CERTIFICATE": "g" + CERT[1:]}, ("APP_CERTIFICATE", "hexadecimal")),
        ({"APP_ID": "not-an-app-id", "APP_CERTIFICATE": CERT}, ("APP_ID", "13 characters")),
        ({"APP_ID": APP_ID + "-", "APP_CERTIFICATE": CERT}, ("APP_ID", "33 characters")),
    ],
)
def test_partial_or_malformed_pairs_are_refused_without_quoting_the_certificate(
    env: dict[str, str], needles: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError) as info:
        settings_from_env(env)
    message = str(info.value)
    for needle in needles:
        assert needle in message
    assert "32 hexadecimal" in message
    assert CERT[:16] not in message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"app_id": "x", "certificate": CERT},
        {"app_id": APP_ID, "certificate": "short"},
        {"app_id": APP_ID, "certificate": CERT, "default_expiry": 0},
        {"app_id": APP_ID, "certificate": CERT, "default_expiry": 7200, "max_expiry": 3600},
    ],
)
def test_settings_validate_themselves(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_settings_and_issuer_reprs_hide_the_certificate() -> None:
    assert CERT not in repr(Settings(APP_ID, CERT))
    assert CERT not in repr(TokenIssuer(APP_ID, CERT))
    assert APP_ID in repr(TokenIssuer(APP_ID, CERT))


@pytest.mark.parametrize(("app_id", "cert"), [("", CERT), (APP_ID, ""), (APP_ID, "z" * 32), ("0" * 31, CERT)])
def test_issuer_refuses_what_agoraiotools_would_turn_into_empty_tokens(app_id: str, cert: str) -> None:
    with pytest.raises(ValueError, match="32 hexadecimal"):
        TokenIssuer(app_id, cert)


def test_app_factory_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ID", APP_ID)
    monkeypatch.setenv("APP_CERTIFICATE", CERT)
    with ThreadedServer(app_from_env()) as server:
        token = httpx.get(f"{server.url}/rtm/bob/").json()["rtmToken"]
    assert decode(token).app_id == APP_ID
    assert verify(token, CERT)


def test_app_factory_refuses_to_invent_a_pair_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ID", raising=False)
    monkeypatch.delenv("APP_CERTIFICATE", raising=False)
    with pytest.raises(RuntimeError, match="APP_CERTIFICATE"):
        app_from_env()
