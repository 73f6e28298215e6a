"""Our exceptions. Each carries one user-facing sentence and an exit code, never a secret.

The exit codes are documented in README.md; the full path's entry point (entry.main) is the one
place that turns these into a message on stderr and a process status.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_NO_CODE = 4
EXIT_AWS_REFUSED = 5
EXIT_AWS_UNREACHABLE = 6
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130


class MfaRunError(Exception):
    """Base class: `str(error)` is the sentence shown to the user."""

    exit_code = EXIT_INTERNAL


class UsageError(MfaRunError):
    """The command line is wrong: unknown option, bad code, duration out of range."""

    exit_code = EXIT_USAGE


class ConfigError(MfaRunError):
    """Local files or profiles: unknown profile, no keys, corrupt INI, unwritable file."""

    exit_code = EXIT_CONFIG


class NoKeyringError(ConfigError):
    """There is no OS keyring at all (the keyring library found no backend)."""


class NoCodeError(MfaRunError):
    """No MFA code could be had: no flag, no mfa_process, no terminal."""

    exit_code = EXIT_NO_CODE


class AwsRefusedError(MfaRunError):
    """AWS answered and said no: wrong or reused code, invalid keys, clock skew."""

    exit_code = EXIT_AWS_REFUSED


class SessionExpiredError(AwsRefusedError):
    """AWS says the session credentials a call was made with have expired (ExpiredToken)."""


class RoleDeniedError(AwsRefusedError):
    """AWS denied an AssumeRole (AccessDenied)."""


class AwsUnreachableError(MfaRunError):
    """AWS did not answer usefully: network down, timeout, throttling, server error."""

    exit_code = EXIT_AWS_UNREACHABLE


class CommandNotFoundError(MfaRunError):
    exit_code = EXIT_NOT_FOUND


class CommandNotExecutableError(MfaRunError):
    exit_code = EXIT_NOT_EXECUTABLE


class InterruptedByUserError(MfaRunError):
    """Ctrl-C at a prompt or while waiting: nothing was written."""

    exit_code = EXIT_INTERRUPTED


def error_for_exit_code(exit_code: int, message: str) -> MfaRunError:
    """Our error of the class that has `exit_code` (another process's failure, passed on)."""
    for kind in (UsageError, ConfigError, NoCodeError, AwsRefusedError, AwsUnreachableError):
        if kind.exit_code == exit_code:
            return kind(message)
    return MfaRunError(message)


def command_error(program: str, error: OSError) -> MfaRunError:
    """Our error for a command that could not be started (exit 127 or 126)."""
    if isinstance(error, FileNotFoundError):
        return CommandNotFoundError(f"Command not found: {program}")
    if isinstance(error, PermissionError):
        return CommandNotExecutableError(f"Command is not executable: {program}")
    return CommandNotExecutableError(
        f"Cannot run {program}: {error.strerror or type(error).__name__}."
    )
