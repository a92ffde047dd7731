"""Decode and verify Agora AccessToken (006) and AccessToken2 (007) strings.

Formats: docs/token-format.md (from ../shared/reference/token-format.md).
Standard library only, no I/O. Every malformed input raises TokenError.

Each version has two parsers over the same bytes, on purpose:

* a *fast* one (``_fast_007`` / ``_fast_006``): grouped ``struct`` reads, no
  per-field bookkeeping, records built in one C call. A load run decodes every
  token it receives and must not be limited by the harness's own codec, so this
  is what a well-formed token goes through;
* a *checked* one (``_checked_007`` / ``_checked_006``) that reads field by
  field through :class:`Reader` and names the field and offset of the first
  defect. It runs only when the fast parser gives up, and its answer (a
  TokenError, or a Token) is the one returned.

The fast parser never trusts a short read: a slice past the end moves the
position past the end, which makes the next read, or the final "consumed
exactly everything" check, fail and hand over to the checked parser.
``tests/tokens/test_fast_path.py`` checks that both agree on every prefix and
many mutations of real tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import sys
import zlib
from collections.abc import Callable
from typing import Any

from ._reader import Reader, pack_u32
from .errors import TokenError
from .model import NO_EXTRA, PRIVILEGES_006, SERVICES_007, Privilege, Service, Token, uid_string

#: Longest token string accepted. Real tokens are a few hundred characters; the
#: cap keeps a hostile server's 10 MB "token" from costing more than a length check.
MAX_TOKEN_CHARS = 64 * 1024
#: Largest decompressed 007 payload accepted (guards against a zlib bomb).
MAX_PAYLOAD_BYTES = 256 * 1024
APP_ID_LENGTH = 32

_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

_U16 = struct.Struct("<H").unpack_from
_I16 = struct.Struct("<h").unpack_from
#: 007 after the app id: issue_ts, expire, salt, service count.
_HEAD_007 = struct.Struct("<IIIH").unpack_from
#: A 007 service's type and privilege count.
_HEAD_SERVICE = struct.Struct("<HH").unpack_from
#: 006 after the signature: crc_channel, crc_uid, message length. The message
#: itself starts with the same shape: salt, ts, privilege count.
_HEAD_006 = struct.Struct("<IIH").unpack_from
_PAIRS = struct.Struct("<HI").iter_unpack
#: Builds a record from a ready tuple in one C call (no keyword parsing).
_new: Callable[..., Any] = tuple.__new__


class _GiveUp(Exception):
    """The fast parser met something it leaves to the checked one."""


#: The fast parsers' declared give-up errors, the only ones decode() falls back
#: on. Any other exception out of a fast parser is a bug in it and escapes
#: decode(); tests/tokens/test_fast_path.py catches exactly these, so it fails.
_FAST_FAILURES = (struct.error, UnicodeDecodeError, TokenError, _GiveUp)

if sys.version_info >= (3, 11):

    def _a2b(text: str) -> bytes:
        # The same check as b64decode(validate=True) on 3.11+, without its wrapper.
        return binascii.a2b_base64(text, strict_mode=True)

else:  # pragma: no cover - exercised on 3.10 only

    def _a2b(text: str) -> bytes:
        return base64.b64decode(text, validate=True)


def decode(token: str) -> Token:
    """Decode a 006 or 007 token string into a Token; raise TokenError if it is not one."""
    if not isinstance(token, str):
        raise TokenError(f"a token is a string, got {type(token).__name__}")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"{len(token)} characters is far longer than any token (limit {MAX_TOKEN_CHARS})")
    token = token.strip()
    version = token[:3]
    if version == "007":
        return _decode_007(token)
    if version == "006":
        return _decode_006(token)
    shown = repr(token[:12]) + ("..." if len(token) > 12 else "")
    raise TokenError(f"unknown token version: expected the prefix '006' or '007', got {shown}")


def _b64(text: str, what: str) -> bytes:
    if not text:
        raise TokenError(f"{what} is empty")
    try:
        return _a2b(text)
    except ValueError:  # binascii.Error, or non-ASCII text
        pass
    for i, ch in enumerate(text):
        if ch not in _B64_ALPHABET:
            hint = ""
            if ch == " ":
                hint = " (a '+' turned into a space by URL decoding?)"
            elif ch in "-_":
                hint = " (URL-safe base64; tokens use the standard alphabet)"
            elif ch == "%":
                hint = " (still percent-encoded? URL-decode it once)"
            raise TokenError(f"{what} is not base64: character {ch!r} at position {i}{hint}")
    pad = text.find("=")
    if 0 <= pad < len(text.rstrip("=")):
        raise TokenError(f"{what} is not base64: data after the '=' padding at position {pad} (two tokens glued together?)")
    raise TokenError(f"{what} is not base64: incorrect length or padding ({len(text)} characters)")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_PAYLOAD_BYTES)
        # Output full and the stream not over: one more byte would make it a bomb.
        if not inflater.eof and len(out) >= MAX_PAYLOAD_BYTES and inflater.decompress(inflater.unconsumed_tail, 1):
            raise TokenError(f"007 payload inflates to more than {MAX_PAYLOAD_BYTES} bytes")
    except zlib.error as exc:
        raise TokenError(f"007 payload is not a zlib stream: {exc}") from None
    if not inflater.eof:
        raise TokenError("007 payload is a truncated zlib stream")
    if inflater.unused_data:
        raise TokenError(f"{len(inflater.unused_data)} bytes after the end of the 007 zlib stream")
    return out


# --------------------------------------------------------------------------- 007


def _decode_007(token: str) -> Token:
    payload = _inflate(_b64(token[3:], "007 body"))
    try:
        return _fast_007(payload)
    except _FAST_FAILURES:
        return _checked_007(payload)


def _fast_007(buf: bytes) -> Token:
    (size,) = _U16(buf, 0)
    pos = 2 + size
    signature = buf[2:pos]
    signed_start = pos
    (size,) = _U16(buf, pos)
    pos += 2
    app_id = buf[pos : pos + size].decode()
    pos += size
    issue_ts, lifetime, salt, count = _HEAD_007(buf, pos)
    pos += 14
    expiry = issue_ts + lifetime
    services: list[Service] = []
    unknown: int | None = None
    for _ in range(count):
        stype, npriv = _HEAD_SERVICE(buf, pos)
        spec = SERVICES_007.get(stype)
        if spec is None:
            unknown = stype
            pos += 2
            break
        name, names = spec
        pos += 4
        end = pos + 6 * npriv
        privileges = [
            # 007 values are seconds after issue; 0 = no own limit (the token's expiry).
            _new(Privilege, (key, names.get(key) or f"unknown_{key}", value, issue_ts + value if 0 < value < lifetime else expiry))
            for key, value in _PAIRS(buf[pos:end])
        ]
        pos = end
        if npriv > 1:
            privileges.sort()  # by id, as the checked parser; ~0.1 µs on an already sorted map
        channel = uid = user_id = None
        extra: Any = NO_EXTRA
        if stype == 1 or stype == 3 or stype == 6:  # RTC, Streaming, FCDN: channel + uid/account
            (size,) = _U16(buf, pos)
            pos += 2
            channel = buf[pos : pos + size].decode()
            pos += size
            (size,) = _U16(buf, pos)
            pos += 2
            uid = buf[pos : pos + size].decode()
            pos += size
        elif stype == 2 or stype == 5 or stype == 8:  # RTM, Chat, RTM2: user id
            (size,) = _U16(buf, pos)
            pos += 2
            user_id = buf[pos : pos + size].decode()
            pos += size
            if stype == 8:
                if pos > len(buf):
                    raise _GiveUp
                r = Reader(buf, pos)
                extra = {"permissions": _rtm2_permissions(r, "service RTM2")}
                pos = r.pos
        elif stype == 7:  # APaaS
            (size,) = _U16(buf, pos)
            pos += 2
            room = buf[pos : pos + size].decode()
            pos += size
            (size,) = _U16(buf, pos)
            pos += 2
            user = buf[pos : pos + size].decode()
            pos += size
            (role,) = _I16(buf, pos)
            pos += 2
            extra = {"room_uuid": room, "user_uuid": user, "role": role}
        services.append(_new(Service, (stype, name, tuple(privileges), channel, uid, user_id, extra)))
    if unknown is None and pos != len(buf):
        raise _GiveUp  # trailing bytes, or a string that ran past the end
    token: Token = _new(
        Token,
        ("007", app_id, salt, tuple(services), signature, buf[signed_start:], issue_ts, lifetime, None, None, None, unknown),
    )
    return token



def _checked_007(payload: bytes) -> Token:
    r = Reader(payload)
    signature = r.raw_string("signature")
    signed_start = r.pos
    app_id = r.string("app_id")
    issue_ts = r.u32("issue_ts")
    lifetime = r.u32("expire")
    salt = r.u32("salt")
    count = r.u16("service count")
    token_expiry = issue_ts + lifetime
    services: list[Service] = []
    unknown: int | None = None
    for index in range(count):
        stype = r.u16(f"service[{index}] type")
        spec = SERVICES_007.get(stype)
        if spec is None:
            # No per-service length: the rest cannot be located. Keep what was
            # parsed; the signature still covers every byte.
            unknown = stype
            break
        services.append(_service_007(r, stype, spec, issue_ts, token_expiry, index))
    if unknown is None and r.remaining:
        raise TokenError(f"{r.remaining} trailing bytes after the last 007 service")
    return Token(
        version="007",
        app_id=app_id,
        salt=salt,
        services=tuple(services),
        signature=signature,
        signed=payload[signed_start:],
        issue_ts=issue_ts,
        lifetime=lifetime,
        unknown_service_type=unknown,
    )


def _service_007(
    r: Reader, stype: int, spec: tuple[str, dict[int, str]], issue_ts: int, token_expiry: int, index: int
) -> Service:
    name, names = spec
    where = f"service[{index}] {name}"
    privileges = tuple(
        Privilege(
            id=key,
            name=names.get(key, f"unknown_{key}"),
            value=value,
            # 007 privilege values are seconds after issue; 0 = no own limit.
            expires_ts=min(token_expiry, issue_ts + value) if value else token_expiry,
        )
        for key, value in sorted(r.privileges(f"{where} privileges"))
    )
    channel = uid = user_id = None
    extra: dict[str, Any] = {}
    if stype in (1, 3, 6):  # RTC, Streaming, FCDN: channel + uid/account
        channel = r.string(f"{where} channel_name")
        uid = r.string(f"{where} uid")
    elif stype in (2, 5):  # RTM, Chat
        user_id = r.string(f"{where} user_id")
    elif stype == 7:  # APaaS
        extra["room_uuid"] = r.string(f"{where} room_uuid")
        extra["user_uuid"] = r.string(f"{where} user_uuid")
        extra["role"] = r.i16(f"{where} role")
    elif stype == 8:  # RTM2
        user_id = r.string(f"{where} user_id")
        extra["permissions"] = _rtm2_permissions(r, where)
    return Service(
        type=stype,
        name=name,
        privileges=privileges,
        channel=channel,
        uid=uid,
        user_id=user_id,
        extra=extra or NO_EXTRA,
    )


def _rtm2_permissions(r: Reader, where: str) -> dict[int, dict[int, list[str]]]:
    tree: dict[int, dict[int, list[str]]] = {}
    for _ in range(r.u16(f"{where} resource type count")):
        rtype = r.u16(f"{where} resource type")
        perms: dict[int, list[str]] = {}
        for _ in range(r.u16(f"{where} permission count")):
            ptype = r.u16(f"{where} permission type")
            perms[ptype] = [r.string(f"{where} resource") for _ in range(r.u16(f"{where} resource count"))]
        tree[rtype] = perms
    return tree


# --------------------------------------------------------------------------- 006


def _decode_006(token: str) -> Token:
    app_id = token[3 : 3 + APP_ID_LENGTH]
    if len(app_id) != APP_ID_LENGTH:
        raise TokenError(f"006 token too short: {len(token)} characters, the app id alone needs 35")
    content = _b64(token[3 + APP_ID_LENGTH :], "006 body")
    try:
        return _fast_006(app_id, content)
    except _FAST_FAILURES:
        return _checked_006(app_id, content)


def _fast_006(app_id: str, content: bytes) -> Token:
    (size,) = _U16(content, 0)
    pos = 2 + size
    signature = content[2:pos]
    crc_channel, crc_uid, size = _HEAD_006(content, pos)
    pos += 10
    if pos + size != len(content):
        raise _GiveUp  # trailing bytes or a short message
    message = content[pos:]
    salt, ts, count = _HEAD_006(message, 0)
    end = 10 + 6 * count
    if end != len(message):
        raise _GiveUp
    expiry = ts or None
    privileges = [
        # 006 values are absolute unix times; 0 = never on its own, bounded by ts.
        _new(
            Privilege,
            (key, PRIVILEGES_006.get(key) or f"unknown_{key}", value, (value if value < ts else ts) if value and ts else value or expiry),
        )
        for key, value in _PAIRS(message[10:end])
    ]
    if count > 1:
        privileges.sort()
    service = _new(Service, (0, "ACCESS_TOKEN", tuple(privileges), None, None, None, NO_EXTRA))
    token: Token = _new(
        Token, ("006", app_id, salt, (service,), signature, message, None, None, ts, crc_channel, crc_uid, None)
    )
    return token


def _checked_006(app_id: str, content: bytes) -> Token:
    r = Reader(content)
    signature = r.raw_string("signature")
    crc_channel = r.u32("crc_channel_name")
    crc_uid = r.u32("crc_uid")
    message = r.raw_string("message")
    if r.remaining:
        raise TokenError(f"{r.remaining} trailing bytes after the 006 message")
    m = Reader(message)
    salt = m.u32("salt")
    ts = m.u32("ts")
    token_expiry = ts or None
    privileges = []
    for key, value in sorted(m.privileges()):
        # 006 values are absolute unix times; 0 = never on its own, bounded by ts.
        if value and token_expiry:
            expires: int | None = min(value, token_expiry)
        else:
            expires = value or token_expiry
        privileges.append(Privilege(id=key, name=PRIVILEGES_006.get(key, f"unknown_{key}"), value=value, expires_ts=expires))
    if m.remaining:
        raise TokenError(f"{m.remaining} trailing bytes after the 006 privileges")
    return Token(
        version="006",
        app_id=app_id,
        salt=salt,
        services=(Service(type=0, name="ACCESS_TOKEN", privileges=tuple(privileges)),),
        signature=signature,
        signed=message,
        ts=ts,
        crc_channel=crc_channel,
        crc_uid=crc_uid,
    )


# --------------------------------------------------------------------------- signatures


_SHA256 = hashlib.sha256
_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104), the same bytes as ``hmac.digest(key, msg, "sha256")``.

    Written out because it is about 1.7x faster here: with OpenSSL 3,
    ``hmac.digest`` looks the algorithm up on every call, and 007 verification
    chains three HMACs per token. ``hmac.compare_digest`` still does the
    comparing; tests check this against the ``hmac`` module.
    """
    if len(key) > _BLOCK:
        key = _SHA256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return _SHA256(key.translate(_OPAD) + _SHA256(key.translate(_IPAD) + msg).digest()).digest()


