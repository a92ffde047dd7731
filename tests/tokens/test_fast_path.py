"""The fast parsers agree with the checked ones, and the hand-written HMAC with the hmac module.

codec.py decodes well-formed tokens with a fast parser and falls back to a
checked, field-by-field one for anything else. The fallback makes a wrong
*rejection* by the fast parser harmless; what must never happen is the fast
parser *accepting* bytes into a different Token than the checked parser builds,
or either of them letting a non-TokenError escape.

The fast parser may give up only with one of the codec's declared give-up errors
(``_FAST_FAILURES``), the ones ``decode`` falls back on. Anything else it raises
would escape ``decode``, so these tests let it through and fail.
"""

from __future__ import annotations

import base64
import hmac
import struct
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.tokens import TokenError, decode
from conformance.tokens.codec import (
    _FAST_FAILURES,
    _checked_006,
    _checked_007,
    _fast_006,
    _fast_007,
    hmac_sha256,
    signature_006,
    signature_007,
)
from conformance.tokens.encode import ServiceSpec, build_006, build_007

from . import payload_007, vectors

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"

PAYLOADS_007 = [payload_007(v["expected_token"]) for v in vectors()["vectors_007"]] + [
    payload_007(v["token"]) for v in vectors()["parse_only_007"]
]
CONTENTS_006 = [base64.b64decode(v["expected_token"][35:]) for v in vectors()["vectors_006"]]


def _wrap_007(payload: bytes) -> str:
    return "007" + base64.b64encode(zlib.compress(payload)).decode()


def _agree_007(payload: bytes) -> None:
    """Fast and checked parser agree, and decode() returns the checked answer or raises only TokenError."""
    try:
        fast = _fast_007(payload)
    except _FAST_FAILURES:  # a declared give-up: decode then uses the checked parser
        fast = None
    try:
        checked = _checked_007(payload)
    except TokenError:
        assert fast is None, "the fast parser accepted bytes the checked parser rejects"
        with pytest.raises(TokenError):
            decode(_wrap_007(payload))
        return
    if fast is not None:
        assert fast == checked
    assert decode(_wrap_007(payload)) == checked


def _agree_006(content: bytes) -> None:
    """The same for 006 (decode() needs a non-empty body)."""
    try:
        fast = _fast_006(APP_ID, content)
    except _FAST_FAILURES:
        fast = None
    token = "006" + APP_ID + base64.b64encode(content).decode()
    try:
        checked = _checked_006(APP_ID, content)
    except TokenError:
        assert fast is None, "the fast parser accepted bytes the checked parser rejects"
        with pytest.raises(TokenError):
            decode(token)
        return
    if fast is not None:
        assert fast == checked
    assert decode(token) == checked


def test_fast_parsers_accept_every_vector() -> None:
    for payload in PAYLOADS_007:
        assert _fast_007(payload) == _checked_007(payload)
    for content in CONTENTS_006:
        assert _fast_006(APP_ID, content) == _checked_006(APP_ID, content)


def test_agree_on_every_prefix_and_one_byte_extension() -> None:
    for payload in PAYLOADS_007:
        for cut in range(len(payload)):
            _agree_007(payload[:cut])
        _agree_007(payload + b"\0")
    for content in CONTENTS_006:
        for cut in range(len(content)):
            _agree_006(content[:cut])
        _agree_006(content + b"\0")


def _service_count_offset(payload: bytes) -> int:
    """Where a 007 payload's u16 service count sits: after signature, app id, issue_ts, expire and salt."""
    sig: int = struct.unpack_from("<H", payload, 0)[0]
    app: int = struct.unpack_from("<H", payload, 2 + sig)[0]
    return 2 + sig + 2 + app + 12


@pytest.mark.parametrize(
    "corrupt",
    [lambda c: c - 1, lambda c: c + 1, lambda c: c + 0x100, lambda c: 0xFFFF],
    ids=["one-less", "one-more", "high-byte-set", "max"],
)
def test_agree_on_a_corrupted_service_count(corrupt: Callable[[int], int]) -> None:
    """A count that disagrees with the services present: both parsers refuse, decode raises only TokenError."""
    for payload in PAYLOADS_007:
        at = _service_count_offset(payload)
        (count,) = struct.unpack_from("<H", payload, at)
        corrupted = payload[:at] + struct.pack("<H", corrupt(count) % 0x10000) + payload[at + 2 :]
        _agree_007(corrupted)


_mutation = st.tuples(st.sampled_from(["set", "insert", "delete"]), st.floats(0, 1, exclude_max=True), st.integers(0, 255))


