"""The HTTP client the suite talks to a token server through.

It exists so that no case can hang, explode or leak because of what a server
sends: every request has an overall deadline (not just per-read timeouts, so a
server dripping one byte a second cannot stall a case), bodies are read with a
size cap, redirects are followed only on the target's own host, transport
errors become values instead of exceptions, and a target that stops answering
trips a breaker so the run costs one timeout, not one per case.

It also carries what a deployed server needs: configured headers (credentials,
shown in curl lines only as the shell variable to set), rate limits (429, or 503
with Retry-After, are waited out within a run-wide budget and never reach a
case), optional pacing (``max_rps``), and the answer times of the run.

The client knows nothing of pytest, tokens or verdicts.
"""

from __future__ import annotations

import email.utils
import json
import shlex
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .cors import DEFAULT_PORTS
from .headers import placeholder
from .stats import quantile

#: Bodies larger than this are cut; a token response is well under 1 KiB.
MAX_ANSWER_BYTES = 1024 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "token-conformance"
#: Seconds a run may spend waiting out rate limits (429 / 503 + Retry-After) before it gives up (exit 2).
DEFAULT_WAIT_BUDGET = 60.0
#: A 429 without Retry-After: wait this long before the retry.
DEFAULT_RETRY_AFTER = 1.0
#: The least a rate-limited answer costs the wait budget, whatever its Retry-After says: a target that
#: answers 429 with ``Retry-After: 0`` forever must still exhaust the budget, not loop for ever.
MIN_RETRY_COST = 0.1
#: Rate-limited answers to one request before the run gives up on the target (exit 2).
MAX_RETRIES_PER_REQUEST = 20


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
    #: Configured headers sent with this request: name -> the placeholder curl shows instead of the value.
    secret_headers: dict[str, str] = field(default_factory=dict)
    #: Rate-limited answers (429 / 503 + Retry-After) waited out before this one, and the seconds waited.
    limited: int = 0
    waited_s: float = 0.0
    #: The run's client timeout (``--timeout``), which the curl line gives as ``--max-time``.
    timeout_s: float = 10.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (whatever the Content-Type, as clients do); raises ValueError."""
        if self.truncated:
            raise ValueError(f"body over {MAX_ANSWER_BYTES} bytes, not parsed")
        return json.loads(self.body.decode("utf-8"))

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    def curl(self) -> str:
        """A curl command line that reproduces this request."""
        parts = ["curl", "-sS", "-i", "--max-time", f"{self.timeout_s:g}"]
        if self.method != "GET":
            parts += ["-X", self.method]
        for name, value in self.request_headers.items():
            parts += ["-H", f"{name}: {value}"]
        if self.request_body is not None:
            parts += ["--data-binary", self.request_body.decode("utf-8", errors="replace")]
        parts.append(self.url)
        line = " ".join(shlex.quote(p) for p in parts[:-1])
        # Configured headers are secrets: a shell variable in double quotes, so the line works once it is set.
        for name, ref in self.secret_headers.items():
            line += f' -H "{name}: {ref}"' if _SAFE_NAME(name) else " " + shlex.quote(f"{name}: {ref}")
        return f"{line} {shlex.quote(parts[-1])}"

    def summary(self, limit: int = 200) -> str:
        """Status, content type and the start of the body, on one line."""
        if self.error:
            return f"no response: {self.error}"
        body = self.text
        more = f"... ({len(self.body)} bytes{'+' if self.truncated else ''})" if len(body) > limit else ""
        ctype = self.content_type or "no Content-Type"
        # Escaped once, for one line: control characters shown as \n, \t, \xNN; quotes and backslashes as sent.
        return f"{self.status} {ctype} '{one_line(body[:limit])}{more}'"


def one_line(text: str) -> str:
    """``text`` on one line: control characters escaped once (``\\n``), everything else as it came."""
    return "".join(_CONTROL.get(c, c) if c < " " or c == "\x7f" else c for c in text)


_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t"} | {chr(i): f"\\x{i:02x}" for i in [*range(32), 127] if chr(i) not in "\n\r\t"}


def _SAFE_NAME(name: str) -> bool:
    return all(c.isalnum() or c in "-_" for c in name)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP date, RFC 9110 10.2.3); None if invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class ClientStats:
    """What the run saw of the target: answer times and rate limiting (thread-safe via the client's lock)."""

    answer_times: list[float] = field(default_factory=list)
    timeouts: int = 0
    limited: int = 0
    waited_s: float = 0.0
    longest_wait_s: float = 0.0
    #: Wall-clock spans (epoch seconds, start/end) during which at least one request was held back by the
    #: --max-rps pacer. Spans, not a sum of waits: concurrent requests wait at the same time, and a user reads
    #: "time spent pacing" as a share of the run's duration (epoch time so that xdist workers' spans merge).
    paced_spans: list[tuple[float, float]] = field(default_factory=list)
    _pacing_waiters: int = field(default=0, repr=False, compare=False)
    _pacing_since: float = field(default=0.0, repr=False, compare=False)

    def pacing_started(self) -> None:
        """A request starts waiting for its pacer slot (call under the client's lock)."""
        if self._pacing_waiters == 0:
            self._pacing_since = time.time()
        self._pacing_waiters += 1

    def pacing_ended(self) -> None:
        """A request's pacer wait is over (under the client's lock); the span closes when nobody waits any more."""
        self._pacing_waiters -= 1
        if self._pacing_waiters == 0:
            self.paced_spans.append((self._pacing_since, max(self._pacing_since, time.time())))

    @property
    def paced_s(self) -> float:
        """Wall-clock seconds during which the pacer held at least one request back (never more than the run)."""
        spans = list(self.paced_spans)
        if self._pacing_waiters > 0:  # a report written while requests still wait (an interrupted run)
            spans.append((self._pacing_since, max(self._pacing_since, time.time())))
        return _union_length(spans)

    def percentiles(self) -> dict[str, float]:
        """p50 / p90 / p95 / p99 / max of the answer times, in milliseconds (nearest-rank)."""
        times = sorted(self.answer_times)
        ranks = {"p50_ms": quantile(times, 0.5), "p90_ms": quantile(times, 0.9), "p95_ms": quantile(times, 0.95),
                 "p99_ms": quantile(times, 0.99), "max_ms": quantile(times, 1.0)}
        return {name: round(seconds * 1000, 1) for name, seconds in ranks.items() if seconds is not None}

    def raw(self) -> dict[str, Any]:
        """Everything a merge needs (an xdist worker's share): the answer times themselves, not percentiles."""
        return {"answer_times": list(self.answer_times), "timeouts": self.timeouts, "limited": self.limited,
                "waited_s": self.waited_s, "longest_wait_s": self.longest_wait_s,
                "paced_spans": [list(span) for span in self.paced_spans]}

    @classmethod
    def merged(cls, parts: Iterable[Mapping[str, Any]]) -> ClientStats:
        """One run's stats from several processes' :meth:`raw` shares: percentiles over all answers, sums, the longest
        wait, and the union of the pacing spans (workers pace at the same time: their waits overlap, not add up)."""
        out = cls()
        for part in parts:
            out.answer_times += [float(t) for t in part.get("answer_times", [])]
            out.timeouts += int(part.get("timeouts", 0))
            out.limited += int(part.get("limited", 0))
            out.waited_s += float(part.get("waited_s", 0.0))
            out.longest_wait_s = max(out.longest_wait_s, float(part.get("longest_wait_s", 0.0)))
            out.paced_spans += [(float(start), float(end)) for start, end in part.get("paced_spans", [])]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer_times": {"count": len(self.answer_times), "timeouts": self.timeouts, **self.percentiles()},
            "rate_limits": {"limited": self.limited, "waited_s": round(self.waited_s, 3),
                            "longest_wait_s": round(self.longest_wait_s, 3), "paced_s": round(self.paced_s, 3)},
        }


