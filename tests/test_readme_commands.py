"""The README's "Other commands" say what the commands do: the options that matter and every exit code."""

from __future__ import annotations

import re
from pathlib import Path

from conformance.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _bullet(command: str) -> str:
    m = re.search(rf"^- `token-conformance {command}\b.*?(?=^- |^#|\Z)", README, re.MULTILINE | re.DOTALL)
    assert m, f"no README bullet for {command}"
    return " ".join(m.group(0).split())


def test_serve_line_shows_how_to_get_the_certificate() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    assert "--certificate-file" in [s for a in serve._actions for s in a.option_strings]
    line = _bullet("serve")
    assert "--certificate-file PATH" in line and "TOKEN-8" in line and "SEC-1" in line


def test_decode_line_lists_every_exit_code() -> None:
    line = _bullet("decode")
    assert "Exit 0 decoded" in line
    assert "1 invalid signature or not bound" in line
    assert "2 not a token" in line
