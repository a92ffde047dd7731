"""Turning case outcomes into a verdict and reports (JSON, HTML, terminal)."""

from .records import OUTCOMES, CaseRecord, Summary, summarize
from .writers import report_document, terminal_table, verdict_label, write_html, write_json

__all__ = ["OUTCOMES", "CaseRecord", "Summary", "report_document", "summarize", "terminal_table", "verdict_label", "write_html", "write_json"]
