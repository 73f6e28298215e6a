"""`aws-mfa-run --env [SHELL]`: the credentials as shell text for `eval` (stdout: data only)."""

from __future__ import annotations

from aws_mfa_run import environ

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    # A failure prints `false` instead (entry.failed_env_script), whatever failed.
    settings, session = context.credentials()
    variables = environ.session_variables(session, settings.profile, settings.region, context.env)
    context.write(environ.shell_script(variables, context.options.shell, context.env))
    return 0
