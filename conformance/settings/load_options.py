"""``token-conformance load``'s own options, each declared once: its flag, its default, its help, and the flag of the
Locust scenario it is passed on as (with Locust's default and help, for ``locust -f loadtests/X.py``).

From these: the argparse options of ``load`` (conformance/cli/load.py), the defaults of ``LoadOptions``
(conformance/load/options.py), the Locust scenario options (conformance/load/scenario/options.py) and the names
``load`` hands Locust (``scenario_values``, ``locust_command``). The options ``load`` shares with check and watch
(URL, profile, app id, certificate file, TLS, headers, report folder, baseline, summary) are declared in
declarations.py with the rest. A rule refuses a value in the words load has always used; the checks that need
several options, and the scenario's bounds (conformance/load/scenario/validation.py, shared with plain Locust),
stay where they are.
"""

from __future__ import annotations

from types import MappingProxyType

from .option import (
    Option,
    a_share,
    above_zero,
    above_zero_seconds,
    at_least_one,
    at_least_one_second,
    finite_above_zero,
    not_negative,
)

#: The SLO defaults (conformance.load.slo.Thresholds, the CLI and the Locust scenario read these).
DEFAULT_MAX_P95_MS = 500.0
DEFAULT_MAX_FAILURE_RATIO = 0.01
DEFAULT_MAX_DROPPED = 0
DEFAULT_MAX_INVALID = 0
#: 1.0: not gated.
DEFAULT_MAX_LIMITED_RATIO = 1.0
#: Locust's own defaults for where a master listens (every interface) and a worker connects.
DEFAULT_MASTER_PORT = 5557
DEFAULT_MASTER_BIND_HOST = "*"
#: Seconds a master waits for its --expect-workers before it gives up (exit 2, saying how many arrived).
DEFAULT_EXPECT_WORKERS_MAX_WAIT = 60
#: Seconds a worker waits for its master to answer before it gives up (exit 2).
DEFAULT_MASTER_WAIT = 60.0

_LOAD = ("load",)
_STORM, _RAMP, _CAPACITY = "renew_storm", "ramp", "capacity"

#: The simulated client's options (conformance.load.scenario.validation.ScenarioConfig), every scenario's, in the
#: order the Locust parser lists them: ``load`` passes each on under its Locust flag.
CLIENT_KEYS = ("expiry", "renew_margin", "cycles", "role_mix", "tokentype_mix", "profile", "app_id",
               "expiry_tolerance", "strict_roles", "request_timeout", "retry_interval", "insecure")
#: The SLOs: conformance.load.slo.Thresholds' fields, in order.
SLO_KEYS = ("max_p95_ms", "max_failure_ratio", "max_dropped", "max_invalid", "max_limited_ratio")

