"""`aws-mfa-run COMMAND`: replace ourselves with the command, credentials in its environment.

exec, not a child: the command's exit status, signals and terminal are its own.
"""

from __future__ import annotations

from aws_mfa_run import environ, warm
from aws_mfa_run.commands import server
from aws_mfa_run.credentials.chain import get_credentials
from aws_mfa_run.credentials.nested import inherited
from aws_mfa_run.errors import UsageError, command_error
from aws_mfa_run.settings import (
    DEFAULT_MIN_REMAINING,
    MARKER_VARIABLE,
    Request,
    requested_profile,
    wanted_min_remaining,
)
from aws_mfa_run.warm import FULL_URI

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    options, env = context.options, context.env
    if not options.command:
        raise UsageError("Nothing to run: give a COMMAND, or --login; see aws-mfa-run --help.")

    # Inside an aws-mfa-run for the same profile, the credentials are already in the
    # environment: no file is read (the files' mfa_min_remaining cannot count here).
    if options.target_profile is None and options.serial is None and options.token_code is None:
        request = Request.from_command_line(options, {})  # not the alias's: no /proc read yet
        profile = requested_profile(request, env)
        margin = (
            wanted_min_remaining(request, None) if options.min_remaining else DEFAULT_MIN_REMAINING
        )
        if env.get(FULL_URI) and env.get(MARKER_VARIABLE) == profile:
            exec_command(options.command, env)  # inside --server: its endpoint serves us too
        if not options.server and inherited(profile, env, context.clock(), margin) is not None:
            exec_command(options.command, env)

    config, credentials = context.files()
    settings = context.settings(config, credentials)
    if options.server or settings.server:
        return server.run(context, settings)
    session, _ = get_credentials(
        settings, env, context.prompting(), token_code=context.token_code(), allow_inherited=False
    )
    child = environ.child_environment(env, session, settings.profile, settings.region)
    exec_command(options.command, child)
    return 0  # not reached: exec replaced us


def exec_command(command: list[str], env: Mapping[str, str]) -> None:
    try:
        warm.exec_command(command, env)
    except OSError as error:
        raise command_error(command[0], error) from None
