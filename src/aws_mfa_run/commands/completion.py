"""`aws-mfa-run --completion SHELL` prints a completion script (see completion.py); the hidden
`--complete-profiles` lists profile names for it when Tab is pressed."""

from __future__ import annotations

from aws_mfa_run.completion_scripts import profile_names, script
from aws_mfa_run.errors import MfaRunError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    if context.options.mode == "completion":
        context.write(script(context.options.completion_shell))
        return 0

    try:
        names = profile_names(*context.files())
    except MfaRunError:
        names = []  # a completion offers nothing rather than an error in the prompt line
    context.write("".join(f"{name}\n" for name in names))
    return 0
