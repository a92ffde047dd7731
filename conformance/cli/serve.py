"""``token-conformance serve``: run the reference token server in the foreground.

The listening socket is bound here, before uvicorn starts, so a taken port or
a bad host is a one-line usage error (exit 2) instead of uvicorn's log line and
exit 1. The certificate is never printed: with a generated demo pair it can be
written to a 0600 file for ``decode`` to read.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from ..interruption import signals_as_interrupt
from ._common import UsageError

# Late imports: every subcommand's module is imported to build `token-conformance --help`, so uvicorn and the reference
# app (Starlette, agoraiotools) are imported in run(): at the top they would make --help 1.8x slower (farm-bench medians
# 0.30 s -> 0.45 s on this 2-vCPU machine).

MAX_WORKERS = 64


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", default="8080", help="TCP port, 0 for any free one (default: 8080)")
    parser.add_argument("--workers", default="1", help="worker processes (default: 1)")
    parser.add_argument(
        "--certificate-file",
        metavar="PATH",
        help="when a demo pair is generated, write its certificate to PATH (mode 0600) so that "
        "'decode --certificate-file PATH' can verify the tokens",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request (off: it costs throughput)")
    parser.epilog = (
        "The app id and certificate come from APP_ID and APP_CERTIFICATE (32 hexadecimal characters each); "
        "with neither set, a random demo pair is generated and the certificate is not shown. "
        "Contract: docs/reference-server.md."
    )


def _integer(text: str, name: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise UsageError(f"--{name} must be an integer from {low} to {high}, got {text!r}")
    return int(text)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a UsageError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _write_certificate(path: str, certificate: str) -> None:
    """Write the certificate to ``path``, readable by the owner only (even if the file already existed)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (certificate + "\n").encode("ascii"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise UsageError(f"cannot write the certificate file {path!r}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ..reference.app import APP_CERTIFICATE_ENV, APP_ID_ENV, create_app, settings_from_env

    port = _integer(args.port, "port", 0, 65535)
    workers = _integer(args.workers, "workers", 1, MAX_WORKERS)
    try:
        settings, generated = settings_from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.certificate_file and not generated:
        raise UsageError(
            f"--certificate-file only applies to a generated demo pair; {APP_CERTIFICATE_ENV} is already yours"
        )
    sock = _listen(args.host, port)
    port = sock.getsockname()[1]
    say = sys.stderr.write
    if generated:
        # Worker processes build their own app from the environment: give them this pair.
        os.environ[APP_ID_ENV], os.environ[APP_CERTIFICATE_ENV] = settings.app_id, settings.certificate
        say(
            f"APP_ID and APP_CERTIFICATE are not set: generated a random demo pair for this run.\n"
            f"  app id:      {settings.app_id}\n"
            f"  certificate: not shown (it is a secret). "
        )
        if args.certificate_file:
            _write_certificate(args.certificate_file, settings.certificate)
            say(f"Written to {args.certificate_file} (mode 0600); verify tokens with\n"
                f"    token-conformance decode --certificate-file {args.certificate_file} TOKEN\n")  # fmt: skip
        else:
            say("Use --certificate-file PATH to have it written to a file.\n")
        say("  Use your own app: export APP_ID=<32 hex> APP_CERTIFICATE=<32 hex> before 'serve'.\n")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: listening on {args.host}: anyone who can reach it can get tokens for this app id.\n")
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}"
    print(f"reference token server on {url} ({workers} worker{'s' if workers > 1 else ''}); Ctrl-C to stop")
    print(f"  try: curl '{url}/rtc/my-channel/publisher/uid/0/?expiry=600'", flush=True)

    log_level = "info" if args.access_log else "warning"
    started = True
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again under the handlers it found:
    # under SIGTERM's default one a cleanly stopped server would die by it (exit 143, no "stopped").
    with signals_as_interrupt():
        try:
            if workers == 1:
                server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(settings), log_level=log_level, access_log=args.access_log,
                        lifespan="off", timeout_graceful_shutdown=1,
                    )
                )  # fmt: skip
                try:
                    server.run(sockets=[sock])
                finally:
                    started = server.started
            else:
                config = uvicorn.Config(
                    "conformance.reference.app:app_from_env", factory=True, workers=workers,
                    log_level=log_level, access_log=args.access_log, lifespan="off", timeout_graceful_shutdown=1,
                )  # fmt: skip
                Multiprocess(config, sockets=[sock]).run()
        except KeyboardInterrupt:  # uvicorn re-raises the signal it handled, after a clean shutdown
            pass
        finally:
            sock.close()
    if not started:
        print("token-conformance serve: error: the server did not start (see the log above)", file=sys.stderr)
        return 2
    print("stopped", file=sys.stderr)
    return 0
