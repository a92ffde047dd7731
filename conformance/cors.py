"""The Fetch standard's CORS check, for the request a web app sends to fetch its token (HEADER-5).

Pure functions over status codes and headers: the suite sends the requests, this module says, as the Fetch
standard (https://fetch.spec.whatwg.org/, "CORS protocol", "CORS-preflight fetch", "CORS check") would, whether
a page at a given origin may read the answer, and if not, which step refused it, in a web developer's words.

The app's ``fetch()`` sends its credential in a header (Authorization, an API key), never cookies, so its
credentials mode is the default "same-origin": cross-origin, no cookies are sent and ``*`` is an acceptable
Access-Control-Allow-Origin and Access-Control-Allow-Methods. ``Access-Control-Allow-Headers: *`` still never
covers ``Authorization`` (a "CORS non-wildcard request-header name"), whatever the credentials mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Methods a browser sends without a preflight (Fetch: CORS-safelisted method).
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
#: Content types a browser sends without a preflight (Fetch: CORS-safelisted request-header, Content-Type).
SAFELISTED_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
#: Header names that may be safelisted, depending on their value (Fetch: CORS-safelisted request-header).
SAFELISTED_NAMES = frozenset({"accept", "accept-language", "content-language", "content-type"})
#: The one header name Access-Control-Allow-Headers: * never covers (Fetch: CORS non-wildcard request-header name).
NON_WILDCARD_HEADERS = frozenset({"authorization"})
#: The port a URL without one means (RFC 9110 4.2): an origin leaves it out, two URLs that differ only by it are one.
DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(ValueError):
    """A --web-origin that is not an origin (one line: what is wrong and what an origin looks like)."""


def parse_origin(text: str) -> str:
    """``text`` as a serialized origin (``scheme://host[:port]``, lower-case, default port left out).

    A path, query, fragment or user name makes it a URL, not an origin: refused, because the browser sends only
    the origin and a server compares exactly that.
    """
    value = text.strip()
    example = "e.g. https://app.example.com or http://localhost:5173"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise OriginError(f"--web-origin {text!r} is not an origin ({example})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OriginError(f"--web-origin {text!r} is not an origin: it needs http:// or https:// and a host ({example})")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in value or "#" in value:
        raise OriginError(f"--web-origin {text!r} is not an origin: leave out the path, query and fragment; "
                          f"browsers send only scheme://host[:port] ({example})")
    if parts.username is not None or parts.password is not None:
        raise OriginError(f"--web-origin {text!r} is not an origin: no user name or password ({example})")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown_port = "" if port is None or port == DEFAULT_PORTS[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def parse_origins(values: Iterable[str]) -> tuple[str, ...]:
    """Every origin parsed (OriginError on the first bad one), duplicates dropped, order kept."""
    return tuple(dict.fromkeys(parse_origin(v) for v in values))


def _is_safelisted(name: str, value: str) -> bool:
    """Fetch's CORS-safelisted request-header, for the names an app may configure (value rules simplified to
    what matters for a token request: the Content-Type essence and the 128-byte limit)."""
    lower = name.lower()
    if lower not in SAFELISTED_NAMES or len(value.encode("utf-8")) > 128:
        return False
    if lower == "content-type":
        return value.split(";", 1)[0].strip().lower() in SAFELISTED_CONTENT_TYPES
    return True


def unsafe_header_names(headers: Mapping[str, str]) -> list[str]:
    """Fetch's CORS-unsafe request-header names: lower-cased, sorted, what Access-Control-Request-Headers lists."""
    return sorted({name.lower() for name, value in headers.items() if not _is_safelisted(name, value)})


def needs_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a browser sends a preflight first: a method other than GET/HEAD/POST, or a non-safelisted header."""
    return method.upper() not in SAFELISTED_METHODS or bool(unsafe_header_names(headers))


def header_list(value: str | None) -> list[str]:
    """Fetch's "extracting header list values": comma-separated, trimmed, empty items dropped."""
    if value is None:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class BrowserRefusal:
    """Why a browser refuses: the step and what to fix, worded for whoever configures the server."""

    step: str
    problem: str
    #: Set when the refusal rests on the rule that '*' never covers Authorization (Chromium lets it through).
    wildcard: bool = False


