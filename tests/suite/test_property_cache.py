"""PROP-1's cache of generated requests: rebuilt cases send exactly what generation would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from conformance.openapi import openapi_document
from conformance.profiles import load_profile
from conformance.suite import test_property as prop


class _Settings:
    prop_examples = 4


class _Target:
    settings = _Settings()


def _operations() -> list[Any]:
    config = schemathesis.Config.from_dict({"generation": {"mode": "positive", "deterministic": True}})
    schema = schemathesis.openapi.from_dict(openapi_document(load_profile(None)), config=config)
    return [r.ok() for r in schema.get_all_operations()]


def test_rebuilt_cases_send_the_generated_requests() -> None:
    for operation in _operations():
        generated = prop._examples(operation, _Target())  # type: ignore[arg-type]
        stored = json.loads(json.dumps(prop.dump_cases(generated)))  # through the file format
        rebuilt = prop.load_cases(operation, stored)
        assert len(rebuilt) == len(generated) > 0
        for a, b in zip(generated, rebuilt, strict=True):
            assert _sent(b) == _sent(a), operation.label


def _sent(case: Any) -> tuple[Any, ...]:
    """What PROP-1 sends of a case: method, URL with query, JSON body (headers are the client's own)."""
    kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1:1")
    return kwargs["method"], kwargs["url"], kwargs.get("params"), kwargs.get("json"), case.path_parameters


def test_cache_path_follows_description_count_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    doc = openapi_document(load_profile(None))
    path = prop.cache_path(doc, 12)
    assert path.parent == tmp_path / "token-conformance"
    assert prop.cache_path(doc, 12) == path
    assert prop.cache_path(doc, 13) != path
    assert prop.cache_path({**doc, "info": {"title": "other", "version": "1"}}, 12) != path


def test_unreadable_or_unwritable_cache_is_ignored(tmp_path: Path) -> None:
    bad = tmp_path / "cache.json"
    bad.write_text("{not json", encoding="utf-8")
    assert prop._read_cache(bad) == {}
    assert prop._read_cache(tmp_path / "missing.json") == {}
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    prop._write_cache(blocker / "sub" / "cache.json", {"x": []})  # parent is a file: no error, no cache
    assert not (blocker / "sub").exists()
