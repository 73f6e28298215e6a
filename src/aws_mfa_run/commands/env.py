"""`aws-mfa-run --env [SHELL]`: the credentials as shell text for `eval` (stdout: data only)."""

from __future__ import annotations

from aws_mfa_run import environ
from aws_mfa_run.errors import MfaRunError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


# What a failed --env prints instead of the variables: a script whose status is not 0, so that
# `eval "$(aws-mfa-run --env)" && make` (fish: `| source; and make`) stops, as the failure of
# `--env` itself, inside `$(...)`, would not stop it. PowerShell's Invoke-Expression gets nothing.
FAILED_SCRIPT = {"powershell": "", "pwsh": ""}


def run(context: Context) -> int:
    try:
        settings, session = context.credentials()
    except MfaRunError:
        context.write(FAILED_SCRIPT.get(context.options.shell, "false\n"))
        raise
    variables = environ.session_variables(session, settings.profile, settings.region, context.env)
    context.write(environ.shell_script(variables, context.options.shell, context.env))
    return 0
