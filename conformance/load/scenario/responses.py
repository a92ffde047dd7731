"""How the simulated client reads a token server's answer: the token in it (as a client reads a body,
client-behaviour.md 3), with a cap on the body's size, and whether it is a rate limiter's wait.

Locust-free apart from the response object it is given (geventhttpclient's, through Locust's FastHttpSession).
"""

from __future__ import annotations

import json
from typing import Any

# Imported here, not in the first request: conformance.client imports httpx (~0.2 s), which would be timed as
# the first fetch's latency.
from conformance.client import retry_after
from conformance.load.scenario.validation import connection_failure
from conformance.profiles import resolve_pointer

#: A token answer is well under 1 KiB; a body past this is a failed request, and reading stops there.
MAX_BODY_BYTES = 64 * 1024


def capped_body(response: Any) -> bytes | None:
    """The body, read (when streamed) at most MAX_BODY_BYTES; None past that.

    An endless body would otherwise be read for the whole run and grow the
    generator's memory. Stopping mid-message makes geventhttpclient close
    that connection rather than return it to the pool.
    """
    stream = getattr(response, "_response", None)
    if stream is None or not hasattr(stream, "read"):
        content = response.content or b""
        return content if len(content) <= MAX_BODY_BYTES else None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(16384)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
    return b"".join(chunks)


def token_in(response: Any, pointer: str = "/rtcToken", success: int = 200) -> tuple[str | None, str | None]:
    """(token, None) or (None, why there is no token) — as a client reads a body (client-behaviour.md 3).

    ``pointer`` and ``success`` are the profile's: where its answer carries the token, and its success status.
    """
    status = response.status_code
    if status != success:
        if not status:
            return None, connection_failure(getattr(response, "error", None))
        return None, f"HTTP {status}"
    raw = capped_body(response)
    if raw is None:
        return None, f"body over {MAX_BODY_BYTES // 1024} KiB"
    try:
        body = json.loads(raw)
    except ValueError:
        return None, "the body is not JSON"
    try:
        token = resolve_pointer(body, pointer) if isinstance(body, dict) else None
    except KeyError:
        token = None
    if not isinstance(token, str):
        return None, f"no string under {pointer[1:] if pointer.count('/') == 1 else pointer!r}"
    return token, None


#: A 429 without Retry-After: wait this long (seconds) before the next attempt.
DEFAULT_RETRY_AFTER = 1.0


def rate_limited(response: Any) -> float | None:
    """Seconds to wait if ``response`` is a rate limiter's (429, or 503 with Retry-After); else None."""
    status = response.status_code
    if status not in (429, 503):
        return None
    after = retry_after(response.headers.get("Retry-After") if response.headers else None)
    if status == 503 and after is None:
        return None
    return DEFAULT_RETRY_AFTER if after is None else after
