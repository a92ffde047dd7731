"""Section PROP: valid requests generated from the OpenAPI description (Schemathesis, positive mode).

Requests go through the harness's own bounded client (deadline, size cap), and
Schemathesis judges the responses with its named checks. Generation is
derandomized so two runs send the same requests and reach the same verdict.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from ..cases import case
from ..client import Exchange
from ..concurrency import concurrency_of, fan_out
from ..target import Target
from ..verdict import Finding, Findings

#: Findings kept per operation: the first few say enough, and the run stays short.
MAX_FINDINGS_PER_OPERATION = 3
EXPECTED = ("200 and a body matching the schema",)


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


def _explore(operation: Any, target: Target, checks: list[Any]) -> list[Finding]:
    """Send the generated valid requests for one operation (concurrently); return what went wrong, in order."""
    from schemathesis.core.failures import Failure, FailureGroup

    def send(generated: Any) -> tuple[Any, dict[str, Any], str, Exchange]:
        kwargs = generated.as_transport_kwargs(base_url=target.settings.url)
        url = str(httpx.URL(kwargs["url"], params=kwargs.get("params") or None))
        return generated, kwargs, url, target.client.request(kwargs["method"], url, json_body=kwargs.get("json"))

    found: list[Finding] = []
    for generated, kwargs, url, ex in fan_out(send, _examples(operation, target), concurrency_of(target.client)):
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

    from ..schemas import openapi

    # An explicit config: a schemathesis.toml in the user's folder must not change what is generated.
    config = schemathesis.Config.from_dict({"generation": {"mode": "positive", "deterministic": True}})
    schema = schemathesis.openapi.from_dict(openapi(target.profile), config=config)
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
        found.extend(_explore(result.ok(), target, checks))
    return found


@case("PROP-1", prefetch=_generated_requests)
def test_generated_valid_requests(prefetched: list[Finding]) -> None:
    f = Findings()
    f.items.extend(prefetched)
    f.conclude()
