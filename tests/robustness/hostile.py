"""Hostile targets on loopback: servers that misbehave in the ways a real network or a broken token server does.

An ASGI server cannot produce most of these (it answers correctly or not at all), so they are raw sockets:
each :class:`HostileServer` accepts connections on a loopback address and hands each one to a *behaviour*,
a function ``(conn, stop)`` that reads the request head and then does its one wrong thing. Behaviours that
answer send ``Connection: close`` and close, so a client's connection reuse never changes what a case sees.
Behaviours that stall stop when the server stops (``stop`` is set), so a test never leaves a thread
dripping bytes behind it.

The self-signed TLS target is the real reference app behind uvicorn's TLS, so that with ``--insecure`` a
run proceeds to real verdicts; its certificate is generated at test time (``cryptography`` if installed,
else ``openssl req``) and :func:`self_signed_certificate` returns None when neither can.

Every server listens on 127.0.0.1, except the off-host redirect's destination, which listens on 127.0.0.2:
another host as far as a URL is concerned, yet still this machine's loopback, so nothing leaves it even if
a client wrongly follows the redirect (and the destination counts the connections it gets).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

Behaviour = Callable[[socket.socket, threading.Event], None]

#: The other "host" an off-host redirect points at (a loopback address, never a routable one).
OTHER_HOST = "127.0.0.2"
#: How long a stalled behaviour waits between checks of its stop flag.
_TICK_S = 0.1


# --- the server ----------------------------------------------------------------------


@dataclass
class HostileServer:
    """A TCP server on ``host`` (a free port) running ``behaviour`` for every connection, in a thread each."""

    behaviour: Behaviour
    host: str = "127.0.0.1"
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _conns: list[socket.socket] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((self.host, 0))
        self._sock.listen(128)
        self._sock.settimeout(_TICK_S)
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"hostile-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the accept timeout (a tick) or the socket closed by stop()
                continue
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _guarded(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self._stop)
        except OSError:
            pass  # the client hung up or reset: the point of most of these servers
        finally:
            _close(conn)  # a no-op if the behaviour closed it (reset does, with an RST)

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for conn in self._conns:
                _close(conn)
        self._sock.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _close(conn: socket.socket) -> None:
    try:
        conn.close()
    except OSError:
        pass


def read_request_head(conn: socket.socket, stop: threading.Event) -> bytes:
    """The request line and headers (b"" if the client left first); the body, if any, is left unread."""
    conn.settimeout(_TICK_S)
    data = b""
    while b"\r\n\r\n" not in data and not stop.is_set():
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            return b""
        data += chunk
    return data


def request_path(head: bytes) -> str:
    """The path (with query) of a request head, "/" if it cannot be read."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) >= 3 else "/"


def _wait(stop: threading.Event, seconds: float = 3600.0) -> None:
    stop.wait(seconds)


def _respond(conn: socket.socket, status: str, body: bytes, *, content_type: str = "application/json",
             extra: str = "") -> None:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n")
    conn.sendall(head.encode("latin-1") + body)


# --- behaviours ------------------------------------------------------------------------


