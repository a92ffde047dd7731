"""Printing to a reader that may go away (``| head``): shared by the API and the command line."""

from __future__ import annotations

import os
import sys


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error.

    Python's advice for SIGPIPE: point stdout at /dev/null so the flush at exit does not fail again.
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
