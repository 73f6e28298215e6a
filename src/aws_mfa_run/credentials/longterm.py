"""Where the long-term access keys of a source profile come from.

Today: the profile's own keys in the credentials file (or, as botocore also allows, the config
file). A source holding temporary keys, or served by aws-mfa-run itself, is refused with a
sentence that says what to do: GetSessionToken cannot be called with session credentials.
"""

from __future__ import annotations

from aws_mfa_run.credentials.session import is_access_key_id, is_secret_text
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.settings import profile_values

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class LongTermKeys:
    """An access key pair and where it was found (a file path). repr() never shows the secret."""

    __slots__ = ("access_key_id", "origin", "secret_access_key")

    def __init__(self, access_key_id: str, secret_access_key: str, origin: str) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.origin = origin

    def __repr__(self) -> str:
        return f"LongTermKeys({self.access_key_id}, from {self.origin})"

    def pair(self) -> tuple[str, str]:
        return self.access_key_id, self.secret_access_key


def long_term_keys(
    profile: str, config: IniText, credentials: IniText, env: Mapping[str, str]
) -> LongTermKeys:
    """The source profile's long-term keys, refusing anything else clearly."""
    values = profile_values(profile, config, credentials)
    key_id = values.get("aws_access_key_id", "")
    secret = values.get("aws_secret_access_key", "")
    if values.get("aws_session_token") or key_id.startswith("ASIA"):
        raise ConfigError(
            f"Profile '{profile}' holds temporary session credentials, not long-term keys; "
            "name the profile that holds your access keys with -p."
        )
    if key_id and secret:
        if not (is_access_key_id(key_id) and is_secret_text(secret)):
            raise ConfigError(
                f"The access keys of profile '{profile}' are malformed (an access key id is 16 "
                "to 128 letters and digits, a secret key has no spaces); fix them."
            )
        in_credentials = (credentials.get(profile) or {}).get("aws_access_key_id") == key_id
        return LongTermKeys(key_id, secret, credentials.path if in_credentials else config.path)
    if "aws-mfa-run" in values.get("credential_process", ""):
        raise ConfigError(
            f"Profile '{profile}' gets its credentials from aws-mfa-run itself; name the profile "
            "that holds your long-term access keys with -p."
        )
    missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
    raise ConfigError(
        f"Profile '{profile}' has no long-term keys ({missing} is missing); "
        "add them with `aws configure --profile NAME` or name another profile with -p."
    )
