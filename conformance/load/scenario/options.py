"""The scenario's Locust options: what ``locust -f loadtests/...`` takes, and the configuration read from them.

Each option is declared once, with the ``token-conformance load`` flag it stands for (conformance/settings/load_options.py,
declarations.py); these functions add them to Locust's parser, in the order Locust has always listed them.
listeners.register() adds :func:`add_scenario_options` to Locust's ``init_command_line_parser`` (every scenario),
each shape its own (:func:`add_renew_storm_options`, :func:`add_ramp_options`, :func:`add_capacity_options`), so a
fetch_and_renew run's parser holds no capacity rates.
"""

from __future__ import annotations

import os
from typing import Any

from conformance.load.protocol import CERTIFICATE_ENV
from conformance.load.scenario.capacity_plan import LinearPlan, SearchPlan, plan_from
from conformance.load.scenario.validation import OptionError, ScenarioConfig, build_config
from conformance.load.slo import Thresholds, check_thresholds
from conformance.settings.declarations import add_locust_arguments, locust_dest, option
from conformance.settings.load_options import CLIENT_KEYS, SLO_KEYS


def add_scenario_options(parser: Any) -> None:
    """The scenario options; defaults suit a run of seconds (see docs/load.md for real-life values)."""
    add_locust_arguments(parser, None, *CLIENT_KEYS, "progress_interval", *SLO_KEYS, "summary_file")


def add_renew_storm_options(parser: Any) -> None:
    add_locust_arguments(parser, "renew_storm", "cohorts", "cohort_interval")


def add_ramp_options(parser: Any) -> None:
    add_locust_arguments(parser, "ramp", "step_users", "step_time")


def add_capacity_options(parser: Any) -> None:
    add_locust_arguments(parser, "capacity", "start_rate", "step_rate", "max_rate", "step_time")


def scenario_config(options: Any) -> ScenarioConfig:
    """The checked configuration from Locust's parsed options; the certificate from the environment only.

    The SLOs are checked here too, by their declared rules, so plain ``locust -f`` refuses what ``load`` refuses
    (it ran with ``--slo-p95-ms -1`` and failed every run)."""
    problem = check_thresholds(thresholds(options), locust=True)
    if problem is not None:
        raise OptionError(problem)
    return build_config(vars(options), certificate=os.environ.get(CERTIFICATE_ENV, "").strip() or None)


def thresholds(options: Any) -> Thresholds:
    """The SLOs from Locust's parsed options, each under its declared Locust flag."""
    limits: dict[str, Any] = {}
    for key in SLO_KEYS:
        value = getattr(options, locust_dest(key), option(key).locust_default)
        limits[key] = int(value) if option(key).kind == "int" else float(value)
    return Thresholds(**limits)


def plan_of(options: Any) -> LinearPlan | SearchPlan:
    return plan_from(options.start_rate, options.step_rate, options.max_rate, options.step_time)
