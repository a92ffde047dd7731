"""Server profiles: how a family of token servers takes its inputs and answers its tokens, as data.

``model`` holds what a profile is (operations, fields, where the token is), ``loading`` reads one (a bundled
JSON file of this package by name, or a user's file by path), ``infer`` writes one from a running server.
"""

from .loading import (
    DEFAULT_PROFILE,
    DEFAULT_TOKEN,
    ROUTE_FEATURES,
    ProfileError,
    bundled_names,
    load_profile,
    parse_profile,
)
from .model import NotInProfile, Operation, Profile, Request, resolve_pointer

__all__ = [
    "DEFAULT_PROFILE", "DEFAULT_TOKEN", "ROUTE_FEATURES", "NotInProfile", "Operation", "Profile", "ProfileError",
    "Request", "bundled_names", "load_profile", "parse_profile", "resolve_pointer",
]
