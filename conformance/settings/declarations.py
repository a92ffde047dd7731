"""The declarations: every option of check, watch, load and the pytest plugin, once (see conformance.settings)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..certificate import CERTIFICATE_ENV
from ..headers import HEADERS_ENV
from .load_options import LOAD_OPTIONS
from .option import Option, at_least_one, positive

__all__ = ["INPUT_ENV", "OPTIONS", "Option", "add_arguments", "add_locust_arguments", "add_pytest_options",
           "at_least_one", "default_of", "locust_dest", "locust_options", "option", "positive", "problem",
           "pytest_options"]

#: Defaults, declared here once (RunSettings, the client and the help texts read them).
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_SKEW = 5.0
DEFAULT_RENEW_EXPIRY = 6
DEFAULT_RENEW_MARGIN = 2.0
DEFAULT_PROP_EXAMPLES = 12
DEFAULT_RATE_LIMIT_BUDGET = 60.0
#: Requests in flight at once (``--token-concurrency``): conformance.concurrency.GatedClient's bound.
DEFAULT_CONCURRENCY = 16


_PROFILE_HELP = ("bundled profile name (agora-token-service, agora-node-tokenserver), a profile JSON file, or 'auto' "
                 "(detect it from the target) (default: agora-token-service)")
_HEADER_HELP = ("header sent with every request (repeatable), e.g. 'Authorization: Bearer ...'; 'NAME' alone reads "
                "$TOKEN_HEADER_NAME. Values are secrets, never shown; keep them off the command line with "
                f"${HEADERS_ENV} or --header-file")
_CHECK, _WATCH, _LOAD, _DETECT, _INFER = "check", "watch", "load", "detect", "profile infer"

#: Every option, once. The order is the order of ``--help``.
OPTIONS: tuple[Option, ...] = (
    Option("url", "base URL of the token server (default: start the embedded reference server)", kind="positional",
           flags=("url",), commands=(_CHECK, _WATCH, _LOAD), pytest_flag="--token-server-url", env="TOKEN_SERVER_URL",
           pytest_help="base URL of the token server to judge; without it the embedded reference server is started",
           help_for={_WATCH: "base URL of the token server to watch",
                     _LOAD: "base URL of the token server (default: the embedded reference server)"}),
    Option("profile", _PROFILE_HELP, flags=("--profile",), commands=(_CHECK, _WATCH, _LOAD),
           pytest_flag="--token-profile", env="TOKEN_PROFILE",
           pytest_help="server profile: a bundled name (agora-token-service, agora-node-tokenserver) or a profile "
           "JSON file",
           help_for={_WATCH: "bundled profile name, a profile JSON file, or 'auto' (detected once, at start)",
                     _LOAD: "server profile: bundled name or JSON file (default: agora-token-service)"},
           # Not --profile in Locust: Locust (>= 2.36) has its own --profile option.
           locust_flag="--token-profile", locust_default="agora-token-service",
           locust_help="server profile: bundled name or JSON file"),
    Option("app_id", "the app id every token must carry (32 hexadecimal characters)", flags=("--app-id",),
           commands=(_CHECK, _WATCH, _LOAD), pytest_flag="--token-app-id", env="TOKEN_APP_ID",
           pytest_help="the app id every token must carry",
           help_for={_WATCH: "the app id every token must carry",
                     _LOAD: "expected app id of every token, 32 hex characters (default: not checked)"},
           locust_flag="--app-id", locust_default="",
           locust_help="expected app id of every token (32 hex characters); empty: not checked"),
    Option("strict", "SHOULD failures also make the server non-conforming", kind="bool", flags=("--strict",),
           commands=(_CHECK, _WATCH), pytest_flag="--token-strict", env="TOKEN_STRICT",
           pytest_help="SHOULD failures also make the run non-conforming",
           help_for={_WATCH: "SHOULD failures also make a run non-conforming"}),
    Option("timeout", "overall deadline per request in seconds (default 10)", kind="float", flags=("--timeout",),
           commands=(_CHECK, _WATCH), pytest_flag="--token-timeout", env="TOKEN_TIMEOUT", rule=positive),
    Option("max_skew", "allowed clock difference in seconds (default 5)", kind="float", flags=("--max-skew",),
           commands=(_CHECK,), pytest_flag="--token-max-skew", env="TOKEN_MAX_SKEW", default=None, rule=positive,
           pytest_help="allowed clock difference between server and harness in seconds (default 5)"),
    Option("certificate_file", f"file holding the app certificate (else ${CERTIFICATE_ENV}); enables signature checks",
           flags=("--certificate-file",), commands=(_CHECK, _WATCH, _LOAD),
           pytest_flag="--token-app-certificate-file",
           pytest_help=f"file holding the app certificate (else ${CERTIFICATE_ENV}); never pass it on the command line",
           help_for={_WATCH: f"file holding the app certificate (else ${CERTIFICATE_ENV})",
                     _LOAD: "file holding the app certificate, to verify signatures (default: "
                     f"${CERTIFICATE_ENV}; without either, signatures are not checked)"}),
    Option("report_dir", "where conformance.json, junit.xml and conformance.html go (default: reports/)",
           flags=("--report-dir",), commands=(_CHECK, _WATCH, _LOAD), default="reports",
           pytest_flag="--token-report-dir", env="TOKEN_REPORT_DIR",
           pytest_help="write conformance.json and conformance.html there",
           help_for={_WATCH: "the last run's reports (default reports/watch/)",
                     _LOAD: "where load.json, plots and Locust reports go"},
           default_for={_WATCH: "reports/watch"}),
    Option("deviations", "JSON {case id: reason}: known deviations become expected failures", flags=("--deviations",),
           commands=(_CHECK,), metavar="FILE", pytest_flag="--token-deviations", env="TOKEN_DEVIATIONS",
           pytest_help="JSON file {case id: reason} of known deviations: their failures become expected failures"),
    Option("case", "only these cases: ids, globs or sections, comma-separated (e.g. 'EXPIRY,INPUT-1*')",
           flags=("--case",), commands=(_CHECK, _WATCH), metavar="PATTERN", pytest_flag="--token-case",
           env="TOKEN_CASE",
           pytest_help="run only these cases: comma-separated ids, globs (INPUT-*) or section prefixes (EXPIRY)",
           help_for={_WATCH: "only these watch-safe cases: ids, globs or sections, comma-separated"}),
    Option("renew_expiry", "lifetime the renewal case (EXPIRY-6) asks for (default 6; e.g. 120 for a profile in "
           "minutes)", kind="int", flags=("--renew-expiry",), commands=(_CHECK,), metavar="SECONDS",
           pytest_flag="--token-renew-expiry", rule=positive,
           pytest_help="lifetime asked for in the renewal case (default 6 s)"),
    # The rule is check's and the plugin's; load's bounds (0 allowed) are the scenario's (load/scenario/validation.py).
    Option("renew_margin", "renew this many seconds before expiry in the renewal case (default 2)", kind="float",
           flags=("--renew-margin",), commands=(_CHECK, _LOAD), metavar="SECONDS", pytest_flag="--token-renew-margin",
           rule=positive, pytest_help="renew this many seconds before expiry in the renewal case (default 2 s)",
           help_for={_LOAD: "renew this long before expiry"}, default_for={_LOAD: 5.0}, metavar_for={_LOAD: None},
           locust_flag="--renew-margin", locust_default=5.0,
           locust_help="renew this many seconds before the token expires"),
    Option("prop_examples", "examples per operation in the property-based case (default 12)", kind="int",
           pytest_flag="--token-prop-examples", rule=positive),
    Option("concurrency", f"requests in flight at once (default {DEFAULT_CONCURRENCY}); 1 sends them one after "
           "another, case by case; narrowed to 1 when the target announces a rate limit", kind="int",
           pytest_flag="--token-concurrency", env="TOKEN_CONCURRENCY", rule=at_least_one),
    Option("insecure", "accept a TLS certificate that does not verify", kind="bool", flags=("--insecure",),
           commands=(_CHECK, _WATCH, _LOAD), pytest_flag="--token-insecure",
           help_for={_LOAD: "do not verify the server's TLS certificate"},
           locust_flag="--insecure", locust_default=False),
    Option("gated_by_baseline", "set by 'token-conformance check --baseline': the verdict line leaves the exit code "
           "to the gate's line", kind="bool", pytest_flag="--token-gated-by-baseline"),
    Option("target_label", "how reports name the target (default: its URL)", pytest_flag="--token-target-label"),
    Option("header", _HEADER_HELP, kind="list", flags=("-H", "--header"), commands=(_CHECK, _WATCH, _LOAD, _DETECT, _INFER),
           metavar="'NAME: VALUE'", pytest_flag="--token-header", ini="token_headers",
           pytest_help="a header sent with every request (repeatable); 'NAME' alone reads $TOKEN_HEADER_NAME. "
           f"Values are secrets: prefer ${HEADERS_ENV} or --token-header-file"),
    Option("header_file", "file of 'Name: value' lines sent with every request", flags=("--header-file",),
           commands=(_CHECK, _WATCH, _LOAD, _DETECT, _INFER), metavar="FILE", pytest_flag="--token-header-file",
           pytest_help=f"file of 'Name: value' lines sent with every request (credentials; else ${HEADERS_ENV})"),
    Option("max_rps", "send at most this many requests per second", kind="float", flags=("--max-rps",),
           commands=(_CHECK,), pytest_flag="--token-max-rps", env="TOKEN_MAX_RPS", rule=positive),
    Option("rate_limit_budget", "seconds the run may wait out 429 / 503 Retry-After answers before it gives up "
           "(default 60)", kind="float", flags=("--rate-limit-budget",), commands=(_CHECK,), metavar="SECONDS",
           pytest_flag="--token-rate-limit-budget", env="TOKEN_RATE_LIMIT_BUDGET", rule=positive),
    Option("web_origin", "origin of a web app that fetches tokens with fetch(), e.g. https://app.example.com "
           "(repeatable; also the profile's web_origins): HEADER-5 judges that a page there can read a token",
           kind="list", flags=("--web-origin",), commands=(_CHECK, _WATCH), metavar="ORIGIN",
           pytest_flag="--token-web-origin", ini="token_web_origins", env="TOKEN_WEB_ORIGINS",
           pytest_help="origin (scheme://host[:port]) of a web app that fetches tokens with fetch() (repeatable): "
           "HEADER-5 judges that it can read one [env TOKEN_WEB_ORIGINS, comma-separated]"),
    Option("browser", "confirm HEADER-5 in a real headless Chromium (needs pip install 'token-conformance[browser]' "
           "and a Chromium on PATH; no browser is downloaded)", kind="bool", flags=("--browser",), commands=(_CHECK,),
           pytest_flag="--token-browser", env="TOKEN_BROWSER",
           pytest_help="HEADER-5: confirm each web origin's verdict in a real headless Chromium (needs the [browser] "
           "extra)"),
    Option("browser_path", "the Chromium executable for --browser (implies --browser)", flags=("--browser-path",),
           commands=(_CHECK,), metavar="PATH", pytest_flag="--token-browser-path", env="TOKEN_BROWSER_PATH",
           pytest_help="the Chromium executable for --token-browser (default: chromium, google-chrome, ... on PATH)"),
    # The subcommands' own options.
    Option("workers", "run cases in N processes (pytest-xdist) (default: 1, in this process)", kind="int",
           flags=("-n", "--workers"), commands=(_CHECK,), rule=at_least_one),
    Option("verbose", "one line per case while running", kind="count", flags=("-v", "--verbose"), commands=(_CHECK,),
           default=0),
    Option("list", "print the contract's table (id, level, title) of the cases that would run, and exit", kind="bool",
           flags=("--list",), commands=(_CHECK, _WATCH),
           help_for={_WATCH: "list the watch-safe cases (and those excluded, with why), and exit"}),
    Option("baseline", "conformance.json of an earlier run: exit 1 only on a regression (a gating case that passed "
           "there, or is new, fails now); known failures are listed, not gating", flags=("--baseline",),
           commands=(_CHECK, _LOAD), metavar="FILE", metavar_for={_LOAD: "LOAD_JSON"},
           help_for={_LOAD: "load.json of an earlier run: exit 1 when p50/p95/p99, throughput, failure or "
                     "invalid-token ratio is worse beyond run-to-run noise (docs/load.md)"}),
    Option("baseline_force", "compare with a baseline of another profile, contract version or target anyway",
           kind="bool", flags=("--baseline-force",), commands=(_CHECK, _LOAD),
           help_for={_LOAD: "compare with a baseline of another scenario, user count or target anyway"}),
    Option("gate", "with --baseline: the levels whose regressions fail the gate: 'should' (MUST and SHOULD, the "
           "default, with or without --strict) or 'must' (MUST only); a MAY case never gates", flags=("--gate",),
           commands=(_CHECK,), choices=("should", "must")),
    Option("summary_md", "also write a Markdown summary there (it is appended to $GITHUB_STEP_SUMMARY whenever that "
           "is set)", flags=("--summary-md",), commands=(_CHECK, _LOAD), metavar="FILE",
           help_for={_LOAD: "also write a Markdown summary there (appended to $GITHUB_STEP_SUMMARY whenever set)"}),
    Option("interval", "time between the starts of two runs, e.g. 30s, 5m (default 60s)", flags=("--interval",),
           commands=(_WATCH,), default="60s"),
    Option("metrics_port", "serve Prometheus metrics on this port (/metrics)", kind="int", flags=("--metrics-port",),
           commands=(_WATCH,)),
    Option("metrics_addr", "address the metrics server listens on (default 127.0.0.1; 0.0.0.0 in a container)",
           flags=("--metrics-addr",), commands=(_WATCH,), default="127.0.0.1"),
    Option("runs", "stop after N runs, exit code from the runs (see below) (default: run until stopped)", kind="int",
           flags=("--runs",), commands=(_WATCH,), metavar="N", rule=at_least_one),
    # load's own: load.py
    *LOAD_OPTIONS,
)

_BY_KEY = {o.key: o for o in OPTIONS}
#: The environment variables that only name where inputs come from (read by conformance.headers and
#: conformance.certificate): part of the declarations, so every variable the tool reads is declared here.
INPUT_ENV = (HEADERS_ENV, CERTIFICATE_ENV)


def option(key: str) -> Option:
    return _BY_KEY[key]


def problem(key: str, value: Any) -> str | None:
    """Why ``value`` is refused for option ``key`` ("must be positive"), or None."""
    rule = _BY_KEY[key].rule
    return None if rule is None or value is None else rule(value)


_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float}


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, command: str, *keys: str) -> None:
    """Add these options, as ``command`` takes them, to an argparse parser (dest: the option's key)."""
    for key in keys:
        opt = _BY_KEY[key]
        if command not in opt.commands:
            raise ValueError(f"{command} does not take {opt.flags}")
        kwargs: dict[str, Any] = {"help": opt.help_for.get(command, opt.help)}
        if opt.kind == "positional":
            parser.add_argument(opt.key, nargs="?", **kwargs)
            continue
        kwargs["dest"] = opt.key
        if opt.kind == "bool":
            kwargs["action"] = "store_true"
        elif opt.kind == "count":
            kwargs.update(action="count", default=opt.default)
        else:
            if opt.kind == "list":
                kwargs["action"] = "append"
            if opt.kind in _TYPES:
                kwargs["type"] = _TYPES[opt.kind]
            metavar = opt.metavar_for.get(command, opt.metavar)
            if metavar:
                kwargs["metavar"] = metavar
            if opt.choices:
                kwargs["choices"] = opt.choices
            kwargs["default"] = opt.default_for.get(command, opt.default)
        parser.add_argument(*opt.flags, **kwargs)


def default_of(command: str, key: str) -> Any:
    """What ``command``'s parser gives option ``key`` when it is not given (a flag: False)."""
    opt = _BY_KEY[key]
    if command not in opt.commands:
        raise ValueError(f"{command} does not take {opt.flags}")
    if opt.kind == "bool":
        return False
    return opt.default_for.get(command, opt.default)


def locust_options() -> tuple[Option, ...]:
    """The options of the load scenarios' Locust parsers (``locust -f loadtests/X.py``)."""
    return tuple(o for o in OPTIONS if o.locust_flag)


def locust_dest(key: str) -> str:
    """The dest of option ``key`` in the Locust scenario's parser: what ``load`` passes its value on as."""
    dest = _BY_KEY[key].locust_dest
    if dest is None:
        raise ValueError(f"{key!r} is no option of the Locust scenarios")
    return dest


def add_locust_arguments(parser: Any, scenario: str | None, *keys: str) -> None:
    """Add these options to Locust's parser (``parser``: its ``init_command_line_parser`` argument) as the scenario
    takes them (None: every scenario; its options name no scenario). Their dest: the Locust flag's name."""
    for key in keys:
        opt = _BY_KEY[key]
        takes = scenario in opt.locust_scenarios if scenario else not opt.locust_scenarios
        if opt.locust_flag is None or not takes:
            raise ValueError(f"the {scenario or 'every'} scenario does not take {key!r} in Locust")
        kwargs: dict[str, Any] = {
            "default": opt.locust_default_for.get(scenario, opt.locust_default) if scenario else opt.locust_default,
            "help": ((opt.locust_help_for.get(scenario, opt.locust_help) if scenario else opt.locust_help)
                     or opt.help_for.get("load", opt.help)),
        }
        if opt.kind == "bool":
            kwargs["action"] = "store_true"
        elif opt.kind in _TYPES:
            kwargs["type"] = _TYPES[opt.kind]
        if not opt.locust_web_ui:
            kwargs["include_in_web_ui"] = False
        parser.add_argument(opt.locust_flag, **kwargs)


def pytest_options() -> tuple[Option, ...]:
    """The options the pytest plugin takes."""
    return tuple(o for o in OPTIONS if o.pytest_flag)


def add_pytest_options(parser: Any) -> None:
    """The plugin's options and ini keys (``parser``: pytest.Parser); values resolve command line > ini > env."""
    group = parser.getgroup("token-conformance", "Agora token server conformance")
    # The repeatable ones last, as --help has always listed them.
    for opt in sorted(pytest_options(), key=lambda o: o.kind == "list"):
        help_text = opt.pytest_help or opt.help
        ini = opt.ini or opt.dest
        if opt.kind == "list":
            group.addoption(opt.pytest_flag, dest=opt.dest, action="append", default=None, metavar=opt.metavar,
                            help=help_text)
            parser.addini(ini, _LIST_INI_HELP[opt.key], type="linelist", default=[])
            continue
        env_note = f" [env {opt.env}]" if opt.env else ""
        if opt.kind == "bool":
            group.addoption(opt.pytest_flag, dest=opt.dest, action="store_true", default=None, help=help_text + env_note)
            parser.addini(ini, help_text, type="bool", default=None)
        else:
            group.addoption(opt.pytest_flag, dest=opt.dest, default=None, help=help_text + env_note)
            parser.addini(ini, help_text, default=None)


_LIST_INI_HELP = {
    "header": "headers sent with every request, one 'Name: value' per line",
    "web_origin": "origins of the web apps that fetch tokens (HEADER-5), one per line",
}
