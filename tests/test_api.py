"""conformance.api.check as a script calls it: fixed options, and a bad value refused before anything starts.

A bad value used to start the suite, which stopped on pytest's usage error and wrote reports saying "could not
judge: no case ran" over the previous run's. Now check() raises the UsageError the CLI prints, with the CLI's
line, before it starts a server or pytest, and the previous reports stay byte for byte.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import conformance.api
from conformance.api import CheckOptions, check
from conformance.errors import UsageError
from conformance.target import EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN

#: A previous run's reports, as they must stay after a refused call.
PREVIOUS = {"conformance.json": '{"summary": {"verdict": "conforming"}}', "conformance.html": "<p>earlier</p>",
            "junit.xml": "<testsuites/>"}


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """check() may refuse its options but must not start the embedded server or pytest to find out."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check() started a run for options it should have refused")

    monkeypatch.setattr(conformance.api.pytest, "main", refuse)
    monkeypatch.setattr(conformance.api, "ReferenceServer", refuse)


def _previous_reports(folder: Path) -> Path:
    folder.mkdir()
    for name, text in PREVIOUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(("options", "message"), [
    ({"timeout": -1}, "--timeout must be positive"),
    ({"max_skew": 0}, "--max-skew must be positive"),
    ({"max_rps": -2.5}, "--max-rps must be positive"),
    ({"workers": 0}, "--workers must be at least 1"),
    ({"cases": "NOPE-9"}, "--case 'NOPE-9' selects no case of the contract"),
    ({"cases": "ROUTE-1,NOPE"}, "--case 'NOPE' selects no case of the contract"),
    ({"cases": " , "}, "--case needs at least one case id"),
    ({"profile": "no-such-profile.json"}, "unknown profile 'no-such-profile.json'"),
    ({"certificate_file": "no-such-certificate"}, "cannot read the certificate file 'no-such-certificate'"),
    ({"deviations": "no-such-deviations.json"}, "cannot read the deviations file 'no-such-deviations.json'"),
    ({"url": "ftp://127.0.0.1:9"}, "the URL must start with http:// or https://"),
    ({"app_id": "not-hex"}, "--app-id must be 32 hexadecimal characters"),
    ({"renew_expiry": 0}, "--renew-expiry must be a whole number of seconds from 1 to 86400"),
    ({"renew_expiry": 10, "renew_margin": 10}, "--renew-margin must be above 0 and below the renewal lifetime"),
    ({"gate": "may"}, "--gate must be one of should, must, not 'may'"),
    ({"baseline_force": True}, "--baseline-force needs --baseline FILE"),
    ({"web_origins": ["app.example.com"]}, "'app.example.com' is not an origin"),
    ({"headers": ["no colon here"]}, "is not 'Name: value'"),
])
def test_a_bad_value_raises_before_anything_starts_and_the_previous_reports_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nothing_starts: None, options: dict[str, Any], message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # the relative file names above name nothing
    reports = _previous_reports(tmp_path / "reports")
    with pytest.raises(UsageError) as raised:
        check(CheckOptions(report_dir=str(reports), **options))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)  # one line, as the CLI prints it
    assert {p.name: p.read_text(encoding="utf-8") for p in reports.iterdir()} == PREVIOUS


def test_the_cli_refuses_the_same_value_with_the_same_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nothing_starts: None,
) -> None:
    """One message for the CLI and the API (conformance.settings.values): what a script sees is what a user sees."""
    from conformance.cli import main

    with pytest.raises(UsageError) as raised:
        check(CheckOptions(report_dir=str(tmp_path / "api"), cases="NOPE-9"))
    assert main(["check", "--case", "NOPE-9", "--report-dir", str(tmp_path / "cli")]) == 2
    assert str(raised.value) in capsys.readouterr().err


def test_a_report_folder_that_cannot_be_made_is_a_usage_error(tmp_path: Path, nothing_starts: None) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot create the report folder"):
        check(CheckOptions(report_dir=str(blocker / "reports")))


