"""SIGINT and SIGTERM end a conformance run the same way: reports say "interrupted", exit 2.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM (what CI runners and
``timeout`` send) kill the process outright: no report, the embedded server's
threads gone without a word. :func:`signals_as_interrupt` makes SIGTERM raise
KeyboardInterrupt too, and remembers which signal came, so the plugin can write
"interrupted by SIGTERM" into conformance.json and the API can stop what it
started. Handlers are installed only in the main thread and restored on exit.

Once the verdict is written (:func:`settle`), a signal no longer interrupts anything: the report is complete
and its exit code stands. Without that, a Ctrl-C while the verdict line printed rewrote a complete run's
report as "interrupted after 0 cases" (exit 2), and a SIGTERM just after it ended the process with 143
while conformance.json said "conforming, exit 0". A settled signal is recorded and otherwise ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: Names of the signals received inside :func:`signals_as_interrupt`, oldest first.
received: list[str] = []
#: Set by :func:`settle`: the verdict is final, signals are recorded but raise nothing.
_settled = False
#: Nesting depth of :func:`signals_as_interrupt` (the CLI wraps the API's block).
_depth = 0


def settle() -> None:
    """The verdict and its reports are written: from now on a signal must not change them or the exit code."""
    global _settled
    _settled = True


def settled() -> bool:
    """Whether :func:`settle` was called inside the current (outermost) block."""
    return _settled


def last_signal(default: str = "SIGINT") -> str:
    """The signal that interrupted the run (Ctrl-C's SIGINT when none was recorded)."""
    return received[-1] if received else default


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise KeyboardInterrupt in the main thread."""
    global _depth, _settled
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        received.clear()
        _settled = False

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if _settled:
            return  # the verdict stands: reports written, exit code decided
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # A SIGINT the parent chose to ignore (a background job of a non-interactive shell) stays ignored.
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, handler) for sig in sigs}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_escalate(action: Callable[[str], None]) -> Iterator[None]:
    """Within the block, a further SIGINT or SIGTERM calls ``action(name)`` instead of raising.

    For the stopping phase after a first interruption: a second Ctrl-C must hurry
    the shutdown (e.g. kill a child that takes its time) without tearing through
    the code that stops children and writes what was measured.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        action(signal.Signals(signum).name)

    sigs = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, handler) for sig in sigs}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
