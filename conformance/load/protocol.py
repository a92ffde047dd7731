"""The contract between ``token-conformance load`` and the Locust process it starts.

Both sides import these names: the CLI (which must never import locust or
gevent) and the scenarios in ``conformance.load.scenario`` (which run inside Locust).
Keeping them here means a renamed row or option breaks both sides at once
instead of silently producing an empty report.
"""

from __future__ import annotations

#: Environment variable carrying the app certificate to the Locust process (never argv): the one every command reads.
from ..certificate import CERTIFICATE_ENV as CERTIFICATE_ENV

#: Optional: a directory where each *worker* writes its own tally at exit (debugging distributed runs).
WORKER_SUMMARY_DIR_ENV = "TOKEN_LOAD_WORKER_SUMMARY_DIR"

#: Locust request types (the "Type" column of its stats) the scenarios report.
FETCH = "FETCH"
RENEW = "RENEW"
INVALID = "INVALID"
DROPPED = "DROPPED"
#: A token request a rate limiter answered (429, or 503 with Retry-After): not a failure, waited out and retried.
LIMITED = "LIMITED"
REQUEST_TYPES = (FETCH, RENEW, INVALID, DROPPED, LIMITED)

#: Progress lines the Locust process prints on stderr start with this; the CLI shows them.
PROGRESS_PREFIX = "[load]"
#: Version of the summary JSON the scenarios write for the CLI (``--summary-file``).
SUMMARY_VERSION = 1
#: Key under which workers attach their tally to Locust's report_to_master data.
TALLY_KEY = "token_conformance"

#: The bundled scenarios: name -> what it does (``--scenario`` and docs/load.md).
SCENARIOS: dict[str, str] = {
    "fetch_and_renew": "clients fetch a token, renew it before expiry for N cycles, and leave",
    "renew_storm": "clients join in cohorts at the same instant, so their renewals land together in waves",
    "ramp": "simulated users step up until an SLO breaks (closed model: see docs/load.md before using it for capacity)",
    "capacity": "requests arrive at a stepped target rate (open model) until an SLO breaks: the server's knee",
}

#: Why a run that renewed nothing cannot pass (the scenario's breach message and the CLI's error).
NO_RENEWAL = (
    "no renewal was made: the run ended before any client reached its renewal point (expiry - renew margin); "
    "run longer or shorten the cycle"
)
