"""``token-conformance profile``: show a resolved profile and the requests it implies, write a starter file, or
infer a profile from example requests (conformance.profiles.infer)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..redact import Redactor
from ._common import UsageError, add_request_options, read_headers

# Late imports: every subcommand's module is imported to build `token-conformance --help`, so what only `profile` needs
# is imported in its functions: the profiles package alone would make --help 1.2x slower, with the HTTP client (httpx)
# for `infer` 2.2x (farm-bench medians 0.35 s -> 0.45 s and 0.33 s -> 0.87 s on this 2-vCPU machine).

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
    infer = sub.add_parser(
        "infer", help="write a profile from one or two example requests that work",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Send the example request(s) to URL, find the token in the answer (any string that decodes as 006 or 007, or the
whole body) and write the profile they imply: which value is the channel, the uid, the role and the lifetime
(matched against what the token says), a uid the server chooses, a fixed lifetime, the token version and a
health route. What could not be inferred is listed in the file's $comment and on standard error.""",
        epilog="""\
examples:
  # one working request (a second one with the other role tells the role field for certain)
  token-conformance profile infer https://tokens.example.com \\
      --example 'GET /api/v1/rtcToken?channelName=test&uid=0' --output my-profile.json
  token-conformance profile infer http://localhost:8080 \\
      --example 'POST /rtctoken {"channel": "test", "isPublisher": true}' \\
      --example 'POST /rtctoken {"channel": "test", "isPublisher": false}' --output my-profile.json
  token-conformance profile show my-profile.json
  token-conformance check --profile my-profile.json https://tokens.example.com

Use a distinctive channel name and a uid other than 0 in the examples: values are matched against the token
(uid 0 packs as the empty string). A server that chooses the uid itself needs no uid in the example.
Credentials go in headers (--header, --header-file, $TOKEN_SERVER_HEADERS), never in the profile.
Exit codes: 0 written, 2 nothing inferred (unreachable, no token in the answer, a bad example) or usage.""")
    infer.add_argument("url", metavar="URL", help="base URL of the token server (http:// or https://)")
    infer.add_argument("--example", action="append", required=True, metavar="'METHOD PATH[?QUERY] [JSON BODY]'",
                       help="a request that answers a token, e.g. 'GET /token?channel=c&uid=42' or "
                            "'POST /token {\"channel\": \"c\", \"uid\": 42}'; repeat it with the other role's value "
                            "to infer the role field")
    infer.add_argument("-o", "--output", required=True, metavar="FILE",
                       help="where to write the profile ('-': standard output); an existing file is kept unless --force")
    infer.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    infer.add_argument("--name", help="the profile's name (default: inferred-HOST)")
    infer.add_argument("--timeout", type=float, default=10.0, help="deadline per request in seconds (default 10)")
    infer.add_argument("--insecure", action="store_true", help="accept a TLS certificate that does not verify")
    add_request_options(infer, "profile infer")
    p.set_defaults(_profile_parser=p)


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    if args.action == "init":
        return _init(args)
    if args.action == "infer":
        return _infer(args)
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
    asked = f", expiry {EXAMPLE['expiry']} s" if profile.expiry_input else ""  # a fixed lifetime is asked for by no one
    print(f"Requests for channel {EXAMPLE['channel']!r}, uid {EXAMPLE['uid']}{asked}:")
    lines: list[tuple[str, Any]] = []

    def add(what: str, build: Any) -> None:
        try:
            lines.append((what, build().line()))
        except NotInProfile as exc:
            lines.append((what, f"(not offered: {exc})"))

    c, u = EXAMPLE["channel"], EXAMPLE["uid"]
    e = EXAMPLE["expiry"] if profile.expiry_input else None  # a fixed lifetime is asked for nothing
    for role in profile.issued_roles:
        add(f"RTC {role}", lambda role=role: profile.rtc_request(c, role, "uid", u,
                                                                  expiry=e if role == "publisher" else None))
    add("RTC account", lambda: profile.rtc_request(c, profile.issued_roles[0], "userAccount", EXAMPLE["account"],
                                                   expiry=e))
    if profile.has("rtm"):
        add("RTM", lambda: profile.request("rtm", uid=EXAMPLE["account"], expiry=EXAMPLE["expiry"]))
    if profile.has("rte"):
        add("RTE", lambda: profile.request("rte", c, "publisher", "uid", u, expiry=EXAMPLE["expiry"]))
    if profile.has("health"):
        add("health", lambda: profile.request("health", role=None, tokentype=None))
    width = max(len(w) for w, _ in lines)
    for what, line in lines:
        print(f"  {what:<{width}}  {line}")
    print()
    print("What the server takes and answers:")
    for line in profile_facts(profile):
        print(f"  {line}")
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


