"""Every flag, pytest option, ini key and environment variable the tool reads maps to exactly one declaration.

The declarations are conformance/settings/declarations.py. These tests walk what the tool really offers (the
argparse parsers of the subcommands, the pytest options and ini keys the plugin adds, every read of
``os.environ`` in conformance/) and find each in exactly one ``Option``.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.config.argparsing import Parser

import conformance
from conformance.cli import build_parser
from conformance.plugin import pytest_addoption
from conformance.settings.declarations import INPUT_ENV, OPTIONS, Option, problem

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
