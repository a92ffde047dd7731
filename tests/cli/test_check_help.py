"""``check --help`` shows the default of every option that has one (finding 19)."""

from __future__ import annotations

import pytest

from conformance.cli import main


def test_check_help_shows_the_profile_and_workers_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    text = " ".join(out[out.index("options:"):].split())  # argparse wraps lines; the usage line names options too
    profile = text[text.index("--profile PROFILE"):text.index("--app-id APP_ID")]
    workers = text[text.index("-n WORKERS, --workers WORKERS"):text.index("--insecure")]
    assert "(default: agora-token-service)" in profile
    assert "(default: 1" in workers
    assert "(default: None)" not in text
