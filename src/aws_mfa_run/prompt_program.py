"""Programs of the profile's that print a code (`mfa_process`, `mfa_prompt`), run without AWS
credentials in their environment; and `mfa_prompt`, the one that asks when there is no terminal.

An IDE, a GUI program or a desktop launcher runs `credential_process` without a terminal. A dialog
program (zenity, kdialog, osascript, a PowerShell form) named in the profile asks instead, and
prints the code on stdout. It runs where the terminal prompt would, inside the fetch lock, so
however many processes start at once, one dialog appears.
"""

from __future__ import annotations

from aws_mfa_run.errors import NoCodeError
from aws_mfa_run.timefmt import quantity

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# A person has to notice the dialog, find the device and type: longer than an mfa_process.
PROMPT_TIMEOUT = 180
PROMPT_ATTEMPTS = 3
# The question to show (`MFA code for arn:...:`), for dialogs that can display a text.
PROMPT_VARIABLE = "AWS_MFA_RUN_PROMPT"


# Variables that hold AWS credentials or lead to them: a program that prints a code needs none,
# and is not handed what it does not need (its output or a log of its environment would leak it).
AWS_SECRET_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_ACCESS_KEY",  # the older names some tools read (EC2 API tools, the Java SDK)
        "AWS_SECRET_KEY",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",  # --server's (or ECS's) credentials endpoint
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_BEARER_TOKEN_BEDROCK",
    }
)


def program_environment(
    environ: Mapping[str, str], extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`environ` without AWS credentials (the names above, and any AWS_ name that speaks of a
    secret, token or password), plus `extra_env`."""

    def secret(name: str) -> bool:
        upper = name.upper()
        return upper in AWS_SECRET_VARIABLES or (
            upper.startswith("AWS_")
            and any(word in upper for word in ("SECRET", "TOKEN", "PASSWORD"))
        )

    kept = {name: value for name, value in environ.items() if not secret(name)}
    kept.update(extra_env or {})
    return kept


def run_code_program(
    command: str, where: str, timeout: float, extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run a program of the profile's (through the shell, as its setting is written) that prints
    a code: its exit status and stdout. Its stdin is closed (stdin belongs to the wrapped
    command); its stderr stays the user's, so `ykman` can ask for a touch; its environment has
    no AWS credentials. Its text may hold a secret: it is never shown."""
    import os
    import subprocess

    try:
        done = subprocess.run(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=program_environment(os.environ, extra_env),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NoCodeError(f"{where} gave no code within {quantity(timeout, 'second')}.") from None
    except OSError as error:
        raise NoCodeError(f"{where} could not be started: {error.strerror}.") from None
    return done.returncode, done.stdout.decode(errors="replace")


def run_prompt_program(command: str, profile: str, question: str) -> str:
    """What the program printed (its last non-empty line). Its text is the user's: never shown."""
    where = f"The mfa_prompt of profile '{profile}'"
    status, output = run_code_program(
        command, where, PROMPT_TIMEOUT, extra_env={PROMPT_VARIABLE: question}
    )
    if status != 0:
        # zenity and kdialog exit 1 on Cancel; osascript and PowerShell forms likewise fail.
        raise NoCodeError(
            f"{where} was cancelled or failed (exit status {status}); no code was sent."
        )
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        # An InputBox (PowerShell) answers Cancel with nothing at all.
        raise NoCodeError(f"{where} gave no code (cancelled?); no code was sent.")
    return lines[-1].strip()


def ask(
    command: str,
    *,
    profile: str,
    question: str,
    check: Callable[[str], tuple[str | None, str | None]],
    run: Callable[[str, str, str], str] = run_prompt_program,
) -> str:
    """A code from the prompt program. `check(answer)` gives (code, None) for a usable answer,
    else (None, what is wrong): then the program is asked again, with that in its question."""
    shown = question
    for _ in range(PROMPT_ATTEMPTS):
        code, complaint = check(run(command, profile, shown))
        if code is not None:
            return code
        shown = f"{complaint} {question}"
    raise NoCodeError(
        f"The mfa_prompt of profile '{profile}' gave no usable code in {PROMPT_ATTEMPTS} tries."
    )
