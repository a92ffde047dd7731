"""Every flag, pytest option, ini key and environment variable the tool reads maps to exactly one declaration.

The declarations are conformance/settings/declarations.py. These tests walk what the tool really offers (the
argparse parsers of the subcommands, the pytest options and ini keys the plugin adds, every read of
``os.environ`` in conformance/) and find each in exactly one ``Option``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.config.argparsing import Parser

import conformance
from conformance.cli import build_parser
from conformance.load.options import LoadOptions, prepare
from conformance.load.protocol import SCENARIOS
from conformance.load.runner import LoadPlan, locust_command
from conformance.load.slo import Thresholds
from conformance.plugin import pytest_addoption
from conformance.settings.declarations import INPUT_ENV, OPTIONS, Option, default_of, locust_options, problem
from conformance.settings.load_options import SLO_KEYS

PACKAGE = Path(conformance.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[2]

#: Subcommands whose every option is declared; of detect, the options it shares with these (the request headers).
FULLY_DECLARED = ("check", "watch", "load")
SHARED = ("detect",)


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise AssertionError("no subcommands")


def _declared_for(command: str, flag: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands and flag in o.flags]


@pytest.mark.parametrize("command", FULLY_DECLARED)
def test_every_flag_of_check_watch_and_load_is_one_declaration(command: str) -> None:
    parser = _subcommand(command)
    seen = set()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        names = action.option_strings or [action.dest]
        for flag in names:
            matches = _declared_for(command, flag)
            assert len(matches) == 1, f"{command} {flag}: {[o.key for o in matches]}"
            assert matches[0].key == action.dest, (flag, action.dest)
            seen.add(matches[0].key)
    declared = {o.key for o in OPTIONS if command in o.commands}
    assert declared == seen, f"declared for {command} but not offered: {sorted(declared - seen)}"


@pytest.mark.parametrize("command", SHARED)
def test_the_options_other_subcommands_share_come_from_their_declaration(command: str) -> None:
    parser = _subcommand(command)
    offered = {flag: a for a in parser._actions for flag in a.option_strings}
    declared = [o for o in OPTIONS if command in o.commands]
    assert declared
    for opt in declared:
        for flag in opt.flags:
            assert flag in offered, f"{command} does not offer {flag}"
            assert offered[flag].help == opt.help_for.get(command, opt.help), flag


def test_profile_infer_takes_the_declared_request_headers() -> None:
    infer = _subcommand("profile")
    sub = next(a for a in infer._actions if isinstance(a, argparse._SubParsersAction)).choices["infer"]
    flags = {f for a in sub._actions for f in a.option_strings}
    assert {"-H", "--header", "--header-file"} <= flags


@pytest.mark.filterwarnings("ignore::pytest.PytestDeprecationWarning")  # Parser(): how pytest_addoption is called
def test_every_pytest_option_and_ini_key_is_one_declaration() -> None:
    parser = Parser()
    pytest_addoption(parser)
    group = parser.getgroup("token-conformance")
    flags = [name for argument in group.options for name in argument.names()]
    assert flags
    for flag in flags:
        matches = [o for o in OPTIONS if o.pytest_flag == flag]
        assert len(matches) == 1, (flag, [o.key for o in matches])
    assert sorted(flags) == sorted(o.pytest_flag for o in OPTIONS if o.pytest_flag)
    ini_keys = list(parser._inidict)
    for key in ini_keys:
        matches = [o for o in OPTIONS if (o.ini or o.dest) == key and o.pytest_flag]
        assert len(matches) == 1, (key, [o.key for o in matches])
    assert len(ini_keys) == len(set(ini_keys)) == len([o for o in OPTIONS if o.pytest_flag])


def test_no_flag_variable_or_key_is_declared_twice() -> None:
    keys = [o.key for o in OPTIONS]
    envs = [o.env for o in OPTIONS if o.env]
    pytest_flags = [o.pytest_flag for o in OPTIONS if o.pytest_flag]
    assert len(keys) == len(set(keys))
    assert len(envs) == len(set(envs)) and not set(envs) & set(INPUT_ENV)
    assert len(pytest_flags) == len(set(pytest_flags))
    for command in {c for o in OPTIONS for c in o.commands}:
        flags = [f for o in OPTIONS if command in o.commands for f in o.flags]
        assert len(flags) == len(set(flags)), command
    for scenario in SCENARIOS:
        flags = [o.locust_flag for o in _locust_declared(scenario)]
        assert len(flags) == len(set(flags)), scenario


# --- load: its parser, LoadOptions, the Locust scenarios and what load passes them ------------------------------

def test_every_default_of_load_is_the_declared_one() -> None:
    """LoadOptions has one field per option of load, and its defaults, the parser's and the declarations' agree."""
    fields = {f.name: f.default for f in dataclasses.fields(LoadOptions)}
    assert set(fields) == {o.key for o in OPTIONS if "load" in o.commands}
    parsed = vars(_subcommand("load").parse_args([]))
    for key, default in fields.items():
        assert default == parsed[key] == default_of("load", key), key
        assert type(default) is type(parsed[key]), key
    # The SLO options are Thresholds' fields (locust_command and thresholds() read them by key), defaults too.
    assert [f.name for f in dataclasses.fields(Thresholds)] == list(SLO_KEYS)
    assert Thresholds() == Thresholds(**{key: fields[key] for key in SLO_KEYS})


def _locust_declared(scenario: str) -> list[Option]:
    return [o for o in locust_options() if not o.locust_scenarios or scenario in o.locust_scenarios]


def locust_side(scenario: str, argv: list[str]) -> dict[str, Any]:
    """In a child (importing Locust monkey-patches the process with gevent): the options the scenario's Locust file
    adds to Locust's own parser, as that parser holds them, and what it makes of ``argv``."""
    import locust  # noqa: F401 - first, as the locust command does (gevent)
    from locust.argument_parser import get_empty_argument_parser, get_parser, setup_parser_arguments

    base = get_empty_argument_parser()
    setup_parser_arguments(base)
    locust_own = {action.dest for action in base._actions}
    runpy.run_path(str(ROOT / "loadtests" / f"{scenario}.py"))
    parser = get_parser()
    added = [{"flags": action.option_strings, "dest": action.dest, "default": action.default, "help": action.help,
              "type": getattr(action.type, "__name__", None), "flag": isinstance(action, argparse._StoreTrueAction),
              "web_ui": action.dest in parser.args_included_in_web_ui}
             for action in parser._actions if action.dest not in locust_own]
    parsed = vars(parser.parse_args(argv))
    return {"added": added, "parsed": {k: v for k, v in parsed.items() if isinstance(v, (str, int, float, bool))}}


