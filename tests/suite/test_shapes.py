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
from tests.faulty.runner import PROOF_PROP_EXAMPLES, Run
from tests.faulty.servers import BY_KEY, Fault
from tests.faulty.shapes import NOT_IN_SHAPE, SHAPE_FAULTS, SHAPES, Shape, judge_shape

from .test_proofs import UNEXPECTED_OUTCOMES, describe, gating_exit


def _run(shape: Shape, make: Any, cases: tuple[str, ...] = (), prop_examples: int | None = None) -> Run:
    return judge_shape(shape, make, cases, prop_examples)


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_correct_server_of_the_shape_passes_strict(shape: Shape) -> None:
    run = _run(shape, create_app, prop_examples=PROOF_PROP_EXAMPLES)
    assert run.document is not None, run.output[-3000:]
    assert run.exit_code == 0, describe(run, run.failed)
    assert run.failed == set() and not run.having(*UNEXPECTED_OUTCOMES)
    assert NOT_IN_SHAPE <= run.skipped, describe(run, NOT_IN_SHAPE - run.skipped)
    for case in NOT_IN_SHAPE:  # each says why it cannot apply, never a failed prerequisite
        assert "profile" in run.message(case), (case, run.message(case))
    for case in run.skipped - NOT_IN_SHAPE:  # as for the Go shape: nothing to enforce without credentials
        assert "no credentials configured" in run.message(case), (case, run.message(case))


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
