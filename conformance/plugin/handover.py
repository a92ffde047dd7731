"""The inputs ``token-conformance check`` hands to the plugin inside the pytest process, never through the environment.

The API reads the profile, the request headers and the app certificate once (conformance.settings.inputs) and
passes them to ``pytest.main(args, plugins=[Handover(inputs)])``. Under pytest-xdist the controller hands the
headers and the certificate on to each worker in its worker input (a pipe between the processes, not argv and
not an environment variable a user could also set); a worker loads the profile named on its command line.
Without a hand-over (a user's own pytest run) the plugin reads its options: command line > ini > environment.
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


HANDED_KEY = pytest.StashKey[Handed]()


class Handover:
    """A plugin object for ``pytest.main(plugins=[...])``: hands ``inputs`` to this process and to xdist workers."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[HANDED_KEY] = Handed(self.inputs.headers, self.inputs.certificate, self.inputs.profile)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller, before a worker starts (unused without xdist)."""
        node.workerinput[WORKER_INPUT_KEY] = {"headers": dict(self.inputs.headers),
                                              "certificate": self.inputs.certificate}


def handed_inputs(config: pytest.Config) -> Handed | None:
    """The hand-over of this process (from the API) or of this xdist worker (from its controller), or None."""
    handed = config.stash.get(HANDED_KEY, None)
    if handed is not None:
        return handed
    data = getattr(config, "workerinput", {}).get(WORKER_INPUT_KEY)
    if data is None:
        return None
    return Handed(MappingProxyType(dict(data["headers"])), data["certificate"])