def locust_side_in_child(scenario: str, argv: list[str]) -> dict[str, Any]:
    code = ("import json, sys; from tests.settings.test_declarations import locust_side; "
            "print('LOCUST-SIDE' + json.dumps(locust_side(sys.argv[1], sys.argv[2:])))")
    result = subprocess.run([sys.executable, "-c", code, scenario, *argv], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.rsplit("LOCUST-SIDE", 1)[1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def locust_sides(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[dict[str, Any], Path]]:
    """The Locust side of each scenario (one child each), with the report folder load named in its argv."""
    cache: dict[str, tuple[dict[str, Any], Path]] = {}

    def side(scenario: str) -> tuple[dict[str, Any], Path]:
        if scenario not in cache:
            report_dir = tmp_path_factory.mktemp(scenario)
            cache[scenario] = locust_side_in_child(scenario, _locust_argv(scenario, report_dir)), report_dir
        return cache[scenario]

    return side


#: Every option load hands the scenario, each off its default (a default is not passed on: Locust's then holds).
_GIVEN: dict[str, Any] = {
    "expiry": 20, "renew_margin": 3.0, "cycles": 2, "role_mix": "publisher=2,subscriber=1", "tokentype_mix": "uid=1",
    "profile": "agora-token-service", "app_id": "0123456789abcdef0123456789abcdef", "expiry_tolerance": 1.5,
    "strict_roles": True, "request_timeout": 4.0, "retry_interval": 0.5, "insecure": True,
    "progress_interval": 7.0, "max_p95_ms": 250.0, "max_failure_ratio": 0.05, "max_dropped": 2, "max_invalid": 3,
    "max_limited_ratio": 0.5,
}
_GIVEN_TO = {
    "renew_storm": {"cohorts": 3, "cohort_interval": 1.5},
    "ramp": {"step_users": 4, "step_time": 3.0},
    "capacity": {"start_rate": 10.0, "step_rate": 5.0, "max_rate": 90.0, "step_time": 2.0},
    "fetch_and_renew": {},
}


def _locust_argv(scenario: str, tmp_path: Path) -> list[str]:
    """What load runs: its options checked (prepare) and handed to Locust (locust_command)."""
    opts = LoadOptions(url="http://127.0.0.1:9", scenario=scenario, report_dir=str(tmp_path), run_time="60s",
                       **_GIVEN, **_GIVEN_TO[scenario])
    run, _note = prepare(opts, show=lambda line: None)
    assert run.opts.users is not None and run.url is not None
    plan = LoadPlan(scenario=scenario, url=run.url, users=run.opts.users, spawn_rate=opts.spawn_rate,
                    run_time=run.run_time, report_dir=run.report_dir, thresholds=run.thresholds,
                    scenario_options=run.values, progress_interval=opts.progress_interval)
    argv = locust_command(plan)
    assert argv[1:3] == ["-m", "locust"]
    return argv[3:]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_scenario_flag_of_the_locust_parsers_is_one_declaration(
        scenario: str, locust_sides: Callable[[str], tuple[dict[str, Any], Path]]) -> None:
    """Walks the Locust parser a bundled scenario builds (``locust -f loadtests/X.py``): each option it adds to
    Locust's own is one declaration, with its dest, default, type, help and web UI; each declared one is there."""
    side, _report_dir = locust_sides(scenario)
    assert side["added"]
    offered = set()
    for action in side["added"]:
        assert len(action["flags"]) == 1, action
        matches = [o for o in _locust_declared(scenario) if o.locust_flag == action["flags"][0]]
        assert len(matches) == 1, (scenario, action["flags"], [o.key for o in matches])
        declared = matches[0]
        expected_default = declared.locust_default_for.get(scenario, declared.locust_default)
        assert action["dest"] == declared.locust_dest
        assert action["default"] == expected_default and type(action["default"]) is type(expected_default), action
        assert action["type"] == {"int": "int", "float": "float"}.get(declared.kind), action
        assert action["flag"] == (declared.kind == "bool"), action
        assert action["web_ui"] == declared.locust_web_ui, action
        assert action["help"] == (declared.locust_help_for.get(scenario, declared.locust_help)
                                  or declared.help_for.get("load", declared.help)), action
        offered.add(declared.key)
    assert offered == {o.key for o in _locust_declared(scenario)}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_load_hands_locust_every_option_under_its_declared_flag(
        scenario: str, locust_sides: Callable[[str], tuple[dict[str, Any], Path]]) -> None:
    """The argv load builds, parsed by the scenario's real Locust parser, holds every value load was given."""
    side, report_dir = locust_sides(scenario)
    parsed = side["parsed"]
    given = {**_GIVEN, **_GIVEN_TO[scenario]}
    by_key = {o.key: o for o in _locust_declared(scenario)}
    assert set(given) == set(by_key) - {"summary_file"}  # every option load passes on is given here
    for key, value in given.items():
        assert parsed[by_key[key].locust_dest] == value, key
    assert parsed["summary_file"] == str(report_dir.resolve() / "locust_summary.json")


# --- environment variables -------------------------------------------------------------------------------------

#: Reads whose variable is not a constant, each reading only declared variables.
DYNAMIC_READS = {
    ("plugin/options.py", "read_option"): "the declaration's env",
    ("plugin/options.py", "_web_origins"): "the web_origin declaration's env",
    ("headers.py", "parse_line"): "$TOKEN_HEADER_<NAME> of --header NAME (the header declaration)",
}
#: Variables the tool reads that are no option of check, watch, load or the plugin, and why.
NOT_OPTIONS = {
    "GITHUB_STEP_SUMMARY": "set by GitHub Actions: where the CI summary goes",
    "XDG_CACHE_HOME": "where the property-based case keeps Hypothesis' examples",
    "APP_ID": "token-conformance serve: the reference server's app id",
    "APP_CERTIFICATE": "token-conformance serve: the reference server's certificate",
    "TOKEN_LOAD_WORKER_SUMMARY_DIR": "set by the load runner for its own Locust processes (load/protocol.py): "
    "where each worker writes its summary; not a user input",
}


def environ_reads() -> list[tuple[str, str, str | None]]:
    """(file, function, variable or None when not a constant) for every read of the environment in conformance/.

    It imports every module of the package to resolve named constants, the Locust side (conformance.load.scenario)
    too, and importing Locust monkey-patches the process with gevent: run it in a child (``environ_reads_in_child``),
    never in a pytest worker, whose own queues gevent would then block."""
    reads = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "__main__.py":  # runs the CLI when imported; it reads no variable
            assert "environ" not in path.read_text(encoding="utf-8")
            continue
        module = importlib.import_module(("conformance." + rel.removesuffix(".py").replace("/", ".")).removesuffix(".__init__"))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(func):
                arg = None
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                        and _is_environ(node.func.value) and node.args:
                    arg = node.args[0]
                elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
                    arg = node.slice
                if arg is None:
                    continue
                reads.append((rel, func.name, _constant(arg, module, func)))
    return reads


def environ_reads_in_child() -> list[tuple[str, str, str | None]]:
    code = ("import json; from tests.settings.test_declarations import environ_reads; "
            "print(json.dumps(environ_reads()))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return [(rel, function, variable) for rel, function, variable in json.loads(result.stdout.strip().splitlines()[-1])]


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id in ("environ", "env"))


def _constant(arg: ast.expr, module: ModuleType, func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name):
        local = {a.arg for a in func.args.args + func.args.kwonlyargs} | {
            t.id for n in ast.walk(func) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For))
            for t in ast.walk(n.target if not isinstance(n, ast.Assign) else n.targets[0]) if isinstance(t, ast.Name)}
        value = getattr(module, arg.id, None)
        for node in ast.walk(func):  # a constant imported inside the function
            if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == arg.id for a in node.names):
                source = importlib.import_module("." * node.level + (node.module or ""), module.__name__
                                                 if str(module.__file__).endswith("__init__.py") else module.__package__)
                value = getattr(source, next(a.name for a in node.names if (a.asname or a.name) == arg.id))
                local.discard(arg.id)
        if arg.id not in local and isinstance(value, str):
            return value
    return None


