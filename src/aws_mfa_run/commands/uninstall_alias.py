"""`aws-mfa-run --uninstall-alias`: remove our `mfa` alias line and nothing else."""

from __future__ import annotations

from aws_mfa_run.commands.alias import uninstall

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    context.say(uninstall(context.paths.alias_file, context.paths.state_dir))
    return 0
