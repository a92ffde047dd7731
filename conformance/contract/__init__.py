"""The numbered contract: one entry per requirement, the single source of truth.

The suite looks requirements up by id (``@case("RTC-ROUTE-1")``), the reports
print their sentence and level, and ``token-conformance contract`` renders
docs/contract.md from the same data. An id is written once, here.
"""

from __future__ import annotations

from .catalogue import CONTRACT_VERSION, REQUIREMENTS, SECTIONS
from .model import Level, Requirement
from .render import by_id, render_markdown

__all__ = ["CONTRACT_VERSION", "REQUIREMENTS", "SECTIONS", "Level", "Requirement", "by_id", "render_markdown"]
