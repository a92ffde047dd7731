"""``token-conformance profile``: show a resolved profile and the requests it implies, or write a starter file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._common import UsageError

#: Example values ``profile show`` builds its requests from.
EXAMPLE: dict[str, Any] = {"channel": "my-channel", "uid": "42", "account": "alice", "expiry": 600}


def add_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("show", help="print the resolved profile and the exact requests it implies",
                          description="Print the resolved profile (defaults and 'extends' applied) and the requests "
                                      "the suite will send for example values. Exit 2 if the profile is not valid.")
    show.add_argument("profile", metavar="NAME|FILE", help="a bundled profile name or a profile JSON file")
    show.add_argument("--json", action="store_true", help="print only the resolved profile, as JSON")
    init = sub.add_parser("init", help="write a commented starter profile file",
                          description="Write a starter profile for your own server, extending a bundled one.")
    init.add_argument("path", nargs="?", default="token-profile.json", help="file to write (default token-profile.json)")
    init.add_argument("--shape", choices=("path", "query", "json"), default="query",
                      help="the request shape to start from: Go-style path segments, a query string, or a JSON "
                           "POST body (default query)")
    init.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    p.set_defaults(_profile_parser=p)


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    if args.action == "init":
        return _init(args)
    args._profile_parser.print_help(sys.stderr)
    return 2


def _show(args: argparse.Namespace) -> int:
    from ..profiles import NotInProfile, ProfileError, load_profile

    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(profile.document(), indent=2, ensure_ascii=False))
        return 0
    print(f"profile {profile.name}: {profile.description}".rstrip(": "))
    print(json.dumps(profile.document(), indent=2, ensure_ascii=False))
    print()
    print(f"Requests for channel {EXAMPLE['channel']!r}, uid {EXAMPLE['uid']}, expiry {EXAMPLE['expiry']} s:")
    lines: list[tuple[str, Any]] = []

    def add(what: str, build: Any) -> None:
        try:
            lines.append((what, build().line()))
        except NotInProfile as exc:
            lines.append((what, f"(not offered: {exc})"))

    c, u, e = EXAMPLE["channel"], EXAMPLE["uid"], EXAMPLE["expiry"]
    add("RTC publisher", lambda: profile.rtc_request(c, "publisher", "uid", u, expiry=e))
    add("RTC subscriber", lambda: profile.rtc_request(c, "subscriber", "uid", u))
    add("RTC account", lambda: profile.rtc_request(c, "publisher", "userAccount", EXAMPLE["account"], expiry=e))
    if profile.has("rtm"):
        add("RTM", lambda: profile.request("rtm", uid=EXAMPLE["account"], expiry=e))
    if profile.has("rte"):
        add("RTE", lambda: profile.request("rte", c, "publisher", "uid", u, expiry=e))
    if profile.has("health"):
        add("health", lambda: profile.request("health", role=None, tokentype=None))
    width = max(len(w) for w, _ in lines)
    for what, line in lines:
        print(f"  {what:<{width}}  {line}")
    print()
    for name, op in profile.operations.items():
        if name == "health":
            expect = "any answer" if op.answer is None else json.dumps(op.answer)
            print(f"  {name}: {op.status} with {expect}")
            continue
        extra = f", RTM token at {op.rtm_token}" if op.rtm_token else ""
        extra += f", uid chosen by the server at {op.uid}" if op.uid else ""
        print(f"  {name}: {op.status} with the token at {op.token}{extra}")
    print(f"  lifetimes in {profile.expiry_unit}, default {profile.default_expiry} s; tokens {profile.token_version}")
    return 0


STARTERS: dict[str, dict[str, Any]] = {
    "path": {
        "method": "GET", "path": "/rtc/{channel}/{role}/{tokentype}/{uid}/", "query": {"expiry": "{expiry}"},
        "token": "/rtcToken",
    },
    "query": {
        "method": "GET", "path": "/token",
        "query": {"channel": "{channel}", "uid": "{uid}", "role": "{role}", "expiry": "{expiry}"},
        "token": "/token",
    },
    "json": {
        "method": "POST", "path": "/api/token",
        "body": {"channelName": "{channel}", "uid": "{uid:number}", "role": "{role}", "expireSeconds": "{expiry:number}"},
        "token": "/data/token",
    },
}


def starter(shape: str) -> dict[str, Any]:
    """The starter profile for ``shape``: short, every key explained by a ``$comment``."""
    operations: dict[str, Any] = {
        "$comment": [
            "One entry per request your server answers. Placeholders: {channel} {role} {tokentype} {uid} {expiry};",
            "in a body, {uid:number} sends a JSON number. 'token' is a JSON pointer into the answer (/data/token).",
            "Add \"uid\": \"/uid\" when the server chooses the uid and returns it; \"status\" if success is not 200.",
            "Operations of the extended profile you do not list stay; set one to null when your server lacks it.",
        ],
        "rtc": STARTERS[shape],
        "health": {"method": "GET", "path": "/health"},
    }
    if shape != "path":
        operations.update({"rtm": None, "rte": None, "post_get_token": None})
    return {
        "$schema": "urn:token-conformance:schema:profile",
        "$comment": [
            "A token-conformance profile: how your token server takes its inputs and answers tokens.",
            "Check it with: token-conformance profile show THIS_FILE; use it with: token-conformance check "
            "--profile THIS_FILE URL. Guide: docs/profiles.md.",
            "Keys left out come from 'extends' (a bundled profile: agora-token-service, agora-node-tokenserver).",
            "roles / token_types map the suite's words to yours; drop userAccount if you issue no account tokens.",
            "expiry.unit: seconds, minutes or hours; expiry.default: the lifetime you give when none is asked for.",
        ],
        "extends": "agora-token-service",
        "name": "my-token-server",
        "roles": {"publisher": "publisher", "subscriber": "subscriber"},
        "token_types": {"uid": "uid"} if shape != "path" else {"uid": "uid", "userAccount": "userAccount"},
        "expiry": {"unit": "seconds", "default": 3600},
        "operations": operations,
    }


def _init(args: argparse.Namespace) -> int:
    from ..profiles import ProfileError, parse_profile

    path = Path(args.path)
    if path.exists() and not args.force:
        raise UsageError(f"{str(path)!r} exists; pass --force to overwrite it")
    data = starter(args.shape)
    try:
        parse_profile(data, "starter")  # never write a file that would not load
    except ProfileError as exc:  # pragma: no cover - a bug here, not the user's
        raise UsageError(str(exc)) from None
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    print(f"wrote {path} ({args.shape} shape); edit it, then: token-conformance profile show {path}")
    return 0
