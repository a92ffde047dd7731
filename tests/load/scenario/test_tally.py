"""Worker tallies add up on the master exactly as if one process had recorded everything."""

from __future__ import annotations

from conformance.load.scenario.tally import MAX_EXAMPLES, Tally


def record(t: Tally, fetches: int, leads: list[float], invalid: int = 0) -> None:
    for _ in range(fetches):
        t.count("fetch")
    for lead in leads:
        t.lead(lead)
    for i in range(invalid):
        t.invalid("expiry", f"example {i}")


def test_deltas_from_several_workers_sum_to_the_whole() -> None:
    master, whole = Tally(), Tally()
    workers = [Tally(), Tally()]
    for round_ in range(3):  # three report intervals
        for n, worker in enumerate(workers):
            record(worker, fetches=n + round_, leads=[0.5 * n, -0.1], invalid=n)
            record(whole, fetches=n + round_, leads=[0.5 * n, -0.1], invalid=n)
            master.merge(worker.take())
    assert master.counts == whole.counts
    assert sorted(master.leads) == sorted(whole.leads)
    assert master.leads_total == whole.leads_total == 12
    assert master.invalid_reasons == whole.invalid_reasons == {"expiry": 3}
    assert all(not w.counts and not w.leads for w in workers)  # take() started afresh


def test_failure_reasons_add_up() -> None:
    master, a, b = Tally(), Tally(), Tally()
    a.failure("HTTP 503")
    b.failure("HTTP 503")
    b.failure("the body is not JSON")
    master.merge(a.take())
    master.merge(b.take())
    assert master.failure_reasons == {"HTTP 503": 2, "the body is not JSON": 1}


def test_examples_are_capped_and_deduplicated() -> None:
    t = Tally()
    for i in range(10):
        t.dropped("late", f"detail {i % 5}")
    assert t.counts["dropped"] == 10
    assert t.examples["dropped: late"] == [f"detail {i}" for i in range(MAX_EXAMPLES)]


def test_round_trip_through_a_dict() -> None:
    t = Tally()
    record(t, fetches=2, leads=[1.23456, 2.0], invalid=1)
    copy = t.copy()
    assert copy.to_dict() == t.to_dict()
    assert copy.to_dict()["leads"] == [1.2346, 2.0]
