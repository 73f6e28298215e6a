"""Pure: the environment a wrapped command runs with, and the same as shell or JSON text."""

from __future__ import annotations

from aws_mfa_run import warm
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.warm import REGION_MARKER_VARIABLE, REGION_VARIABLES, REMOVED, user_region

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def session_variables(
    session: SessionCredentials, profile: str, region: str | None, env: Mapping[str, str]
) -> dict[str, str]:
    """The variables we set: the session, its expiration, the marker, and the region."""
    return warm.session_variables(_keys(session), session.expiration, profile, region, env)


def child_environment(
    env: Mapping[str, str], session: SessionCredentials, profile: str, region: str | None
) -> dict[str, str]:
    """`env` without whatever could make the command use other credentials, with the session
    (the warm path's rule: warm.child_environment)."""
    return warm.child_environment(env, _keys(session), session.expiration, profile, region)


def _keys(session: SessionCredentials) -> tuple[str, str, str]:
    return session.access_key_id, session.secret_access_key, session.session_token


def _posix_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _powershell_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def shell_script(variables: Mapping[str, str], shell: str, env: Mapping[str, str]) -> str:
    """Text for `eval "$(aws-mfa-run --env)"`: unset what could override, export the session.
    Its own status is 0 once the variables are set, so `eval ... && next` (or fish's `| source;
    and next`) goes on."""
    stale = [name for name in REMOVED if name not in variables]
    if user_region(env) is None:
        stale += [
            name for name in (*REGION_VARIABLES, REGION_MARKER_VARIABLE) if name not in variables
        ]
    if shell == "fish":
        # `set -e` of an unset variable fails (status 4), and fish's `set -gx` keeps the status
        # before it: an `if` that erases only what is set leaves 0, so `| source; and ...` runs.
        lines = [f"if set -q {name}; set -e {name}; end;" for name in stale]
        lines += [f"set -gx {name} {_fish_quote(value)};" for name, value in variables.items()]
    elif shell in ("powershell", "pwsh"):
        lines = [f"Remove-Item Env:{name} -ErrorAction SilentlyContinue" for name in stale]
        lines += [f"$Env:{name} = {_powershell_quote(value)}" for name, value in variables.items()]
    else:
        lines = [f"unset {' '.join(stale)}"]
        lines += [f"export {name}={_posix_quote(value)}" for name, value in variables.items()]
    return "\n".join(lines) + "\n"


def credential_process_json(session: SessionCredentials) -> str:
    """botocore's credential_process answer, Version 1."""
    return warm.credential_process_json(_keys(session), session.expiration)