def hang_after_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 whose headers promise 100 bytes of JSON, then one byte, then nothing (until the test ends)."""
    if read_request_head(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        _wait(stop)


def endless(pause_s: float, sent: list[int] | None = None) -> Behaviour:
    """A 200 application/json whose body never ends: chunked, a token that goes on while the server runs.

    64 KiB every ``pause_s``: endless is the point, not fast. A client that wrongly reads it all grows
    by 64 KiB / ``pause_s`` a second (the test machine's memory must survive a harness bug). With ``sent``,
    each connection appends the bytes it managed to send: a client that stops reading at a size cap
    leaves that near its cap plus the kernel's socket buffers.
    """

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        if not read_request_head(conn, stop):
            return
        total = 0
        try:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            first = b'{"rtcToken": "007'
            conn.sendall(head + b"%x\r\n%s\r\n" % (len(first), first))
            block = b"A" * 65536
            chunk = b"%x\r\n%s\r\n" % (len(block), block)
            while not stop.is_set():
                conn.settimeout(5.0)  # a client that stopped reading without closing: give up, not hang
                conn.sendall(chunk)
                total += len(chunk)
                stop.wait(pause_s)
        finally:
            if sent is not None:
                sent.append(total)

    behaviour.__name__ = behaviour.__qualname__ = f"endless_{pause_s:g}s"
    return behaviour


#: ~6 MB/s: a client with a 1 MiB cap stops after 0.2 s.
endless_body = endless(0.01)
#: ~0.6 MB/s: for clients that read everything (~40 MB a minute).
endless_body_slow = endless(0.1)


FIFTY_MB = 50 * 1024 * 1024


def fifty_megabytes(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 application/json with a declared and sent 50 MB body (a JSON array of zeros)."""
    if not read_request_head(conn, stop):
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n" % FIFTY_MB)
    block = b"0," * 32768
    sent = 0
    while sent < FIFTY_MB and not stop.is_set():
        part = block[: FIFTY_MB - sent]
        conn.sendall(part)
        sent += len(part)


#: JSON-shaped, but not UTF-8: a lone continuation byte, an overlong form and 0xff inside the token.
INVALID_UTF8_BODY = b'{"rtcToken": "007eJx\xff\xfe\xc0\xaf\x80Tq"}'


def invalid_utf8(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 application/json whose body is not UTF-8 (so not JSON either)."""
    if read_request_head(conn, stop):
        _respond(conn, "200 OK", INVALID_UTF8_BODY)


def invalid_json(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 application/json whose body is cut in the middle of the token (valid UTF-8, invalid JSON)."""
    if read_request_head(conn, stop):
        _respond(conn, "200 OK", b'{"rtcToken": "007eJxTYBBbcOPo')


def reset(conn: socket.socket, stop: threading.Event) -> None:
    """Read the request, then reset the connection (SO_LINGER 0: the close sends an RST, not a FIN)."""
    try:
        read_request_head(conn, stop)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        conn.close()


def empty_200(conn: socket.socket, stop: threading.Event) -> None:
    """200 OK with an empty body (and no Content-Type) to every request."""
    if read_request_head(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


DRIP_RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\n"
                 b"Connection: close\r\n\r\n" + b'{"rtcToken": "007eJxTYBBbcOP"}')


def drip(conn: socket.socket, stop: threading.Event) -> None:
    """A plausible response, one byte a second: about two minutes for the whole of it."""
    if not read_request_head(conn, stop):
        return
    for byte in DRIP_RESPONSE:
        conn.sendall(bytes([byte]))
        if stop.wait(1.0):
            return


def never_answers(conn: socket.socket, stop: threading.Event) -> None:
    """Accept the connection, read whatever comes, never answer (until the test ends)."""
    read_request_head(conn, stop)
    _wait(stop)


#: The channel of the one request ``load`` sends before starting Locust (conformance/load/api.py).
PROBE_CHANNEL = b"/load-probe/"


def peek_request_line(conn: socket.socket, stop: threading.Event) -> bytes:
    """The request line, left unread in the socket (MSG_PEEK) for the behaviour that follows."""
    conn.settimeout(_TICK_S)
    data = b""
    while b"\r\n" not in data and not stop.is_set():
        try:
            data = conn.recv(4096, socket.MSG_PEEK)
        except TimeoutError:
            continue
        if not data:
            return b""
        if b"\r\n" not in data:
            time.sleep(0.01)  # MSG_PEEK returns at once what is there; wait for the rest of the line
    return data.split(b"\r\n", 1)[0]


def after_probe(behaviour: Behaviour) -> Behaviour:
    """An empty 200 to ``load``'s probe request, ``behaviour`` to every other request.

    ``load`` probes its target with one request before starting Locust and only needs an answer of any
    kind: this lets the load generator itself, not the probe, meet the hostile behaviour. The probe is told
    by its path, so the roles never depend on which connection arrives first.
    """

    def switching(conn: socket.socket, stop: threading.Event) -> None:
        line = peek_request_line(conn, stop)
        (empty_200 if PROBE_CHANNEL in line else behaviour)(conn, stop)

    return switching


def answers_once(behaviour: Behaviour) -> Behaviour:
    """An empty 200 on the first connection, ``behaviour`` on every later one: a target that stops answering."""
    seen = [0]
    lock = threading.Lock()

    def switching(conn: socket.socket, stop: threading.Event) -> None:
        with lock:
            seen[0] += 1
            first = seen[0] == 1
        (empty_200 if first else behaviour)(conn, stop)

    return switching


def redirect_to(other: HostileServer) -> Behaviour:
    """302 to the same path on ``other`` (another host): a client must not follow it."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        head = read_request_head(conn, stop)
        if head:
            location = f"{other.url}{request_path(head)}"
            _respond(conn, "302 Found", b"", content_type="text/plain", extra=f"Location: {location}\r\n")

    return behaviour


def record_only(conn: socket.socket, stop: threading.Event) -> None:
    """The off-host redirect's destination: answers 404 (the server counts the connection)."""
    if read_request_head(conn, stop):
        _respond(conn, "404 Not Found", b"followed an off-host redirect", content_type="text/plain")


def read_request(conn: socket.socket, stop: threading.Event) -> bytes:
    """The whole request: head and, if it has a Content-Length, body (b"" if the client left first)."""
    head = read_request_head(conn, stop)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    data = head
    while len(data) - (head.find(b"\r\n\r\n") + 4) < length and not stop.is_set():
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data


def leaky_echo(secret: str, seen: list[bytes]) -> Behaviour:
    """A server that echoes each request back and quotes ``secret`` too, in turn in each place it can.

    Every request it receives is appended to ``seen`` (the harness must never send the secret). The
    answers rotate: the secret as the token, the secret inside a 007-looking token, a 500 quoting the
    secret (body and a header) and the request, and the request itself as the token. Each is something a
    client may quote in a message, a failure row or an example.
    """
    count = [0]
    lock = threading.Lock()

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        request = read_request(conn, stop)
        if not request:
            return
        with lock:
            seen.append(request)
            turn = count[0] % 4
            count[0] += 1
        echoed = request.decode("latin-1")
        if turn == 0:
            _respond(conn, "200 OK", json.dumps({"rtcToken": secret, "echo": echoed}).encode())
        elif turn == 1:
            _respond(conn, "200 OK", json.dumps({"rtcToken": f"007{secret.upper()}{secret}"}).encode())
        elif turn == 2:
            body = json.dumps({"error": f"misconfigured: APP_CERTIFICATE={secret}", "request": echoed})
            _respond(conn, "500 Internal Server Error", body.encode(), extra=f"X-Debug-Certificate: {secret}\r\n")
        else:
            _respond(conn, "200 OK", json.dumps({"rtcToken": echoed, "debug": secret.upper()}).encode())

    return behaviour


@contextmanager
def off_host_redirect() -> Iterator[tuple[HostileServer, HostileServer]]:
    """(the target, on 127.0.0.1, redirecting every request; the destination, on 127.0.0.2, counting hits)."""
    with HostileServer(record_only, host=OTHER_HOST) as other, HostileServer(redirect_to(other)) as target:
        yield target, other


def other_host_available() -> bool:
    """Whether 127.0.0.2 can be bound (Linux routes all of 127/8 to loopback; macOS does not by default)."""
    try:
        with socket.socket() as s:
            s.bind((OTHER_HOST, 0))
    except OSError:
        return False
    return True


# --- self-signed TLS ----------------------------------------------------------------


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """(certificate, key) PEM files for 127.0.0.1, valid for a day; None if nothing here can make one."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert, key)
        return cert, key
    except ImportError:
        pass
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    proc = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, timeout=60, check=False,
    )
    return (cert, key) if proc.returncode == 0 and cert.is_file() and key.is_file() else None


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


class TlsServer:
    """An ASGI app served over TLS by uvicorn on a free 127.0.0.1 port, in a thread (like ThreadedServer)."""

    def __init__(self, app: Any, cert: Path, key: Path) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off",
                                ssl_certfile=str(cert), ssl_keyfile=str(key), timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: self._server.run(sockets=[self._sock]), daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> TlsServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"TLS server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


def tls_handshake_fails_unverified(url: str) -> bool:
    """Whether a default (verifying) TLS client refuses this server: a sanity check of the fixture itself."""
    host, port = url.removeprefix("https://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw, \
                ssl.create_default_context().wrap_socket(raw, server_hostname=host):
            return False
    except ssl.SSLCertVerificationError:
        return True


#: The hostile targets that are one raw-socket behaviour each, by name (the TLS and redirect ones need fixtures).
BEHAVIOURS: dict[str, Behaviour] = {
    "hang-after-headers": hang_after_headers,
    "endless-body": endless_body,
    "50MB-body": fifty_megabytes,
    "invalid-utf8": invalid_utf8,
    "invalid-json": invalid_json,
    "connection-reset": reset,
    "empty-200": empty_200,
    "drip-1-byte-per-second": drip,
    "never-answers": never_answers,
}


# --- running the harness against them --------------------------------------------------

#: Far above what any run here needs (a check that gives up takes about one timeout, a load run its run
#: time plus Locust's start-up); reached only if the harness hangs. Not a speed requirement.
GUARD_S = 100.0
TRACEBACK_MARKERS = ("Traceback (most recent call last)", "INTERNALERROR")


@dataclass
class CliRun:
    """One ``python -m conformance ...`` child: how it ended, what it printed, how long it took."""

    argv: list[str]
    exit_code: int | None  # None: still running at the guard, and killed
    output: str
    seconds: float
    report_dir: Path

    def document(self, name: str = "conformance.json") -> dict[str, Any] | None:
        path = self.report_dir / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def outcomes(self) -> dict[str, str]:
        doc = self.document() or {}
        return {c["id"]: c["outcome"] for c in doc.get("cases", [])}

    def assert_clean(self) -> None:
        """Ended by itself, and without a traceback (a hostile server must never crash the harness)."""
        assert self.exit_code is not None, f"still running after {self.seconds:.0f} s: {self.output[-3000:]}"
        for marker in TRACEBACK_MARKERS:
            assert marker not in self.output, self.output[-3000:]


def child_environment(**extra: str) -> dict[str, str]:
    """This environment minus anything that steers the child's pytest or plugin (TOKEN_*, PYTEST_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOKEN_", "PYTEST_"))}
    env.update(extra)
    return env


def run_cli(*args: str, report_dir: Path, guard: float = GUARD_S, env: dict[str, str] | None = None) -> CliRun:
    """``python -m conformance ARGS --report-dir DIR`` in its own process group, killed (group) at ``guard``.

    The wall time is printed (pytest shows it with -s, or with the failure), never asserted.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "conformance", *args, "--report-dir", str(report_dir)]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env if env is not None else child_environment(), cwd=report_dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=guard)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we started: the CLI and anything it forked there
        output, _ = proc.communicate()
        code = None
    run = CliRun(argv, code, output, time.monotonic() - started, report_dir)
    print(f"{' '.join(args[:2])}: exit {code} in {run.seconds:.1f} s")
    return run
