"""Long-term access keys: what they are, how they are checked, and the environment's pair.

The leaf under every source of long-term keys (credentials/longterm.py, the keyring store) and
under settings, which only asks whether the environment holds keys.
"""

from __future__ import annotations

from aws_mfa_run.aws.answers import is_access_key_id, is_secret_text
from aws_mfa_run.errors import ConfigError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

FILE, KEYRING, PROCESS, ENVIRONMENT = "file", "keyring", "credential_process", "environment"
KEY_ID, SECRET = "aws_access_key_id", "aws_secret_access_key"
SESSION_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class LongTermKeys:
    """An access key id, its secret and where they came from. repr() never shows the secret."""

    __slots__ = ("access_key_id", "origin", "secret_access_key")

    def __init__(self, access_key_id: str, secret_access_key: str, origin: str) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.origin = origin

    def __repr__(self) -> str:
        return f"LongTermKeys({self.access_key_id}, from {self.origin})"

    @property
    def pair(self) -> tuple[str, str]:
        return self.access_key_id, self.secret_access_key

    def same_keys(self, other: LongTermKeys | None) -> bool:
        return other is not None and self.pair == other.pair


def checked_keys(key_id: str, secret: str, origin: str, where: str) -> LongTermKeys:
    """`LongTermKeys` when both values are well formed, else ConfigError naming `where`.

    A key id of temporary credentials (ASIA...) is refused: those are no long-term keys.
    """
    if key_id.startswith("ASIA"):
        raise ConfigError(
            f"{where} holds temporary session credentials, not long-term keys; "
            "name the profile that holds your access keys with -p."
        )
    if not is_access_key_id(key_id):
        raise ConfigError(
            f"The access key id in {where} is not one (16 to 128 letters, digits or _); fix it."
        )
    if not is_secret_text(secret):
        raise ConfigError(
            f"The secret access key in {where} is not one (printable characters without "
            "spaces); fix it."
        )
    return LongTermKeys(key_id, secret, origin)


def environment_keys(env: Mapping[str, str]) -> LongTermKeys | None:
    """AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY when no session token comes with them."""
    key_id, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not secret or any(env.get(name) for name in SESSION_VARIABLES):
        return None
    return checked_keys(key_id, secret, ENVIRONMENT, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
