"""The requirement catalogue. Each id appears here once; everything else refers to it.

Rationales cite what the public servers do (docs/token-servers.md, from the
research notes) and what clients need (docs/client-behaviour.md).
"""

from __future__ import annotations

from .model import Level, Requirement

MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY

#: The contract's version, shown in every report. Bump it whenever a requirement is added, removed,
#: reworded or re-levelled, and say why in docs/contract-changelog.md.
CONTRACT_VERSION = "1.6"

SECTIONS: dict[str, tuple[str, str]] = {
    "ROUTE": ("Routes and JSON", "What a client parses: the route, the status, the JSON key."),
    "TOKEN": ("Token content", "What the SDK checks at join time, far from the token server."),
    "INPUT": ("Bad input and errors", "Every malformed request is refused with a 4xx and a JSON error, never a token, never a 5xx."),
    "EXPIRY": ("Expiry and renewal", "Tokens expire; the SDK renews 30 s before. Lifetimes must be the ones asked for."),
    "HEADER": ("Headers, caching and CORS", "What proxies and browsers do with the responses."),
    "SEC": ("Security", "Nothing secret leaks; every token grants exactly what was asked, to whom it was asked."),
    "PROP": ("Property-based", "Generated valid inputs from the OpenAPI description (schemas/openapi.json)."),
    "LATENCY": ("Answer time", "The app's client gives up after 10 s; users wait on every token before they join."),
}

#: Prose rendered after a section's table in docs/contract.md (how a requirement is judged, beyond its sentence).
SECTION_NOTES: dict[str, str] = {
    "HEADER": """### Browser apps

HEADER-2/3/4 ask whether a server answers *some* origin sensibly; HEADER-5 asks what a web team needs: can
**our** app, at its origin, sending **our** credential header, read a token? Declare the app's origins with
`--web-origin https://app.example.com` (repeatable) or `"web_origins"` in the profile; without one HEADER-5 is not
applicable. For each origin the case rebuilds the app's `fetch()`: the profile's method, the configured credential
headers (`--header`), `Content-Type: application/json` where a body is sent. Under the Fetch standard:

1. A *simple* request (GET, HEAD or POST without non-safelisted headers) gets no preflight; the case says so.
   Otherwise the **preflight** is sent as browsers send it, without credentials: `OPTIONS` with `Origin`,
   `Access-Control-Request-Method` and `Access-Control-Request-Headers` (the non-safelisted names, lower-case,
   sorted). It must answer 2xx, allow the origin (`Access-Control-Allow-Origin` equal to it, or `*`: the app
   sends a header, not cookies, so its credentials mode is "same-origin"), the method (GET, HEAD and POST need not
   be listed) and every non-safelisted header by name: `Access-Control-Allow-Headers: *` covers others, never
   `Authorization`.
2. The **token answer** itself must allow the origin and carry the token.

A failure names the step that broke in a web developer's words ("the preflight was refused with 401: browsers
never send Authorization on a preflight; exempt OPTIONS from authentication") with a curl line; credential values
are never printed (`$TOKEN_HEADER_...`). With `--browser` (`pip install 'token-conformance[browser]'` and a
Chromium on the machine; no browser is downloaded) a headless Chromium loads a page at each origin and runs the
same `fetch()` against the server; the report records the browser, its version and both verdicts per origin
(`summary.extra.web_origins`). The verdict follows the standard: where they disagree - Chromium still lets
`Access-Control-Allow-Headers: *` cover `Authorization`, Firefox and Safari do not - the case says that this
browser lets it through. Without `--browser` the case says it was judged by the standard alone.""",
}

R = Requirement

