"""Inside `aws-mfa-run`, the same profile's credentials come from the environment it gave us."""

from __future__ import annotations

from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.settings import MARKER_VARIABLE
from aws_mfa_run.timefmt import parse_utc

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def inherited(
    profile: str, env: Mapping[str, str], now: float, margin: float
) -> SessionCredentials | None:
    """The credentials an outer aws-mfa-run put in `env` for `profile`, if still usable."""
    if env.get(MARKER_VARIABLE) != profile:
        return None
    expiration = parse_utc(env.get("AWS_CREDENTIAL_EXPIRATION", ""))
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    token = env.get("AWS_SESSION_TOKEN")
    if not (expiration and key_id and secret and token):
        return None
    found = SessionCredentials(key_id, secret, token, expiration)
    return found if found.well_formed() and found.usable(now, margin) else None