def test_every_environment_variable_read_is_one_declaration() -> None:
    reads = environ_reads_in_child()
    assert reads
    declared = {o.env: o.key for o in OPTIONS if o.env}
    for rel, function, variable in reads:
        if variable is None:
            assert (rel, function) in DYNAMIC_READS, f"{rel}:{function} reads a variable that is not a constant"
        elif variable not in NOT_OPTIONS:
            assert variable in declared or variable in INPUT_ENV, f"{rel}:{function} reads undeclared ${variable}"
    read = {v for _r, _f, v in reads if v}
    # The declared variables are read through the declaration (read_option), the inputs' by their readers.
    assert set(INPUT_ENV) <= read


def test_one_rule_refuses_a_value_wherever_it_is_given() -> None:
    assert problem("max_skew", -5.0) == problem("timeout", 0.0) == "must be positive"
    assert problem("workers", 0) == problem("concurrency", 0) == problem("runs", 0) == "must be at least 1"
    assert problem("max_skew", 0.5) is None and problem("max_skew", None) is None
    # load's, in its own words (tests/load/test_cli.py pins the messages)
    assert problem("users", 0) == problem("cohorts", 0) == "must be at least 1"
    assert problem("spawn_rate", 0.0) == problem("start_rate", float("nan")) == "must be > 0"
    assert problem("cohorts", None) is None and problem("progress_interval", 0.0) is None