def origin_problem(origin: str, acao: str | None, where: str) -> str | None:
    """Whether Access-Control-Allow-Origin lets a page at ``origin`` read the answer (credentials mode not include)."""
    if acao is None or not acao.strip():
        return (f"{where} has no Access-Control-Allow-Origin, so the browser hides it from the page at {origin}; "
                f"send Access-Control-Allow-Origin: {origin} (or *)")
    value = acao.strip()
    if value in ("*", origin):
        return None
    if "," in value or " " in value:
        return (f"{where} says Access-Control-Allow-Origin: {acao}: browsers accept exactly one origin there; answer "
                f"the request's Origin ({origin}) when it is on your list")
    return (f"{where} allows the origin {value}, not {origin}: browsers compare scheme, host and port exactly "
            f"(http vs https, www vs apex, staging vs production); add {origin} to the allowed origins")


def check_preflight(origin: str, method: str, unsafe: list[str], status: int, headers: Mapping[str, str],
                    *, credentials: bool) -> BrowserRefusal | None:
    """Fetch's CORS-preflight fetch, on its answer: ok status, the origin, the method, every unsafe header."""
    step = "preflight"
    if 300 <= status < 400:
        return BrowserRefusal(step, f"the preflight was redirected ({status}): browsers refuse a redirected preflight; "
                              "answer OPTIONS at the token URL itself with 204 and the CORS headers")
    if not 200 <= status < 300:
        if status in (401, 403) and credentials:
            why = (f"the preflight was refused with {status}: browsers never send {', '.join(_shown(unsafe))} on a "
                   "preflight; exempt OPTIONS from authentication")
        elif status == 403:
            why = f"the preflight was refused with 403: the server does not allow {origin}; add it to the allowed origins"
        elif status in (404, 405, 501):
            why = (f"the preflight was answered {status}: the server does not answer OPTIONS on the token route; "
                   "answer it with 204 and the CORS headers")
        else:
            why = f"the preflight was answered {status}, not 2xx: browsers stop there and never send the token request"
        return BrowserRefusal(step, why)
    problem = origin_problem(origin, headers.get("access-control-allow-origin"), "the preflight's answer")
    if problem:
        return BrowserRefusal(step, problem)
    methods = header_list(headers.get("access-control-allow-methods"))
    if method not in SAFELISTED_METHODS and method not in methods and "*" not in methods:
        shown = headers.get("access-control-allow-methods")
        return BrowserRefusal(step, f"the preflight does not allow the method {method} (Access-Control-Allow-Methods: "
                              f"{shown if shown is not None else 'absent'}); add {method}")
    allowed = [h.lower() for h in header_list(headers.get("access-control-allow-headers"))]
    shown_h = headers.get("access-control-allow-headers")
    shown_h = "absent" if shown_h is None else shown_h
    for name in unsafe:
        if name in allowed:
            continue
        if "*" in allowed and name not in NON_WILDCARD_HEADERS:
            continue
        if "*" in allowed:
            return BrowserRefusal(
                step, f"the preflight allows headers with '*' (Access-Control-Allow-Headers: {shown_h}), "
                f"which the Fetch standard never lets cover {title_case(name)}; list {title_case(name)} by name "
                "(Firefox and Safari block the request)", wildcard=True)
        return BrowserRefusal(
            step, f"the preflight does not allow the header {title_case(name)} (Access-Control-Allow-Headers: "
            f"{shown_h}); add {title_case(name)} to Access-Control-Allow-Headers")
    return None


def check_answer(origin: str, headers: Mapping[str, str], *, preflighted: bool = True) -> BrowserRefusal | None:
    """Fetch's CORS check on the token answer itself (after a preflight that passed, when one was sent)."""
    problem = origin_problem(origin, headers.get("access-control-allow-origin"), "the token answer")
    if problem and preflighted and not (headers.get("access-control-allow-origin") or "").strip():
        problem += " on the token answer too, not only on the preflight"
    return BrowserRefusal("answer", problem) if problem else None


def title_case(name: str) -> str:
    """``authorization`` as people write it: ``Authorization``; ``x-api-key`` as ``X-Api-Key``."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _shown(names: list[str]) -> list[str]:
    return [title_case(n) for n in names] or ["credentials"]
