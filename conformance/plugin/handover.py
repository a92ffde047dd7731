"""What ``token-conformance check`` hands to the plugin inside the pytest process: never argv, never the environment.

The API reads the profile, the request headers and the app certificate once (conformance.settings.inputs),
checks its option values once (conformance.api.refuse_bad_options), and passes both to
``pytest.main(args, plugins=[Handover(inputs, options)])``: ``options`` are the plugin's option values by their
declared key (conformance.settings.declarations), typed, not flags turned into strings and parsed again. Under
pytest-xdist the controller hands them on to each worker in its worker input (a pipe between the processes, not
argv and not an environment variable a user could also set); a worker loads the profile the options name.

The plugin reads an option (conformance.plugin.options.read_option): command line > hand-over > ini >
environment. pytest arguments a caller adds (``CheckOptions.extra_pytest_args``) still win, as they did when the
API's flags came before them on one command line; a repeatable option's values add to the handed ones. Without a
hand-over (a user's own pytest run) the plugin reads its ``--token-*`` options: command line > ini > environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pytest

from ..profiles import Profile
from ..settings.inputs import Inputs

#: The key of the hand-over in an xdist worker's input.
WORKER_INPUT_KEY = "token_conformance_inputs"


@dataclass(frozen=True)
class Handed:
    """What the plugin was handed: secrets never in repr(); the profile None on an xdist worker."""

    headers: Mapping[str, str] = field(repr=False)
    certificate: str | None = field(repr=False)
    profile: Profile | None = None
    #: Option values by declared key (only those the caller set): what the API's command line used to carry.
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


HANDED_KEY = pytest.StashKey[Handed]()


class Handover:
    """A plugin object for ``pytest.main(plugins=[...])``: hands ``inputs`` and option values (declared key ->
    value, JSON-able: str, int, float, bool, list of str) to this process and to xdist workers."""

    def __init__(self, inputs: Inputs, options: Mapping[str, Any] | None = None) -> None:
        self.inputs = inputs
        self.options = MappingProxyType(dict(options or {}))

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[HANDED_KEY] = Handed(self.inputs.headers, self.inputs.certificate, self.inputs.profile,
                                          self.options)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller, before a worker starts (unused without xdist)."""
        node.workerinput[WORKER_INPUT_KEY] = {"headers": dict(self.inputs.headers),
                                              "certificate": self.inputs.certificate,
                                              "options": dict(self.options)}


def handed_inputs(config: pytest.Config) -> Handed | None:
    """The hand-over of this process (from the API) or of this xdist worker (from its controller), or None."""
    handed = config.stash.get(HANDED_KEY, None)
    if handed is not None:
        return handed
    data = getattr(config, "workerinput", {}).get(WORKER_INPUT_KEY)
    if data is None:
        return None
    return Handed(MappingProxyType(dict(data["headers"])), data["certificate"],
                  options=MappingProxyType(dict(data.get("options") or {})))


def handed_option(config: pytest.Config, key: str) -> Any:
    """Option ``key``'s handed value, or None (no hand-over, or the caller left it unset)."""
    handed = handed_inputs(config)
    return handed.options.get(key) if handed is not None else None