def _union_length(spans: Iterable[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping ``(start, end)`` spans."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


# --- the overall deadline ----------------------------------------------------------
#
# httpx only has per-operation timeouts: a server that sends one header byte every
# 0.3 s never trips a 1 s read timeout and holds the request for as long as it likes.
# The socket layer below httpx is the one place every connect, read and write goes
# through, so it is where the request's deadline (kept per thread: the suite
# prefetches in threads) shortens each timeout to what is left of it.

_deadline = threading.local()


def _bounded(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this thread's deadline; raise once it has passed."""
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise timeout_error("overall deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets honour the request deadline.

    httpx takes no network backend, so the pool is rebuilt (with httpcore's public
    arguments) after httpx's own initialisation.
    """

    def __init__(self, *, verify: bool, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme)


class TokenServerClient:
    """Talks to one token server (base URL) with bounded time and size."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_body: int = MAX_ANSWER_BYTES,
        verify_tls: bool = True,
        max_redirects: int = 3,
        headers: Mapping[str, str] | None = None,
        max_rps: float | None = None,
        wait_budget: float = DEFAULT_WAIT_BUDGET,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Configured headers (credentials): sent with every request unless ``credentials=False``.
        self.headers: dict[str, str] = dict(headers or {})
        self.min_interval = 1.0 / max_rps if max_rps else 0.0
        self.wait_budget = wait_budget
        self.stats = ClientStats()
        self._next_slot = 0.0
        #: Set when the rate-limit wait budget ran out: why (the run cannot be judged).
        self.exhausted: str | None = None
        #: The last request that outlived the timeout (LATENCY-1's evidence when the breaker tripped mid-run).
        self.last_timeout: Exchange | None = None
        self._origin = _origin(self.base_url)
        self.timeout = timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            transport=_DeadlineTransport(
                verify=verify_tls, limits=httpx.Limits(max_connections=32, max_keepalive_connections=16)
            ),
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
        content: bytes | None = None,
        content_type: str | None = None,
        follow_redirects: bool = True,
        credentials: bool = True,
    ) -> Exchange:
        """Send one request; never raises for anything the server does.

        Rate-limited answers are waited out (Retry-After, within the run's budget) and retried;
        ``credentials=False`` leaves the configured headers out (the authentication cases).
        The body is ``json_body`` encoded as JSON, or ``content`` as it is with ``content_type`` (form bodies).
        """
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        req_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode("utf-8")
            req_headers.setdefault("Content-Type", "application/json")
        elif content is not None and content_type:
            req_headers.setdefault("Content-Type", content_type)
        overridden = {k.lower() for k in req_headers}
        secret = {k: v for k, v in self.headers.items() if credentials and k.lower() not in overridden}
        limited, waited = 0, 0.0
        while True:
            ex = self._request_once(method, url, req_headers, secret, content, follow_redirects)
            ex.limited, ex.waited_s = limited, waited
            wait = self._rate_limit_wait(ex)
            if wait is None:
                self._record(ex)
                return ex
            limited += 1
            waited += wait
            ex.limited, ex.waited_s = limited, waited
            if limited >= MAX_RETRIES_PER_REQUEST and not self.exhausted:
                with self._lock:
                    self.exhausted = self.exhausted or (
                        f"the target rate-limited one request {limited} times in a row "
                        f"({method} {urlsplit(url).path}); "
                        f"it cannot be judged at this rate (pace with --max-rps)"
                    )
                    self.down = self.down or self.exhausted
            if self.exhausted:
                ex.error = f"not judged: {self.exhausted}"
                return ex
            time.sleep(wait)

    def _rate_limit_wait(self, ex: Exchange) -> float | None:
        """None if ``ex`` is an answer to judge; else the seconds to wait before retrying (budget permitting)."""
        if ex.error or ex.status not in (429, 503):
            return None
        after = retry_after(ex.headers.get("retry-after"))
        if ex.status == 503 and after is None:
            return None  # a plain 503 is the server's answer
        wait = DEFAULT_RETRY_AFTER if after is None else after
        with self._lock:
            self.stats.limited += 1
            cost = max(wait, MIN_RETRY_COST)
            if self.exhausted is None and self.stats.waited_s + cost > self.wait_budget:
                self.exhausted = (
                    f"the target rate-limited the run {self.stats.limited} time(s); waiting {wait:g} s more "
                    f"(Retry-After) would exceed the wait budget of {self.wait_budget:g} s "
                    f"(raise it with --rate-limit-budget, or pace with --max-rps)"
                )
                self.down = self.down or self.exhausted
            if self.exhausted is None:
                self.stats.waited_s += cost
                self.stats.longest_wait_s = max(self.stats.longest_wait_s, wait)
        return wait

    def _pace(self) -> None:
        """With ``max_rps``: wait for this request's slot (shared by every thread of the run)."""
        if not self.min_interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.min_interval
            if slot <= now:
                return
            self.stats.pacing_started()
        try:
            time.sleep(slot - now)
        finally:
            with self._lock:
                self.stats.pacing_ended()

    def _request_once(
        self, method: str, url: str, req_headers: dict[str, str], secret: dict[str, str], content: bytes | None,
        follow_redirects: bool,
    ) -> Exchange:
        ex = Exchange(method=method, url=url, request_headers=dict(req_headers), request_body=content,
                      secret_headers={k: placeholder(k) for k in secret}, timeout_s=self.timeout)
        if self.down:
            ex.error = f"not sent: the target stopped answering earlier in this run ({self.down})"
            return ex
        self._pace()
        send_headers = {**secret, **req_headers}
        start = time.monotonic()
        deadline = start + self.timeout
        method = ex.method
        while True:
            self._send(ex, method, url, content, deadline, send_headers)
            if ex.error or not follow_redirects or ex.status not in REDIRECT_STATUSES:
                break
            location = ex.headers.get("location")
            if not location:
                break
            target = urljoin(url, location)
            if _origin(target) != self._origin:
                ex.error = f"redirect to another host not followed: {location}"
                break
            if len(ex.redirects) >= self.max_redirects:
                ex.error = f"more than {self.max_redirects} redirects"
                break
            ex.redirects.append(target)
            url = target
            # As browsers and httpx do: 303 always, 301/302 after a POST, continue with a GET.
            if ex.status == 303 or (ex.status in (301, 302) and method == "POST"):
                method, content = "GET", None
        ex.elapsed_s = time.monotonic() - start
        return ex

    def _record(self, ex: Exchange) -> None:
        with self._lock:
            if ex.status is not None:
                self.stats.answer_times.append(ex.elapsed_s)
            elif ex.error and ex.error.startswith("no complete response"):
                self.stats.timeouts += 1
                self.last_timeout = ex

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def _send(
        self, ex: Exchange, method: str, url: str, content: bytes | None, deadline: float, send_headers: dict[str, str],
    ) -> None:
        """One hop: fills status, headers and body of ``ex``, or its error."""
        ex.status, ex.headers, ex.body, ex.truncated = None, httpx.Headers(), b"", False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            ex.error = f"no complete response within {self.timeout:g} s"
            return
        headers = dict(send_headers)
        if content is None:
            headers.pop("Content-Type", None)
        _deadline.at = deadline
        try:
            with self._http.stream(
                method, url, headers=headers, content=content,
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
        except (httpx.InvalidURL, ValueError, OSError) as exc:  # e.g. an invalid URL built from odd input
            ex.error = f"request failed: {type(exc).__name__}: {_reason(exc)}"
        finally:
            _deadline.at = None

    def _trip(self, reason: str) -> None:
        with self._lock:
            if self.down is None:
                self.down = reason

    def close(self) -> None:
        self._http.close()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
