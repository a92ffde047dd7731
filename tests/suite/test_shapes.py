"""One suite through every shape: servers of other route shapes, judged through their profile files.

A correct server of each shape (tests/faulty/shapes.py: the reference server behind a query-string or a JSON-body
front door) passes ``--strict``, every case that cannot apply to the shape skipping with its reason; a
representative fault of each section, put behind each front door, fails exactly the cases that find it in the
Go shape (less those the shape cannot express, which skip).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.reference.app import create_app
from tests.faulty.issuers import Issuer006
from tests.faulty.runner import PROOF_PROP_EXAMPLES, Run
from tests.faulty.servers import BY_KEY, Fault, node_like
from tests.faulty.shapes import (
    CHOSEN_UID,
    CHOSEN_UID_006,
    NOT_IN_SHAPE,
    SHAPE_FAULTS,
    SHAPES,
    Shape,
    broken_006_signature,
    chosen_uid_shape,
    judge_shape,
    other_uid,
)

from .test_proofs import UNEXPECTED_OUTCOMES, describe, gating_exit


def _run(shape: Shape, make: Any, cases: tuple[str, ...] = (), prop_examples: int | None = None) -> Run:
    return judge_shape(shape, make, cases, prop_examples)


@pytest.mark.parametrize("shape", [*SHAPES, CHOSEN_UID], ids=[s.name for s in (*SHAPES, CHOSEN_UID)])
def test_correct_server_of_the_shape_passes_strict(shape: Shape) -> None:
    run = _run(shape, create_app, prop_examples=PROOF_PROP_EXAMPLES)
    assert run.document is not None, run.output[-3000:]
    assert run.exit_code == 0, describe(run, run.failed)
    assert run.failed == set() and not run.having(*UNEXPECTED_OUTCOMES)
    assert NOT_IN_SHAPE <= run.skipped, describe(run, NOT_IN_SHAPE - run.skipped)
    for case in NOT_IN_SHAPE:  # each says why it cannot apply, never a failed prerequisite
        assert "profile" in run.message(case), (case, run.message(case))
    for case in run.skipped - NOT_IN_SHAPE:  # as for the Go shape: nothing to enforce without credentials or origin
        assert "no credentials configured" in run.message(case) or "no web origin declared" in run.message(case), \
            (case, run.message(case))


@pytest.mark.parametrize(
    ("shape", "fault"),
    [pytest.param(s, BY_KEY[k], id=f"{s.name}:{k}") for s in SHAPES for k in SHAPE_FAULTS],
)
def test_fault_in_the_shape_is_detected_by_the_same_cases(shape: Shape, fault: Fault) -> None:
    selected = tuple(c for c in fault.proof_cases)
    run = _run(shape, fault.make, selected, prop_examples=PROOF_PROP_EXAMPLES)
    assert run.document is not None, run.output[-3000:]
    assert not run.having(*UNEXPECTED_OUTCOMES), describe(run, run.having(*UNEXPECTED_OUTCOMES))
    expected = (fault.expected & set(selected)) - NOT_IN_SHAPE
    assert fault.requirement in run.failed, describe(run, {fault.requirement})
    assert run.failed == expected, describe(run, run.failed ^ expected)
    unexplained = run.skipped - fault.skips - NOT_IN_SHAPE
    assert not unexplained, describe(run, unexplained)
    assert run.exit_code == gating_exit(run.failed, True)


# --- a server that chooses the uid and names it in its answer (profile: "uid": "/uid") ------------------------


def test_answer_naming_another_uid_than_the_token_fails_token_4_alone() -> None:
    # Asked for uid 0, the server draws a uid for the token and names another in its answer: the client joins
    # with the uid it was told, which the token does not admit. Only the binding case owns that.
    lying = Shape("chosen-uid", lambda app: chosen_uid_shape(app, answered=other_uid))
    run = _run(lying, create_app, prop_examples=PROOF_PROP_EXAMPLES)
    assert run.document is not None, run.output[-3000:]
    assert run.failed == {"TOKEN-4"}, describe(run, run.failed ^ {"TOKEN-4"})
    assert not run.having(*UNEXPECTED_OUTCOMES) and run.exit_code == 1
    assert "(the uid the answer names for uid 0)" in run.message("TOKEN-4")


def _node_006(s: Any) -> Any:
    return node_like(lambda st: Issuer006(st.app_id, st.certificate))(s)


def test_006_signature_is_verified_against_the_uid_the_answer_names() -> None:
    # A 006 signature covers the uid without storing it: verifying it needs the uid the server chose. A correct
    # server's tokens verify against it; a server whose chosen-uid tokens are signed wrongly fails TOKEN-8 (it used
    # to pass, the token bound to no uid TOKEN-8 knew of being left unjudged).
    cases = ("ROUTE-1", "TOKEN-1", "TOKEN-4", "TOKEN-8")
    good = _run(CHOSEN_UID_006, _node_006, cases)
    assert good.document is not None, good.output[-3000:]
    assert good.exit_code == 0 and good.failed == set(), describe(good, good.failed)
    bad = Shape("chosen-uid-006", lambda app: chosen_uid_shape(app, token=broken_006_signature))
    run = _run(bad, _node_006, cases)
    assert run.failed == {"TOKEN-8"}, describe(run, run.failed ^ {"TOKEN-8"})
    assert "signature of the token for publisher uid" in run.message("TOKEN-8")


def test_messages_name_the_shapes_request_not_the_go_path() -> None:
    # The route a privilege finding came from reads as the shape's own request.
    json_shape = next(s for s in SHAPES if s.name == "json")
    run = _run(json_shape, BY_KEY["mute-publisher"].make, ("ROUTE-1", "TOKEN-6"))
    assert run.failed == {"TOKEN-6"}, describe(run, run.failed)
    assert "publisher privileges (POST /api/token)" in run.message("TOKEN-6")
    assert "GET /rtc" not in run.message("TOKEN-6")