def test_options_cannot_change_once_made() -> None:
    opts = CheckOptions(headers=["X-Key: value"], web_origins=["https://app.example.com"],
                        extra_pytest_args=["-x"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.timeout = 3.0  # type: ignore[misc]
    # A caller's lists are copied into tuples: changing the list later changes nothing the run holds.
    assert opts.headers == ("X-Key: value",) and opts.web_origins == ("https://app.example.com",)
    assert opts.extra_pytest_args == ("-x",)
    assert hash(CheckOptions(cases="ROUTE-1")) == hash(CheckOptions(cases="ROUTE-1"))


def test_one_string_is_one_value_of_a_list_option() -> None:
    # A string is iterable: it was read one character per value ("--header: X has no value").
    opts = CheckOptions(headers="X-Key: value", web_origins="https://app.example.com", extra_pytest_args="-x")
    assert opts.headers == ("X-Key: value",) and opts.web_origins == ("https://app.example.com",)
    assert opts.extra_pytest_args == ("-x",)


def _run_against_the_embedded_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     **options: Any) -> tuple[list[str], dict[str, Any]]:
    """The pytest command line check() builds for the embedded server and the option values it hands the plugin
    in-process (pytest itself is not run)."""
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def fake_main(args: list[str], plugins: Any = None) -> int:
        (handover,) = plugins
        seen.append((list(args), dict(handover.options)))
        return 0

    monkeypatch.setattr(conformance.api.pytest, "main", fake_main)
    result = check(CheckOptions(report_dir=str(tmp_path / "reports"), **options))
    assert result.exit_code == 2 and result.document is None  # nothing ran, nothing judged
    return seen[0]


def test_the_embedded_server_keeps_the_renewal_cycle_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the embedded server the short renewal cycle is the default, not an override of the options."""
    _, handed = _run_against_the_embedded_server(tmp_path, monkeypatch, renew_expiry=30, renew_margin=5.0)
    assert (handed["renew_expiry"], handed["renew_margin"]) == (30, 5.0)
    _, handed = _run_against_the_embedded_server(tmp_path, monkeypatch, renew_margin=3.0)
    assert "renew_expiry" not in handed and handed["renew_margin"] == 3.0  # the plugin's default lifetime: 6 s
    _, handed = _run_against_the_embedded_server(tmp_path, monkeypatch)
    assert (handed["renew_expiry"], handed["renew_margin"]) == (EMBEDDED_RENEW_EXPIRY, EMBEDDED_RENEW_MARGIN)


def test_a_lifetime_the_default_margin_does_not_fit_is_refused(tmp_path: Path, nothing_starts: None) -> None:
    with pytest.raises(UsageError, match=r"--renew-expiry must be above the default --renew-margin \(2 s\)"):
        check(CheckOptions(report_dir=str(tmp_path), renew_expiry=2))


def test_option_values_reach_the_plugin_typed_not_as_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars are handed over as they are (conformance.plugin.handover); argv keeps pytest's own options and the
    caller's extra arguments, last, so they still win."""
    args, handed = _run_against_the_embedded_server(
        tmp_path, monkeypatch, timeout=2.5, max_skew=3.0, cases="ROUTE-1", strict=True,
        web_origins=["https://app.example.com"], extra_pytest_args=["--token-timeout", "7"])
    assert not [a for a in args[:-2] if a.startswith("--token-")]
    assert args[-2:] == ["--token-timeout", "7"]
    assert handed["timeout"] == 2.5 and handed["max_skew"] == 3.0 and handed["case"] == "ROUTE-1"
    assert handed["strict"] is True and handed["web_origin"] == ["https://app.example.com"]
    assert handed["url"].startswith("http://127.0.0.1:") and handed["report_dir"] == str(tmp_path / "reports")
    assert "insecure" not in handed and "max_rps" not in handed  # unset: the plugin's ini and environment decide


def test_a_good_call_still_runs_and_replaces_the_previous_reports(tmp_path: Path) -> None:
    reports = _previous_reports(tmp_path / "reports")
    result = check(CheckOptions(report_dir=str(reports), cases="ROUTE-1"))
    assert result.exit_code == 0, result.document
    document = json.loads((reports / "conformance.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in document["cases"]] == ["ROUTE-1"] and document["summary"]["verdict"] == "conforming"
