"""``profile infer``: a profile written from one or two example requests that work.

A user who has one working curl line should not have to learn the profile format to be judged. The example
request is sent, the token is found wherever the answer puts it (any string that decodes as 006 / 007, or the
whole text body), and each request value is matched against what the token says:

- **channel**: the value the token is bound to (007 stores it; 006 only its CRC-32, which is compared);
- **uid**: likewise (0 packs as the empty string); when no request value is the token's uid, the server chose
  it: the answer's value that is that uid becomes the ``uid`` pointer (or, without one, the uid is only in the
  token);
- **role**: two examples that differ in one value and whose tokens grant different privileges (the publisher
  one can publish) name the role field and both words, with their JSON types (``true`` / ``false``); with one
  example, a field that looks like a role (``role=publisher``, ``"isPublisher": true``) is asked once more with
  its counterpart, and only a token with the other privileges makes it the role;
- **lifetime**: a numeric value equal to the token's lifetime in seconds, minutes or hours is ``{expiry}``
  in that unit; otherwise the lifetime is fixed and written as measured (expiry minus issue time);

plus the token version, the success status and a health route that answers (``/health``, ``/healthz``,
``/ping``, ``/``). Whatever could not be told is listed in the profile's ``$comment`` and in
:attr:`Inference.notes`, so the user knows what to check. Nothing here prints: the CLI is a thin layer.
"""

from __future__ import annotations

import email.utils
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ..client import Exchange, TokenServerClient
from ..tokens import PUBLISHER_PRIVILEGES, Token
from ..tokens.find import FoundToken, find_tokens, pointer_part, try_decode
from .hints import non_token_hint
from .model import UNITS, resolve_pointer

EXAMPLE_FORMAT = "'METHOD PATH[?QUERY] [JSON BODY]'"
EXAMPLE_EXAMPLES = "'GET /token?channel=c&uid=0' or 'POST /api/token {\"channel\": \"c\", \"uid\": 0}'"
METHODS = ("GET", "POST", "PUT")
#: Health routes tried, most specific first (a web page at / is the weakest evidence of a health check).
HEALTH_ROUTES = ("/health", "/healthz", "/ping", "/")
#: Seconds a lifetime measured against a clock (006 tokens carry no issue time) may be off by.
MEASURE_TOLERANCE = 3
#: A role field's other value, for one example: the words public token servers use, most common first.
ROLE_COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "publisher": ("subscriber", "audience"), "subscriber": ("publisher", "host"),
    "host": ("audience", "subscriber"), "broadcaster": ("audience", "subscriber"),
    "audience": ("host", "publisher", "broadcaster"), "PUBLISHER": ("SUBSCRIBER", "AUDIENCE"),
    "SUBSCRIBER": ("PUBLISHER",), "true": ("false",), "false": ("true",), "1": ("2",), "2": ("1",),
}
#: Lifetime fields public token servers take, tried (in the example's query, or its JSON body) when no value of the
#: example matches the token's lifetime: a server that reads its lifetime only when it is sent is not fixed.
LIFETIME_NAMES = ("expiry", "expire", "expireTime", "expiresIn", "expirationTimeInSeconds", "expireSeconds", "ttl")
#: The lifetime asked for by those probes (seconds, minutes or hours: whichever the token then follows).
PROBE_LIFETIME = 600
_ROLE_NAMES = ("role", "publisher", "host", "broadcaster", "audience", "subscriber")
_UID_NAMES = ("uid", "userid", "user_id")


class InferError(Exception):
    """Why no profile could be inferred: one line for the user (unreachable, no token, a bad example)."""


@dataclass(frozen=True)
class Example:
    """One example request as the user wrote it: ``GET /token?channel=c&uid=0`` or ``POST /t {"channel": "c"}``."""

    method: str
    #: Path segments, percent-decoded ("" for the empty ones around slashes).
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    body: dict[str, Any] | None
    text: str

    @property
    def path(self) -> str:
        return "/".join(quote(s, safe="") for s in self.segments)

    @property
    def target(self) -> str:
        """Path and query string, as sent."""
        return self.path + ("?" + urlencode(self.query, quote_via=quote) if self.query else "")

    def line(self) -> str:
        return f"{self.method} {self.target}" + (f" {json.dumps(self.body, ensure_ascii=False)}" if self.body is not None else "")