REQUIREMENTS: tuple[Requirement, ...] = (
    # --- Routes and JSON -------------------------------------------------
    R("ROUTE-1", "ROUTE", MUST, "RTC route answers a token",
      "GET /rtc/{channel}/{role}/uid/{uid}/ with valid values answers 200 and a JSON object whose rtcToken is a non-empty string, for every role of the profile.",
      "The whole client contract: it reads rtcToken from the JSON body and has no other error model."),
    R("ROUTE-2", "ROUTE", SHOULD, "JSON content type",
      "Every token response declares Content-Type: application/json; a raw-token answer (a profile whose token is the whole body) declares text/plain.",
      "Clients parse the body whatever the type, but proxies, browsers and logs rely on it; both public servers send it. "
      "RFC 9110 8.3: the type is application/json with or without parameters (a charset is accepted); a token answer has "
      "no reason to claim any other type, hence kept, at SHOULD. A body that is the token itself is text, not JSON and "
      "not a page: text/plain says so, text/html (Flask's default) has browsers render a credential (1.6)."),
    R("ROUTE-3", "ROUTE", MUST, "Success bodies match their schemas",
      "Every success body of every route the profile lists matches its JSON Schema in schemas/.",
      "Extra nesting, a non-string token or a renamed key means 'no token' to the client."),
    R("ROUTE-4", "ROUTE", SHOULD, "Trailing slash optional",
      "The RTC route without its trailing slash answers 200, or redirects (301, 302, 307, 308) on the same host to a form that answers 200.",
      "The Go server redirects, the Node server serves both; clients built from docs use either form."),
    R("ROUTE-5", "ROUTE", SHOULD, "Health check",
      "The profile's health route answers its status and body (agora-token-service: GET /ping, 200 and the JSON body {\"message\": \"pong\"}).",
      "Deploy platforms probe it; its absence in 2021-2023 Go builds caused 'Heroku 404' issues (#46, #61). "
      "Reworded in 1.4: the case has always judged the route, status and body the profile declares (another "
      "deployment's /healthz is as good), the sentence named only the bundled profile's.",
      needs=("health",)),
    R("ROUTE-6", "ROUTE", MUST, "RTM route answers a token",
      "GET /rtm/{uid}/ answers 200 and a JSON object whose rtmToken is a non-empty string.",
      "Signalling clients read rtmToken; the route is part of both public servers' API.",
      needs=("rtm",)),
    R("ROUTE-7", "ROUTE", MUST, "RTE route answers both tokens",
      "GET /rte/{channel}/{role}/uid/{uid}/ answers 200 and a JSON object with non-empty rtcToken and rtmToken strings.",
      "Apps that use RTC and RTM together fetch both in one call.",
      needs=("rte",)),
    R("ROUTE-8", "ROUTE", MUST, "POST /getToken answers a token",
      "POST /getToken with {\"tokenType\": \"rtc\", \"channel\", \"role\", \"uid\": string, \"expire\"} answers 200 and a JSON object whose token is a non-empty string.",
      "The Go server's README recommends it over the GET routes.",
      needs=("post_get_token",)),
    R("ROUTE-9", "ROUTE", MUST, "User-account route answers a token",
      "GET /rtc/{channel}/{role}/userAccount/{account}/ answers 200 and a JSON object whose rtcToken is a non-empty string.",
      "Apps that identify users by string accounts use this token type."),
    # --- Token content ---------------------------------------------------
    R("TOKEN-1", "TOKEN", MUST, "Tokens decode",
      "Every token returned decodes as an AccessToken 006 or AccessToken2 007: known prefix, standard base64, zlib (007), every field present, no trailing bytes.",
      "A token that does not decode fails at join time with 'invalid token', far from the token server."),
    R("TOKEN-2", "TOKEN", SHOULD, "Token version as profiled",
      "Tokens are of the version the profile declares (007 for agora-token-service, 006 for agora-node-tokenserver).",
      "Newer SDKs reject 006 in some configurations (agora-token-service#52, AgoraIO/Tools#362)."),
    R("TOKEN-3", "TOKEN", MUST, "App id",
      "Every token carries the app id given with --app-id (when given), and the same app id in every response.",
      "A token for another project is refused at join; a mix means a misconfigured fleet."),
    R("TOKEN-4", "TOKEN", MUST, "Bound to the channel and uid asked",
      "A uid token is bound to exactly the requested channel and uid, for uid 0 (packed as the empty string), 4294967295 and values between.",
      "The client joins with the channel and uid it asked for; any other binding fails at join."),
    R("TOKEN-5", "TOKEN", MUST, "Bound to the account asked",
      "A userAccount token is bound to exactly the requested channel and account, including non-ASCII accounts sent percent-encoded.",
      "String accounts are joined verbatim; a mangled account is another user."),
    R("TOKEN-6", "TOKEN", MUST, "Publisher privileges",
      "A publisher token grants join channel and publish audio, video and data streams.",
      "Without them a host joins but cannot be heard or seen."),
    R("TOKEN-7", "TOKEN", SHOULD, "Subscriber privileges",
      "A subscriber (audience) token grants join channel and no publish privilege.",
      "Enforced by Agora only with co-host authentication, hence SHOULD; a subscriber token that can publish defeats it."),
    R("TOKEN-8", "TOKEN", MUST, "Signature verifies",
      "With the app certificate known to the harness, every token's signature verifies for the binding the token carries (006: the channel and uid whose CRC-32s it holds).",
      "A token signed with another certificate is refused by Agora at join. A token bound to the wrong uid is TOKEN-4's finding, not a signature failure: one defect, one failure."),
    R("TOKEN-9", "TOKEN", MUST, "RTM token content",
      "An RTM token is bound to the requested user id and grants login.",
      "RTM login checks the user id in the token.",
      needs=("rtm",)),
    # --- Bad input and errors --------------------------------------------
    R("INPUT-1", "INPUT", SHOULD, "Unknown role refused",
      "An unknown role is refused with a 4xx and a JSON error, not answered with a token of some other role.",
      "The Go server silently downgrades any unknown role (even a typo of 'publisher') to subscriber; it fails safe, hence SHOULD. "
      "For typed roles ({\"isPublisher\": true}) the catalogue also sends what JavaScript handlers read as truthy ('no', "
      "'false', 1) and null; a failure says when the token it got grants publisher privileges, the serious case."),
    R("INPUT-2", "INPUT", MUST, "Unknown token type refused",
      "A token type other than uid or userAccount is refused with a 4xx.",
      "There is no telling which identity such a token would bind."),
    R("INPUT-3", "INPUT", MUST, "Non-numeric uid refused",
      "With token type uid, a uid that is not a decimal number (abc, 1.5, 0x10, 12abc, empty) is refused with a 4xx.",
      "The Node server passes it through as an account: the client joins with an integer uid and is refused."),
    R("INPUT-4", "INPUT", MUST, "Negative uid refused",
      "With token type uid, a negative uid is refused with a 4xx.",
      "A wrapped negative uid binds the token to another user."),
    R("INPUT-5", "INPUT", MUST, "Out-of-range uid refused",
      "With token type uid, a uid above 4294967295 is refused with a 4xx, never wrapped.",
      "The Go server truncates 4294967296 to uid 0: the token is bound to uid 0, which admits any user; a failure names "
      "the uid the wrapped token is bound to. Not applicable to a server that takes no uid (it chooses it)."),
    R("INPUT-6", "INPUT", SHOULD, "Invalid channel refused",
      "A channel name that is empty, longer than 64 bytes, or outside Agora's character set is refused with a 4xx.",
      "The SDK refuses such names at join; a token for them only hides the mistake."),
    R("INPUT-7", "INPUT", MUST, "Invalid expiry refused",
      "An expiry that is not a decimal integer (abc, 1.5, 1e3, -5, 12abc) is refused with a 4xx.",
      "The Node server turns 'abc' into a token that never expires and '-5' into one already expired."),
    R("INPUT-8", "INPUT", SHOULD, "Out-of-range expiry refused",
      "An expiry of 0 or above 86400 is refused with a 4xx rather than clamped, wrapped or honoured.",
      "Agora caps lifetimes at 24 h; the Go server wraps 4294967297 to 1 s and reads 0 as its default. Honouring 86401 "
      "gives a token one second past the cap, which EXPIRY-3 tolerates within the clock skew: only the refusal shows the "
      "server checks the bound. A profile that states expiry.min / expiry.max is also asked one second past each. "
      "Clamping silently shortens what the client scheduled its renewal on; SHOULD, as the token still works."),
    R("INPUT-9", "INPUT", SHOULD, "Oversized input refused",
      "A 10 KB path segment is refused with a 4xx that describes it (400, 404, 414, 422 or 431).",
      "Oversized input must cost the server nothing and never crash it. 422 is FastAPI's answer to an invalid value (RFC 9110 15.5.21); 413 describes a body, and this GET has none."),
    R("INPUT-10", "INPUT", SHOULD, "Unknown routes and methods",
      "An unknown route answers 404; a known route with a method it does not serve answers 404, 405 or 501; none carries a token.",
      "A catch-all that answers tokens to any path hides client bugs such as /rtc/:test/:publisher/ (agora-token-service#22). RFC 9110 (15.6.2) names 501 the answer to a method the server supports for no resource, as Python's http.server does."),
    R("INPUT-11", "INPUT", MUST, "No 5xx for bad input",
      "No request of the bad-input catalogue is answered with a 5xx, except 501 Not Implemented to a method the server implements for no resource.",
      "A 5xx blames the server for the client's mistake, and the Node server's 500 pages carry stack traces. 501 for an unsupported method is RFC 9110's own answer (15.6.2), not a server error."),
    R("INPUT-12", "INPUT", SHOULD, "JSON error bodies",
      "Every 4xx answer to the bad-input catalogue is a JSON object with a human-readable string under 'error' or 'message', or an RFC 9457 problem details object with 'detail' or 'title'.",
      "People read these in client logs; the Node server's HTML 404s and the Go server's plain-text POST errors are hard to parse. RFC 9457 problem details (application/problem+json) are the standard's own JSON error format."),
    # --- Expiry and renewal ----------------------------------------------
    R("EXPIRY-1", "EXPIRY", MUST, "Requested expiry honoured",
      "With ?expiry=N, the token and every RTC privilege lapse N seconds after issue (007: relative to issue_ts; 006: absolute), within the allowed clock skew.",
      "The client schedules renewal from the lifetime it asked for; 2023 Go builds passed absolute times where relative ones were expected."),
    R("EXPIRY-2", "EXPIRY", MUST, "Default lifetime bounded",
      "Without ?expiry, the token lapses after a lifetime in (0, 86400] seconds.",
      "A token that is already expired, or valid beyond Agora's 24 h cap, breaks every join or renewal schedule."),
    R("EXPIRY-3", "EXPIRY", MUST, "Never more than 24 hours",
      "No token or privilege is valid for more than 24 hours after issue, or forever.",
      "Agora caps token lifetime at 24 h (AgoraIO/Tools#117); a never-expiring privilege cannot be revoked (API-Examples#250)."),
    R("EXPIRY-4", "EXPIRY", MUST, "Issue time is now",
      "The token's issue time lies within the allowed skew of the harness clock and of the server's Date header.",
      "A server clock off by minutes issues tokens that are already expired or not yet valid."),
    R("EXPIRY-5", "EXPIRY", MUST, "Renewal gets a fresh token",
      "A second fetch a second later returns a different token whose expiry is recomputed from its own issue time (later than the first one's).",
      "A cached token renews nothing: the client is dropped when the first one expires (AgoraIO/Tools#278). Whether the salt changes is EXPIRY-7's business: a renewal with a recomputed expiry works either way."),
    R("EXPIRY-6", "EXPIRY", MUST, "Renew before expiry",
      "A client that fetches a short-lived token and renews at the will-expire point (scaled down from 30 s before expiry) receives a valid token with a later expiry before the first one lapses.",
      "This is the SDK's renewal cycle; a renewal that arrives late drops the user from the call."),
    R("EXPIRY-7", "EXPIRY", SHOULD, "A salt per token",
      "Two tokens issued a second apart carry different salts.",
      "The salt makes every token unique even within one second. agora-access-token 2.0.4 (the Node server) draws one salt per process: its renewed tokens still differ by their issue and expiry times, so renewal works (EXPIRY-5), hence SHOULD."),
    # --- Headers, caching and CORS ---------------------------------------
    R("HEADER-1", "HEADER", SHOULD, "Tokens are not cached",
      "Token responses carry Cache-Control with no-store or no-cache.",
      "A shared cache that replays a token hands one user's token to another and defeats renewal. RFC 9111 5.2.2.4: a "
      "no-cache answer is never reused without asking the origin, which answers a new token, so it prevents the replay "
      "as no-store does (reworded in 1.4; no-store alone also keeps the token off disk)."),
    R("HEADER-2", "HEADER", SHOULD, "CORS answered deliberately",
      "A token request with an Origin header is allowed (Access-Control-Allow-Origin is the origin or *), refused with 403, or answered without any CORS header (a server for native apps only); never a 5xx, never with another origin.",
      "Browser clients need CORS; the Go server refuses unlisted origins with 403, the Node server allows all. Under the Fetch standard a response without Access-Control-Allow-Origin is simply unreadable by pages, the right choice for a server whose clients are native apps."),
    R("HEADER-3", "HEADER", MAY, "CORS preflight",
      "An OPTIONS preflight for a token route with an Origin answers 2xx (204) with Access-Control-Allow-Methods, or 403, or (a server without CORS) a 4xx or 501 without Access-Control-Allow-Origin.",
      "Browsers send a preflight before non-simple requests; both public servers answer it today. A server without CORS fails every preflight, as the Fetch standard intends."),
    R("HEADER-4", "HEADER", MUST, "No credentials for any origin",
      "A response that reflects an arbitrary Origin in Access-Control-Allow-Origin does not also carry Access-Control-Allow-Credentials: true.",
      "Reflecting any origin with credentials lets every web page fetch tokens with the user's cookies and read them (Fetch standard, CORS protocol): the token server's authentication is void. An allow-list, '*' (which the Fetch standard never combines with credentials) or no CORS are all safe."),
    R("HEADER-5", "HEADER", MUST, "The web app can read a token",
      "For each declared web origin (--web-origin, or the profile's web_origins), the token request the app sends (the profile's method, the configured credential headers, a JSON content type where a body is sent) passes the Fetch standard's CORS check: the preflight, sent without credentials, answers 2xx and allows the origin, the method and every non-safelisted header by name (Access-Control-Allow-Headers: * never covers Authorization); the token answer itself allows the origin.",
      "A web app at that origin fetches its token with fetch(); if any step of the CORS protocol fails the browser hides the answer and every web user is without a token, while curl and native apps work. The usual causes: a gateway that demands the credential on the preflight (browsers never send it there), Authorization missing from Access-Control-Allow-Headers, an answer without Access-Control-Allow-Origin, an allow-list naming another origin. Added in 1.5; with --browser a headless Chromium confirms the verdict.",
      needs=("web_origin",)),
    # --- Security --------------------------------------------------------
    R("SEC-1", "SEC", MUST, "Certificate never disclosed",
      "No response of the suite (success or error, body or headers) contains the app certificate, when the harness knows it.",
      "The certificate signs every token of the project; it must not leave the server."),
    R("SEC-2", "SEC", MUST, "No stack traces",
      "No error response carries a stack trace, an exception name or an internal file path.",
      "The Node server's 500 pages disclose paths and versions; they help attackers and confuse users. An error that "
      "echoes the request path, a request id or an RFC 9457 'instance' is the client's own input and passes."),
    R("SEC-3", "SEC", MUST, "No token in errors",
      "No 4xx or 5xx response carries a token.",
      "A client that ignores the status would join with a token issued for a request the server rejected."),
    R("SEC-4", "SEC", MUST, "Exactly what was asked",
      "An RTC token carries exactly one RTC service (006: only RTC privilege ids 1-4) and no privilege outside join channel and publish audio, video and data.",
      "Extra services or privileges (RTM login, admin) grant what nobody requested."),
    R("SEC-5", "SEC", MUST, "Credentials enforced on every token route",
      "With credentials configured (--header), every token route of the profile (GET RTC, RTM, RTE, POST /getToken) refuses a request without them and one with wrong values with 401, 403 or 404 and no token, while the same request with them gets a token.",
      "A token endpoint open to anyone lets anyone mint publisher tokens for any channel and uid; one forgotten route is enough. "
      "RFC 9110 15.5.5 lets a server hide a resource from whoever may not see it with 404 (reworded in 1.4).",
      needs=("credentials",)),
    R("SEC-6", "SEC", MUST, "Refusals do not echo the credential",
      "With credentials configured, no refusal (401, 403 or 404) of a request without or with wrong credentials contains a configured credential value in its body or headers.",
      "An error page that says which key it expected hands the key to whoever asks without it.",
      needs=("credentials",)),
    # --- Property-based --------------------------------------------------
    R("PROP-1", "PROP", MUST, "Generated valid requests",
      "For valid requests generated from schemas/openapi.json, the server never answers 5xx, answers 200, and the body matches the schema (the content type is ROUTE-2's, a SHOULD).",
      "Inputs people do not think of (unicode accounts, symbols allowed in channel names, boundary uids) still get tokens."),
    # --- Answer time -----------------------------------------------------
    R("LATENCY-1", "LATENCY", MUST, "Answered within the client's timeout",
      "Every token request of the run is answered within the client's timeout (10 s, or the profile's client_timeout).",
      "The app's client gives up after 10 s (docs/client-behaviour.md): a slower answer is no token at all, for every user."),
    R("LATENCY-2", "LATENCY", SHOULD, "Typical answer under a second",
      "The 95th percentile of the answer times of 10 valid token requests sent one at a time is under 1 s.",
      "Users wait on the token before they join, and the SDK's own join takes about a second; a server that needs more "
      "at rest has no headroom left for the renewal bursts that reach it under load."),
)

INDEX: dict[str, Requirement] = {r.id: r for r in REQUIREMENTS}
assert len(INDEX) == len(REQUIREMENTS), "duplicate requirement id"
assert all(r.section in SECTIONS for r in REQUIREMENTS)
