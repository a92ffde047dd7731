"""Locust's event listeners are registered once per process, whichever Locust files are loaded, and the capacity
scenario's own only when it is (conformance.load.scenario.listeners, arrivals, capacity).

Each probe is a fresh interpreter, as ``locust -f loadtests/<scenario>.py`` is: registration happens at import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conformance.load.protocol import SCENARIOS

ROOT = Path(__file__).resolve().parents[3]

#: Load the given Locust files the way Locust does, ask for the shared listeners once more, and print every
#: event's handlers (module.function).
PROBE = """
import json, sys
from locust.util.load_locustfile import load_locustfile
import locust
from conformance.load.scenario import listeners
for path in sys.argv[1:]:
    load_locustfile(path)
listeners.register()
handlers = {name: [f"{h.__module__}.{h.__qualname__}" for h in hook._handlers]
            for name, hook in vars(locust.events).items() if getattr(hook, "_handlers", None)}
print(json.dumps(handlers))
"""

#: Every scenario's: the options, the run's bookkeeping, the summary at exit.
SHARED = {
    "init_command_line_parser": "conformance.load.scenario.options.add_scenario_options",
    "init": "conformance.load.scenario.listeners._on_init",
    "test_start": "conformance.load.scenario.listeners._on_test_start",
    "test_stop": "conformance.load.scenario.listeners._on_test_stop",
    "spawning_complete": "conformance.load.scenario.listeners._on_spawned",
    "report_to_master": "conformance.load.scenario.listeners._on_report",
    "worker_report": "conformance.load.scenario.listeners._on_worker_report",
    "quitting": "conformance.load.scenario.listeners._on_quitting",
}
#: The capacity scenario's alone: its rates, the arrivals' messages and records, the end of the running step.
CAPACITY = {
    "init_command_line_parser": "conformance.load.scenario.options.add_capacity_options",
    "init": "conformance.load.scenario.arrivals._on_init",
    "request": "conformance.load.scenario.arrivals._on_request",
    "test_start": "conformance.load.scenario.arrivals._on_test_start",
    "test_stopping": "conformance.load.scenario.capacity._on_test_stopping",
}


def registered(*scenarios: str) -> dict[str, list[str]]:
    paths = [str(ROOT / "loadtests" / f"{name}.py") for name in scenarios]
    result = subprocess.run([sys.executable, "-c", PROBE, *paths], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def assert_each_once(handlers: dict[str, list[str]]) -> None:
    for event, names in handlers.items():
        twice = [name for name, n in Counter(names).items() if n > 1]
        assert not twice, f"{event}: registered more than once: {twice}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_registers_the_shared_listeners_once_and_the_capacity_ones_only_for_capacity(
        scenario: str) -> None:
    handlers = registered(scenario)
    assert_each_once(handlers)
    for event, name in SHARED.items():
        assert name in handlers[event], f"{scenario}: {event} lacks {name}"
    for event, name in CAPACITY.items():
        assert (name in handlers.get(event, [])) is (scenario == "capacity"), f"{scenario}: {event} {name}"


def test_every_scenario_in_one_process_still_registers_each_listener_once() -> None:
    handlers = registered(*SCENARIOS)
    assert_each_once(handlers)


def test_an_arrival_loop_runs_only_arrivals() -> None:
    """Locust gives a subclass its base's tasks: the capacity user must not also run TokenClient's sessions (whose
    lapsed tokens were counted as dropped after the loop stopped)."""
    probe = ("from locust.util.load_locustfile import load_locustfile\n"
             "import sys\n"
             "load_locustfile(sys.argv[1])\n"
             "from conformance.load.scenario.arrivals import ArrivalClient\n"
             "print(','.join(t.__name__ for t in ArrivalClient.tasks))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(ROOT / "loadtests" / "capacity.py")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["arrivals"]
