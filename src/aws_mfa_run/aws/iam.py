"""The IAM calls: the user's MFA devices (to find the serial) and access keys (--rotate-keys)."""

from __future__ import annotations

from aws_mfa_run.aws.answers import MALFORMED, SessionCredentials, is_access_key_id, is_secret_text
from aws_mfa_run.aws.client import DEFAULT_BOUNDS, Bounds, call, make_client
from aws_mfa_run.errors import AwsUnreachableError
from aws_mfa_run.settings import SERIAL_CHARACTERS

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def list_mfa_devices(
    *,
    keys: tuple[str, str],
    profile: str,
    region: str | None,
    env: Mapping[str, str],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> list[str]:
    client = make_client("iam", keys, profile, region, env, bounds=bounds)
    answer = call(client.list_mfa_devices, profile, None, bounds=bounds)
    serials = [device.get("SerialNumber", "") for device in answer.get("MFADevices", [])]
    # Values from AWS are checked before one is saved in the config file.
    return [s for s in serials if 9 <= len(s) <= 256 and SERIAL_CHARACTERS.issuperset(s)]


# ---- IAM access keys, for --rotate-keys: called with the MFA session (IAM policies usually demand
# it for these), except GetCallerIdentity, which checks a new key with that key itself.


def _iam(
    caller: SessionCredentials,
    profile: str,
    region: str | None,
    env: Mapping[str, str],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Any:
    keys = (caller.access_key_id, caller.secret_access_key)
    return make_client("iam", keys, profile, region, env, caller.session_token, bounds)


# CreateAccessKey is made once: a second attempt after a 503 or a timeout could create a second
# key whose secret nobody ever sees (and that --rotate-keys, which deletes only keys it saw
# created, would never delete).
CREATE_KEY_BOUNDS = Bounds(attempts=1)


def list_access_keys(
    *, caller: SessionCredentials, profile: str, region: str | None, env: Mapping[str, str]
) -> list[tuple[str, float]]:
    """The IAM user's access key ids and when each was created (epoch seconds)."""
    answer = call(_iam(caller, profile, region, env).list_access_keys, profile, None)
    found = []
    for entry in answer.get("AccessKeyMetadata", []):
        created = entry.get("CreateDate")
        found.append((entry["AccessKeyId"], created.timestamp() if created else 0.0))
    return found


def create_access_key(
    *, caller: SessionCredentials, profile: str, region: str | None, env: Mapping[str, str]
) -> tuple[str, str]:
    """A new access key of the IAM user: its id and secret, both checked."""
    client = _iam(caller, profile, region, env, CREATE_KEY_BOUNDS)
    answer = call(client.create_access_key, profile, None, bounds=CREATE_KEY_BOUNDS)
    try:
        key_id = answer["AccessKey"]["AccessKeyId"]
        secret = answer["AccessKey"]["SecretAccessKey"]
    except (KeyError, TypeError):
        raise AwsUnreachableError(MALFORMED) from None
    if not (isinstance(key_id, str) and isinstance(secret, str)):
        raise AwsUnreachableError(MALFORMED)
    if not (is_access_key_id(key_id) and is_secret_text(secret)):
        raise AwsUnreachableError(MALFORMED)
    return key_id, secret


def delete_access_key(
    *,
    caller: SessionCredentials,
    profile: str,
    region: str | None,
    key_id: str,
    env: Mapping[str, str],
) -> None:
    call(_iam(caller, profile, region, env).delete_access_key, profile, None, AccessKeyId=key_id)
