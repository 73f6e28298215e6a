"""Replace ourselves with the command: its exit status, signals and terminal are its own."""

from __future__ import annotations

import os
import sys

from aws_mfa_run.errors import CommandNotExecutableError, CommandNotFoundError, MfaRunError

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def exec_command(command: list[str], env: Mapping[str, str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as error:
        raise command_error(command[0], error) from None


def command_error(program: str, error: OSError) -> MfaRunError:
    """Our error for a command that could not be started (exit 127 or 126)."""
    if isinstance(error, FileNotFoundError):
        return CommandNotFoundError(f"Command not found: {program}")
    if isinstance(error, PermissionError):
        return CommandNotExecutableError(f"Command is not executable: {program}")
    return CommandNotExecutableError(
        f"Cannot run {program}: {error.strerror or type(error).__name__}."
    )
