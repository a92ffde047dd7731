"""A TCP proxy on loopback that holds back every answer by a fixed delay: a nearby server made far away.

Staging servers are 20-150 ms away; the reference server is 0.2 ms away. Put
this proxy in front of it (or of any loopback server) and each chunk the server
sends reaches the client ``delay`` seconds after the server sent it, in order,
so every answer arrives ``delay`` later, on every connection, whatever the
protocol above TCP. New connections cost the delay too (the proxy connects
upstream, then holds the connection back by ``delay`` before reading from the
client), as a TCP handshake over a long link does. Requests are forwarded at
once: the delay is the round trip, put on the return path.

Benchmarks only (``verdict_bench.py --delays``); loopback only.

    python benchmarks/delay_proxy.py --upstream 127.0.0.1:8080 --delay 0.1 [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import socket
import sys
import threading
import time
from types import TracebackType


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class DelayProxy:
    """``with DelayProxy(("127.0.0.1", port), 0.1) as proxy: ... proxy.url``"""

    def __init__(self, upstream: tuple[str, int], delay: float, host: str = "127.0.0.1", port: int = 0) -> None:
        if not (_loopback(upstream[0]) and _loopback(host)):
            raise ValueError("the delay proxy serves and forwards to loopback addresses only")
        if delay < 0:
            raise ValueError("the delay must be 0 or more seconds")
        self.upstream = upstream
        self.delay = delay
        self.host = host
        self.port = port
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DelayProxy:
        sock = socket.create_server((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="delay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the delay proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _serve(self, sock: socket.socket) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(asyncio.start_server(self._connection, sock=sock))
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        for writer in (client_w, server_w):  # chunks go out as they fall due, not after the peer's delayed ACK
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream = downstream = None
        try:
            await asyncio.sleep(self.delay)  # the handshake crosses the long link too
            upstream = asyncio.ensure_future(self._pipe(client_r, server_w, 0.0))
            downstream = asyncio.ensure_future(self._pipe(server_r, client_w, self.delay))
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            # One side closed: let what is already on its way arrive, then close both.
            await asyncio.wait({upstream, downstream}, timeout=self.delay + 1)
        except asyncio.CancelledError:
            pass  # the proxy stops
        finally:
            for task in (upstream, downstream):
                if task is not None:
                    task.cancel()
            for writer in (client_w, server_w):
                writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``delay`` after it was read (order kept)."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                chunk = await reader.read(65536)
                await queue.put((time.monotonic() + delay, chunk))
                if not chunk:
                    break
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT", help="the loopback server to delay")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds added to every answer (default 0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    try:
        proxy = DelayProxy((host or "127.0.0.1", int(port)), args.delay, port=args.port).start()
    except ValueError as exc:
        parser.error(str(exc))
    print(f"{proxy.url} -> {args.upstream}, answers delayed {args.delay:g} s (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
