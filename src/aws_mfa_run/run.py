"""Replace ourselves with the command: its exit status, signals and terminal are its own."""

from __future__ import annotations

import os
import sys

from aws_mfa_run.errors import CommandNotExecutableError, CommandNotFoundError

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def exec_command(command: list[str], env: Mapping[str, str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        raise CommandNotFoundError(f"Command not found: {command[0]}") from None
    except PermissionError:
        raise CommandNotExecutableError(f"Command is not executable: {command[0]}") from None
    except OSError as error:
        raise CommandNotExecutableError(
            f"Cannot run {command[0]}: {error.strerror or type(error).__name__}."
        ) from None
