"""``token-conformance contract``: the catalogue as Markdown (what docs/contract.md holds) or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.contract import REQUIREMENTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_markdown_is_the_committed_doc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract"]) == 0
    out = capsys.readouterr().out
    assert out == DOC.read_text(encoding="utf-8"), "regenerate: python -m conformance contract > docs/contract.md"
    assert main(["contract", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    from conformance import __version__
    from conformance.contract import CONTRACT_VERSION, SECTIONS

    assert doc["contract_version"] == CONTRACT_VERSION  # which contract the ids and sentences are
    assert doc["tool"] == {"name": "token-conformance", "version": __version__}
    assert [s["id"] for s in doc["sections"]] == list(SECTIONS)
    items = doc["requirements"]
    assert [i["id"] for i in items] == [r.id for r in REQUIREMENTS]
    for item, req in zip(items, REQUIREMENTS, strict=True):
        assert item == {"id": req.id, "section": req.section, "level": req.level.value, "title": req.title,
                        "requirement": req.sentence, "rationale": req.rationale, "needs": list(req.needs)}


def test_unknown_format_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["contract", "--format", "yaml"])
    assert info.value.code == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
