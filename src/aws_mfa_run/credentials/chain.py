"""The credentials chain: the one entry point every mode asks for valid credentials.

In order, like aws-vault's provider chain: what an outer aws-mfa-run handed us for the same
profile; role credentials (a role profile, assumed with the source's MFA session); the MFA session
of a profile with long-term keys. Each caches, locks and refreshes through `cached.cached_fetch`.
"""

from __future__ import annotations

from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.credentials.mfa_session import Prompting, get_mfa_session
from aws_mfa_run.credentials.nested import inherited
from aws_mfa_run.credentials.role import get_role_credentials
from aws_mfa_run.settings import Settings

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def get_credentials(
    settings: Settings,
    env: Mapping[str, str],
    prompting: Prompting,
    *,
    token_code: str | None = None,
    force: bool = False,
    renew_session: bool = False,
    allow_inherited: bool = True,
) -> tuple[SessionCredentials, bool]:
    """Valid credentials for `settings.profile`, and whether any were fetched from AWS now.

    `token_code`: a code to use if one is needed. `force`: fetch new credentials for the profile
    even if cached ones are valid; `renew_session`: the MFA session too (`aws mfa CODE`: a code
    typed for a login means "log in now").
    """
    margin = settings.min_remaining
    if allow_inherited and not (force or renew_session):
        found = inherited(settings.profile, env, prompting.clock(), max(margin, settings.floor))
        if found is not None:
            return found, False
    if settings.roles:
        return get_role_credentials(
            settings,
            env,
            prompting,
            token_code=token_code,
            force=force,
            renew_session=renew_session,
            margin=margin,
        )
    return get_mfa_session(
        settings,
        env,
        prompting,
        token_code=token_code,
        force=force or renew_session,
        margin=margin,
    )