def _mutate(data: bytes, mutations: list[tuple[str, float, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, byte in mutations:
        if not buf:
            break
        i = int(where * len(buf))
        if kind == "set":
            buf[i] = byte
        elif kind == "insert":
            buf.insert(i, byte)
        else:
            del buf[i]
    return bytes(buf)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PAYLOADS_007), st.lists(_mutation, min_size=1, max_size=4))
def test_agree_on_mutated_007_payloads(payload: bytes, mutations: list[tuple[str, float, int]]) -> None:
    _agree_007(_mutate(payload, mutations))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CONTENTS_006), st.lists(_mutation, min_size=1, max_size=4))
def test_agree_on_mutated_006_contents(content: bytes, mutations: list[tuple[str, float, int]]) -> None:
    _agree_006(_mutate(content, mutations))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decode_raises_only_token_error_on_random_payloads(junk: bytes) -> None:
    for token in ("007" + base64.b64encode(zlib.compress(junk)).decode(), "006" + APP_ID + base64.b64encode(junk).decode()):
        try:
            decode(token)
        except TokenError:
            pass


def _rtm2_tree(tree: dict[int, dict[int, list[str]]]) -> bytes:
    out = struct.pack("<H", len(tree))
    for rtype in sorted(tree):
        out += struct.pack("<HH", rtype, len(tree[rtype]))
        for ptype in sorted(tree[rtype]):
            names = tree[rtype][ptype]
            out += struct.pack("<HH", ptype, len(names))
            for name in names:
                raw = name.encode()
                out += struct.pack("<H", len(raw)) + raw
    return out


_text = st.text(max_size=12)
_privileges = st.dictionaries(st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1), max_size=5)
_tree = st.dictionaries(
    st.integers(0, 4), st.dictionaries(st.integers(0, 1), st.lists(_text, max_size=3), max_size=2), max_size=3
)


@st.composite
def _service(draw: st.DrawFn) -> ServiceSpec:
    stype = draw(st.integers(1, 10))
    privileges = draw(_privileges)
    if stype in (1, 3, 6):
        return ServiceSpec(stype, privileges, strings=(draw(_text), draw(_text)))
    if stype in (2, 5):
        return ServiceSpec(stype, privileges, strings=(draw(_text),))
    if stype == 7:
        return ServiceSpec(stype, privileges, strings=(draw(_text), draw(_text)), role=draw(st.integers(-(2**15), 2**15 - 1)))
    if stype == 8:
        return ServiceSpec(stype, privileges, strings=(draw(_text),), raw_tail=_rtm2_tree(draw(_tree)))
    return ServiceSpec(stype, privileges)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.lists(_service(), max_size=5), st.booleans(),
)
def test_agree_on_generated_007_tokens(issue_ts: int, expire: int, salt: int, services: list[ServiceSpec], sort: bool) -> None:
    token = build_007(APP_ID, CERT, issue_ts=issue_ts, expire=expire, salt=salt, services=services, sort_services=sort)
    payload = payload_007(token)
    assert _fast_007(payload) == _checked_007(payload)
    tok = decode(token)
    packed = sorted(services, key=lambda s: s.type) if sort else services
    assert [s.type for s in tok.services] == [s.type for s in packed]
    assert [{p.id: p.value for p in s.privileges} for s in tok.services] == [dict(s.privileges) for s in packed]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), _privileges)
def test_agree_on_generated_006_tokens(salt: int, ts: int, privileges: dict[int, int]) -> None:
    token = build_006(APP_ID, CERT, "c", 1, salt=salt, ts=ts, privileges=privileges)
    content = base64.b64decode(token[35:])
    assert _fast_006(APP_ID, content) == _checked_006(APP_ID, content)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=150), st.binary(max_size=300))
def test_hmac_sha256_matches_the_hmac_module(key: bytes, msg: bytes) -> None:
    """Keys of every length, including longer than the 64-byte block (hashed first)."""
    assert hmac_sha256(key, msg) == hmac.new(key, msg, "sha256").digest()


def test_signatures_match_the_format_description() -> None:
    """The signing chains of token-format.md 2.4 and 3.5, written with the hmac module."""
    signed = b"signing info"
    k1 = hmac.new(struct.pack("<I", 1111111), CERT.encode(), "sha256").digest()
    k2 = hmac.new(struct.pack("<I", 42), k1, "sha256").digest()
    assert signature_007(CERT, 1111111, 42, signed) == hmac.new(k2, signed, "sha256").digest()
    expected = hmac.new(CERT.encode(), (APP_ID + "chan" + "" + "msg").encode(), "sha256").digest()
    assert signature_006(CERT, APP_ID, "chan", 0, b"msg") == expected
