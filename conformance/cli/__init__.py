"""The command line: a thin layer that parses options and hands over to the Python API.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Every one of those modules is imported to build the parser
(so ``--help`` and a mistyped option name every subcommand); what a subcommand
needs to run (pytest, httpx, the reference server, the load machinery) is imported
in its ``run``, each such module saying so with its measured figure (a "# Late
imports" comment, kept by tests/test_imports.py), so ``decode`` never pays for
pytest and nothing here imports locust or gevent.

Exit codes, for every subcommand: 0 success / conforming, 1 a judged failure
(not conforming, invalid signature, not bound, SLO breached), 2 could not judge
(bad options, unreachable target, not a token, and for ``check`` and ``load`` an
interrupted run: their reports say "interrupted"), 130 another subcommand interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__, interruption
from ..report.markdown import STEP_SUMMARY_ENV, check_markdown, write_summary
from ._common import UsageError

SUBCOMMANDS: dict[str, str] = {
    "check": "judge a token server against the contract (default target: the embedded reference server)",
    "load": "run a Locust load scenario against a token server and gate on SLOs",
    "decode": "decode (and with the certificate, verify) a 006 / 007 token",
    "watch": "run the watch-safe cases against a server on a schedule, with Prometheus metrics",
    "serve": "run the reference token server",
    "contract": "print the numbered contract (Markdown or JSON)",
    "detect": "name the bundled profile that fits a token server, with the evidence",
    "profile": "show a server profile and the requests it implies, write a starter profile, or infer one from "
               "example requests",
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _unknown_options(parser: argparse.ArgumentParser, command: str | None, extra: list[str]) -> None:
    """Unrecognised arguments are the subcommand's error: its usage, and the option meant (``--strcit``)."""
    sub = _subparsers(parser).get(command or "", parser)
    known = [s for a in sub._actions for s in a.option_strings]
    hints = []
    for word in extra:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"{word}: did you mean {close[0]}?")
    sub.error(f"unrecognized arguments: {' '.join(extra)}" + ("; " + "; ".join(hints) if hints else ""))


class _Parser(argparse.ArgumentParser):
    """argparse, remembering its last error: a command line that does not parse still writes the CI summary."""

    last_error: str | None = None

    def error(self, message: str) -> NoReturn:
        _Parser.last_error = message
        super().error(message)


def _summary_of_a_bad_command_line(argv: Sequence[str], message: str) -> None:
    """``check`` with $GITHUB_STEP_SUMMARY set: a typo in the action's ``args`` or a bad ``gate`` input must not
    leave the CI page blank. The target is the first URL on the command line, if any."""
    if not os.environ.get(STEP_SUMMARY_ENV) or "check" not in argv:
        return
    target = next((a for a in argv if a.startswith(("http://", "https://"))), "not known: the command line did not parse")
    try:
        write_summary(check_markdown(None, target=target, reason=f"usage error: {message}"), None)
    except OSError as exc:
        print(f"token-conformance check: warning: cannot write the Markdown summary: {exc}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    words = list(sys.argv[1:] if argv is None else argv)
    _Parser.last_error = None
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            _unknown_options(parser, args.command, extra)
    except SystemExit:
        if _Parser.last_error is not None:
            _summary_of_a_bad_command_line(words, _Parser.last_error)
        raise
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
        # An interrupted check or load could not judge (exit 2, as their reports say); other commands keep 130.
        return 2 if args.command in ("check", "load") else 130
    except BrokenPipeError:
        # The reader went away (``decode TOKEN | head``): not an error of ours, and no traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def entry() -> None:
    """The ``token-conformance`` process: :func:`main`, then exit with its code.

    Once ``check`` has its verdict (conformance.interruption.settle), a signal while the interpreter shuts down
    (threads, atexit) must not end the process with 130 or 143 while the reports say "conforming, exit 0":
    from here on the process only exits, with the verdict's code, so signals are ignored.
    """
    code = main()
    if interruption.settled():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()
