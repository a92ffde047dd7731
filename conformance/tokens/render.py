"""A decoded token as a JSON-ready dict, for people and machines."""

from __future__ import annotations

from typing import Any

from .model import Privilege, Service, Token, utc


def _when(ts: int | None, now: float) -> dict[str, Any]:
    if ts is None:
        return {"at": "never", "seconds_remaining": None}
    return {"at": utc(ts).isoformat().replace("+00:00", "Z"), "seconds_remaining": round(ts - now)}


def _issued(ts: int, now: float) -> dict[str, Any]:
    """An issue time is in the past: how long ago ("seconds_remaining": -100 meant nothing for it)."""
    return {"at": utc(ts).isoformat().replace("+00:00", "Z"), "seconds_ago": round(now - ts)}


def _privilege(p: Privilege, now: float) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "value": p.value, "own_limit": p.own_limit, "expires": _when(p.expires_ts, now)}


def _service(s: Service, now: float) -> dict[str, Any]:
    out: dict[str, Any] = {"type": s.type, "name": s.name}
    for key in ("channel", "uid", "user_id"):
        value = getattr(s, key)
        if value is not None:
            out[key] = value
    out.update(s.extra)
    out["privileges"] = [_privilege(p, now) for p in s.privileges]
    return out


def token_fields(token: Token, now: float) -> dict[str, Any]:
    """Every decoded field, with times as ISO 8601 UTC plus seconds remaining at ``now`` (seconds ago for the issue
    time)."""
    out: dict[str, Any] = {"version": token.version, "app_id": token.app_id, "salt": token.salt}
    if token.version == "007":
        out["issued"] = _issued(token.issue_ts, now) if token.issue_ts is not None else None
        out["lifetime_s"] = token.lifetime
    else:
        out["crc_channel"] = token.crc_channel
        out["crc_uid"] = token.crc_uid
    out["expires"] = _when(token.expires_ts, now)
    out["services"] = [_service(s, now) for s in token.services]
    if token.unknown_service_type is not None:
        out["unknown_service_type"] = token.unknown_service_type
    return out
