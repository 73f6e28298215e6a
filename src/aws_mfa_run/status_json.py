"""`--status --json`: the rows of `--status` as one JSON document, for scripts. No secret in it.

The schema is documented in README.md ("Sessions you can see") and versioned by `"version"`: a
field is only ever added, never renamed or retyped, without a new version.
"""

from __future__ import annotations

import json

from aws_mfa_run.timefmt import format_utc

SCHEMA_VERSION = 1


class RoleCacheState:
    """One role of a profile's chain and when its cached credentials end (no secret kept)."""

    def __init__(
        self,
        profile: str,
        role_arn: str,
        expiration: float | None,
        not_reused: str | None = None,
    ) -> None:
        self.profile = profile
        self.role_arn = role_arn
        self.expiration = expiration
        # Why cached credentials with time left will not be reused (assumed with a session of
        # another long-term key than the source holds now).
        self.not_reused = not_reused


class LoginTargetState:
    """The role credentials `aws mfa -p ROLE` wrote to the role's login target (no secret)."""

    def __init__(self, profile: str, expiration: float, not_reused: str | None) -> None:
        self.profile = profile
        self.expiration = expiration
        self.not_reused = not_reused  # as RoleCacheState's


class StatusRow:
    """What aws-mfa-run holds for one profile: computed once, rendered as text or as JSON.

    `target` and `expiration` describe the MFA session of the profile with the long-term keys
    (for a role profile, of its source); `role_caches` lists the profile's chain, its own first.
    """

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.kind = "session"  # session | role
        self.source: str | None = None
        self.target: str | None = None
        self.device: str | None = None
        self.expiration: float | None = None
        self.margin: int | None = None  # seconds: renewed when less is left
        self.role_caches: list[RoleCacheState] = []
        self.login_target: LoginTargetState | None = None  # a role's, once logged in
        self.keys: str | None = None  # where the source's long-term keys come from
        self.error: str | None = None
        # Why a stored session with time left will not be reused (made with another key).
        self.not_reused: str | None = None


def _expiry(expiration: float | None, now: float) -> dict[str, object]:
    if expiration is None:
        return {"expiration": None, "seconds_left": None}
    return {"expiration": format_utc(expiration), "seconds_left": max(0, int(expiration - now))}


def _role_cache(cache: RoleCacheState, now: float) -> dict[str, object]:
    return {
        "profile": cache.profile,
        "role_arn": cache.role_arn,
        **_expiry(cache.expiration, now),
        "not_reused": cache.not_reused,
    }


def _login_target(target: LoginTargetState | None, now: float) -> dict[str, object] | None:
    if target is None:
        return None
    return {
        "profile": target.profile,
        **_expiry(target.expiration, now),
        "not_reused": target.not_reused,
    }


def _profile(row: StatusRow, now: float) -> dict[str, object]:
    if row.error is not None:  # the profile cannot be used: only its name and why
        fields = ("kind", "source", "target", "device", "keys", "expiration", "seconds_left")
        more = ("refresh_margin_seconds", "role_caches", "login_target", "not_reused")
        return {"profile": row.profile, **dict.fromkeys(fields + more), "error": row.error}
    return {
        "profile": row.profile,
        "kind": row.kind,
        "source": row.source,
        "target": row.target,
        "device": row.device,
        "keys": row.keys,
        **_expiry(row.expiration, now),
        "refresh_margin_seconds": row.margin,
        "role_caches": [_role_cache(cache, now) for cache in row.role_caches],
        "login_target": _login_target(row.login_target, now),
        "not_reused": row.not_reused,
        "error": row.error,
    }


def render(rows: list[StatusRow], now: float) -> str:
    """The document, indented for people who read it too, with a final newline."""
    document = {
        "version": SCHEMA_VERSION,
        "now": format_utc(now),
        "profiles": [_profile(row, now) for row in rows],
    }
    return json.dumps(document, indent=2) + "\n"
