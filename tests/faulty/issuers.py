"""Token issuers for faulty servers: the reference issuer with one field of the token chosen wrongly.

``CraftedIssuer`` builds the same 007 tokens as the reference issuer
(agoraiotools' RtcTokenBuilder2 / RtmTokenBuilder2: same services, privileges,
lifetimes, random salt) with ``conformance.tokens.encode``, so every field -
issue time, lifetimes, services, privileges - can be overridden one at a time.
The proofs run it unmodified as a control: it must pass the whole suite.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from conformance.reference.issuer import TokenIssuer
from conformance.tokens import decode
from conformance.tokens.encode import ServiceSpec, build_006, build_007, rtc_service, rtm_service

JOIN, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA = 1, 2, 3, 4
ROLE_PRIVILEGES: dict[str, tuple[int, ...]] = {
    "publisher": (JOIN, PUBLISH_AUDIO, PUBLISH_VIDEO, PUBLISH_DATA),
    "subscriber": (JOIN,),
}
RTM_LOGIN = 1
DAY = 86400


def uid_value(tokentype: str, uid: str) -> int | str:
    """The uid as the reference issuer packs it: an int for uid tokens (0 packs as ""), the account otherwise."""
    return int(uid) if tokentype == "uid" else uid


def salt() -> int:
    """A salt as agoraiotools draws it (1..99999999)."""
    return secrets.randbelow(99_999_999) + 1


class CraftedIssuer(TokenIssuer):
    """The reference issuer rebuilt from fields; override one hook to get one fault."""

    def now(self) -> int:
        """The issue time written into tokens."""
        return int(time.time())

    def lifetimes(self, expiry: int) -> tuple[int, int]:
        """(token expire, privilege value) for a request of ``expiry`` seconds."""
        return expiry, expiry

    def privileges(self, role: str, value: int) -> Mapping[int, int]:
        return {p: value for p in ROLE_PRIVILEGES[role]}

    def rtc_services(self, channel: str, role: str, tokentype: str, uid: str, value: int) -> list[ServiceSpec]:
        return [rtc_service(channel, uid_value(tokentype, uid), self.privileges(role, value))]

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        expire, value = self.lifetimes(expiry)
        return build_007(self.app_id, self._certificate, issue_ts=self.now(), expire=expire, salt=salt(),
                         services=self.rtc_services(channel, role, tokentype, uid, value))

    def rtm(self, user_id: str, expiry: int) -> str:
        expire, value = self.lifetimes(expiry)
        return build_007(self.app_id, self._certificate, issue_ts=self.now(), expire=expire, salt=salt(),
                         services=[rtm_service(user_id, {RTM_LOGIN: value})])


def resign(token: str, certificate: str, *, extra: tuple[ServiceSpec, ...] = ()) -> str:
    """The same 007 token (fields, salt, issue time) signed with ``certificate``, with ``extra`` services added."""
    tok = decode(token)
    specs = list(extra)
    for service in tok.services:
        strings = (service.channel or "", service.uid or "") if service.type == 1 else (service.user_id or "",)
        specs.append(ServiceSpec(service.type, {p.id: p.value for p in service.privileges}, strings))
    assert tok.issue_ts is not None and tok.lifetime is not None
    return build_007(tok.app_id, certificate, issue_ts=tok.issue_ts, expire=tok.lifetime, salt=tok.salt,
                     services=specs)


class Issuer006(TokenIssuer):
    """RTC tokens as AccessToken 006 (absolute privilege expiries, token ts = now + 24 h), RTM as the reference."""

    def rtc(self, channel: str, role: str, tokentype: str, uid: str, expiry: int) -> str:
        now = int(time.time())
        privileges = {p: now + expiry for p in ROLE_PRIVILEGES[role]}
        return build_006(self.app_id, self._certificate, channel, uid_value(tokentype, uid), salt=salt(),
                         ts=now + DAY, privileges=privileges)
