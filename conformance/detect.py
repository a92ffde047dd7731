"""What a target looks like: which bundled profile fits it, and hints when none does.

``token-conformance detect URL`` and ``check --profile auto`` send a handful of
harmless requests (/ping, one RTC token per role word, /rtm, POST /getToken)
and score every bundled profile on the evidence: token version, role
vocabulary, routes present. When no token route answers a token, ``non_token_hint``
(conformance/profiles/hints.py)
says what answered instead (an HTML page, another JSON API, a proxy error page,
a login wall) so the user knows whether the URL, the profile or the credentials
are wrong.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .client import Exchange, TokenServerClient
from .profiles import Profile, bundled_names, load_profile
from .profiles.hints import WRITE_A_PROFILE, non_token_hint
from .target import extract_token

PROBE_CHANNEL = "conformance-detect"
@dataclass
class Detection:
    """The profile that fits (None if none does), why, and how sure."""

    url: str
    profile: str | None
    confidence: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    #: False when the probes could not judge (nothing answered, or a login wall without credentials).
    judged: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"target: {self.url}"]
        if self.profile:
            out.append(f"profile: {self.profile} (confidence {self.confidence}, {self.score:.0%} of the evidence fits)")
        else:
            out.append("profile: none fits")
        out.append(f"why: {self.reason}")
        for k, v in self.evidence.items():
            out.append(f"  {k}: {v}")
        return out


def _probe(client: TokenServerClient, profile: Profile, role_word: str) -> Exchange:
    path = profile.routes["rtc"].format(channel=PROBE_CHANNEL, role=role_word, tokentype="uid", uid="0")
    return client.get(path)


def detect(client: TokenServerClient) -> Detection:
    """Probe the target with a handful of harmless requests and score every bundled profile."""
    profiles = [load_profile(n) for n in bundled_names()]
    evidence: dict[str, Any] = {}
    ping_route = next((p.routes["ping"] for p in profiles if p.has("ping")), "/ping")
    ping = client.get(ping_route)
    pong = ping.json_or_none()
    evidence["ping"] = ("answers pong" if ping.status == 200 and isinstance(pong, dict) and pong.get("message") == "pong"
                        else f"absent ({ping.summary(60)})")
    if ping.error and client.down:  # refused or timed out: the other probes would only repeat it
        return Detection(client.base_url, None, "none", 0.0, evidence, {p.name: 0.0 for p in profiles},
                         f"nothing answers: {ping.error}", judged=False)
    # Role words of every profile, tried on the first profile's RTC template (the bundled ones share it).
    base = profiles[0]
    words = sorted({w for p in profiles for w in p.roles.values()})
    answers = {w: extract_token(_probe(client, base, w), "rtcToken") for w in words}
    publisher = answers.get("publisher")
    if publisher is None or not publisher.ok:
        ex = publisher.exchange if publisher else _probe(client, base, "publisher")
        undecodable = publisher is not None and publisher.raw is not None
        evidence["rtc route"] = (str(publisher.problem) if undecodable and publisher
                                 else f"no token: {ex.summary(100)}")
        found = Detection(client.base_url, None, "none", 0.0, evidence, {p.name: 0.0 for p in profiles})
        hint = (non_token_hint(ex, detecting=True, credentials=bool(client.headers))
                or f"an answer without a usable token ({ex.summary(100)})")
        if ex.error:
            found.reason, found.judged = f"nothing answers: {ex.error}", False
        elif ex.status in (401, 403):
            found.reason, found.judged = f"GET {base.routes['rtc']} answers {hint}", False
        elif undecodable:
            found.reason = f"GET {base.routes['rtc']} answers {hint}"
        else:
            found.reason = f"GET {base.routes['rtc']} answers no token: the target looks like {hint}"
        return found
    assert publisher.token is not None
    version = publisher.token.version
    evidence["token version"] = version
    accepted = [w for w, f in answers.items() if f.ok]
    evidence["role words answered with a token"] = accepted
    has_rtm = extract_token(client.get(base.routes.get("rtm", "/rtm/{uid}/").format(uid="conformance-detect")),
                            "rtmToken").ok
    evidence["rtm route"] = "answers a token" if has_rtm else "no token"
    post = client.request("POST", "/getToken", json_body={"tokenType": "rtc", "channel": PROBE_CHANNEL,
                                                           "role": "publisher", "uid": "0", "expire": 600})
    has_post = extract_token(post, "token").ok
    evidence["POST /getToken"] = "answers a token" if has_post else f"no token ({post.status or post.error})"
    scores: dict[str, float] = {}
    for p in profiles:
        points, total = 0.0, 0.0
        total += 3
        points += 3 if p.token_version == version else 0
        total += 2
        own, others = p.roles["subscriber"], [w for w in words if w not in p.roles.values()]
        if own in accepted and not any(w in accepted for w in others):
            points += 2
        elif own in accepted:
            points += 1  # a lenient server: every word works, the vocabulary does not decide
        total += 1
        points += 1 if p.has("post_get_token") == has_post else 0
        total += 1
        points += 1 if p.has("rtm") == has_rtm else 0
        scores[p.name] = round(points / total, 3)
    best = max(scores, key=lambda n: scores[n])
    ranked = sorted(scores.values(), reverse=True)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0)
    profile = next(p for p in profiles if p.name == best)
    if scores[best] < 0.5 or profile.token_version != version:
        return Detection(client.base_url, None, "none", scores[best], evidence, scores,
                         f"tokens are {version} with role words {accepted}: no bundled profile declares that; "
                         + WRITE_A_PROFILE)
    confidence = "high" if scores[best] >= 0.85 and margin >= 0.3 else "medium" if margin > 0 else "low"
    reason = (f"{version} tokens (profile: {profile.token_version}), subscriber word {profile.roles['subscriber']!r} "
              f"{'accepted' if profile.roles['subscriber'] in accepted else 'refused'}, POST /getToken "
              f"{'present' if has_post else 'absent'}")
    return Detection(client.base_url, best, confidence, scores[best], evidence, scores, reason)