#: load's own options, grouped as ``load --help`` shows them (conformance/cli/load.py orders them there).
LOAD_OPTIONS: tuple[Option, ...] = (
    # run
    Option("scenario", "bundled scenario name or locustfile path", flags=("--scenario",), commands=_LOAD,
           default="fetch_and_renew"),
    Option("users", "simulated clients (default: 10; capacity: one arrival loop per process)", kind="int",
           flags=("--users",), commands=_LOAD, rule=at_least_one),
    Option("spawn_rate", "clients started per second", kind="float", flags=("--spawn-rate",), commands=_LOAD,
           default=10.0, rule=above_zero),
    Option("run_time", "how long to run, e.g. 30s, 2m (default: 30s; capacity: an upper bound, by default what its "
           "plan needs, ending earlier when the knee is found)", flags=("--run-time",), commands=_LOAD),
    Option("stop_timeout", "time for requests in flight at the end", flags=("--stop-timeout",), commands=_LOAD,
           default="3s"),
    Option("processes", "Locust worker processes on this machine, one per core; auto: one per free core (default: "
           "one process, no workers)", flags=("--processes",), commands=_LOAD, metavar="N|auto"),
    Option("progress_interval", "seconds between progress lines (0: none)", kind="float",
           flags=("--progress-interval",), commands=_LOAD, default=3.0, rule=not_negative,
           locust_flag="--progress-interval", locust_default=0.0,
           locust_help="print a progress line every N seconds (0: never)"),
    # clients
    Option("expiry", "token lifetime to ask for, seconds", kind="int", flags=("--expiry",), commands=_LOAD,
           default=10, locust_flag="--expiry", locust_default=10,
           locust_help="token lifetime to ask for (?expiry=N), seconds"),
    Option("cycles", "renewals per session before a client leaves", kind="int", flags=("--cycles",), commands=_LOAD,
           default=3, locust_flag="--cycles", locust_default=3,
           locust_help="renewals per session before the client leaves (and a new one joins)"),
    Option("role_mix", "e.g. publisher=1,subscriber=3", flags=("--role-mix",), commands=_LOAD,
           default="publisher=1,subscriber=1", locust_flag="--role-mix", locust_default="publisher=1,subscriber=1",
           locust_help="weights of the roles, e.g. publisher=1,subscriber=3"),
    Option("tokentype_mix", "e.g. uid=3,userAccount=1 (default: the profile's)", flags=("--tokentype-mix",),
           commands=_LOAD, locust_flag="--tokentype-mix", locust_default="",
           locust_help="weights of the token types, e.g. uid=3,userAccount=1 (default: all)"),
    Option("expiry_tolerance", "allowed expiry error, seconds", kind="float", flags=("--expiry-tolerance",),
           commands=_LOAD, default=2.0, locust_flag="--expiry-tolerance", locust_default=2.0,
           locust_help="seconds a token's expiry may differ from the asked one"),
    Option("strict_roles", "subscriber tokens must not carry publish rights", kind="bool", flags=("--strict-roles",),
           commands=_LOAD, locust_flag="--strict-roles", locust_default=False,
           locust_help="a subscriber token must not carry publish rights"),
    Option("request_timeout", "client timeout per request", kind="float", flags=("--request-timeout",),
           commands=_LOAD, default=10.0, locust_flag="--request-timeout", locust_default=10.0,
           locust_help="client timeout per request, seconds (the SDK's is 10)"),
    Option("retry_interval", "seconds between retries after a failure", kind="float", flags=("--retry-interval",),
           commands=_LOAD, default=1.0, locust_flag="--retry-interval", locust_default=1.0,
           locust_help="seconds between attempts after a failed fetch or renewal"),
    # SLOs
    Option("max_p95_ms", "p95 latency of fetch and renew", kind="float", flags=("--max-p95-ms",), commands=_LOAD,
           default=DEFAULT_MAX_P95_MS, locust_flag="--slo-p95-ms", locust_default=DEFAULT_MAX_P95_MS, rule=finite_above_zero,
           locust_help="SLO: p95 latency of FETCH and of RENEW, ms"),
    Option("max_failure_ratio", "share of failed token requests", kind="float", flags=("--max-failure-ratio",),
           commands=_LOAD, default=DEFAULT_MAX_FAILURE_RATIO, locust_flag="--slo-failure-ratio",
           locust_default=DEFAULT_MAX_FAILURE_RATIO, rule=a_share, locust_help="SLO: largest share of failed token requests"),
    Option("max_dropped", "dropped sessions allowed", kind="int", flags=("--max-dropped",), commands=_LOAD,
           default=DEFAULT_MAX_DROPPED, locust_flag="--slo-dropped", locust_default=DEFAULT_MAX_DROPPED, rule=not_negative,
           locust_help="SLO: largest number of dropped sessions"),
    Option("max_invalid", "invalid tokens allowed", kind="int", flags=("--max-invalid",), commands=_LOAD,
           default=DEFAULT_MAX_INVALID, locust_flag="--slo-invalid", locust_default=DEFAULT_MAX_INVALID, rule=not_negative,
           locust_help="SLO: largest number of invalid tokens"),
    Option("max_limited_ratio", "largest share of token requests answered 429 / 503 + Retry-After (rate limited; "
           "counted apart from failures; 1: not gated)", kind="float", flags=("--max-limited-ratio",),
           commands=_LOAD, default=DEFAULT_MAX_LIMITED_RATIO, locust_flag="--slo-limited-ratio",
           locust_default=DEFAULT_MAX_LIMITED_RATIO, rule=a_share,
           locust_help="SLO: largest share of token requests answered 429 / 503 + Retry-After (default 1: not gated)"),
    # several machines
    Option("master", "run the load on workers started elsewhere with --worker, judge it here", kind="bool",
           flags=("--master",), commands=_LOAD),
    Option("expect_workers", "--master: start when N workers are connected", kind="int", flags=("--expect-workers",),
           commands=_LOAD, metavar="N", rule=at_least_one),
    Option("expect_workers_max_wait", "--master: give up (exit 2) when they are not all there after this long "
           f"(default: {DEFAULT_EXPECT_WORKERS_MAX_WAIT})", kind="int", flags=("--expect-workers-max-wait",),
           commands=_LOAD, metavar="SECONDS", rule=at_least_one_second),
    Option("master_bind_host", f"--master: interface to listen on for workers (default: {DEFAULT_MASTER_BIND_HOST}, "
           "all)", flags=("--master-bind-host",), commands=_LOAD, metavar="HOST"),
    Option("master_bind_port", f"--master: port to listen on for workers (default: {DEFAULT_MASTER_PORT})",
           kind="int", flags=("--master-bind-port",), commands=_LOAD, metavar="PORT"),
    Option("worker", "be a worker of a master started with --master: the scenario and its options come from the "
           "master; the certificate and credential headers from here", kind="bool", flags=("--worker",),
           commands=_LOAD),
    Option("master_host", "--worker: the master's address", flags=("--master-host",), commands=_LOAD,
           metavar="HOST"),
    Option("master_port", f"--worker: the master's port (default: {DEFAULT_MASTER_PORT})", kind="int",
           flags=("--master-port",), commands=_LOAD, metavar="PORT"),
    Option("master_wait", "--worker: give up (exit 2) when the master has not answered after this long "
           f"(default: {DEFAULT_MASTER_WAIT:g})", kind="float", flags=("--master-wait",), commands=_LOAD,
           metavar="SECONDS", rule=above_zero_seconds),
    # renew_storm, ramp and capacity: given to the scenarios named in locust_scenarios only
    Option("cohorts", "renew_storm: cohorts joining at once (default: 1)", kind="int", flags=("--cohorts",),
           commands=_LOAD, rule=at_least_one, locust_flag="--cohorts", locust_default=1, locust_scenarios=(_STORM,),
           locust_help="renew_storm: number of cohorts joining together"),
    Option("cohort_interval", "renew_storm: seconds between cohorts (default: renewal period / cohorts)",
           kind="float", flags=("--cohort-interval",), commands=_LOAD, rule=not_negative,
           locust_flag="--cohort-interval",
           locust_default=0.0, locust_scenarios=(_STORM,),
           locust_help="renew_storm: seconds between cohorts (0: half the renewal period, so the waves interleave)"),
    Option("step_users", "ramp: users added per step (default: a fifth of --users)", kind="int",
           flags=("--step-users",), commands=_LOAD, rule=at_least_one, locust_flag="--step-users", locust_default=0,
           locust_scenarios=(_RAMP,), locust_help="ramp: users added per step (0: a fifth of -u)"),
    Option("step_time", "ramp, capacity: seconds per step (default: 10; capacity's search: 5)", kind="float",
           flags=("--step-time",), commands=_LOAD, rule=at_least_one_second, locust_flag="--step-time",
           locust_scenarios=(_RAMP, _CAPACITY),
           locust_default_for=MappingProxyType({_RAMP: 10.0, _CAPACITY: 0.0}),
           locust_help_for=MappingProxyType({
               _RAMP: "ramp: seconds per step",
               _CAPACITY: "capacity: seconds per step (0: 5 for the search, 10 for the linear plan)"})),
    Option("start_rate", "capacity: requests/s of the first step (default: 50)", kind="float",
           flags=("--start-rate",), commands=_LOAD, rule=above_zero, locust_flag="--start-rate", locust_default=0.0,
           locust_scenarios=(_CAPACITY,), locust_help="capacity: requests/s of the first step (0: 50)"),
    Option("step_rate", "capacity: requests/s added per step: the linear plan (default: a search that doubles the "
           "rate while steps hold, then bisects to within 10 %% of the knee and stops)", kind="float",
           flags=("--step-rate",), commands=_LOAD, rule=above_zero, locust_flag="--step-rate", locust_default=0.0,
           locust_scenarios=(_CAPACITY,),
           locust_help="capacity: requests/s added per step: the linear plan (0: the search, doubling then "
           "bisecting to the knee)"),
    Option("max_rate", "capacity: highest rate tried (default: 1000 with --step-rate; the search: 100000)",
           kind="float", flags=("--max-rate",), commands=_LOAD, rule=above_zero, locust_flag="--max-rate",
           locust_default=0.0,
           locust_scenarios=(_CAPACITY,),
           locust_help="capacity: highest rate tried (0: 1000 for the linear plan, 100000 for the search)"),
    # Locust's alone: where the scenario writes its summary for load to read
    Option("summary_file", "write the run summary (JSON) here at exit", locust_flag="--summary-file",
           locust_default="", locust_web_ui=False),
)
