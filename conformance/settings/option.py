"""The record of one option (``Option``) and the validation rules; the declarations themselves: declarations.py, load.py.

Apart from declarations.py so that load.py (load's own options) and declarations.py (everything else, and the
builders that read both) can each import it without importing each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# --- validation rules: the reason a value is refused, or None ---------------------------------------------------


def positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


def at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


# load's rules, in the words its messages have always used (NaN is refused by each: no comparison holds for it).

def above_zero(value: float) -> str | None:
    return None if value > 0 else "must be > 0"


def above_zero_seconds(value: float) -> str | None:
    return None if value > 0 else "must be > 0 (seconds)"


def not_negative(value: float) -> str | None:
    return None if value >= 0 else "must be >= 0"


def at_least_one_second(value: float) -> str | None:
    return None if value >= 1 else "must be at least 1 (second)"


def finite_above_zero(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else "must be a number > 0"


def a_share(value: float) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def _nothing() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Option:
    """One option wherever it is given. ``kind`` is how the value is read: str, int, float, bool, list (repeatable).

    Its ``key`` is its dest on the command line (and the field of the API's options). One flag, one declaration:
    where a subcommand reads the same flag differently, the ``*_for`` mappings say how, keyed by subcommand.
    """

    key: str
    help: str
    kind: str = "str"
    #: The flags of the token-conformance subcommands, and which subcommands take it.
    flags: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    #: The pytest plugin's flag (its dest and ini key: the flag's name with underscores) and environment variable.
    pytest_flag: str | None = None
    ini: str | None = None
    env: str | None = None
    #: The default of the subcommands' flag (the plugin's are None: unset falls through to ini and environment).
    default: Any = None
    rule: Callable[[Any], str | None] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    #: A subcommand's own help, default or metavar, where the same option reads differently there.
    help_for: Mapping[str, str] = field(default_factory=_nothing)
    default_for: Mapping[str, Any] = field(default_factory=_nothing)
    metavar_for: Mapping[str, str | None] = field(default_factory=_nothing)
    #: The plugin's help, where it differs from the subcommands'.
    pytest_help: str | None = None
    #: The load scenario's Locust flag (``locust -f loadtests/X.py``; its dest: the flag's name with underscores),
    #: which ``token-conformance load`` passes the value on as. Locust's own default and help there (no help: load's):
    #: a plain Locust user has no harness to resolve an unset value, so 0 or "" often stands for "the scenario
    #: decides".
    locust_flag: str | None = None
    locust_default: Any = None
    locust_help: str | None = None
    #: The scenarios whose Locust files take it (none named: every scenario), and a scenario's own default and help.
    locust_scenarios: tuple[str, ...] = ()
    locust_default_for: Mapping[str, Any] = field(default_factory=_nothing)
    locust_help_for: Mapping[str, str] = field(default_factory=_nothing)
    #: Whether Locust's web UI shows it (a harness-only option, such as where the summary goes, does not).
    locust_web_ui: bool = True

    @property
    def dest(self) -> str | None:
        return self.pytest_flag.removeprefix("--").replace("-", "_") if self.pytest_flag else None

    @property
    def locust_dest(self) -> str | None:
        return self.locust_flag.removeprefix("--").replace("-", "_") if self.locust_flag else None
