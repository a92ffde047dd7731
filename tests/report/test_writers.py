"""The three renderings of a run: conformance.json, conformance.html and the terminal table."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance.contract import REQUIREMENTS, SECTIONS, Level, by_id
from conformance.report import CaseRecord, report_document, summarize, terminal_table, write_html, write_json

PROFILE = {"name": "agora-token-service", "token_version": "007"}
INJECTED = '<script>alert("x")</script><img src="https://evil.example/x.png">'


def records() -> list[CaseRecord]:
    out = []
    for req, outcome in zip(REQUIREMENTS, ["failed", "passed", "skipped", "xfailed", "error", "not run", "xpassed"],
                            strict=False):
        r = CaseRecord.for_requirement(req)
        r.outcome = outcome
        r.duration_s = 0.123456
        out.append(r)
    assert out[0].level == "MUST"
    out[0].message = f"- uid\n    Actual: {INJECTED} & more"
    return out


@pytest.fixture
def document() -> dict[str, object]:
    recs = records()
    return report_document("http://127.0.0.1:8080", PROFILE, summarize(recs, strict=False), recs)


def test_json_document_shape(tmp_path: Path, document: dict[str, object]) -> None:
    write_json(tmp_path / "conformance.json", document)
    doc = json.loads((tmp_path / "conformance.json").read_text(encoding="utf-8"))
    assert {"target", "profile", "summary", "cases"} <= set(doc)
    assert doc["target"] == "http://127.0.0.1:8080"
    assert doc["profile"] == PROFILE
    assert doc["summary"]["exit_code"] == 1
    assert doc["summary"]["verdict"] == "not conforming"
    assert len(doc["cases"]) == 7
    for case in doc["cases"]:
        assert {"id", "requirement", "level", "outcome", "message", "duration_s"} <= set(case)
        req = by_id(case["id"])
        assert case["requirement"] == req.sentence
        assert case["level"] == req.level.value
        assert case["duration_s"] == 0.1235
    assert doc["cases"][0]["outcome"] == "failed"
    assert INJECTED in doc["cases"][0]["message"]  # JSON keeps the text as it is


def test_json_is_utf8_not_escaped(tmp_path: Path) -> None:
    r = CaseRecord.for_requirement(REQUIREMENTS[0])
    r.outcome, r.message = "failed", "account 'ünïcödé'"
    write_json(tmp_path / "c.json", report_document("t", PROFILE, summarize([r], strict=False), [r]))
    assert "ünïcödé" in (tmp_path / "c.json").read_text(encoding="utf-8")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.ths: list[str] = []
        self._in_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "action", "srcset")]
        self._in_th = tag == "th"

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_th = False

    def handle_data(self, data: str) -> None:
        if self._in_th:
            self.ths.append(data.strip())


def test_html_self_contained_and_escaped(tmp_path: Path, document: dict[str, object]) -> None:
    write_html(tmp_path / "conformance.html", document)
    page = (tmp_path / "conformance.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert parser.urls, "the matrix links to the cases"
    assert all(u.startswith("#") for u in parser.urls), parser.urls
    assert "script" not in parser.tags and "img" not in parser.tags and "link" not in parser.tags
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&amp; more" in page
    assert "@import" not in page and "url(" not in page


def test_html_matrix_by_section_and_level(tmp_path: Path, document: dict[str, object]) -> None:
    write_html(tmp_path / "conformance.html", document)
    page = (tmp_path / "conformance.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    assert [lvl.value for lvl in Level] == [h for h in parser.ths if h in ("MUST", "SHOULD", "MAY")]
    for key in SECTIONS:
        assert key in parser.ths
    # every case appears as a badge in the matrix and as a detail section
    for case in document["cases"]:  # type: ignore[attr-defined]
        assert f'href="#{case["id"]}"' in page
        assert f'id="{case["id"]}"' in page
    assert "not conforming (exit 1)" in page


def test_terminal_table_ends_with_the_verdict(document: dict[str, object]) -> None:
    recs = records()
    lines = terminal_table(summarize(recs, strict=True), recs)
    assert lines[0].split() == ["case", "level", "outcome", "title"]
    assert lines[-1].startswith("verdict: NOT CONFORMING (exit 1)")
    assert recs[0].id in lines[-1]
    body = lines[1:1 + len(recs)]
    for line, r in zip(body, recs, strict=True):
        assert line.split()[:3] == [r.id, r.level, r.outcome.split()[0]]
    assert any(line.startswith("cases: ") and "(strict)" in line for line in lines)


def test_terminal_table_conforming_verdict() -> None:
    r = CaseRecord.for_requirement(REQUIREMENTS[0])
    r.outcome = "passed"
    lines = terminal_table(summarize([r], strict=False), [r])
    assert lines[-1] == "verdict: CONFORMING (exit 0)"


def test_terminal_table_lines_bounded(document: dict[str, object]) -> None:
    recs = records()
    recs[0].title = "x" * 500
    lines = terminal_table(summarize(recs, strict=False), recs, width=80)
    assert len(lines[1]) == 80


def _run_of(outcomes: dict[str, str], **kw: object) -> tuple[object, list[CaseRecord]]:
    recs = []
    for case_id, outcome in outcomes.items():
        r = CaseRecord.for_requirement(by_id(case_id))
        r.outcome = outcome
        recs.append(r)
    return summarize(recs, contract_ids=tuple(r.id for r in REQUIREMENTS), **kw), recs  # type: ignore[arg-type]


def test_interrupted_run_is_never_green(tmp_path: Path) -> None:
    summary, recs = _run_of({"ROUTE-1": "passed", "ROUTE-2": "not run"}, strict=False, interrupted="SIGTERM")
    assert (summary.verdict, summary.exit_code) == ("interrupted", 2)  # type: ignore[attr-defined]
    lines = terminal_table(summary, recs)  # type: ignore[arg-type]
    assert lines[-1].startswith("verdict: INTERRUPTED (exit 2) - interrupted by SIGTERM after 1 of 2 case(s); "
                                "not run: ROUTE-2")
    doc = report_document("t", PROFILE, summary, recs)  # type: ignore[arg-type]
    assert doc["summary"]["interrupted"] == "SIGTERM"
    write_html(tmp_path / "c.html", doc)
    assert "interrupted" in (tmp_path / "c.html").read_text(encoding="utf-8")


def test_skip_reasons_and_skipped_musts_are_shown() -> None:
    recs = []
    for case_id, outcome in (("ROUTE-1", "passed"), ("TOKEN-8", "skipped")):
        r = CaseRecord.for_requirement(by_id(case_id))
        r.outcome = outcome
        recs.append(r)
    recs[1].message = "no app certificate"
    summary = summarize(recs, strict=True)
    lines = terminal_table(summary, recs)
    assert any(line.split() == ["skipped:", "no", "app", "certificate"] for line in lines), lines
    assert "note: 1 MUST case(s) skipped, not judged: TOKEN-8 (no app certificate)" in lines
    assert summary.verdict == "conforming" and summary.notes


def test_html_says_strict_in_words_and_stamps_the_run(tmp_path: Path) -> None:
    summary, recs = _run_of({"ROUTE-1": "passed"}, strict=False, selection="-k 'ROUTE-1'")
    doc = report_document("t", PROFILE, summary, recs)  # type: ignore[arg-type]
    write_html(tmp_path / "c.html", doc)
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "Strict:" not in page and "False" not in page
    assert "MUST failures gate (SHOULD informational)" in page
    assert doc["generated_at"] in page and doc["tool"]["version"] in page
    assert "conforming (subset run: 1 case(s) selected by -k &#x27;ROUTE-1&#x27;, not a full verdict)" in page


def test_html_escapes_a_message_once(tmp_path: Path) -> None:
    summary, recs = _run_of({"ROUTE-1": "failed"}, strict=False)
    recs[0].message = """Actual: 400 application/json '{"error": "bad \\"uid\\""}\\nnext'"""
    doc = report_document("t", PROFILE, summary, recs)  # type: ignore[arg-type]
    write_html(tmp_path / "c.html", doc)
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "{&quot;error&quot;: &quot;bad \\&quot;uid\\&quot;&quot;}\\nnext" in page


def test_markdown_summary_says_subset_and_strict_in_words() -> None:
    from conformance.report.markdown import check_markdown

    summary, recs = _run_of({"ROUTE-1": "passed", "TOKEN-8": "skipped"}, strict=False, selection="--case 'ROUTE-1'")
    md = check_markdown(report_document("t", PROFILE, summary, recs), target="t")  # type: ignore[arg-type]
    assert "False" not in md and "not strict" in md
    assert "conforming (subset run: 2 case(s) selected by --case 'ROUTE-1', not a full verdict) (exit 0)" in md
    assert "> 1 MUST case(s) skipped, not judged: TOKEN-8" in md


def test_terminal_table_wraps_skip_reasons_to_the_width_and_marks_cut_titles() -> None:
    from conformance.contract import REQUIREMENTS

    rec = CaseRecord.for_requirement(REQUIREMENTS[0])
    rec.outcome, rec.message = "skipped", "no app certificate: set X, or give --certificate-file (check) or --token-app-certificate-file (pytest)"
    rec.title = "a title long enough to be cut at a narrow terminal width of sixty columns or so"
    for width in (60, 200):
        lines = terminal_table(summarize([rec], strict=False), [rec], width=width)
        assert all(len(line) <= width for line in lines[:-3]), lines
        reason = " ".join(line.strip() for line in lines if line.startswith(" " * 28))
        assert reason == f"skipped: {rec.message}"
    narrow = terminal_table(summarize([rec], strict=False), [rec], width=60)
    assert narrow[1].endswith("…") and len(narrow[1]) == 60


def test_html_shows_root_causes_and_what_was_not_judged(tmp_path: Path) -> None:
    _, recs = _run_of({"ROUTE-1": "passed", "ROUTE-8": "failed", "INPUT-1": "passed", "INPUT-2": "skipped",
                       "SEC-2": "skipped"}, strict=False)
    recs[2].message = "partly judged: 3 of 4 bad inputs; 1 not judged (...) (judged by ROUTE-8)"
    recs[3].message = "not judged: no control - POST /getToken with valid values got no token (judged by ROUTE-8)"
    recs[4].message = "no app certificate"
    summary = summarize(recs, strict=False)
    summary.root_causes = [{"id": "ROUTE-8", "level": "MUST", "title": by_id("ROUTE-8").title,
                            "cause": "POST /getToken: 404 <b>not found</b>"}]
    doc = report_document("t", PROFILE, summary, recs)
    assert doc["summary"]["root_causes"][0]["id"] == "ROUTE-8"
    assert doc["summary"]["not_judged"] == ["INPUT-2"] and doc["summary"]["partly_judged"] == ["INPUT-1"]
    write_html(tmp_path / "c.html", doc)
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "<h2>Root causes</h2>" in page and "POST /getToken: 404 &lt;b&gt;not found&lt;/b&gt;" in page
    assert page.index("Root causes") < page.index("<h2>Matrix</h2>")
    assert "<b>Not judged</b>" in page and "1 &ndash; INPUT-2" in page
    assert "<b>Partly judged</b>" in page and "1 &ndash; INPUT-1" in page
    # The case itself carries 'not judged', not the 'skipped' of an ordinary skip (SEC-2, no certificate).
    assert '>not judged</span> INPUT-2' in page and '>skipped</span> SEC-2' in page
    assert '>passed, partly judged</span> INPUT-1' in page
    lines = terminal_table(summary, recs)
    assert any("partly judged: 3 of 4" in line for line in lines), lines
