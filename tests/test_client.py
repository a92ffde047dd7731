"""The bounded client: whatever a server does, a request ends by its deadline, within its size cap, as a value.

Well-behaved answers come from small Starlette apps; misbehaviour that an ASGI server cannot produce (dripping
bytes, stalling after the headers, never answering) comes from raw sockets on 127.0.0.1. Elapsed times are only
bounded generously (the misbehaving servers would otherwise run for a minute or more), never measured.
"""

from __future__ import annotations

import gzip
import json
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from conformance.client import MAX_ANSWER_BYTES, ClientStats, Exchange, TokenServerClient
from conformance.reference.threaded import ThreadedServer

#: Misbehaving servers go on far longer than this; a cut request ends well before it.
SLACK_S = 4.0


# --- servers -------------------------------------------------------------------


async def _token(request: Request) -> Response:
    return JSONResponse({"rtcToken": "007abc"})


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"method": request.method, "path": request.url.path, "body": body.decode()})


async def _huge(request: Request) -> Response:
    chunk = b"x" * 65536

    async def fifty_megabytes() -> Iterator[bytes]:  # type: ignore[misc]
        for _ in range(800):
            yield chunk

    return StreamingResponse(fifty_megabytes(), media_type="application/octet-stream")


async def _not_json(request: Request) -> Response:
    return PlainTextResponse("{not json", media_type="application/json")


async def _gzipped(request: Request) -> Response:
    return Response(gzip.compress(b'{"rtcToken": "007gz"}'), media_type="application/json",
                    headers={"Content-Encoding": "gzip"})


def _redirect(location: str, status: int = 302) -> Callable[[Request], Response]:
    async def endpoint(request: Request) -> Response:
        return RedirectResponse(location, status_code=status)

    return endpoint  # type: ignore[return-value]


APP = Starlette(routes=[
    Route("/token", _token),
    Route("/echo", _echo, methods=["GET", "POST"]),
    Route("/huge", _huge),
    Route("/not-json", _not_json),
    Route("/gzip", _gzipped),
    Route("/same-host", _redirect("/token")),
    Route("/two-hops", _redirect("/same-host", 301)),
    Route("/see-other", _redirect("/echo", 303), methods=["POST"]),
    Route("/off-host", _redirect("http://elsewhere.invalid/token")),
    Route("/protocol-relative", _redirect("//elsewhere.invalid/token", 307)),
    Route("/loop", _redirect("/loop")),
])


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(APP) as srv:
        yield srv


@pytest.fixture
def client(server: ThreadedServer) -> Iterator[TokenServerClient]:
    c = TokenServerClient(server.url, timeout=5.0)
    yield c
    c.close()


