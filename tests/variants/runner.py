"""Run the suite against a correct variant and say whether it raised a false alarm.

Shared by the proofs (tests/variants/test_variants.py) and tools/false_alarm_score.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.reference.app import demo_settings
from tests.faulty.runner import PROOF_PROP_EXAMPLES, Run, run_check
from tests.faulty.servers import AUTH_HEADER, NEEDS_CREDENTIALS, NEEDS_WEB_ORIGIN

from .servers import Variant


@dataclass
class Judged:
    variant: Variant
    run: Run

    @property
    def false_alarms(self) -> set[str]:
        """Cases that failed although the variant is correct (its written-down misses aside)."""
        return self.run.failed - set(self.variant.misses)

    def problems(self) -> list[str]:
        """Everything that makes this run other than 'passes, or misses exactly the SHOULD written down'."""
        run, v = self.run, self.variant
        if run.document is None:
            return [f"no report (exit {run.exit_code}): {run.output[-1500:]}"]
        out = []
        for case in sorted(self.false_alarms):
            out.append(f"false alarm {case}: {run.message(case)[:1200]}")
        for case in sorted(set(v.misses) & set(run.outcomes) - run.failed):
            out.append(f"{case} was written down as missed but {run.outcomes[case]}")
        # Only the web variants run with credentials and a web origin: without them the authentication cases and
        # HEADER-5 skip in a full run, saying so.
        by_design = NEEDS_CREDENTIALS | (frozenset() if v.web_origins else NEEDS_WEB_ORIGIN)
        for case in sorted(run.skipped - set(v.skips) - by_design):
            out.append(f"{case} skipped: {run.message(case)[:300]}")
        for case in sorted(run.having("error", "not run", "xfailed", "xpassed")):
            out.append(f"{case} {run.outcomes[case]}: {run.message(case)[:600]}")
        if run.exit_code != 0:
            out.append(f"exit {run.exit_code} (expected 0{' under --strict' if v.strict else ''})")
        return out


def judge_variant(variant: Variant, *, full: bool = False) -> Judged:
    """The suite against ``variant``: the sections its choice touches, or with ``full`` every case."""
    settings = demo_settings()
    with variant.serve(settings) as url:
        run = run_check(url, certificate=settings.certificate, app_id=settings.app_id, strict=variant.strict,
                        cases=() if full else variant.proof_cases, profile=variant.profile,
                        prop_examples=None if full else PROOF_PROP_EXAMPLES,
                        headers=dict([AUTH_HEADER]) if variant.credentials else None,
                        web_origins=variant.web_origins, browser=bool(variant.web_origins))
    return Judged(variant, run)
