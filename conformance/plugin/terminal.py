"""What the terminal shows: root causes, the verdict table, an interruption's banner."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .. import interruption
from ..report import terminal_table
from .options import profile_dict, read_option, target_label
from .state import CONTRACT_ORDER, STATE_KEY, state_of


def note_interrupt(config: pytest.Config, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C, SIGTERM (under ``token-conformance check``) or pytest.exit: the run is interrupted, never green.

    pytest's own stop (our abort when the target goes down, -x) raises Session.Interrupted: not an interruption.
    """
    if isinstance(excinfo.value, pytest.Session.Interrupted):
        return
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    if isinstance(excinfo.value, pytest.exit.Exception):
        state.stops.interrupted = f"pytest.exit ({excinfo.value.msg})"
    else:
        state.stops.interrupted = interruption.last_signal()
    if state.active and not config.option.fulltrace:
        _plain_interrupt_banner(config, state.stops.interrupted)


def _plain_interrupt_banner(config: pytest.Config, what: str) -> None:
    """pytest's banner names the line of our signal handler (conformance/interruption.py:38) and an option
    token-conformance does not have (--full-trace): one line saying what happened instead; the verdict follows."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not hasattr(reporter, "_report_keyboardinterrupt"):
        return

    def banner() -> None:
        reporter.write_sep("!", f"interrupted by {what}")

    reporter._report_keyboardinterrupt = banner


def contract_order_of_failures(config: pytest.Config) -> None:
    """pytest prints failure details in run order (cases that wait run last); show them in contract order."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for key in ("failed", "error"):
        reports = reporter.stats.get(key)
        if reports:
            reports.sort(key=lambda r: CONTRACT_ORDER.get(getattr(r, "nodeid", "").rsplit("::", 1)[-1], len(CONTRACT_ORDER)))


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_terminal_summary")
def pytest_terminal_summary_root_causes(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Generator[None, None, None]:
    """One line per failed case, in contract order, before pytest prints the details of each failure."""
    conclusion = state_of(config).conclusion
    causes = conclusion.summary.root_causes if conclusion is not None else []
    if causes:
        terminalreporter.section("root causes (contract order; details follow)", red=True)
        for c in causes:
            terminalreporter.line(f"{c['id']} [{c['level']}] {c['title']}: {c['cause']}"[:400])
    return (yield)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if state.conclusion is None:
        return
    summary, records = state.conclusion.summary, state.conclusion.records
    terminalreporter.section("token-conformance")
    terminalreporter.line(f"target: {target_label(config)}  profile: {profile_dict(config)['name']}")
    colours = {"conforming": {"green": True}, "not conforming": {"red": True}}
    gated = bool(read_option(config, "gated_by_baseline"))
    if state.stops.abort_reason and records and all(r.outcome == "not run" for r in records):
        # Stopped before any case (a login wall, a target that does not answer): the reason was said above and
        # the verdict says it again; a table of cases that never ran would bury it (the reports list them).
        lines = [f"cases: {len(records)} not run (listed in the reports)",
                 terminal_table(summary, records, gated_by_baseline=gated)[-1]]
    else:
        lines = terminal_table(summary, records, width=getattr(getattr(terminalreporter, "_tw", None), "fullwidth", 100),
                               gated_by_baseline=gated)
        # What the target did during the run goes before the verdict, which stays the last line of a CI log.
        run_lines = _run_lines(summary.extra)
        if "requests_sent" in summary.extra:
            run_lines.insert(0, _traffic_line(summary.extra))
        lines[len(lines) - 1:len(lines) - 1] = run_lines
    for line in lines:
        if line.startswith("verdict:"):
            kw = colours.get(summary.verdict, {"yellow": True})
        else:
            kw = {"yellow": True} if line.startswith("hint:") else {}
        terminalreporter.line(line, **kw)


def _run_lines(extra: dict[str, Any]) -> list[str]:
    """Answer times, rate limiting and hints, one line each (what the target did during the run)."""
    lines = []
    times = extra.get("answer_times") or {}
    if times.get("count"):
        lines.append(f"answer times: {times['count']} answers, p50 {times['p50_ms']:g} ms, p95 {times['p95_ms']:g} ms, "
                     f"p99 {times['p99_ms']:g} ms, max {times['max_ms']:g} ms"
                     + (f", {times['timeouts']} timed out" if times.get("timeouts") else ""))
    limits = extra.get("rate_limits") or {}
    if limits.get("limited"):
        lines.append(f"rate limits: the target limited the run {limits['limited']} time(s), "
                     f"{limits['waited_s']:g} s waited (longest {limits['longest_wait_s']:g} s)")
    if limits.get("paced_s"):
        # Wall-clock time with at least one request waiting for its slot (ClientStats.paced_s), not summed waits.
        lines.append(f"pacing: requests held back by --max-rps during {limits['paced_s']:g} s of the run")
    lines += [f"hint: {h}" for h in extra.get("hints", [])]
    return lines


def _traffic_line(extra: dict[str, Any]) -> str:
    """What the run cost the target and where its time went, on one line."""
    elapsed = extra.get("elapsed_s")
    of = f" of the {elapsed:.1f} s session" if isinstance(elapsed, (int, float)) else ""
    return (f"requests: {extra['requests_sent']} sent; {extra['waiting_s']:.1f} s{of} "
            "with one or more waiting for the target")

