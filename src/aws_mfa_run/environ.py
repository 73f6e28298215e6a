"""Pure: the environment a wrapped command runs with, and the same as shell or JSON text."""

from __future__ import annotations

from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.settings import MARKER_VARIABLE, REGION_MARKER_VARIABLE
from aws_mfa_run.timefmt import format_utc

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# Everything that could make an SDK pick other credentials than the session we hand it.
REMOVED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)
# Also removed from a wrapped command's environment (not unset by `--env`): what switches on a
# source that some SDK's default chain asks before the container provider (`--server`), or that
# would describe our keys wrongly. From the chains of botocore, the JavaScript SDK v3, the Go SDK
# v2 and the Ruby SDK.
OTHER_SOURCES = (
    "AWS_WEB_IDENTITY_TOKEN_FILE",  # web identity (EKS, CI): all of them, before the container
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ACCESS_KEY",  # the Go SDK's (and Java's) other names of the keys
    "AWS_SECRET_KEY",
    "AMAZON_ACCESS_KEY_ID",  # the Ruby SDK's
    "AMAZON_SECRET_ACCESS_KEY",
    "AMAZON_SESSION_TOKEN",
    "AWS_CREDENTIAL_FILE",  # botocore's OriginalEC2Provider, before the container provider
    "AWS_ACCOUNT_ID",  # botocore and JS v3 take it as the keys' account (endpoint routing)
    "AWS_CREDENTIAL_SCOPE",  # JS v3: the keys' scope
)
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def user_region(env: Mapping[str, str]) -> str | None:
    """The region the user set in the environment; one an outer aws-mfa-run (or an eval of
    `--env`) put there, recognised by its marker, is not the user's."""
    ours = env.get(REGION_MARKER_VARIABLE)
    for name in REGION_VARIABLES:
        value = env.get(name)
        if value and value != ours:
            return value
    return None


def session_variables(
    session: SessionCredentials, profile: str, region: str | None, env: Mapping[str, str]
) -> dict[str, str]:
    """The variables we set: the session, its expiration, the marker, and the region."""
    variables = {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
        "AWS_SECURITY_TOKEN": session.session_token,  # read by old boto 2 era tools
        "AWS_CREDENTIAL_EXPIRATION": format_utc(session.expiration),
        MARKER_VARIABLE: profile,
    }
    variables.update(region_variables(region, env))
    return variables


def region_variables(region: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """AWS CLI v1 reads only AWS_DEFAULT_REGION, most other SDKs AWS_REGION: fill in both, unless
    the user chose a region in the environment. The marker lets a nested run replace ours."""
    chosen = user_region(env)
    if chosen is not None:  # the user's choice, given to whichever variable lacks it
        return {name: chosen for name in REGION_VARIABLES if env.get(name) != chosen}
    if not region:
        return {}
    return {**dict.fromkeys(REGION_VARIABLES, region), REGION_MARKER_VARIABLE: region}


def child_environment(
    env: Mapping[str, str], session: SessionCredentials, profile: str, region: str | None
) -> dict[str, str]:
    child = {
        name: value
        for name, value in env.items()
        if name not in REMOVED and name not in OTHER_SOURCES
    }
    if user_region(env) is None:
        for name in (*REGION_VARIABLES, REGION_MARKER_VARIABLE):
            child.pop(name, None)
    child.update(session_variables(session, profile, region, env))
    return child


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


def json_string(value: str) -> str:
    """A JSON string literal (the json module costs milliseconds to import on the warm path)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ord(ch) >= 0x20 else f"\\u{ord(ch):04x}" for ch in escaped) + '"'


def credential_process_json(session: SessionCredentials) -> str:
    """botocore's credential_process answer, Version 1."""
    fields = {
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "SessionToken": session.session_token,
        "Expiration": format_utc(session.expiration),
    }
    return (
        "{"
        + ", ".join(
            ['"Version": 1']
            + [f"{json_string(key)}: {json_string(value)}" for key, value in fields.items()]
        )
        + "}"
    )
