"""`aws-mfa-run --env [SHELL]`: the credentials as shell text for `eval` (stdout: data only)."""

from __future__ import annotations

from aws_mfa_run import environ
from aws_mfa_run.credentials.chain import get_credentials

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    config, credentials = context.files()
    settings = context.settings(config, credentials)
    session, _ = get_credentials(
        settings, context.env, context.prompting(), token_code=context.token_code()
    )
    variables = environ.session_variables(session, settings.profile, settings.region, context.env)
    context.write(environ.shell_script(variables, context.options.shell, context.env))
    return 0
