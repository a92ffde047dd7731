"""The end-to-end proof of ``profile infer`` (issue 18, item 4): for correct servers of each shape, the profile
inferred from one or two example requests passes ``check --strict`` (narrowed to the sections the shape touches,
to keep CI time small), and it says what the hand-written profile of the shape says.

A user with one working curl line gets a profile in one command: this is where that is proven, through the
command itself (``token-conformance profile infer``), then the suite in a child process as users run it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.profiles import load_profile
from conformance.reference.app import Settings, create_app, demo_settings
from conformance.reference.threaded import ThreadedServer
from tests.faulty.issuers import Issuer006
from tests.faulty.runner import PROOF_PROP_EXAMPLES, Run, run_check
from tests.faulty.servers import node_like
from tests.faulty.shapes import PROFILES, chosen_uid_shape, json_shape, query_shape

#: What the proof runs: what a shape changes (the request, the answer, the bad-input mapping) and the lifetime.
SECTIONS = ("ROUTE", "TOKEN", "INPUT", "EXPIRY-1", "EXPIRY-2", "EXPIRY-3", "EXPIRY-4")


@dataclass(frozen=True)
class Case:
    key: str
    make: Callable[[Settings], Any]
    examples: tuple[str, ...]
    #: The hand-written profile whose rtc operation the inferred one must match (None: nothing to compare).
    written: str | None = None


CASES = (
    Case("go-reference", create_app, ("GET /rtc/infer-room/publisher/uid/42/?expiry=600",)),
    Case("query", lambda s: query_shape(create_app(s)),
         ("GET /token?channel=infer-room&uid=42&role=publisher&expiry=600",), "query-shape"),
    Case("json", lambda s: json_shape(create_app(s)),
         ('POST /api/token {"channelName": "infer-room", "uid": 42, "role": "host", "expireSeconds": 600}',),
         "json-shape"),
    Case("chosen-uid", lambda s: chosen_uid_shape(create_app(s)),
         ("GET /token?channel=infer-room&uid=0&role=publisher&expiry=600",), "chosen-uid-shape"),
    Case("chosen-uid-006", lambda s: chosen_uid_shape(node_like(lambda st: Issuer006(st.app_id, st.certificate))(s)),
         ("GET /token?channel=infer-room&uid=0&role=publisher&expiry=600",
          "GET /token?channel=infer-room&uid=0&role=audience&expiry=600"), "chosen-uid-006-shape"),
)


@contextmanager
def _serving(make: Callable[[Settings], Any]) -> Iterator[tuple[str, Settings]]:
    settings = demo_settings()
    with ThreadedServer(make(settings)) as server:
        yield server.url, settings


def infer_file(url: str, examples: tuple[str, ...], path: Path) -> dict[str, Any]:
    """``token-conformance profile infer URL --example ... --output PATH``, as a user runs it; the document."""
    argv = ["profile", "infer", url, "--output", str(path)]
    for example in examples:
        argv += ["--example", example]
    assert main(argv) == 0
    assert main(["profile", "show", str(path)]) == 0
    return dict(json.loads(path.read_text(encoding="utf-8")))


def strict_run(url: str, settings: Settings, profile: Path, cases: tuple[str, ...] = SECTIONS) -> Run:
    return run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=True,
                     profile=str(profile), cases=cases, prop_examples=PROOF_PROP_EXAMPLES)


def _problems(run: Run) -> str:
    if run.document is None:
        return run.output[-3000:]
    return "\n".join(f"{c} {o}: {run.message(c)[:1500]}" for c, o in sorted(run.outcomes.items())
                     if o not in ("passed", "skipped"))


@pytest.mark.parametrize("case", CASES, ids=[c.key for c in CASES])
def test_the_inferred_profile_passes_strict(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{case.key}.json"
    with _serving(case.make) as (url, settings):
        document = infer_file(url, case.examples, path)
        capsys.readouterr()
        run = strict_run(url, settings, path)
    if case.written is not None:
        written = load_profile(str(PROFILES / f"{case.written}.json"))
        inferred = load_profile(str(path))
        assert inferred.operations["rtc"].as_dict() == written.operations["rtc"].as_dict(), document
        assert inferred.roles == written.roles and inferred.token_version == written.token_version
        assert inferred.operations["health"].path == written.operations["health"].path
    assert run.exit_code == 0 and not run.failed, _problems(run)
    assert {"ROUTE-1", "TOKEN-1", "TOKEN-4", "TOKEN-7", "INPUT-1", "EXPIRY-2"} <= run.having("passed"), \
        run.outcomes
