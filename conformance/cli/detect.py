"""``token-conformance detect URL [--json]``: which bundled profile fits the target, with evidence and confidence."""

from __future__ import annotations

import argparse
import json

from ..redact import Redactor
from ._common import UsageError, add_request_options, read_headers

# Late imports: every subcommand's module is imported to build `token-conformance --help`, so what only `detect` needs
# is imported in run(): the HTTP client (httpx) and the detector would make --help 2.2x slower (farm-bench medians
# 0.33 s -> 0.87 s on this 2-vCPU machine).


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="base URL of the token server")
    p.add_argument("--json", action="store_true", help="print the result as JSON ('profile' is null when none fits)")
    p.add_argument("--timeout", type=float, default=10.0, help="deadline per request in seconds (default 10)")
    p.add_argument("--insecure", action="store_true", help="accept a TLS certificate that does not verify")
    add_request_options(p, "detect")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when a bundled profile fits, 1 when none does, 2 when nothing answers or credentials are missing."""
    from ..client import TokenServerClient
    from ..detect import detect

    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"the URL must start with http:// or https://, not {args.url!r}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    headers = read_headers(args)
    redactor = Redactor()
    for value in headers.values():
        redactor.add_header_value(value)
    client = TokenServerClient(args.url, timeout=args.timeout, verify_tls=not args.insecure, headers=headers)
    try:
        found = detect(client)
    finally:
        client.close()
    if args.json:
        print(redactor.redact(json.dumps(found.as_dict(), indent=2, ensure_ascii=False)))
    else:
        print(redactor.redact("\n".join(found.lines())))
    if found.profile:
        return 0
    return 1 if found.judged else 2
