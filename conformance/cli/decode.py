"""``token-conformance decode``: show what a 006 / 007 token says, and whether it is genuine.

A person debugging a token server wants three answers from one command: what
the token carries (services, privileges, times in UTC and seconds left), whether
it was signed with their app certificate, and whether it is bound to the channel
and uid they asked for. Verification is done only when it can be done honestly:
006 signs the channel and uid without storing them, so it is checked only when
both are given, and the JSON says why when it is not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import zlib
from typing import Any

from ..certificate import read_certificate
from ._common import CERTIFICATE_ENV, UsageError, emit

# Late imports: every subcommand's module is imported to build `token-conformance --help`, so the codec
# (conformance.tokens) is imported in the functions that use it: at the top it would make --help 1.27x slower
# (farm-bench medians 0.35 s -> 0.45 s on this 2-vCPU machine).

#: A uid as token servers take it: canonical decimal, 0 .. 2^32-1. Anything else is a user account.
_UID = re.compile(r"0|[1-9][0-9]{0,9}")

NOT_CHECKED_006 = "not checked: 006 needs --channel and --uid"
NOT_CHECKED_NO_CERTIFICATE = f"not checked: no certificate (set {CERTIFICATE_ENV} or --certificate-file)"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "token", metavar="TOKEN",
        help="the token string, a whole JSON answer with the token under any key ({\"key\": \"006...\"}, "
        "{\"data\": {\"token\": \"007...\"}}), or '-' to read either from standard input",
    )
    parser.add_argument("--channel", metavar="C", help="the channel name the token was requested for")
    parser.add_argument(
        "--uid",
        metavar="U",
        help="the uid it was requested for: a decimal 0..4294967295 (0 packs as the empty string) "
        "or a user account; give it with --channel",
    )
    parser.add_argument(
        "--certificate-file",
        metavar="PATH",
        help=f"file holding the app certificate (else ${CERTIFICATE_ENV}); enables the signature check",
    )
    parser.add_argument(
        "--now", metavar="UNIX_TIME", type=float, help="count seconds remaining from this time instead of the clock"
    )
    parser.epilog = f"""\
Prints the decoded token as JSON: times as ISO 8601 UTC with seconds remaining.

With the app certificate (${CERTIFICATE_ENV}
or --certificate-file; never a command-line value) it adds "signature": "valid"
or "invalid". A 007 token is verified with the certificate alone. A 006 token
signs the channel and uid without storing them, so it is verified only with
--channel and --uid; without them the JSON says
  "signature": "{NOT_CHECKED_006}"
and that does not fail the command. With --channel and --uid it adds
"binds": true/false (007: the RTC service's channel and uid in clear; 006:
their CRC-32s), with or without a certificate; when false, "binding_mismatch"
names each field that differs.

Expiry is shown, not judged: an expired but genuine token exits 0.

