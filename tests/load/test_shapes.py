"""Load runs drive any route shape through its profile: fetch and renew against a query-string and a JSON-body
server (tests/faulty/shapes.py), tokens checked as for the Go shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.load.protocol import CERTIFICATE_ENV
from tests.faulty.shapes import SHAPES, Shape

from . import faulty
from .outcomes import held
from .test_runs import run_load


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_load_fetches_and_renews_through_the_shape(
    shape: Shape, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with faulty.serving(shape.wrap) as (url, settings):
        monkeypatch.setenv(CERTIFICATE_ENV, settings.certificate)
        code, doc, _out, err = run_load(capsys, tmp_path, "--users", "4", "--run-time", "4s", "--profile",
                                        shape.profile, "--app-id", settings.app_id, "--max-p95-ms", "2000", url=url)
    assert held(code, doc), err
    assert doc is not None and doc["options"]["signature_checked"] is True
    assert doc["fetch"]["requests"] >= 4 and doc["renew"]["requests"] >= 4
    assert doc["failures"] == 0 and doc["invalid_tokens"] == 0 and doc["dropped"] == 0


def test_load_counts_a_wrong_token_place_as_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON shape judged with the query shape's profile: every request fails, none is taken for a token."""
    json_shape = next(s for s in SHAPES if s.name == "json")
    with faulty.serving(json_shape.wrap) as (url, settings):
        monkeypatch.setenv(CERTIFICATE_ENV, settings.certificate)
        code, doc, _out, _err = run_load(capsys, tmp_path, "--users", "2", "--run-time", "3s", "--profile",
                                         str(Path(json_shape.profile).with_name("query-shape.json")), url=url)
    assert code != 0
    assert doc is None or (doc["cycles"] == 0 and doc["invalid_tokens"] == 0)