def parse_example(text: str) -> Example:
    """An :class:`Example` from ``METHOD PATH[?QUERY] [JSON BODY]``; :class:`InferError` says what the format is."""
    parts = text.strip().split(None, 2)
    usage = f"--example {text!r} is not {EXAMPLE_FORMAT}, e.g. {EXAMPLE_EXAMPLES}"
    if len(parts) < 2:
        raise InferError(usage)
    method, target = parts[0].upper(), parts[1]
    if method not in METHODS:
        raise InferError(f"{usage}: the method must be one of {', '.join(METHODS)}, not {parts[0]!r}")
    if target.startswith(("http://", "https://")):
        split = urlsplit(target)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    if not target.startswith("/") or "#" in target:
        raise InferError(f"{usage}: the path must start with '/' (the server's URL is the first argument)")
    path, _, query = target.partition("?")
    body: dict[str, Any] | None = None
    if len(parts) == 3:
        try:
            parsed = json.loads(parts[2])
        except json.JSONDecodeError as exc:
            raise InferError(f"{usage}: the body is not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(parsed, dict):
            raise InferError(f"{usage}: the body must be a JSON object")
        body = parsed
        if method == "GET":
            raise InferError(f"{usage}: a GET request carries no body (use POST, or put the values in the query)")
    segments = tuple(unquote(s) for s in path.split("/"))
    return Example(method, segments, tuple(parse_qsl(query, keep_blank_values=True)), body, text.strip())


# --- slots: every value of a request, and where it is ------------------------------------------------------

#: A slot is where a value sits: ("path", index), ("query", name) or ("body", key, key, ...).
Slot = tuple[Any, ...]


def slots(example: Example) -> dict[Slot, Any]:
    """Every value of the request by its place (body values keep their JSON type; nested objects are walked)."""
    out: dict[Slot, Any] = {}
    for n, seg in enumerate(example.segments):
        if seg:
            out[("path", n)] = seg
    for name, value in example.query:
        out[("query", name)] = value

    def walk(value: Any, where: tuple[str, ...]) -> None:
        if isinstance(value, dict) and where:
            for k, v in value.items():
                walk(v, (*where, k))
        elif where:
            slot: Slot = ("body", *where)
            out[slot] = value

    for key, value in (example.body or {}).items():
        walk(value, (key,))
    return out


def slot_name(slot: Slot) -> str:
    """How notes name a slot: ``query parameter 'uid'``, ``body field 'data.role'``, ``path segment 3``."""
    if slot[0] == "path":
        return f"path segment {slot[1]}"
    if slot[0] == "query":
        return f"query parameter {slot[1]!r}"
    return f"body field {'.'.join(slot[1:])!r}"


def _key(slot: Slot) -> str:
    return str(slot[-1]).lower() if slot[0] != "path" else ""


def _text(value: Any) -> str | None:
    """A value as a channel or uid could be: text, or a whole JSON number's digits; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# --- what one answer says -------------------------------------------------------------------------------------


@dataclass
class Observation:
    """One example sent: the exchange, the token found in it and where, and what the token says."""

    example: Example
    exchange: Exchange
    found: FoundToken
    #: The answer parsed as JSON (None for a text body).
    document: Any
    #: When the answer was received (unix time), for 006 tokens, which carry no issue time.
    received: float
    #: Other tokens in the same answer (an RTE answer), by pointer.
    others: list[str] = field(default_factory=list)

    @property
    def token(self) -> Token:
        return self.found.token

    @property
    def role(self) -> str:
        """``publisher`` when the token grants any publish privilege, else ``subscriber``."""
        rtc = self.token.rtc
        names = rtc.privilege_names if rtc is not None else frozenset()
        return "publisher" if names & (PUBLISHER_PRIVILEGES - {"join_channel"}) else "subscriber"

    def binds_channel(self, text: str) -> bool:
        tok = self.token
        if tok.version == "006":
            return zlib.crc32(text.encode("utf-8")) == tok.crc_channel
        return tok.rtc is not None and tok.rtc.channel == text

    def binds_uid(self, text: str) -> bool:
        """Whether the token is bound to uid ``text`` (a decimal also as it packs: 0 is the empty string)."""
        forms = {text}
        if text.isdigit() and int(text) < 2**32:
            forms.add("" if int(text) == 0 else str(int(text)))
        tok = self.token
        if tok.version == "006":
            return any(zlib.crc32(f.encode("utf-8")) == tok.crc_uid for f in forms)
        return tok.rtc is not None and tok.rtc.uid in forms

    @property
    def token_uid(self) -> str | None:
        """The uid a 007 token is bound to, as text ("0" for the empty string); None for 006 (only a CRC)."""
        if self.token.version == "006" or self.token.rtc is None:
            return None
        return self.token.rtc.uid or "0"

    def lifetime(self) -> tuple[int, bool] | None:
        """(seconds the token's privileges last from its issue, measured?): 007 exactly; 006 against the answer's
        Date (or the clock at receipt), rounded to whole minutes within a few seconds. None: no expiry."""
        tok = self.token
        end = tok.earliest_privilege_expiry()
        if end is None:
            return None
        if tok.issue_ts is not None:
            return end - tok.issue_ts, False
        base = self.received
        try:
            parsed = email.utils.parsedate_to_datetime(self.exchange.headers.get("date", ""))
        except (TypeError, ValueError):  # no Date, or not an HTTP date: the clock at receipt
            parsed = None
        if parsed is not None and parsed.tzinfo is not None and abs(parsed.timestamp() - self.received) < 300:
            base = parsed.timestamp()
        seconds = round(end - base)
        minute = round(seconds / 60) * 60
        return (minute if abs(seconds - minute) <= MEASURE_TOLERANCE else seconds), True


def find_token(exchange: Exchange) -> tuple[FoundToken, Any, list[str]] | None:
    """The RTC token of an answer (any JSON string that decodes, else the whole text body), the parsed body, and
    the pointers of any other tokens in it; None when there is none."""
    if exchange.error or exchange.status is None or not 200 <= exchange.status < 300:
        return None
    document = exchange.json_or_none()
    found = find_tokens(document) if document is not None else []
    if not found:
        token = try_decode(exchange.text)
        if token is None:
            return None
        return FoundToken("", exchange.text.strip(), token), None, []
    rtc = [f for f in found if f.token.rtc is not None] or found
    chosen = rtc[0]
    return chosen, document, [f.pointer for f in found if f.pointer != chosen.pointer]


def _scalars(document: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """Every number and string of a JSON document, with its pointer."""
    if isinstance(document, dict):
        return [x for k, v in document.items() for x in _scalars(v, f"{pointer}/{pointer_part(k)}")]
    if isinstance(document, list):
        return [x for n, v in enumerate(document) for x in _scalars(v, f"{pointer}/{n}")]
    if isinstance(document, (str, int)) and not isinstance(document, bool):
        return [(pointer, document)]
    return []


# --- the inference ----------------------------------------------------------------------------------------


@dataclass
class Inference:
    """The inferred profile document, what was found (for the user) and what could not be inferred."""

    profile: dict[str, Any]
    found: list[str]
    notes: list[str]
    observations: list[Observation]


class _Inferrer:
    def __init__(self, client: TokenServerClient, examples: list[Example]) -> None:
        self.client = client
        self.examples = examples
        self.found: list[str] = []
        self.notes: list[str] = []

    # sending ---------------------------------------------------------------------------------------------

    def send(self, example: Example) -> Exchange:
        return self.client.request(example.method, example.target, json_body=example.body)

    def observe(self, example: Example, *, required: bool = True) -> Observation | None:
        ex = self.send(example)
        received = time.time()
        if ex.error and required:
            raise InferError(ex.error if self.client.base_url in ex.error else f"cannot reach {self.client.base_url}: {ex.error}")
        hit = find_token(ex)
        if hit is None:
            if not required:
                return None
            raise InferError(f"{example.line()} answered no token ({ex.summary(160)})" + _hint(ex, self.client))
        found, document, others = hit
        return Observation(example, ex, found, document, received, others)

    # matching ----------------------------------------------------------------------------------------------

    def run(self) -> Inference:
        observations = [self.observe(e) for e in self.examples]
        obs = [o for o in observations if o is not None]
        first = obs[0]
        layout = self._layout(obs)
        mapping: dict[Slot, str] = {}
        self._channel(obs, layout, mapping)
        uid_pointer = self._uid(obs, layout, mapping)
        role_words = self._role(obs, layout, mapping)
        expiry = self._expiry(obs, layout, mapping)
        version = first.token.version
        if len({o.token.version for o in obs}) > 1:
            self.notes.append(f"the examples' tokens have different versions ({', '.join(o.token.version for o in obs)}); "
                              f"token_version is the first's, {version}")
        self.found.append(f"token version {version}, at {_pointer_text(first.found.pointer)}")
        if first.others:
            self.notes.append(f"the answer carries other tokens too ({', '.join(first.others)}): only the RTC token "
                              f"at {_pointer_text(first.found.pointer)} is described; add an 'rte' operation by hand")
        rtc = self._operation(first, mapping, role_words, uid_pointer)
        operations: dict[str, Any] = {"rtc": rtc}
        health = self._health(first.example)
        if health is not None:
            operations["health"] = health
        self.notes.append("account tokens (string user accounts): the profile asks for tokens by numeric uid only; "
                          "add token_types.userAccount and a {tokentype} field if your server issues them")
        profile = self._document(version, role_words, expiry, operations)
        return Inference(profile, self.found, self.notes, obs)

    def _layout(self, obs: list[Observation]) -> dict[Slot, list[Any]]:
        """Every slot with its value in each example; examples of different request shapes are refused."""
        shapes = [(o.example.method, len(o.example.segments), tuple(slots(o.example))) for o in obs]
        if len(set(shapes)) > 1:
            raise InferError("the examples are different requests (method, path segments or fields differ): "
                             "give examples of one request that differ only in values, e.g. the role")
        return {slot: [slots(o.example)[slot] for o in obs] for slot in slots(obs[0].example)}

    def _pick(self, candidates: list[Slot], what: str, names: tuple[str, ...]) -> Slot | None:
        if len(candidates) > 1:
            named = [s for s in candidates if any(n in _key(s) for n in names)]
            chosen = named[0] if len(named) == 1 else candidates[0]
            self.notes.append(f"several values match the {what} ({', '.join(slot_name(s) for s in candidates)}); "
                              f"{slot_name(chosen)} was taken: give distinct values to make it certain")
            return chosen
        return candidates[0] if candidates else None

    def _channel(self, obs: list[Observation], layout: dict[Slot, list[Any]], mapping: dict[Slot, str]) -> None:
        candidates = [s for s, values in layout.items()
                      if all((t := _text(v)) is not None and o.binds_channel(t) for o, v in zip(obs, values, strict=True))]
        slot = self._pick(candidates, "channel", ("channel",))
        if slot is None:
            raise InferError("no value of the example is the channel the token is bound to "
                             f"({_channel_text(obs[0].token)}): is the example the request that answered it?")
        mapping[slot] = "channel"
        self.found.append(f"channel: {slot_name(slot)}")

    def _uid(self, obs: list[Observation], layout: dict[Slot, list[Any]], mapping: dict[Slot, str]) -> str | None:
        """Maps the uid slot; returns the pointer to the uid the server chose, when it does."""
        free = [s for s in layout if s not in mapping]
        candidates = [s for s in free
                      if all((t := _text(v)) is not None and o.binds_uid(t)
                             for o, v in zip(obs, layout[s], strict=True))]
        slot = self._pick(candidates, "uid", _UID_NAMES)
        if slot is not None:
            mapping[slot] = "uid"
            self.found.append(f"uid: {slot_name(slot)}")
            return None
        pointer = self._answered_uid(obs)
        zero = [s for s in free if any(n in _key(s) for n in _UID_NAMES)
                and all(_number(v) == 0 for v in layout[s])]
        if zero:  # uid 0 asked, another one bound: the server chooses for 0 ("any user")
            mapping[zero[0]] = "uid"
            self.found.append(f"uid: {slot_name(zero[0])}; asked for uid 0, the server chose one"
                              + (f" and names it at {pointer}" if pointer else ""))
            return pointer
        where = f"the answer names it at {pointer}" if pointer else (
            "the answer does not name it: it is only in the token"
            + (" (006 keeps only its CRC-32)" if obs[0].token.version == "006" else ""))
        self.found.append(f"uid: chosen by the server (the request sends none); {where}")
        if pointer is None:
            self.notes.append("the uid is chosen by the server and not named in the answer: the binding can be judged "
                              "only by the token" + (" (006: by the signature, with the certificate)"
                                                      if obs[0].token.version == "006" else ""))
        return pointer

    def _answered_uid(self, obs: list[Observation]) -> str | None:
        """The pointer at which every answer names the uid its token is bound to."""
        first = obs[0]
        if first.document is None:
            return None
        for pointer, value in _scalars(first.document):
            if pointer == first.found.pointer or pointer in first.others:
                continue
            text = _text(value)
            if text is None or not text.isdigit():
                continue
            if all(_at(o.document, pointer) is not None and o.binds_uid(str(_at(o.document, pointer))) for o in obs):
                return pointer
        return None

    def _role(self, obs: list[Observation], layout: dict[Slot, list[Any]], mapping: dict[Slot, str]) -> dict[str, Any]:
        """Maps the role slot (when there is one) and returns the role words: one, when the server takes none."""
        roles = {o.role for o in obs}
        differing = [s for s in layout if s not in mapping and len({json.dumps(v) for v in layout[s]}) > 1]
        if len(roles) == 2:
            for slot in differing:
                words: dict[str, Any] = {}
                if all(words.setdefault(o.role, v) == v for o, v in zip(obs, layout[slot], strict=True)) and len(
                        {json.dumps(w) for w in words.values()}) == 2:
                    mapping[slot] = "role"
                    self.found.append(f"role: {slot_name(slot)} (publisher {json.dumps(words['publisher'])}, "
                                      f"subscriber {json.dumps(words['subscriber'])})")
                    return {"publisher": words["publisher"], "subscriber": words["subscriber"]}
            self.notes.append("the examples' tokens grant different privileges, but no one value differs with them: "
                              "the role field could not be told; give two examples that differ only in the role")
        elif differing:
            self.notes.append(f"{', '.join(slot_name(s) for s in differing)} differ between the examples, but the tokens "
                              f"grant the same privileges ({obs[0].role}): not a role; the first example's value is kept")
        if len(obs) == 1:
            probed = self._probe_role(obs[0], layout, mapping)
            if probed is not None:
                return probed
        role = obs[0].role
        if len(obs) == 1:
            self.notes.append("one example only: the role field could not be told from the others; give a second "
                              f"--example with the other role (the {role} example's tokens only were seen, so the "
                              f"profile says the server issues {role} tokens only)")
        else:
            self.notes.append(f"every example's token is a {role} token: the profile says the server takes no role "
                              f"and always issues {role} tokens")
        self.found.append(f"role: no role input; the server issues {role} tokens")
        return {role: role}

    def _probe_role(self, ob: Observation, layout: dict[Slot, list[Any]],
                    mapping: dict[Slot, str]) -> dict[str, Any] | None:
        """One example: a value that looks like a role, asked once more with each counterpart until one gives the
        other role's token."""
        for slot, (value,) in layout.items():
            if slot in mapping:
                continue
            tried = []
            for other in _counterparts(slot, value):
                answer = self.observe(_replace(ob.example, slot, other), required=False)
                if answer is not None and answer.role != ob.role:
                    mapping[slot] = "role"
                    words = {ob.role: value, answer.role: other}
                    self.found.append(f"role: {slot_name(slot)} (publisher {json.dumps(words['publisher'])}, "
                                      f"subscriber {json.dumps(words['subscriber'])}; the other value found by "
                                      "asking with it)")
                    return {"publisher": words["publisher"], "subscriber": words["subscriber"]}
                tried.append(f"{json.dumps(other)}: " + ("no token" if answer is None else "the same privileges"))
            if tried:
                self.notes.append(f"{slot_name(slot)} looks like a role, but asked with another value the server "
                                  f"answered {'; '.join(tried)}: not taken as the role")
        return None

    def _expiry(self, obs: list[Observation], layout: dict[Slot, list[Any]],
                mapping: dict[Slot, str]) -> dict[str, Any] | None:
        lifetimes = [lt for lt in (o.lifetime() for o in obs) if lt is not None]
        if len(lifetimes) < len(obs):
            self.notes.append("the token never expires: no lifetime could be inferred (EXPIRY-2 will say so)")
            return None
        measured = any(m for _, m in lifetimes)
        seconds = [s for s, _ in lifetimes]
        tolerance = MEASURE_TOLERANCE if measured else 0
        for unit in ("seconds", "minutes", "hours"):
            factor = UNITS[unit]
            for slot, values in layout.items():
                if slot in mapping:
                    continue
                numbers = [_number(v) for v in values]
                if all(n is not None and n > 0 and abs(n * factor - s) <= tolerance
                       for n, s in zip(numbers, seconds, strict=True)):
                    if len(set(numbers)) == 1 and not self._follows(obs[0], slot, numbers[0] or 0, factor, tolerance):
                        continue
                    mapping[slot] = "expiry"
                    self.found.append(f"lifetime: {slot_name(slot)}, in {unit} ({values[0]} -> {seconds[0]} s)")
                    expiry = {"unit": unit, "default": self._default_lifetime(obs[0], slot, factor)}
                    expiry.update(self._limits(obs[0], slot, factor, numbers[0] or 1))
                    return expiry
        probed = self._probe_lifetime(obs, seconds[0], tolerance)
        if probed is not None:
            slot, factor, unit = probed
            mapping[slot] = "expiry"
            expiry = {"unit": unit, "default": self._default_lifetime(obs[0], slot, factor)}
            expiry.update(self._limits(obs[0], slot, factor, PROBE_LIFETIME))
            return expiry
        if len(set(seconds)) > 1 and not measured:
            self.notes.append(f"the tokens' lifetimes differ ({', '.join(map(str, seconds))} s) but no request value "
                              "matches them: the lifetime written is the first example's")
        how = "measured against the answer's Date, the token carries no issue time" if measured else "the token's expiry minus its issue time"
        self.found.append(f"lifetime: fixed, {seconds[0]} s ({how}); no request value asks for it")
        hinted = [s for s in layout if s not in mapping and any(n in _key(s) for n in ("exp", "ttl", "lifetime", "valid"))]
        if not hinted:
            self.notes.append("no request value asks for a lifetime, so the profile says it is fixed; if your server "
                              "takes one, put it in the example (a value equal to the token's lifetime is recognised)")
        else:
            self.notes.append(f"{', '.join(slot_name(s) for s in hinted)} looks like a lifetime but does not match the "
                              f"token's ({seconds[0]} s): kept as a constant, the lifetime taken as fixed")
        return {"unit": "seconds", "default": seconds[0]}

    def _probe_lifetime(self, obs: list[Observation], seconds: int,
                        tolerance: int) -> tuple[Slot, int, str] | None:
        """A lifetime field the example did not send (``?expiry=600``, ``{"expireTime": 600}``), found by asking
        with each usual name: the first whose token then lives that long (in s, min or h). Every example gains the
        field, so the profile places it; None when the server follows none (its lifetime is fixed)."""
        first = obs[0].example
        asked = PROBE_LIFETIME if abs(PROBE_LIFETIME - seconds) > tolerance else PROBE_LIFETIME * 2
        taken = {_key(s) for s in slots(first)}
        for name in LIFETIME_NAMES:
            if name.lower() in taken:
                continue
            answer = self.observe(_with_field(first, name, asked), required=False)
            lifetime = answer.lifetime() if answer is not None else None
            if lifetime is None:
                continue
            for unit in ("seconds", "minutes", "hours"):
                factor = UNITS[unit]
                if abs(lifetime[0] - asked * factor) <= tolerance:
                    slot: Slot = ("body", name) if first.body is not None else ("query", name)
                    for ob in obs:
                        ob.example = _with_field(ob.example, name, PROBE_LIFETIME)
                    self.found.append(f"lifetime: {slot_name(slot)}, in {unit}, not in the example (asked with "
                                      f"{asked}, the token lived {lifetime[0]} s)")
                    return slot, factor, unit
        return None

    def _follows(self, ob: Observation, slot: Slot, n: int, factor: int, tolerance: int) -> bool:
        """Whether the lifetime follows the value at ``slot`` (asked once more with another value): a constant that
        happens to equal the lifetime (``?v=1`` and a fixed hour) is not the lifetime. A refusal proves nothing
        either way; the match stands."""
        other = n * 2 if n * 2 * factor <= 86400 else max(1, n // 2)
        if other == n:
            return True
        value: Any = other if isinstance(slots(ob.example)[slot], int) else str(other)
        answer = self.observe(_replace(ob.example, slot, value), required=False)
        lifetime = answer.lifetime() if answer is not None else None
        if lifetime is None:
            return True
        if abs(lifetime[0] - other * factor) <= tolerance:
            return True
        self.notes.append(f"{slot_name(slot)} equals the token's lifetime ({n * factor} s), but asked with {other} the "
                          f"token still lived {lifetime[0]} s: not the lifetime")
        return False

    def _limits(self, ob: Observation, slot: Slot, factor: int, asked: int) -> dict[str, int]:
        """The lifetime limits the server enforces (``min`` / ``max``, in the unit), found by asking with the
        smallest (1) and the largest lifetime Agora allows (86400 s), then bisecting between a refused value and
        the example's accepted one. Never above 86400 s: a server that honours more is INPUT-8's to judge."""
        top = 86400 // factor
        number = isinstance(slots(ob.example)[slot], int)

        def accepts(n: int) -> bool:
            return self.observe(_replace(ob.example, slot, n if number else str(n)), required=False) is not None

        out: dict[str, int] = {}
        if asked > 1 and not accepts(1):
            refused, accepted = 1, asked
            while accepted - refused > 1:
                middle = (refused + accepted) // 2
                refused, accepted = (refused, middle) if accepts(middle) else (middle, accepted)
            out["min"] = accepted
        if asked < top and not accepts(top):
            accepted, refused = asked, top
            while refused - accepted > 1:
                middle = (refused + accepted) // 2
                accepted, refused = (middle, refused) if accepts(middle) else (accepted, middle)
            out["max"] = accepted
        if out:
            unit = {1: "s", 60: "min", 3600: "h"}[factor]
            self.found.append(f"lifetime limits: {out.get('min', 1)}..{out.get('max', top)} {unit} (asked with "
                              "values beyond the example's until refused)")
        return out

    def _default_lifetime(self, ob: Observation, slot: Slot, factor: int) -> int:
        """The lifetime without the expiry value (the example asked once more without it), in the unit."""
        answer = self.observe(_replace(ob.example, slot, None), required=False)
        lifetime = answer.lifetime() if answer is not None else None
        if lifetime is None or lifetime[0] <= 0:
            self.notes.append(f"without {slot_name(slot)} the server answered no token that expires: expiry.default "
                              "(the lifetime when none is asked) is not known; 3600 s written")
            return max(1, 3600 // factor)
        self.found.append(f"default lifetime (without {slot_name(slot)}): {lifetime[0]} s")
        return max(1, round(lifetime[0] / factor))

    # writing -------------------------------------------------------------------------------------------

    def _operation(self, ob: Observation, mapping: dict[Slot, str], roles: dict[str, Any],
                   uid_pointer: str | None) -> dict[str, Any]:
        ex = ob.example
        values = slots(ex)

        def placeholder(slot: Slot) -> Any:
            name = mapping.get(slot)
            if name is None:
                return values[slot]
            value = values[slot]
            if slot[0] != "body" or name == "channel" or isinstance(value, str):
                return "{" + name + "}"
            if name == "role":  # the words keep their JSON type; the placeholder says which, for readers
                return "{role:boolean}" if isinstance(roles.get("publisher"), bool) else "{role:number}"
            return "{" + name + ":number}"

        segments = [placeholder(("path", n)) if ("path", n) in values else "" for n in range(len(ex.segments))]
        path = "/".join(quote(s, safe="{}") if s.startswith("{") and s.endswith("}") else quote(s, safe="")
                        for s in segments)
        op: dict[str, Any] = {"method": ex.method, "path": path or "/"}
        if ex.query:
            op["query"] = {name: placeholder(("query", name)) for name, _ in ex.query}
        if ex.body is not None:
            body: dict[str, Any] = {}
            for slot in values:
                if slot[0] != "body":
                    continue
                node = body
                for key in slot[1:-1]:
                    node = node.setdefault(key, {})
                node[slot[-1]] = placeholder(slot)
            for key, value in ex.body.items():  # empty objects kept as they were
                body.setdefault(key, value)
            op["body"] = body
        op["token"] = ob.found.pointer
        if uid_pointer is not None:
            op["uid"] = uid_pointer
        if ob.exchange.status != 200:
            op["status"] = ob.exchange.status
        if ob.found.pointer == "":
            kind = ob.exchange.content_type.split(";")[0] or "no Content-Type"
            self.found.append(f"answer: the whole body is the token ({kind})")
        unmapped = [s for s in values if s not in mapping and s[0] != "path"]
        if unmapped:
            self.notes.append(f"kept as constants: {', '.join(slot_name(s) for s in unmapped)} (no token field matches)")
        return op

    def _health(self, rtc: Example) -> dict[str, Any] | None:
        for route in HEALTH_ROUTES:
            ex = self.client.get(route)
            if ex.ok and ex.status is not None and 200 <= ex.status < 300 and find_token(ex) is None:
                self.found.append(f"health: GET {route} answers {ex.status}")
                op: dict[str, Any] = {"method": "GET", "path": route}
                if ex.status != 200:
                    op["status"] = ex.status
                return op
        self.notes.append(f"no health route answered 2xx ({', '.join(HEALTH_ROUTES)}): add operations.health if your "
                          "server has one")
        return None

    def _document(self, version: str, roles: dict[str, Any], expiry: dict[str, Any] | None,
                  operations: dict[str, Any]) -> dict[str, Any]:
        lines = [f"Inferred by 'token-conformance profile infer' from {self.client.base_url} with "
                 + "; ".join(repr(e.line()) for e in self.examples) + "."]
        lines += [f"Found: {f}." for f in self.found]
        lines += [f"Not inferred: {n}." for n in self.notes]
        lines.append("Check it with 'token-conformance profile show FILE'; use it with 'token-conformance check "
                     "--profile FILE URL'. Guide: docs/profiles.md.")
        host = urlsplit(self.client.base_url).hostname or "server"
        doc: dict[str, Any] = {
            "$schema": "urn:token-conformance:schema:profile",
            "$comment": lines,
            "name": f"inferred-{host}",
            "description": f"inferred from {self.examples[0].line()} on {self.client.base_url}",
            "token_version": version,
            "roles": roles,
            "token_types": {"uid": "uid"},
        }
        if expiry is not None:
            doc["expiry"] = expiry
        doc["operations"] = operations
        return doc


def _counterparts(slot: Slot, value: Any) -> tuple[Any, ...]:
    """The other role's likely values for a value that looks like a role (none when it does not)."""
    named = any(n in _key(slot) for n in _ROLE_NAMES)
    if isinstance(value, bool):
        return (not value,) if named else ()
    if isinstance(value, int):
        return (3 - value,) if named and value in (1, 2) else ()  # Agora's RtcRole: 1 publisher, 2 subscriber
    if isinstance(value, str) and (named or value not in ("true", "false", "1", "2")):
        return ROLE_COUNTERPARTS.get(value, ())
    return ()


def _replace(example: Example, slot: Slot, value: Any) -> Example:
    """``example`` with the value at ``slot`` replaced (None: left out)."""
    if slot[0] == "path":
        segments = list(example.segments)
        segments[slot[1]] = "" if value is None else str(value)
        return Example(example.method, tuple(segments), example.query, example.body, example.text)
    if slot[0] == "query":
        if value is None:
            query = tuple((k, v) for k, v in example.query if k != slot[1])
        else:
            query = tuple((k, _query_text(value) if k == slot[1] else v) for k, v in example.query)
        return Example(example.method, example.segments, query, example.body, example.text)
    body = json.loads(json.dumps(example.body))
    node = body
    for key in slot[1:-1]:
        node = node[key]
    if value is None:
        node.pop(slot[-1], None)
    else:
        node[slot[-1]] = value
    return Example(example.method, example.segments, example.query, body, example.text)


def _with_field(example: Example, name: str, value: int) -> Example:
    """``example`` with one more field: in the JSON body when it has one (a number), else in the query."""
    if example.body is not None:
        return Example(example.method, example.segments, example.query, {**example.body, name: value}, example.text)
    return Example(example.method, example.segments, (*example.query, (name, str(value))), None, example.text)


def _query_text(value: Any) -> str:
    """A value as a query string carries it: booleans as true/false, numbers as digits."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _at(document: Any, pointer: str) -> Any:
    try:
        value = resolve_pointer(document, pointer)
    except KeyError:
        return None
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _pointer_text(pointer: str) -> str:
    return pointer or "the whole body"


def _channel_text(token: Token) -> str:
    if token.version == "006":
        return f"006: channel CRC-32 {token.crc_channel}"
    return repr(token.rtc.channel) if token.rtc is not None else "no RTC service"


def _hint(ex: Exchange, client: TokenServerClient) -> str:
    """What to try, for the answers that say it (a login wall, a proxy page): the detector's own advice."""
    if ex.error or ex.status not in (401, 403, 502, 503, 504):
        return ""
    hint = non_token_hint(ex, detecting=True, credentials=bool(client.headers))
    return f": {hint}" if hint else ""


def infer(client: TokenServerClient, examples: list[str] | list[Example]) -> Inference:
    """The profile ``examples`` (request lines, sent through ``client``) imply; :class:`InferError` when none can be
    inferred. The client carries the credentials (configured headers), the timeout and TLS settings."""
    parsed = [e if isinstance(e, Example) else parse_example(e) for e in examples]
    if not parsed:
        raise InferError(f"give at least one --example {EXAMPLE_FORMAT}, e.g. {EXAMPLE_EXAMPLES}")
    return _Inferrer(client, parsed).run()
