"""How the simulated client reads an answer (conformance.load.scenario.responses), on stand-in responses."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from conformance.load.scenario.responses import MAX_BODY_BYTES, capped_body, rate_limited, token_in


@dataclass
class Answer:
    """The attributes the client reads of a Locust FastResponse; ``stream``: the raw body, read in chunks."""

    status_code: int
    content: bytes | None = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: Any = None
    _response: Any = None


def streamed(status: int, body: bytes) -> Answer:
    return Answer(status, content=None, _response=io.BytesIO(body))


def test_the_token_is_read_where_the_profile_says() -> None:
    assert token_in(Answer(200, json.dumps({"rtcToken": "007abc"}).encode())) == ("007abc", None)
    nested = json.dumps({"data": {"token": "006xyz"}}).encode()
    assert token_in(Answer(200, nested), pointer="/data/token") == ("006xyz", None)
    assert token_in(Answer(201, json.dumps({"token": "t"}).encode()), pointer="/token", success=201) == ("t", None)


def test_an_answer_without_a_usable_token_says_why() -> None:
    assert token_in(Answer(503, b"busy")) == (None, "HTTP 503")
    assert token_in(Answer(0, None)) == (None, "no response (connection failed)")
    assert token_in(Answer(200, b"<html>")) == (None, "the body is not JSON")
    assert token_in(Answer(200, b'{"rtcToken": 7}')) == (None, "no string under 'rtcToken'")
    assert token_in(Answer(200, b'{"data": {}}'), pointer="/data/token") == (None, "no string under '/data/token'")
    assert token_in(Answer(200, b'["007abc"]')) == (None, "no string under 'rtcToken'")


def test_a_body_past_the_cap_is_a_failure_and_reading_stops_there() -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert token_in(streamed(200, big)) == (None, f"body over {MAX_BODY_BYTES // 1024} KiB")
    assert token_in(Answer(200, big)) == (None, f"body over {MAX_BODY_BYTES // 1024} KiB")
    stream = io.BytesIO(b"y" * (4 * MAX_BODY_BYTES))
    assert capped_body(Answer(200, content=None, _response=stream)) is None
    assert stream.tell() < 2 * MAX_BODY_BYTES  # stopped soon after the cap, not read to the end
    exact = b"z" * MAX_BODY_BYTES
    assert capped_body(streamed(200, exact)) == exact


def test_a_rate_limiters_answer_is_waited_out() -> None:
    assert rate_limited(Answer(429)) == 1.0  # no Retry-After: the default wait
    assert rate_limited(Answer(429, headers={"Retry-After": "3"})) == 3.0
    assert rate_limited(Answer(503, headers={"Retry-After": "2"})) == 2.0
    assert rate_limited(Answer(503)) is None  # an overloaded server, not a limiter: a failure
    assert rate_limited(Answer(500, headers={"Retry-After": "2"})) is None
    assert rate_limited(Answer(200)) is None
