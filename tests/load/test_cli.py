"""``token-conformance load`` option handling: every mistake is one line and exit 2, before any run."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.load.protocol import CERTIFICATE_ENV


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "0"], "--users"),
        (["--spawn-rate", "0"], "--spawn-rate"),
        (["--run-time", "soon"], "--run-time"),
        (["--run-time", "0s"], "--run-time"),
        (["--stop-timeout", "x"], "--stop-timeout"),
        (["--expiry", "0"], "--expiry"),
        (["--expiry", "10", "--renew-margin", "11"], "--renew-margin"),
        (["--cycles", "0"], "--cycles"),
        (["--role-mix", "admin=1"], "--role-mix"),
        (["--tokentype-mix", "uid=-1"], "--tokentype-mix"),
        (["--max-failure-ratio", "2"], "--max-failure-ratio"),
        (["--max-p95-ms", "-5"], "--max-p95-ms"),
        (["--max-dropped", "-1"], "--max-dropped"),
        (["--processes", "0"], "--processes"),
        (["--scenario", "nope"], "unknown scenario"),
        (["--cohorts", "3"], "--scenario renew_storm"),
        (["--step-users", "3"], "--scenario ramp"),
        (["--profile", "no-such-profile"], "no-such-profile"),
        (["--app-id", "0" * 32], "--app-id is for a URL target"),
        (["http://127.0.0.1:1", "--app-id", "xyz"], "--app-id"),
        (["ftp://127.0.0.1:1"], "http://host:port"),
        (["http://127.0.0.1:1/?x=1"], "without query"),
        (["http://127.0.0.1:1", "--certificate-file", "/nonexistent/cert"], "certificate file"),
        (["--scenario", "capacity", "--users", "5"], "--users does not apply"),
        (["--start-rate", "50"], "--scenario capacity"),
        (["--scenario", "capacity", "--max-rate", "0"], "--max-rate"),
        (["--processes", "many"], "--processes takes a number or 'auto'"),
        # The declared rules (conformance/settings/load_options.py), in load's words.
        (["--spawn-rate", "-1"], "--spawn-rate must be > 0"),
        (["--progress-interval", "-1"], "--progress-interval must be >= 0"),
        (["--scenario", "renew_storm", "--cohorts", "0"], "--cohorts must be at least 1"),
        (["--scenario", "renew_storm", "--cohort-interval", "-1"], "--cohort-interval must be >= 0"),
        (["--scenario", "ramp", "--step-users", "0"], "--step-users must be at least 1"),
        (["--scenario", "ramp", "--step-time", "0.5"], "--step-time must be at least 1 (second)"),
        (["--scenario", "capacity", "--start-rate", "0"], "--start-rate must be > 0"),
        (["http://127.0.0.1:1", "--master", "--expect-workers", "2", "--expect-workers-max-wait", "0"],
         "--expect-workers-max-wait must be at least 1 (second)"),
        # Master and worker: each with its own options, never both, and a worker takes none of the scenario's.
        (["--master", "--expect-workers", "2"], "--master needs the token server's URL"),
        (["http://127.0.0.1:1", "--master"], "--master needs --expect-workers"),
        (["http://127.0.0.1:1", "--master", "--expect-workers", "0"], "--expect-workers must be at least 1"),
        (["http://127.0.0.1:1", "--master", "--expect-workers", "2", "--processes", "2"], "--processes does not apply"),
        (["http://127.0.0.1:1", "--master", "--expect-workers", "2", "--master-bind-port", "70000"], "port number"),
        (["--expect-workers", "2"], "--expect-workers only apply with --master"),
        (["--master-bind-host", "0.0.0.0"], "only apply with --master"),
        (["--master-host", "10.0.0.1"], "--master-host only apply with --worker"),
        (["--master", "--worker", "--master-host", "h"], "exclude each other"),
        (["--worker"], "--worker needs --master-host"),
        (["--worker", "--master-host", "h", "--users", "5", "--expiry", "20"], "--users, --expiry: set on the master"),
        (["--worker", "--master-host", "h", "http://127.0.0.1:1"], "URL: set on the master"),
        (["--worker", "--master-host", "h", "--master-wait", "0"], "--master-wait must be > 0"),
        (["--worker", "--master-host", "h", "--processes", "0"], "--processes takes a number >= 1"),
        # Too short to renew anything: said before the run, not after a silent pass.
        (["--users", "5", "--run-time", "3s"], "ends before the first renewal"),
        (["--run-time", "5s", "--expiry", "10", "--renew-margin", "5"], "ends before the first renewal"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["load", "--report-dir", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r" / "load.json").exists()


def test_argparse_type_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["load", "--users", "many"])
    assert exc.value.code == 2
    assert "--users" in capsys.readouterr().err


def test_unreachable_target_exits_2_without_running(
    closed_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["load", f"http://127.0.0.1:{closed_port}", "--report-dir", str(tmp_path), "--run-time", "10s"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot reach" in err
    assert not (tmp_path / "locust.log").exists()  # Locust never started


def test_the_certificate_file_is_read_and_never_echoed(
    tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "fedcba9876543210fedcba9876543210"
    (tmp_path / "cert").write_text(secret + "\n")
    monkeypatch.setenv(CERTIFICATE_ENV, "ignored-when-a-file-is-given")
    code = main(["load", f"http://127.0.0.1:{closed_port}", "--certificate-file", str(tmp_path / "cert")])
    out = capsys.readouterr()
    assert code == 2 and secret not in out.out + out.err


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["load", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for shown in ("(default: 10)", "(default: fetch_and_renew)", "(default: 30s;", "(default: reports)",
                  "(default: 500.0)", "(default: 0.01)", "(default: agora-token-service)",
                  "(default: one process, no workers)",
                  "signatures are not checked", "(default: a fifth of --users)"):  # fmt: skip
        assert shown in text, shown
    assert "(default: None)" not in text and "(default: False)" not in text


def test_help_shows_each_default_once_in_one_style(capsys: pytest.CaptureFixture[str]) -> None:
    """Newcomer finding 19: --max-limited-ratio showed its default twice, --max-dropped/--max-invalid (default 0)
    none, and "(default 10)" sat next to "(default: 10)"."""
    import re

    with pytest.raises(SystemExit):
        main(["load", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = re.split(r" (?=--[a-z][a-z-]+ [A-Z_]+ )", text)  # one chunk per option that takes a value
    for name, default in (("--max-dropped", "0"), ("--max-invalid", "0"), ("--max-limited-ratio", "1.0"),
                          ("--cohorts", "1"), ("--start-rate", "50"), ("--max-rate", "1000"),
                          ("--expect-workers-max-wait", "60"), ("--master-bind-port", "5557"),
                          ("--master-port", "5557"), ("--master-wait", "60")):  # fmt: skip
        chunk = next(c for c in options if c.startswith(name + " "))
        assert chunk.count("default") == 1 and f"(default: {default}" in chunk, chunk
    assert not re.search(r"\(default [^:]", text), re.findall(r"\(default [^)]*\)", text)


def test_help_and_readme_say_a_breach_wins_over_could_not_judge(capsys: pytest.CaptureFixture[str]) -> None:
    """Newcomer finding 12: exit 1 (a breach) or 2 (nothing renewed) when both happen? Both documents say 1."""
    with pytest.raises(SystemExit):
        main(["load", "--help"])
    assert "A breached SLO wins: exit 1 even when nothing was renewed" in capsys.readouterr().out
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    assert 'A breached SLO wins over "nothing was renewed" and "generator-bound"' in readme


def test_a_master_whose_port_is_taken_says_so_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["load", "http://127.0.0.1:1", "--master", "--expect-workers", "1", "--master-bind-host",
                     "127.0.0.1", "--master-bind-port", str(port), "--report-dir", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"the master cannot listen on 127.0.0.1:{port}" in err and "--master-bind-port" in err
    assert not (tmp_path / "locust.log").exists()


@pytest.mark.parametrize(
    ("free", "url", "said"),
    [
        (3, "http://127.0.0.1:{port}", "3 worker processes"),
        (1, "http://127.0.0.1:{port}", "one process, no workers"),
    ],
)
def test_processes_auto_says_what_it_chose(
    free: int, url: str, said: str, closed_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conformance.load import options

    reserves: list[int] = []

    def fake(reserve: int = 0) -> tuple[int, str]:
        reserves.append(reserve)
        return free, "4 usable cores, load average 0.9 (about 1 busy)"

    monkeypatch.setattr(options, "free_cores", fake)
    code = main(["load", url.format(port=closed_port), "--processes", "auto", "--report-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach" in err  # nothing listens: the choice is said before the probe
    assert f"--processes auto: 4 usable cores, load average 0.9 (about 1 busy): {said}" in err
    assert reserves == [0]  # the target is elsewhere: no core kept for an embedded server


def test_free_cores_leaves_the_busy_ones_and_the_embedded_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from conformance.load.runner import free_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.4, 0.0, 0.0))
    assert free_cores()[0] == 3
    count, why = free_cores(reserve=1)
    assert count == 2 and "4 usable cores" in why and "1 for the embedded server" in why
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))  # a saturated machine: still one process
    assert free_cores(reserve=1)[0] == 1
