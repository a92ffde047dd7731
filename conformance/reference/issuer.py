"""Build the reference server's tokens: 007 (AccessToken2) with ``agoraiotools`` 0.3.4.

``TokenIssuer.rtc`` and ``TokenIssuer.rtm`` are the only token-building path of
the server. Tests subclass ``TokenIssuer`` and override one of them to get a
deliberately faulty server (wrong channel, wrong expiry, bad signature...) that
is otherwise identical to the reference, so a conformance check can be shown to
catch exactly that fault.

The builders come from ``agoraiotools.RtcTokenBuilder2`` / ``RtmTokenBuilder2``
(the package's top-level ``RtcTokenBuilder`` is the 006 one). They return ``''``
instead of raising on an app id or certificate that is not 32 hex characters,
so both are checked once here, at construction.
"""

from __future__ import annotations

import re
import warnings

with warnings.catch_warnings():
    # The package's __init__ imports its deprecated DynamicKey* modules, which warn on import.
    warnings.simplefilter("ignore", DeprecationWarning)
    from agoraiotools.RtcTokenBuilder2 import Role_Publisher, Role_Subscriber, RtcTokenBuilder
    from agoraiotools.RtmTokenBuilder2 import RtmTokenBuilder

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_ROLES = {"publisher": Role_Publisher, "subscriber": Role_Subscriber}


def is_hex32(value: str) -> bool:
    """Whether ``value`` is 32 hexadecimal characters, the shape of an app id and of a certificate."""
    return _HEX32.fullmatch(value) is not None


class TokenIssuer:
    """Issues RTC and RTM 007 tokens for one app id / certificate pair.

    Arguments are the already validated request values (see ``validation``):
    ``role`` is "publisher" or "subscriber", ``tokentype`` "uid" or
    "userAccount", ``uid`` the canonical uid string, ``expiry`` seconds. Every
    privilege and the token itself expire ``expiry`` seconds after issue.
    """

    def __init__(self, app_id: str, certificate: str) -> None:
        if not is_hex32(app_id):
            raise ValueError(f"the app id must be 32 hexadecimal characters (got {len(app_id)} characters)")
        if not is_hex32(certificate):
            raise ValueError(
                f"the app certificate must be 32 hexadecimal characters (got {len(certificate)} characters)"
            )
        self.app_id = app_id
        self._certificate = certificate

    def __repr__(self) -> str:  # the certificate must not reach a log through a repr
        return f"{type(self).__name__}(app_id={self.app_id!r})"

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        """An RTC token: join (+ publish audio/video/data for a publisher) on ``channel`` as ``uid``."""
        account: int | str = int(uid) if tokentype == "uid" else uid  # int 0 packs as "" (any uid)
        token: str = RtcTokenBuilder.build_token_with_user_account(
            self.app_id, self._certificate, channel, account, _ROLES[role], expiry, expiry
        )
        return _checked(token)

    def rtm(self, user_id: str, expiry: int) -> str:
        """An RTM token: login as ``user_id``."""
        token: str = RtmTokenBuilder.build_token(self.app_id, self._certificate, user_id, expiry)
        return _checked(token)


def _checked(token: str) -> str:
    if not token:  # agoraiotools' way of saying "invalid app id or certificate"
        raise RuntimeError("agoraiotools built an empty token")
    return token
