"""The profile's `mfa_prompt`: a program that asks for the code when there is no terminal.

An IDE, a GUI program or a desktop launcher runs `credential_process` without a terminal. A dialog
program (zenity, kdialog, osascript, a PowerShell form) named in the profile asks instead, and
prints the code on stdout. It runs where the terminal prompt would, inside the fetch lock, so
however many processes start at once, one dialog appears.
"""

from __future__ import annotations

from aws_mfa_run.errors import NoCodeError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# A person has to notice the dialog, find the device and type: longer than an mfa_process.
PROMPT_TIMEOUT = 180
PROMPT_ATTEMPTS = 3
# The question to show (`MFA code for arn:...:`), for dialogs that can display a text.
PROMPT_VARIABLE = "AWS_MFA_RUN_PROMPT"


def run_prompt_program(command: str, profile: str, question: str) -> str:
    """What the program printed (its last non-empty line). Its text is the user's: never shown."""
    from aws_mfa_run.codes import run_code_program

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
