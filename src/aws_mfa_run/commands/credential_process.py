"""`aws-mfa-run --credential-process`: the credentials as botocore's Version 1 JSON on stdout.

botocore runs us with stdout and stderr captured and stdin inherited: a prompt goes to the
terminal device, only the JSON to stdout.
"""

from __future__ import annotations

from aws_mfa_run import environ

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context


def run(context: Context) -> int:
    _, session = context.credentials()
    context.write(environ.credential_process_json(session) + "\n")
    return 0
