"""The first request of a run, and what its failure means.

One valid token request before any case decides whether the run can judge at
all, and says why not in one line instead of a list of failures:

- nothing answers (or an off-host redirect): exit 2;
- 401 / 403 and no credentials configured: exit 2, "pass them with --header";
  with credentials configured: exit 2, "the credentials are refused";
- the rate-limit wait budget ran out: exit 2 with that reason;
- no answer within the client's timeout while /ping answers at once: not an
  abort but a judged failure of LATENCY-1 (the server is up and too slow for
  every client); the other cases skip naming it, so the run costs one timeout.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import Exchange, TokenServerClient
from .target import Target

#: Key in ``Target.memo`` of the evidence LATENCY-1 fails on when a token request outlived the client's timeout.
LATENCY_MEMO = "latency_timeout"
#: How long the liveness probe after a timeout may take.
PROBE_TIMEOUT = 3.0


@dataclass
class Preflight:
    abort: str | None = None
    #: LATENCY-1's evidence: the target is up but a token request outlived the client's timeout.
    slow: str | None = None
    exchange: Exchange | None = None


def timed_out(error: str | None) -> bool:
    return bool(error) and ("no complete response" in str(error))


def liveness(target: Target) -> Exchange:
    """A short request to /ping (or /) with a fresh client: does anything answer quickly?"""
    path = target.profile.routes.get("ping", "/")
    probe = TokenServerClient(target.settings.url, timeout=min(PROBE_TIMEOUT, target.settings.timeout),
                              headers=target.client.headers)
    try:
        return probe.get(path)
    finally:
        probe.close()


def slow_evidence(target: Target, what: str, ex: Exchange) -> str | None:
    """LATENCY-1's evidence if ``ex`` timed out while the target answers other requests; else None."""
    if not timed_out(ex.error):
        return None
    alive = liveness(target)
    if alive.error or alive.status is None:
        return None
    reason = (f"{what}: no answer within the client's timeout of {target.settings.timeout:g} s, while "
              f"GET {target.profile.routes.get('ping', '/')} answered {alive.status} in {alive.elapsed_s * 1000:.0f} ms")
    target.memo[LATENCY_MEMO] = (reason, ex)
    return reason


def preflight(target: Target) -> Preflight:
    request = target.rtc_request()  # the profile's shape: a POST body where the server wants one
    path = f"{request.method} {request.path}"
    ex = target.send(request)
    result = Preflight(exchange=ex)
    client = target.client
    if client.exhausted:
        result.abort = client.exhausted
    elif ex.error:
        result.slow = slow_evidence(target, path, ex)
        if result.slow is None:
            what = "the target answers with an off-host redirect" if "another host" in ex.error else "the target does not answer"
            result.abort = f"{what}: {ex.error}"
    elif ex.status in (401, 403):
        if not target.settings.has_credentials:
            result.abort = ("the server requires authentication; pass it with --header 'Name: value' (or "
                            f"$TOKEN_SERVER_HEADERS, --header-file): {path} answered {ex.status}")
        else:
            names = ", ".join(target.client.headers)
            result.abort = (f"the server refuses the configured credentials ({path} answered {ex.status} with "
                            f"{names}): check their values")
    return result
