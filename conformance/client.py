"""The HTTP client the suite talks to a token server through.

It exists so that no case can hang, explode or leak because of what a server
sends: every request has an overall deadline (not just per-read timeouts, so a
server dripping one byte a second cannot stall a case), bodies are read with a
size cap, redirects are followed only on the target's own host, transport
errors become values instead of exceptions, and a target that stops answering
trips a breaker so the run costs one timeout, not one per case.

The client knows nothing of pytest, tokens or verdicts.
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

#: Bodies larger than this are cut; a token response is well under 1 KiB.
MAX_BODY_BYTES = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "token-conformance"


@dataclass
class Exchange:
    """One request and what came back (or why nothing did)."""

    method: str
    url: str
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes | None = None
    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    truncated: bool = False
    elapsed_s: float = 0.0
    #: Transport failure (refused, timeout, reset, not HTTP, off-host redirect); None if a response arrived.
    error: str | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (whatever the Content-Type, as clients do); raises ValueError."""
        if self.truncated:
            raise ValueError(f"body over {MAX_BODY_BYTES} bytes, not parsed")
        return json.loads(self.body.decode("utf-8"))

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def curl(self) -> str:
        """A curl command line that reproduces this request."""
        parts = ["curl", "-sS", "-i", "--max-time", "10"]
        if self.method != "GET":
            parts += ["-X", self.method]
        for name, value in self.request_headers.items():
            parts += ["-H", f"{name}: {value}"]
        if self.request_body is not None:
            parts += ["--data-binary", self.request_body.decode("utf-8", errors="replace")]
        parts.append(self.url)
        return " ".join(shlex.quote(p) for p in parts)

    def summary(self, limit: int = 200) -> str:
        """Status, content type and the start of the body, on one line."""
        if self.error:
            return f"no response: {self.error}"
        body = self.text.replace("\n", "\\n")
        if len(body) > limit:
            body = body[:limit] + f"... ({len(self.body)} bytes{'+' if self.truncated else ''})"
        ctype = self.content_type or "no Content-Type"
        return f"{self.status} {ctype} {body!r}"


class TokenServerClient:
    """Talks to one token server (base URL) with bounded time and size."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_body: int = MAX_BODY_BYTES,
        verify_tls: bool = True,
        max_redirects: int = 3,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self.timeout = timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            verify=verify_tls,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            trust_env=False,
        )
        self._lock = threading.Lock()
        #: Set once the target failed to answer in time or refused connections: later
        #: requests fail at once with this reason instead of waiting out the timeout again.
        self.down: str | None = None

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        follow_redirects: bool = True,
    ) -> Exchange:
        """Send one request; never raises for anything the server does."""
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        content = None if json_body is None else json.dumps(json_body).encode("utf-8")
        req_headers = dict(headers or {})
        if content is not None:
            req_headers.setdefault("Content-Type", "application/json")
        ex = Exchange(method=method, url=url, request_headers=req_headers, request_body=content)
        if self.down:
            ex.error = f"not sent: the target stopped answering earlier in this run ({self.down})"
            return ex
        start = time.monotonic()
        deadline = start + self.timeout
        for _ in range(self.max_redirects + 1):
            self._send(ex, url, deadline)
            if ex.error or not follow_redirects or ex.status not in REDIRECT_STATUSES:
                break
            location = ex.headers.get("location")
            if not location:
                break
            target = urljoin(url, location)
            tparts = urlsplit(target)
            if (tparts.scheme, tparts.hostname, tparts.port) != self._origin:
                ex.error = f"redirect to another host not followed: {location}"
                break
            ex.redirects.append(target)
            url = target
            if ex.status == 303:
                method, content = "GET", None
        else:
            ex.error = f"more than {self.max_redirects} redirects"
        ex.elapsed_s = time.monotonic() - start
        return ex

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def _send(self, ex: Exchange, url: str, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ex.error = f"no complete response within {self.timeout:g} s"
            return
        try:
            with self._http.stream(
                ex.method, url, headers=ex.request_headers, content=ex.request_body,
                timeout=httpx.Timeout(remaining, connect=min(remaining, 5.0)),
            ) as resp:
                ex.status = resp.status_code
                ex.headers = resp.headers
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():  # decoded: the cap also bounds a gzip bomb
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_body:
                        ex.truncated = True
                        break
                    if time.monotonic() > deadline:
                        ex.error = f"body not complete within {self.timeout:g} s ({size} bytes so far)"
                        break
                ex.body = b"".join(chunks)[: self.max_body]
        except httpx.TimeoutException:
            ex.error = f"no complete response within {self.timeout:g} s"
            self._trip(ex.error)
        except httpx.ConnectError as exc:
            ex.error = f"cannot connect to {self.base_url}: {_reason(exc)}"
            self._trip(ex.error)
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError) as exc:
            ex.error = f"not a valid HTTP response: {_reason(exc)}"
        except httpx.HTTPError as exc:
            ex.error = f"{type(exc).__name__}: {_reason(exc)}"
        except (ValueError, OSError) as exc:  # e.g. an invalid URL built from odd input
            ex.error = f"request failed: {type(exc).__name__}: {exc}"

    def _trip(self, reason: str) -> None:
        with self._lock:
            if self.down is None:
                self.down = reason

    def close(self) -> None:
        self._http.close()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
