"""``token-conformance contract``: the numbered contract, from the one catalogue."""

from __future__ import annotations

import argparse
import json


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("markdown", "json"), default="markdown", help="output format (default markdown)")


def run(args: argparse.Namespace) -> int:
    from ..contract import REQUIREMENTS, render_markdown

    if args.format == "json":
        print(json.dumps([
            {"id": r.id, "section": r.section, "level": r.level.value, "title": r.title,
             "requirement": r.sentence, "rationale": r.rationale, "needs": list(r.needs)}
            for r in REQUIREMENTS
        ], indent=2, ensure_ascii=False))
    else:
        print(render_markdown())
    return 0
