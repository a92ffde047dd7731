"""Where the Locust files and the schemas are found: in a clone, and in a wheel installed elsewhere (conformance/layout.py).

Both runs drop setuptools' editable-install finder, so they see what a plain ``pip install .`` (wheel) or a
``locust -f loadtests/...`` from the clone's root (the source folder first on ``sys.path``) would see. Each
locustfile is loaded the way Locust loads it, so a Locust file that lost its classes fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.load.protocol import SCENARIOS

ROOT = Path(__file__).resolve().parents[1]

#: What Locust must find in each Locust file: its user classes and its shape.
EXPECTED = {
    "fetch_and_renew": (["TokenClient"], []),
    "ramp": (["TokenClient"], ["Ramp"]),
    "renew_storm": (["StormClient"], ["RenewStorm"]),
    "capacity": (["ArrivalClient"], ["Capacity"]),
}

#: Run in a child: where the scenarios and schemas are, and what Locust finds in each scenario file.
PROBE_CODE = """
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '')]
sys.path.insert(0, '')
from locust.util.load_locustfile import load_locustfile
import conformance
from conformance import schemas
from conformance.load.runner import scenario_path
found = {}
for name in sys.argv[1:]:
    users, shapes = load_locustfile(str(scenario_path(name)))
    found[name] = [sorted(users), sorted(type(s).__name__ for s in shapes), str(scenario_path(name))]
print(json.dumps({"package": conformance.__file__, "profile_schema": str(schemas.schema_path("profile")),
                  "schemas": schemas.names(), "scenarios": found}))
"""


def probe_layout(cwd: Path, pythonpath: str | None = None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    result = subprocess.run([sys.executable, "-c", PROBE_CODE, *SCENARIOS], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def assert_scenarios(found: dict[str, object], folder: Path) -> None:
    scenarios = found["scenarios"]
    assert isinstance(scenarios, dict)
    assert set(scenarios) == set(EXPECTED) == set(SCENARIOS)
    for name, (users, shapes) in EXPECTED.items():
        assert scenarios[name] == [users, shapes, str(folder / f"{name}.py")]
    assert found["schemas"] == ["error", "get-token", "ping", "rtc-token", "rte-token", "rtm-token"]


def test_a_clone_root_runs_its_own_locust_files_and_schemas() -> None:
    """``locust -f loadtests/fetch_and_renew.py`` from the clone's root, as docs/load.md says."""
    found = probe_layout(ROOT)
    assert found["package"] == str(ROOT / "conformance" / "__init__.py")
    assert_scenarios(found, ROOT / "loadtests")
    assert found["profile_schema"] == str(ROOT / "schemas" / "profile.json")


@pytest.mark.slow
def test_an_installed_wheel_carries_the_locust_files_and_schemas(tmp_path: Path) -> None:
    """A wheel built from a copy of the clone, installed in a folder of its own, run from an unrelated folder."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("conformance", "loadtests", "schemas"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("token_conformance-*.whl")
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                                str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = probe_layout(elsewhere, pythonpath=str(site))
    package = site / "conformance"
    assert found["package"] == str(package / "__init__.py")
    assert_scenarios(found, package / "shipped" / "loadtests")
    assert found["profile_schema"] == str(package / "shipped" / "schemas" / "profile.json")
