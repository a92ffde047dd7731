"""Section PROP: valid requests generated from the OpenAPI description (Schemathesis, positive mode).

Requests go through the harness's own bounded client (deadline, size cap), and
Schemathesis judges the responses with its named checks. Generation is
derandomized so two runs send the same requests and reach the same verdict.

Generation is also the largest CPU cost of a run (about 2 s of 4 on a quiet
2-core machine), and derandomized it always yields the same requests for the
same description and versions: they are kept in the user's cache directory
($XDG_CACHE_HOME or ~/.cache, ``token-conformance/``) and rebuilt as
Schemathesis cases from there. A cache that cannot be read or written is
ignored: the run generates, as without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from ..cases import case
from ..client import Exchange
from ..concurrency import concurrency_of, fan_out
from ..openapi import openapi_document
from ..target import Target
from ..verdict import Finding, Findings

# Late imports: Schemathesis and Hypothesis are imported inside the functions that generate and judge PROP-1's requests, not
# here: every check imports this module at collection, and the two would double that import (0.50 s -> 0.99 s,
# farm-bench medians on this 2-vCPU machine) for runs that leave PROP-1 out (watch, --cases).

#: Findings kept per operation: the first few say enough, and the run stays short.
MAX_FINDINGS_PER_OPERATION = 3
EXPECTED = ("200 and a body matching the schema",)


def _whole_numbers(value: Any) -> Any:
    """JSON integers as a client writes them: generators spell some as whole floats (6894.0), which JSON Schema
    counts as integers but a strict server (Go's decoder into an int) may refuse; every real client sends 6894."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _examples(operation: Any, target: Target) -> list[Any]:
    """The generated valid requests for one operation, in Hypothesis' (derandomized) order.

    Generation does not depend on the answers (nothing is asserted inside the
    given function), so generating first and sending afterwards sends exactly the
    requests a send-as-you-generate loop would.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    examples: list[Any] = []

    @settings(max_examples=target.settings.prop_examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(GenerationMode.POSITIVE))
    def collect(generated: Any) -> None:
        examples.append(generated)

    collect()
    return examples


#: Bumped whenever what the cache holds, or how a case is rebuilt from it, changes.
_CACHE_FORMAT = 1
_CASE_FIELDS = ("method", "path_parameters", "headers", "cookies", "query", "media_type")


def _versions() -> list[str]:
    out = []
    for dist in ("schemathesis", "hypothesis"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} ?")
    return out


def cache_path(description: dict[str, Any], examples: int) -> Path:
    """Where the generated requests for this OpenAPI description and example count are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = json.dumps([_CACHE_FORMAT, _versions(), examples, description], sort_keys=True, default=str)
    return Path(base) / "token-conformance" / f"prop-1-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def dump_cases(cases: list[Any]) -> list[dict[str, Any]]:
    """Generated cases as JSON-able requests (what was generated, not how)."""
    from schemathesis.core import NOT_SET

    out = []
    for c in cases:
        item = {name: _plain(getattr(c, name)) for name in _CASE_FIELDS}
        if c.body is not NOT_SET:
            item["body"] = c.body
        out.append(item)
    return out


def load_cases(operation: Any, items: list[dict[str, Any]]) -> list[Any]:
    """Schemathesis cases rebuilt from :func:`dump_cases` output, for ``operation``."""
    return [operation.Case(**{k: v for k, v in item.items() if k in (*_CASE_FIELDS, "body")}) for item in items]


def _plain(value: Any) -> Any:
    return dict(value) if value is not None and not isinstance(value, (str, int, float, bool, list)) else value


def _read_cache(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, list[dict[str, Any]]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)  # whole or not at all, even with several processes writing
    except (OSError, TypeError, ValueError):
        pass


def _explore(operation: Any, target: Target, checks: list[Any], examples: list[Any]) -> list[Finding]:
    """Send the generated valid requests for one operation (concurrently); return what went wrong, in order."""
    from schemathesis.core.failures import Failure, FailureGroup

    def send(generated: Any) -> tuple[Any, dict[str, Any], str, Exchange]:
        kwargs = generated.as_transport_kwargs(base_url=target.settings.url)
        url = str(httpx.URL(kwargs["url"], params=kwargs.get("params") or None))
        form = kwargs.get("data")
        if isinstance(form, dict):  # a profile with a form body: sent as a browser form would be
            ex = target.client.request(kwargs["method"], url, content=urlencode(_whole_numbers(form)).encode("ascii"),
                                       content_type="application/x-www-form-urlencoded")
        else:
            ex = target.client.request(kwargs["method"], url, json_body=_whole_numbers(kwargs.get("json")))
        return generated, kwargs, url, ex

    found: list[Finding] = []
    for generated, kwargs, url, ex in fan_out(send, examples, concurrency_of(target.client)):
        if len(found) >= MAX_FINDINGS_PER_OPERATION:
            break
        what = f"{operation.label}: {generated.formatted_path}"
        if ex.error or ex.status is None:
            found.append(Finding(what, ("a response",), f"no response: {ex.error}", ex.curl()))
            continue
        if ex.status != 200:  # Schemathesis' positive_data_acceptance also tolerates 404 for valid input
            found.append(Finding(what, EXPECTED, f"status {ex.status} for a valid request - {ex.summary()}", ex.curl()))
            continue
        # ex.body is already decoded: a Content-Encoding (gzip behind nginx or a CDN) would decode it twice.
        headers = [(k, v) for k, v in ex.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        response = httpx.Response(ex.status, headers=headers, content=ex.body,
                                  request=httpx.Request(kwargs["method"], url))
        response.elapsed = timedelta(seconds=ex.elapsed_s)
        try:
            generated.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:
            failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
            reasons = "; ".join(str(getattr(x, "title", x)) for x in failures)
            found.append(Finding(what, EXPECTED, f"{reasons} - {ex.summary()}", ex.curl()))
    return found


def _generated_requests(target: Target) -> list[Finding]:
    """Run in the background from the start of the run: generation is the slow part."""
    import schemathesis
    from schemathesis.core.result import Err

    # An explicit config: a schemathesis.toml in the user's folder must not change what is generated.
    config = schemathesis.Config.from_dict({"generation": {"mode": "positive", "deterministic": True}})
    description = openapi_document(target.profile)
    schema = schemathesis.openapi.from_dict(description, config=config)
    path = cache_path(description, target.settings.prop_examples)
    cached = _read_cache(path)
    generated: dict[str, list[dict[str, Any]]] = {}
    checks = [
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.positive_data_acceptance,
        schemathesis.checks.response_schema_conformance,
    ]
    found: list[Finding] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            found.append(Finding("OpenAPI description", ("a valid operation",), f"invalid: {result.err()}"))
            continue
        operation = result.ok()
        try:
            examples = load_cases(operation, cached[operation.label])
        except (KeyError, TypeError, ValueError):
            examples = _examples(operation, target)
        generated[operation.label] = dump_cases(examples)
        found.extend(_explore(operation, target, checks, examples))
    if generated != cached:
        _write_cache(path, generated)
    return found


def collapse_repeats(findings: list[Finding]) -> list[Finding]:
    """One finding per distinct failure: examples that differ only in their body (POST /getToken) fail alike, and
    the same line twice reads as two defects. The first example's curl line stays; the count says how many."""
    groups: dict[tuple[str, tuple[str, ...], str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.what, finding.expected, finding.actual), []).append(finding)
    out = []
    for (what, expected, actual), same in groups.items():
        more = f" ({len(same)} generated examples)" if len(same) > 1 else ""
        out.append(Finding(what, expected, actual + more, same[0].curl))
    return out


@case("PROP-1", prefetch=_generated_requests)
def test_generated_valid_requests(prefetched: list[Finding]) -> None:
    f = Findings()
    f.items.extend(collapse_repeats(prefetched))
    f.conclude()
