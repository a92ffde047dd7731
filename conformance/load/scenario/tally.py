"""Counters of a load run that Locust's request stats cannot hold, and how they add up across workers.

Locust aggregates request rows (FETCH, RENEW, INVALID, DROPPED) from workers by
itself. What it cannot carry is the per-renewal detail: how long before the old
token's expiry each renewal landed (the histogram), how many sessions ran all
their cycles, and an example of each kind of invalid token. A Tally holds those;
workers send the part recorded since their last report (``take``) with every
``report_to_master`` and the master ``merge``s them, so a distributed run adds
up exactly like a local one. Pure Python: unit-tested without Locust.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

#: Renewal leads kept per tally (a histogram needs no more; the count stays exact).
MAX_LEADS = 200_000
MAX_EXAMPLES = 3
COUNTERS = (
    "fetch",
    "fetch_ok",
    "renew",
    "renew_ok",
    "invalid",
    "dropped",
    "cycles",
    "sessions_started",
    "sessions_completed",
    "limited",
)


class Tally:
    """Counts, reasons, examples and renewal leads (seconds before the old token lapsed)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.counts: Counter[str] = Counter()
        self.invalid_reasons: Counter[str] = Counter()
        self.dropped_reasons: Counter[str] = Counter()
        #: Why token requests failed ("HTTP 503", "the body is not JSON", ...): a small, fixed vocabulary.
        self.failure_reasons: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.leads: list[float] = []
        self.leads_total = 0

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def invalid(self, reason: str, detail: str | None) -> None:
        self.counts["invalid"] += 1
        self.invalid_reasons[reason] += 1
        self._example(reason, detail)

    def dropped(self, reason: str, detail: str | None) -> None:
        self.counts["dropped"] += 1
        self.dropped_reasons[reason] += 1
        self._example(f"dropped: {reason}", detail)

    def failure(self, reason: str) -> None:
        self.failure_reasons[reason] += 1

    def lead(self, seconds: float) -> None:
        self.leads_total += 1
        if len(self.leads) < MAX_LEADS:
            self.leads.append(round(seconds, 4))

    def _example(self, key: str, detail: str | None) -> None:
        if detail:
            shown = self.examples.setdefault(key, [])
            if len(shown) < MAX_EXAMPLES and detail not in shown:
                shown.append(detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {name: self.counts.get(name, 0) for name in COUNTERS},
            "invalid_reasons": dict(self.invalid_reasons),
            "dropped_reasons": dict(self.dropped_reasons),
            "failure_reasons": dict(self.failure_reasons),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "leads": list(self.leads),
            "leads_total": self.leads_total,
        }

    def take(self) -> dict[str, Any]:
        """Everything recorded so far as a dict, and start afresh (a worker's report delta)."""
        data = self.to_dict()
        self._reset()
        return data

    def merge(self, data: dict[str, Any]) -> None:
        """Add a dict made by ``to_dict``/``take`` (another worker's delta) to this tally."""
        self.counts.update({k: int(v) for k, v in data.get("counts", {}).items()})
        self.invalid_reasons.update({k: int(v) for k, v in data.get("invalid_reasons", {}).items()})
        self.dropped_reasons.update({k: int(v) for k, v in data.get("dropped_reasons", {}).items()})
        self.failure_reasons.update({k: int(v) for k, v in data.get("failure_reasons", {}).items()})
        for key, details in data.get("examples", {}).items():
            for detail in details:
                self._example(key, detail)
        leads = [float(x) for x in data.get("leads", [])]
        room = MAX_LEADS - len(self.leads)
        self.leads.extend(leads[: max(room, 0)])
        self.leads_total += int(data.get("leads_total", len(leads)))

    def copy(self) -> Tally:
        other = Tally()
        other.merge(self.to_dict())
        return other
