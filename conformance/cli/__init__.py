"""The command line: a thin layer that parses options and hands over to the Python API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``decode`` never pays for pytest and nothing here imports locust or gevent.

Exit codes, for every subcommand: 0 success / conforming, 1 a judged failure
(not conforming, invalid signature, SLO breached), 2 could not judge (bad
options, unreachable target, not a token), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ._common import UsageError

SUBCOMMANDS: dict[str, str] = {
    "check": "judge a token server against the contract (default target: the embedded reference server)",
    "load": "run a Locust load scenario against a token server and gate on SLOs",
    "decode": "decode (and with the certificate, verify) a 006 / 007 token",
    "serve": "run the reference token server",
    "contract": "print the numbered contract (Markdown or JSON)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="token-conformance",
        description="Tell whether an Agora token server is correct, safe and fast enough.",
        epilog="Exit codes: 0 ok, 1 judged failure, 2 could not judge / usage error. "
        "The app certificate is read from TOKEN_SERVER_APP_CERTIFICATE or a file, never from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f"{__name__}.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        module.add_parser(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._module.run(args))
    except UsageError as exc:
        print(f"token-conformance {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"token-conformance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
