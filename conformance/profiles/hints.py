"""What an answer that carries no token looks like, and what to try: the hint detect, ``check`` (when the profile's
route answers no token) and ``profile infer`` print, in one wording.

Here, among the profiles, because it reads an answer the way a profile does (its token pointer) and names the
profile options to try; detect, the plugin and infer import it from below.
"""

from __future__ import annotations

import re

from ..client import Exchange
from ..tokens import TokenError, decode
from .model import resolve_pointer

#: What a user whose server no bundled profile fits does next (every hint that says so says it the same way).
WRITE_A_PROFILE = ("write a profile of your own (--profile FILE; 'token-conformance profile infer URL --example "
                   "\"GET /path?channel=c&uid=42\"' writes one from a request that works)")

_PROXY_WORDS = re.compile(r"bad gateway|gateway time-?out|service unavailable|nginx|cloudflare|envoy|haproxy|"
                          r"upstream|proxy error|varnish|traefik", re.IGNORECASE)


def non_token_hint(ex: Exchange, key: str = "rtcToken", *, detecting: bool = False,
                   credentials: bool = False) -> str | None:
    """What a non-token answer looks like and what to try; None when ``ex`` carries a token under ``key``.

    ``key`` is a top-level key or a JSON pointer (the profile's token pointer; ``""``: the whole body is the token).

    The advice must fit where it is printed: ``detecting`` (detect, --profile auto) never suggests
    --profile auto, and ``credentials`` (headers were configured) never asks for credentials that were sent.
    """
    if ex.error:
        return f"nothing answered ({ex.error}): check the URL and that the server is running"
    status, ctype, text = ex.status, ex.content_type.lower(), ex.text.lstrip()[:2000]
    if status in (401, 403) and credentials:
        return (f"a login wall ({status}) that refuses the configured credentials: check their values "
                "(--header, $TOKEN_SERVER_HEADERS or --header-file)")
    if status in (401, 403):
        return (f"a login wall ({status}): the server wants credentials; pass them with --header 'Name: value' "
                "(or $TOKEN_SERVER_HEADERS / --header-file)")
    if status in (502, 503, 504) or (status and status >= 500 and _PROXY_WORDS.search(text)):
        return (f"a proxy error page ({status}{': ' + _title(text) if _title(text) else ''}): the proxy answers, "
                "the token server behind it does not; check the upstream")
    body = ex.json_or_none()
    pointer = key if key.startswith("/") or key == "" else "/" + key
    shown_key = key.lstrip("/") if pointer.count("/") == 1 else pointer or "the whole body"
    if status == 200 and pointer == "" and text.strip():
        # A raw-token profile: the body is the token (text/plain, text/html).
        try:
            decode(ex.text.strip())
            return None
        except TokenError:
            pass
    if status == 200 and isinstance(body, dict):
        try:
            value = resolve_pointer(body, pointer)
        except KeyError:
            value = None
        key = shown_key
        if isinstance(value, str) and value:
            try:
                decode(value)
            except TokenError as exc:
                shown = value if len(value) <= 24 else value[:20] + "…"
                return (f"a value under {key!r} that is not a token ({shown!r} does not decode: {exc}): the route is right, "
                        "the token builder behind it is not; check how the server builds its tokens")
            return None
        tokens = [k for k, v in body.items() if isinstance(v, str) and v.startswith(("006", "007"))]
        if tokens:
            return (f"a token under {tokens[0]!r} instead of {key!r}: another server family; "
                    + WRITE_A_PROFILE)
    if "html" in ctype or text[:15].lower().startswith(("<!doctype", "<html")):
        title = _title(text)
        return (f"an HTML page ({status}{', ' + repr(title) if title else ''}): a web site, not a token API; "
                "check the base URL (a path prefix such as /api or /token?)")
    if isinstance(body, dict):
        keys = ", ".join(list(body)[:6])
        if detecting:
            return (f"another JSON API ({status}, keys: {keys or 'none'}): no bundled profile's route; check the base "
                    "URL, or " + WRITE_A_PROFILE)
        return (f"another JSON API ({status}, keys: {keys or 'none'}): not the profile's route; check the base URL "
                "and --profile (or try --profile auto)")
    if status == 404 and detecting:
        return ("no such route (404): no bundled profile's RTC route is served here; check the base URL, or "
                + WRITE_A_PROFILE)
    if status == 404:
        return "no such route (404): the profile's RTC route is not served here; check the base URL and --profile"
    return f"an answer that is not a token ({ex.summary(120)}); check the base URL and --profile"


def _title(text: str) -> str:
    m = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if m:
        return " ".join(m.group(1).split())[:80]
    m = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", "", m.group(1)).split())[:80] if m else ""
