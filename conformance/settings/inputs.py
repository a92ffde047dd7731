"""The inputs of a run (profile, request headers, app certificate), read once into one frozen object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ..certificate import read_certificate
from ..errors import UsageError
from ..headers import resolve
from ..profiles import Profile, ProfileError, load_profile


@dataclass(frozen=True)
class Inputs:
    """The profile, the request headers and the app certificate of a run, read once. Secrets are never in repr()."""

    profile: Profile
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    certificate: str | None = field(default=None, repr=False)

    def with_certificate(self, certificate: str | None) -> Inputs:
        """These inputs judging another app (the embedded reference server's certificate)."""
        return Inputs(self.profile, self.headers, certificate)


def read_profile(name: str | None) -> Profile:
    """``--profile`` (a bundled name or a JSON file; None: the default profile), or a usage error."""
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None




def read_inputs(
    profile: str | Profile | None, header_specs: Sequence[str] | None = (), header_file: str | None = None,
    certificate_file: str | None = None, *, certificate: bool = True,
) -> Inputs:
    """Read a run's inputs once (``certificate=False``: the run needs none, its variable is not read)."""
    loaded = profile if isinstance(profile, Profile) else read_profile(profile)
    return Inputs(loaded, MappingProxyType(resolve(header_specs or (), header_file)),
                  read_certificate(certificate_file) if certificate else None)
