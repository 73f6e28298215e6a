"""`aws-mfa-run --completion SHELL` prints a completion script (see completion_scripts.py); the
hidden `--complete-profiles` lists profile names for it when Tab is pressed."""

from __future__ import annotations

from aws_mfa_run.completion_scripts import profile_names, script
from aws_mfa_run.errors import MfaRunError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from aws_mfa_run.commands import Context
    from aws_mfa_run.completion_scripts import Word


def script_printer(
    modes: Sequence[Word], accepts: Mapping[str, Sequence[str]]
) -> Callable[[Context], int]:
    """--completion SHELL: what prints the script that completes the options and `modes`, and
    after a mode's flag only the options it `accepts` (the registry's words, which modes.py
    hands down: nothing below it may import it)."""

    def run(context: Context) -> int:
        context.write(script(context.options.completion_shell, modes, accepts))
        return 0

    return run


def run(context: Context) -> int:
    """--complete-profiles: one profile name per line."""
    try:
        names = profile_names(*context.files())
    except MfaRunError:
        names = []  # a completion offers nothing rather than an error in the prompt line
    context.write("".join(f"{name}\n" for name in names))
    return 0
