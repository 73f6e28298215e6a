"""`aws-mfa-run --console [-p ROLE] [--print]`: the AWS console, signed in as a role.

One MFA code covers it, as every role use: the role's credentials come from the chain.
"""

from __future__ import annotations

from aws_mfa_run import federation
from aws_mfa_run.errors import ConfigError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    config, credentials = context.files()
    settings = context.settings(config, credentials)
    if not settings.roles:
        raise ConfigError(
            f"Profile '{settings.profile}' has no role_arn, and AWS lets only role credentials "
            "into the console (an MFA session of GetSessionToken cannot be federated): use "
            "--console -p with a role profile, or sign in to the console with your password and "
            "MFA device."
        )

    _, session = context.credentials()
    region = settings.roles[0].region or settings.region
    url = federation.console_url(session, region, context.env)
    if context.options.print_url:
        context.write(url + "\n")
        return 0
    federation.open_in_browser(url, context.env)
    context.say(f"Opened the AWS console as {settings.roles[0].role_arn} in your browser.")
    return 0
