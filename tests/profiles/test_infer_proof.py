"""The end-to-end proof of ``profile infer``: for correct servers of each shape, the profile
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
from tests.faulty import small
from tests.faulty.issuers import Issuer006
from tests.faulty.runner import PROOF_PROP_EXAMPLES, Run, run_check
from tests.faulty.servers import node_like
from tests.faulty.shapes import PROFILES, chosen_uid_shape, json_shape, query_shape
from tests.variants.runner import Judged
from tests.variants.servers import LONG_TAIL, Variant

#: What the proof runs for the shapes of tests/faulty/shapes.py (their full proof with the hand-written profiles is
#: tests/suite/test_shapes.py; the inferred rtc operation is asserted equal to it): the request and the answer, the
#: role and uid placeholders through the bad-input catalogue, the lifetime.
SECTIONS = ("ROUTE", "TOKEN", "INPUT-1", "INPUT-3", "INPUT-5", "EXPIRY-1", "EXPIRY-2", "EXPIRY-3", "EXPIRY-4")


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
        assert inferred.default_expiry == written.default_expiry
        assert ("health" in inferred.operations) == ("health" in written.operations)
        if "health" in written.operations:
            assert inferred.operations["health"].path == written.operations["health"].path
    assert run.exit_code == 0 and not run.failed, _problems(run)
    assert {"ROUTE-1", "ROUTE-2", "TOKEN-1", "TOKEN-2", "TOKEN-4", "TOKEN-6", "TOKEN-7", "INPUT-1", "EXPIRY-2",
            "EXPIRY-3"} <= run.having("passed"), run.outcomes


#: The curl line a user of each correct long-tail variant (tests/variants/servers.py LONG_TAIL) has: one example,
#: or two that differ in the role.
LONG_TAIL_EXAMPLES: dict[str, tuple[str, ...]] = {
    "one-role-query": ("GET /api/v1/rtcToken?channelName=infer-room&uid=7",),
    "chosen-uid-post": ('POST /rtctoken {"channel": "infer-room", "isPublisher": true, "expire": 600}',
                        'POST /rtctoken {"channel": "infer-room", "isPublisher": false, "expire": 600}'),
    "fixed-lifetime": ("GET /fixed/infer-room/publisher/7",),
    "raw-token": ("GET /rtc_token?channel=infer-room&uid=7&role=publisher&expiry=600",),
}


def test_every_long_tail_variant_has_its_example() -> None:
    assert set(LONG_TAIL_EXAMPLES) == {v.key for v in LONG_TAIL}


@pytest.mark.parametrize("variant", LONG_TAIL, ids=[v.key for v in LONG_TAIL])
def test_each_long_tail_variant_passes_strict_with_the_profile_infer_writes(
        variant: Variant, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The variant's own proof (its sections, --strict, no false alarm, only the skips it lists), with the profile
    ``profile infer`` writes in place of the hand-written one, which it must equal where it matters."""
    path = tmp_path / f"{variant.key}.json"
    settings = demo_settings()
    with variant.serve(settings) as url:
        infer_file(url, LONG_TAIL_EXAMPLES[variant.key], path)
        capsys.readouterr()
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=variant.strict,
                        cases=variant.proof_cases, profile=str(path), prop_examples=PROOF_PROP_EXAMPLES)
    problems = Judged(variant, run).problems()
    assert not problems, "\n\n".join(problems)
    assert set(run.outcomes) == set(variant.proof_cases)
    assert variant.profile is not None
    written, inferred = load_profile(variant.profile), load_profile(str(path))
    assert inferred.operations["rtc"].as_dict() == written.operations["rtc"].as_dict()
    assert (inferred.roles, inferred.token_version, inferred.default_expiry, inferred.expiry_unit) == \
        (written.roles, written.token_version, written.default_expiry, written.expiry_unit)
    for seconds in (1, 5, 3600, 10**6):  # the same lifetime limits, stated or not (86400 s is the cap anyway)
        assert inferred.lifetime(seconds) == written.lifetime(seconds)
    assert ("health" in inferred.operations) == ("health" in written.operations)
    if "health" in written.operations:
        assert inferred.operations["health"].path == written.operations["health"].path


#: Faulty servers of the long tail: the profile inferred from their own answers must not learn the defect away.
FAULTY = (
    ("uid0-as-text", small.one_role_query(uid0_as_text=True), ("GET /api/v1/rtcToken?channelName=infer-room&uid=0",),
     "TOKEN-4"),
    ("truthy-role", small.chosen_uid_post(truthy_role=True),
     ('POST /rtctoken {"channel": "infer-room", "isPublisher": true}',), "INPUT-1"),
    ("process-salt", small.one_role_query(process_salt=True),
     ("GET /api/v1/rtcToken?channelName=infer-room&uid=7",), "EXPIRY-7"),
)


@pytest.mark.parametrize(("key", "make", "examples", "fails"), FAULTY, ids=[f[0] for f in FAULTY])
def test_a_profile_inferred_from_a_faulty_server_still_finds_its_defect(
        key: str, make: Callable[[Settings], Any], examples: tuple[str, ...], fails: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{key}.json"
    with _serving(make) as (url, settings):
        infer_file(url, examples, path)
        capsys.readouterr()
        run = strict_run(url, settings, path, (fails,))
    assert run.outcomes == {fails: "failed"}, _problems(run)
    assert run.exit_code == 1