def signature_007(certificate: str, issue_ts: int, salt: int, signed: bytes) -> bytes:
    """The 007 signing chain: HMAC(u32 issue_ts, cert) -> HMAC(u32 salt, .) -> HMAC(., signing info)."""
    k1 = hmac_sha256(pack_u32(issue_ts), certificate.encode("utf-8"))
    k2 = hmac_sha256(pack_u32(salt), k1)
    return hmac_sha256(k2, signed)


def signature_006(certificate: str, app_id: str, channel: str, uid: int | str, message: bytes) -> bytes:
    """HMAC-SHA256(cert, app_id || channel || uid string || packed message)."""
    msg = app_id.encode("utf-8") + channel.encode("utf-8") + uid_string(uid).encode("utf-8") + message
    return hmac_sha256(certificate.encode("utf-8"), msg)


def verify(
    token: str | Token, certificate: str, *, channel: str | None = None, uid: int | str | None = None
) -> bool:
    """Whether the token was signed with this app certificate.

    007 needs only the certificate. 006 signs the channel and uid without
    storing them, so both must be given; their CRCs are checked first. The
    comparison is constant-time. Raises TokenError if ``token`` does not decode.
    """
    tok = decode(token) if isinstance(token, str) else token
    if tok.version == "007":
        assert tok.issue_ts is not None
        expected = signature_007(certificate, tok.issue_ts, tok.salt, tok.signed)
        return hmac.compare_digest(expected, tok.signature)
    if channel is None or uid is None:
        raise ValueError("verifying a 006 token needs the channel and uid it was requested for")
    if not tok.binds(channel, uid):
        return False
    expected = signature_006(certificate, tok.app_id, channel, uid, tok.signed)
    return hmac.compare_digest(expected, tok.signature)
