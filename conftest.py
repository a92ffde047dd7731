"""The clone's root: keeps pyproject's pytest settings quiet when pytest-timeout is absent.

``timeout = 300`` in pyproject.toml is pytest-timeout's (the ``test`` extra). Someone who installed only the
package and runs the README's plain-pytest command from the clone would otherwise get
"Unknown config option: timeout". Without the plugin the setting is simply unused.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    if not pluginmanager.has_plugin("timeout"):
        parser.addini("timeout", "per-test timeout of pytest-timeout (the test extra); unused without it")
