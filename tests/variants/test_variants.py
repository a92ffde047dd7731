"""Proofs that no correct variant raises a false alarm (tests/variants/servers.py).

Each variant runs the sections its choice touches (the full runs are tools/false_alarm_score.py's, which
writes docs/false-alarms.md): it passes under --strict, or - without --strict - fails exactly the SHOULD it
legitimately misses, written down with the reason, and exits 0.
"""

from __future__ import annotations

import socket

import pytest

from conformance.contract import by_id
from tests.faulty.runner import assert_browser_row

from .runner import judge_variant
from .servers import VARIANTS, Variant


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.key for v in VARIANTS])
def test_correct_variant_raises_no_false_alarm(variant: Variant) -> None:
    if variant.key == "ipv6-loopback" and not _ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback (::1)")
    judged = judge_variant(variant)
    problems = judged.problems()
    assert not problems, "\n\n".join(problems)
    assert set(judged.run.outcomes) == set(variant.proof_cases)
    if variant.web_origins:
        assert_browser_row(judged.run, variant.web_origins, standard="passed", browser_reads=True)


def test_the_catalogue_is_large_and_explained() -> None:
    assert len(VARIANTS) >= 25
    for v in VARIANTS:
        assert v.choice.endswith(".") and v.why and v.sections, v.key
        for case, reason in v.misses.items():
            assert by_id(case).level.value in ("SHOULD", "MAY") and reason, (v.key, case)