Exit codes: 0 decoded (and valid / bound where checked), 1 invalid signature or
not bound to --channel/--uid, 2 not a token or bad usage (one line on stderr)."""


def uid_argument(text: str) -> int | str:
    """``--uid`` as the codec takes it: an int for a canonical decimal uid, else the account string."""
    if _UID.fullmatch(text) and int(text) < 2**32:
        return int(text)
    return text


def _read_token(arg: str) -> str:
    from ..tokens import MAX_TOKEN_CHARS

    if arg != "-":
        return _unwrap(arg)
    # One more than the codec accepts (plus room for a JSON wrapper), so an endless pipe costs a bounded
    # read and a clear error.
    text = sys.stdin.read(MAX_TOKEN_CHARS + 1024)
    if not text.strip():
        raise UsageError("no token on standard input")
    return _unwrap(text)


def _unwrap(text: str) -> str:
    """A token server's whole answer pasted as the token: the one token inside it, under any key, nested or not
    (``{"rtcToken": ...}``, ``{"key": ...}``, ``{"data": {"token": ...}}``)."""
    from ..tokens.find import find_tokens

    if not text.lstrip().startswith(("{", "[")):
        return text
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return text  # the codec says what is wrong with it
    found = find_tokens(body)
    if len({f.raw for f in found}) == 1:
        return found[0].raw
    if found:
        raise UsageError(f"a JSON body, but not one token in it ({len(found)} tokens: "
                         f"{', '.join(f.pointer for f in found)}): pass the token itself")
    # No string decodes: say what the keys that look like a token's hold (the codec's reason, or their kind).
    keyed = {k: v for k, v in body.items() if k.lower().endswith(("token", "key"))} if isinstance(body, dict) else {}
    strings = {k: v for k, v in keyed.items() if isinstance(v, str)}
    if len(strings) == 1:
        return next(iter(strings.values()))
    if strings:
        why = f"{len(strings)} token keys: {', '.join(sorted(strings))}"
    elif keyed:  # {"rtcToken": 5}: the key is there, its value is not a token string
        why = "; ".join(f"{k} is {_json_kind(v)}, not a string" for k, v in sorted(keyed.items()))
    else:
        why = "no string in it decodes as a 006 or 007 token"
    raise UsageError(f"a JSON body, but not one token in it ({why}): pass the token itself")


def _json_kind(value: Any) -> str:
    """A JSON value's kind, in JSON's words: 'a number (5)', 'null', 'an object'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return "an array" if isinstance(value, list) else "an object"


def binding_mismatches(token: Any, channel: str, uid: int | str) -> list[str]:
    """Each field that keeps ``token`` from binding to ``channel`` / ``uid``, said in words."""
    from ..tokens.model import uid_string

    uid_str = uid_string(uid)
    if token.version == "006":
        # 006 keeps only CRC-32s: which one differs is all that can be said.
        out = []
        if zlib.crc32(channel.encode("utf-8")) != token.crc_channel:
            out.append(f"channel: the token was not signed for {channel!r} (its channel CRC-32 differs)")
        if zlib.crc32(uid_str.encode("utf-8")) != token.crc_uid:
            out.append(f"uid: the token was not signed for {uid_str or '0'!r} (its uid CRC-32 differs)")
        return out
    rtc = token.rtc
    if rtc is None:
        return ["the token has no RTC service (no channel or uid to bind)"]
    out = []
    if rtc.channel != channel:
        out.append(f"channel: the token says {rtc.channel!r}, --channel says {channel!r}")
    if rtc.uid != uid_str:
        out.append(f"uid: the token says {rtc.uid!r}, --uid {uid} packs as {uid_str!r}")
    return out


def run(args: argparse.Namespace) -> int:
    from ..tokens import TokenError, decode, token_fields, verify

    if (args.channel is None) != (args.uid is None):
        raise UsageError("--channel and --uid go together: give both or neither")
    certificate = read_certificate(args.certificate_file)
    try:
        token = decode(_read_token(args.token))
    except TokenError as exc:
        raise UsageError(f"not a token: {exc}") from None

    now = time.time() if args.now is None else args.now
    out: dict[str, Any] = token_fields(token, now)
    ok = True
    if args.channel is not None:
        uid = uid_argument(args.uid)
        out["binds"] = token.binds(args.channel, uid)
        ok = out["binds"]
        if not ok:
            out["binding_mismatch"] = binding_mismatches(token, args.channel, uid)
    if certificate is None:
        out["signature"] = NOT_CHECKED_NO_CERTIFICATE
    elif token.version == "006" and args.channel is None:
        out["signature"] = NOT_CHECKED_006
    else:
        kwargs: dict[str, Any] = {} if token.version == "007" else {"channel": args.channel, "uid": uid_argument(args.uid)}
        valid = verify(token, certificate, **kwargs)
        out["signature"] = "valid" if valid else "invalid"
        ok = ok and valid
    emit(json.dumps(out, indent=2, ensure_ascii=False))
    return 0 if ok else 1
