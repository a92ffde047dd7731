"""The token codec: decode and verify Agora 006 / 007 tokens.

Pure functions over strings and bytes, standard library only, no I/O. Every
other layer depends on this one; it depends on nothing.
"""

from .codec import MAX_TOKEN_CHARS, decode, verify
from .errors import TokenError
from .model import (
    PRIVILEGE_WORDS,
    PRIVILEGES_006,
    PUBLISHER_PRIVILEGES,
    SERVICES_007,
    SUBSCRIBER_PRIVILEGES,
    Privilege,
    Service,
    Token,
    uid_string,
)
from .render import token_fields

__all__ = [
    "MAX_TOKEN_CHARS",
    "PRIVILEGES_006",
    "PRIVILEGE_WORDS",
    "PUBLISHER_PRIVILEGES",
    "SERVICES_007",
    "SUBSCRIBER_PRIVILEGES",
    "Privilege",
    "Service",
    "Token",
    "TokenError",
    "decode",
    "token_fields",
    "uid_string",
    "verify",
]