@contextmanager
def raw_server(handler: Callable[[socket.socket], None], *, accept: bool = True) -> Iterator[str]:
    """A TCP server on 127.0.0.1 running ``handler(conn)`` per connection; yields its base URL.

    ``accept=False`` only listens: the kernel completes the handshake, nobody ever reads or answers.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conns.append(conn)
            threading.Thread(target=_guarded, args=(handler, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    if accept:
        thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        if accept:
            thread.join(timeout=2)
        for conn in conns:
            conn.close()
        listener.close()


def _guarded(handler: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        handler(conn)
    except OSError:
        pass  # the client hung up: that is the point of most of these servers


def _read_request_head(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _drip_body(conn: socket.socket) -> None:
    _read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    for _ in range(200):  # 60 s if nobody stops it
        conn.sendall(b" ")
        time.sleep(0.3)


def _drip_head(conn: socket.socket) -> None:
    _read_request_head(conn)
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    for byte in head:  # 60 s if nobody stops it
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def _hang_after_headers(conn: socket.socket) -> None:
    _read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(60)


def _not_http(conn: socket.socket) -> None:
    _read_request_head(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    conn.close()


def _closed_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def _assert_cut_at_deadline(ex: Exchange, timeout: float) -> None:
    assert ex.error is not None, ex.summary()
    assert "1 s" in ex.error or f"{timeout:g} s" in ex.error
    assert timeout * 0.9 <= ex.elapsed_s < timeout + SLACK_S


# --- well-behaved answers ------------------------------------------------------


def test_json_answer(client: TokenServerClient, server: ThreadedServer) -> None:
    ex = client.get("/token")
    assert ex.ok and ex.error is None
    assert ex.status == 200
    assert ex.content_type == "application/json"
    assert ex.json() == {"rtcToken": "007abc"}
    assert ex.url == server.url + "/token"
    assert ex.redirects == []
    assert not ex.truncated
    assert ex.summary().startswith("200 application/json ")


def test_post_sends_json_body(client: TokenServerClient) -> None:
    ex = client.request("POST", "/echo", json_body={"channel": "c", "uid": "7"})
    assert ex.status == 200
    answer = ex.json()
    assert answer["method"] == "POST"
    assert json.loads(answer["body"]) == {"channel": "c", "uid": "7"}
    assert ex.request_headers["Content-Type"] == "application/json"


def test_absolute_url_accepted(client: TokenServerClient, server: ThreadedServer) -> None:
    assert client.get(server.url + "/token").json() == {"rtcToken": "007abc"}


def test_invalid_json_is_none(client: TokenServerClient) -> None:
    ex = client.get("/not-json")
    assert ex.status == 200
    assert ex.json_or_none() is None
    with pytest.raises(ValueError):
        ex.json()


def test_gzip_body_decoded(client: TokenServerClient) -> None:
    ex = client.get("/gzip")
    assert ex.headers["content-encoding"] == "gzip"
    assert ex.json() == {"rtcToken": "007gz"}


def test_size_cap_cuts_a_huge_body(server: ThreadedServer) -> None:
    c = TokenServerClient(server.url, timeout=20.0)
    try:
        ex = c.get("/huge")
    finally:
        c.close()
    assert ex.status == 200
    assert ex.truncated
    assert len(ex.body) == MAX_ANSWER_BYTES
    assert ex.error is None
    assert ex.json_or_none() is None  # a truncated body is never parsed
    assert "+)" in ex.summary()


def test_size_cap_is_configurable(server: ThreadedServer) -> None:
    c = TokenServerClient(server.url, max_body=1000)
    try:
        ex = c.get("/huge")
    finally:
        c.close()
    assert ex.truncated and len(ex.body) == 1000


# --- redirects -----------------------------------------------------------------


def test_same_host_redirect_followed(client: TokenServerClient, server: ThreadedServer) -> None:
    ex = client.get("/two-hops")
    assert ex.error is None
    assert ex.status == 200
    assert ex.json() == {"rtcToken": "007abc"}
    assert ex.redirects == [server.url + "/same-host", server.url + "/token"]
    assert ex.url == server.url + "/two-hops"  # the exchange names what was asked


def test_redirect_not_followed_when_asked(client: TokenServerClient) -> None:
    ex = client.get("/same-host", follow_redirects=False)
    assert ex.error is None
    assert ex.status == 302
    assert ex.headers["location"] == "/token"
    assert ex.redirects == []


@pytest.mark.parametrize("path", ["/off-host", "/protocol-relative"])
def test_off_host_redirect_not_followed(client: TokenServerClient, path: str) -> None:
    ex = client.get(path)
    assert ex.error is not None
    assert "redirect to another host not followed" in ex.error
    assert "elsewhere.invalid" in ex.error
    assert ex.redirects == []
    assert client.down is None  # the target did answer


def test_redirect_loop_bounded(server: ThreadedServer) -> None:
    c = TokenServerClient(server.url, max_redirects=3)
    try:
        ex = c.get("/loop")
    finally:
        c.close()
    assert ex.error == "more than 3 redirects"
    assert ex.redirects == [server.url + "/loop"] * 3  # only the hops actually followed


def test_see_other_turns_post_into_get(client: TokenServerClient) -> None:
    ex = client.request("POST", "/see-other", json_body={"a": 1})
    assert ex.status == 200
    assert ex.json()["method"] == "GET"
    assert ex.json()["body"] == ""
    assert ex.method == "POST"  # the exchange still reproduces what was sent first


# --- deadline, refusal, breaker ----------------------------------------------


def test_dripping_body_cut_at_deadline() -> None:
    with raw_server(_drip_body) as url:
        c = TokenServerClient(url, timeout=1.0)
        ex = c.get("/rtc/c/publisher/uid/0/")
        c.close()
    _assert_cut_at_deadline(ex, 1.0)
    assert ex.status == 200


def test_dripping_headers_cut_at_deadline() -> None:
    with raw_server(_drip_head) as url:
        c = TokenServerClient(url, timeout=1.0)
        ex = c.get("/rtc/c/publisher/uid/0/")
        c.close()
    _assert_cut_at_deadline(ex, 1.0)


def test_hang_after_headers_cut_at_deadline() -> None:
    with raw_server(_hang_after_headers) as url:
        c = TokenServerClient(url, timeout=1.0)
        ex = c.get("/rtc/c/publisher/uid/0/")
        c.close()
    _assert_cut_at_deadline(ex, 1.0)
    assert c.down is not None


def test_accepted_but_never_answered() -> None:
    with raw_server(_drip_body, accept=False) as url:
        c = TokenServerClient(url, timeout=1.0)
        ex = c.get("/rtc/c/publisher/uid/0/")
        c.close()
    _assert_cut_at_deadline(ex, 1.0)
    assert ex.status is None
    assert ex.summary().startswith("no response: ")
    assert c.down is not None


def test_not_http_is_an_error_value() -> None:
    with raw_server(_not_http) as url:
        c = TokenServerClient(url, timeout=2.0)
        ex = c.get("/")
        c.close()
    assert ex.error is not None
    assert ex.status is None


def test_refused_trips_the_breaker() -> None:
    port = _closed_port()
    c = TokenServerClient(f"http://127.0.0.1:{port}", timeout=2.0)
    first = c.get("/rtc/c/publisher/uid/0/")
    assert first.error is not None
    assert f"cannot connect to http://127.0.0.1:{port}" in first.error
    assert c.down == first.error
    second = c.get("/ping")
    assert second.error is not None
    assert second.error.startswith("not sent")
    assert first.error in second.error
    assert second.elapsed_s == 0.0  # nothing was attempted
    c.close()


def test_invalid_url_is_an_error_value(client: TokenServerClient) -> None:
    ex = client.get("/rtc/\x00bad")
    assert ex.error is not None


# --- curl ----------------------------------------------------------------------


def test_curl_get_is_minimal() -> None:
    ex = Exchange(method="GET", url="http://127.0.0.1:8080/rtc/c/publisher/uid/0/")
    assert shlex.split(ex.curl()) == ["curl", "-sS", "-i", "--max-time", "10", "http://127.0.0.1:8080/rtc/c/publisher/uid/0/"]


@pytest.mark.parametrize("timeout, shown", [(2.5, "2.5"), (30.0, "30")])
def test_curl_max_time_is_the_runs_timeout(server: ThreadedServer, timeout: float, shown: str) -> None:
    # The curl line reproduces the run's request: it gives up when the run's client did (--timeout), not at 10 s.
    c = TokenServerClient(server.url, timeout=timeout)
    try:
        args = shlex.split(c.get("/token").curl())
    finally:
        c.close()
    assert args[args.index("--max-time") + 1] == shown


def test_curl_quotes_method_headers_body_and_url() -> None:
    body = json.dumps({"channel": "it's a \"test\" $HOME `id`", "uid": "7"}).encode()
    url = "http://127.0.0.1:8080/rtc/a%20b/publisher/uid/0/?expiry=60&x=$(id)"
    ex = Exchange(method="POST", url=url, request_headers={"Origin": "https://a.example", "X-Note": "two words; 'q'"},
                  request_body=body)
    args = shlex.split(ex.curl())
    assert args[0] == "curl"
    assert args[args.index("-X") + 1] == "POST"
    headers = [args[i + 1] for i, a in enumerate(args) if a == "-H"]
    assert headers == ["Origin: https://a.example", "X-Note: two words; 'q'"]
    assert args[args.index("--data-binary") + 1] == body.decode()
    assert args[-1] == url
    assert "$(id)" not in ex.curl().replace("'" + url + "'", "")  # only ever inside single quotes


def test_body_excerpt_is_escaped_once() -> None:
    # A JSON error body with a newline and an escaped quote: shown as sent, control characters escaped once.
    import httpx

    ex = Exchange(method="GET", url="http://127.0.0.1:1/x", status=400,
                  headers=httpx.Headers({"content-type": "application/json"}),
                  body=b'{"error": "bad \\"uid\\""}\nnext\tline')
    assert ex.summary() == r"""400 application/json '{"error": "bad \"uid\""}\nnext\tline'"""


def test_pacing_figure_is_wall_clock_not_a_sum_of_concurrent_waits() -> None:
    """Eight threads wait for --max-rps slots at the same time: the pacing figure is the wall-clock time during
    which requests were held back, so it can never exceed the time the run took (summed waits would, ~8 times)."""
    client = TokenServerClient("http://127.0.0.1:9", max_rps=40)
    threads = [threading.Thread(target=lambda: [client._pace() for _ in range(5)]) for _ in range(8)]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.time() - start
    assert 0 < client.stats.paced_s <= elapsed
    assert client.stats.as_dict()["rate_limits"]["paced_s"] <= round(elapsed, 3)


def test_pacing_spans_of_workers_merge_as_a_union() -> None:
    """xdist workers pace side by side: overlapping spans count once, disjoint ones add up."""
    merged = ClientStats.merged([{"paced_spans": [[100.0, 104.0], [110.0, 111.0]]}, {"paced_spans": [[102.0, 106.0]]}])
    assert merged.paced_s == pytest.approx(7.0)