def profile_facts(profile: Any) -> list[str]:
    """The profile's facts in words: what the RTC request takes, what each answer carries (``profile show``)."""
    p = profile
    out: list[str] = []
    words = ", ".join(f"{role} = {json.dumps(p.roles[role], ensure_ascii=False)}" for role in p.issued_roles)
    if not p.role_input:
        out.append(f"role: none in the request; every RTC token is a {p.issued_roles[0]} token "
                   f"(INPUT-1 and the other role's cases do not apply)")
    elif len(p.issued_roles) == 1:
        out.append(f"role: {words}; no {'subscriber' if p.issued_roles[0] == 'publisher' else 'publisher'} tokens")
    else:
        typed = "" if all(isinstance(v, str) for v in p.roles.values()) else " (typed JSON values)"
        out.append(f"role: {words}{typed}")
    rtc = p.operations["rtc"]
    if not p.uid_input:
        where = (f"names it at {rtc.uid}" if rtc.uid is not None
                 else "names it only inside the token (binding judged by the token's own uid)")
        out.append(f"uid: none in the request; the server chooses it and {where} (uid bad inputs do not apply)")
    elif rtc.uid is not None:
        out.append(f"uid: from the request; asked for uid 0 the server chooses one and names it at {rtc.uid}")
    else:
        out.append("uid: from the request")
    unit = p.expiry_unit
    if not p.expiry_input:
        out.append(f"lifetime: none in the request; every token lives a fixed {p.default_expiry} s "
                   "(EXPIRY-1, INPUT-7 and INPUT-8 do not apply)")
    else:
        low = p.expiry_min if p.expiry_min is not None else 1
        high = p.expiry_max if p.expiry_max is not None else 86400
        out.append(f"lifetime: asked in {unit}; default {p.default_expiry} s; accepted {low}..{high} s"
                   + ("" if p.expiry_min is not None or p.expiry_max is not None else " (the contract's limits)"))
    for name, op in p.operations.items():
        if name == "health":
            expect = "any answer" if op.answer is None else json.dumps(op.answer)
            out.append(f"{name}: {op.method} {op.path} answers {op.status} with {expect}")
            continue
        where = "whose whole body is the token (text/plain)" if op.token == "" else f"with the token at {op.token}"
        extra = f", RTM token at {op.rtm_token}" if op.rtm_token else ""
        extra += f", the uid the server chose at {op.uid}" if op.uid else ""
        out.append(f"{name}: {op.status} {where}{extra}")
    if not p.has("health"):
        out.append("health: none (ROUTE-5 does not apply)")
    out.append(f"tokens: AccessToken {p.token_version}")
    return out


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


def _infer(args: argparse.Namespace) -> int:
    """Infer, check that the profile loads, write it; what was found and what was not go to standard error."""
    from ..client import TokenServerClient
    from ..profiles import ProfileError, parse_profile
    from ..profiles.infer import InferError, infer, parse_example

    if not args.url.startswith(("http://", "https://")):
        raise UsageError(f"the URL must start with http:// or https://, not {args.url!r}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    try:
        examples = [parse_example(e) for e in args.example]
    except InferError as exc:
        raise UsageError(str(exc)) from None
    output = None if args.output == "-" else Path(args.output)
    if output is not None and output.exists() and not args.force:
        raise UsageError(f"{args.output!r} exists; pass --force to overwrite it (or --output - for standard output)")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"cannot write {args.output!r}: no directory {str(output.parent)!r}")
    headers = read_headers(args)
    redactor = Redactor()
    for value in headers.values():
        redactor.add_header_value(value)
    client = TokenServerClient(args.url, timeout=args.timeout, verify_tls=not args.insecure, headers=headers)
    try:
        result = infer(client, examples)
    except InferError as exc:
        raise UsageError(redactor.redact(str(exc))) from None
    finally:
        client.close()
    document = result.profile
    if args.name:
        document["name"] = args.name
    try:
        parse_profile(json.loads(json.dumps(document)), "the inferred profile")  # never write a file that would not load
    except ProfileError as exc:
        raise UsageError(f"{exc} (a bug of profile infer: please report it with the example)") from None
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output!r}: {exc.strerror}") from None
    where = "standard output" if output is None else str(output)
    lines = [f"profile {document['name']} written to {where}"]
    lines += [f"  found: {f}" for f in result.found]
    lines += [f"  not inferred: {n}" for n in result.notes]
    shown = "FILE" if output is None else str(output)
    lines.append(f"next: token-conformance profile show {shown}; token-conformance check --profile {shown} {args.url}")
    print(redactor.redact("\n".join(lines)), file=sys.stderr)
    return 0
