"""``token-conformance contract``: the numbered contract, from the one catalogue."""

from __future__ import annotations

import argparse
import json

from .. import __version__
from ..contract import CONTRACT_VERSION, REQUIREMENTS, SECTIONS, render_markdown


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("markdown", "json"), default="markdown", help="output format (default markdown)")


def run(args: argparse.Namespace) -> int:
    if args.format == "json":
        # An object, not a bare list: a consumer must know which contract version the ids and sentences are
        # (conformance.json names the version it was judged against).
        print(json.dumps({
            "contract_version": CONTRACT_VERSION,
            "tool": {"name": "token-conformance", "version": __version__},
            "sections": [{"id": key, "name": name, "intro": intro} for key, (name, intro) in SECTIONS.items()],
            "requirements": [
                {"id": r.id, "section": r.section, "level": r.level.value, "title": r.title,
                 "requirement": r.sentence, "rationale": r.rationale, "needs": list(r.needs)}
                for r in REQUIREMENTS
            ],
        }, indent=2, ensure_ascii=False))
    else:
        print(render_markdown())
    return 0
