"""Failure messages say what differs in the user's terms: the app id the token carries against the configured
one, the header that was absent, which secret-looking text appeared where (never the secret itself)."""

from __future__ import annotations

import pytest

from tests.faulty.runner import Run, run_check, serving
from tests.faulty.servers import AUTH_HEADER, FAULTS

#: fault -> the case whose message is read, and the phrases it must carry.
MESSAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rtc-key-token": ("ROUTE-1", ("no non-empty string under 'rtcToken', the key the client reads",
                                  "the answer's keys: 'token'")),
    "text-plain": ("ROUTE-2", ("the token answer is labelled 'text/plain", "not JSON: proxies, browsers and logs")),
    "no-ping": ("ROUTE-5", ("the health check answered 404 instead of 200",)),
    "wrong-app-id": ("TOKEN-3", ("the token carries app id", "not the configured one (--app-id")),
    "certificate-header": ("SEC-1", ("the app certificate (32 characters, not shown) appears in the "
                                     "x-app-certificate header of the 200 answer",)),
    "certificate-in-errors": ("SEC-1", ("appears in the body of the 400 answer (at character",)),
    "trace-in-400": ("SEC-2", ("the body of the 400 answer shows the server's internals: Python traceback (",)),
    "token-in-400": ("SEC-3", ("the body of the 400 refusal carries a 007 token of", "starting '007eJx")),
    "admin-privilege": ("SEC-4", ("the publisher token also grants", "which no client asked for")),
    "rtc-plus-rtm": ("SEC-4", ("the token also grants RTM (services: RTC, RTM), which was not asked for",)),
    "auth-bypass-rtm": ("SEC-5", ("with a token: the route issues tokens without the credentials",)),
}


def _judge(key: str, case: str) -> Run:
    fault = next(f for f in FAULTS if f.key == key)
    with serving(fault.make) as (url, settings):
        return run_check(url, certificate=settings.certificate, app_id=settings.app_id, profile=fault.profile,
                         headers=dict([AUTH_HEADER]) if fault.credentials else None, cases=[case])


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_failure_names_the_difference(key: str) -> None:
    case, phrases = MESSAGES[key]
    run = _judge(key, case)
    assert run.document is not None, run.output[-3000:]
    message = run.message(case)
    assert run.outcomes[case] == "failed", message
    for phrase in phrases:
        assert phrase in message, (phrase, message[:2000])
    if case == "SEC-1":  # where it was, never the certificate itself
        assert "the app certificate" in message and run.document["target"] and "not shown" in message
