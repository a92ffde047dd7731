"""The session: its state created, and the hooks whose arguments carry no config bound to that config.

pytest_runtest_logreport, pytest_keyboard_interrupt and xdist's controller hooks receive no config; an object
registered per config hands it to them (an in-process pytest.main inside a test has its own), no module global.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..contract import Level
from .outcomes import note_worker_collection, record_report
from .reports import keep_worker_output
from .state import STATE_KEY, RunState
from .terminal import note_interrupt


class SessionHooks:
    """The hooks of one session that pytest calls without its config."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record_report(self.config, report)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        note_interrupt(self.config, excinfo)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller (unused without xdist)."""
        keep_worker_output(self.config, node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist controller (unused without xdist)."""
        note_worker_collection(self.config, ids)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STATE_KEY] = RunState()
    config.pluginmanager.register(SessionHooks(config), "token-conformance-session")
    for level in Level:
        config.addinivalue_line("markers", f"{level.value.lower()}: a conformance case at level {level.value}")
    config.addinivalue_line("markers", "requirement(id): the contract requirement a conformance case checks")
