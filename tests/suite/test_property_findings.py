"""PROP-1 names each distinct failure once, however many generated examples hit it."""

from __future__ import annotations

from conformance.suite.test_property import collapse_repeats
from conformance.verdict import Finding


def test_the_same_failure_of_several_examples_is_listed_once_with_a_count() -> None:
    same = [Finding("POST /getToken: /getToken", ("200",), "status 500 - 500 text/plain 'boom'", f"curl -d {n}")
            for n in range(3)]
    other = Finding("GET /rtc/...: /rtc/a/publisher/uid/1/", ("200",), "status 500 - 500", "curl b")
    out = collapse_repeats([same[0], other, same[1], same[2]])
    assert out == [Finding(same[0].what, ("200",), "status 500 - 500 text/plain 'boom' (3 generated examples)",
                           "curl -d 0"), other]
