"""Where the MFA code comes from: the command line, mfa_process, the terminal, mfa_prompt.

A code we sent once is remembered per device (it is spent, so not a secret any more): AWS rejects a
one-time code the second time, and saying "wait N seconds" beats a confusing AccessDenied.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files
from aws_mfa_run import prompt_program as dialog
from aws_mfa_run.errors import AwsRefusedError, NoCodeError, UsageError
from aws_mfa_run.prompt_program import run_code_program
from aws_mfa_run.terminal import NoTerminalError, Terminal
from aws_mfa_run.timefmt import quantity

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

TOTP_STEP = 30  # seconds per code of RFC 6238 devices, virtual and hardware
# AWS accepts a code from the neighbouring time steps too, so a spent code stays "the same code"
# for this long; after it, an equal code is a new one that happens to repeat.
SPENT_CODE_MEMORY = 3 * TOTP_STEP
MFA_PROCESS_TIMEOUT = 60


def normalize(code: str) -> str:
    """`123 456` and `123456` are the same code; anything but six digits is refused."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isascii() or not digits.isdigit():
        raise UsageError("The MFA code must be 6 digits (as your authenticator app shows it).")
    return digits


def seconds_to_next_code(now: float) -> int:
    return TOTP_STEP - int(now) % TOTP_STEP


class SpentCodes:
    """The codes sent per device, accepted or rejected, in a private file of ours: one
    `SERIAL CODE EPOCH [rejected]` per line, kept for SPENT_CODE_MEMORY. A code once sent is
    never sent again: AWS takes each code once, and one it rejected stays wrong. The memory is no
    secret (the codes are spent), so it outlives --logout.

    Plain lines, not JSON: the one process that fetches under make -j would pay json's import.
    """

    REJECTED = "rejected"

    def __init__(self, path: str) -> None:
        self.path = path

    def _load(self) -> list[tuple[str, str, int, bool]]:
        entries = []
        for line in (files.read_text(self.path) or "").splitlines():
            fields = line.split()
            if len(fields) in (3, 4) and fields[2].isascii() and fields[2].isdigit():
                rejected = len(fields) == 4 and fields[3] == self.REJECTED
                entries.append((fields[0], fields[1], int(fields[2]), rejected))
        return entries

    def outcome(self, serial: str, code: str, now: float) -> str | None:
        """ "rejected" or "used" when `code` was sent for `serial` lately, else None."""
        found = None
        for name, sent, when, rejected in self._load():
            if name == serial and sent == code and now - when < SPENT_CODE_MEMORY:
                found = self.REJECTED if rejected else "used"
        return found

    def was_spent(self, serial: str, code: str, now: float) -> bool:
        return self.outcome(serial, code, now) is not None

    def remember(self, serial: str, code: str, now: float, rejected: bool = False) -> None:
        files.ensure_directory(os.path.dirname(self.path))
        # Fetches for different profiles hold different locks: this read-modify-write needs its
        # own, or two of them at once would each drop the other's entry.
        with files.locked_directory_of(self.path):
            entries = [
                entry
                for entry in self._load()
                if now - entry[2] < SPENT_CODE_MEMORY and entry[:2] != (serial, code)
            ]
            entries.append((serial, code, int(now), rejected))
            text = "".join(
                f"{name} {sent} {when}{' ' + self.REJECTED if bad else ''}\n"
                for name, sent, when, bad in entries
            )
            files.write_atomic(self.path, text, private=True, locked_directory=True)


def _spent_message(serial: str, now: float, spent: SpentCodes, code: str) -> str:
    """Why `code` is not sent: AWS took it already, or rejected it (a code is sent once)."""
    if spent.outcome(serial, code, now) == SpentCodes.REJECTED:
        return (
            f"That code was already sent for {serial} and AWS rejected it; a code is never sent "
            f"twice: check the device, and wait {seconds_to_next_code(now)} seconds for the "
            "next code."
        )
    return (
        f"That code was already used for {serial}, and AWS accepts each code once; "
        f"wait {quantity(seconds_to_next_code(now), 'second')} for the next code."
    )


def run_mfa_process(command: str, profile: str) -> str:
    """The code printed by the profile's mfa_process."""
    where = f"The mfa_process of profile '{profile}'"
    status, output = run_code_program(command, where, MFA_PROCESS_TIMEOUT)
    if status != 0:
        raise NoCodeError(f"{where} failed with exit status {status}.")
    lines = output.strip().splitlines()
    try:
        return normalize(lines[-1].split()[-1] if lines and lines[-1].split() else "")
    except UsageError:
        raise NoCodeError(f"{where} printed no 6-digit code.") from None


def obtain_code(
    *,
    serial: str,
    profile: str,
    given: str | None,
    mfa_process: str | None,
    spent: SpentCodes,
    open_terminal: Callable[[], Terminal],
    run_process: Callable[[str, str], str] = run_mfa_process,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None],
    stale_note: str | None = None,
    prompt_program: str | None = None,
) -> str:
    """A fresh code for `serial`, from the first source that has one."""
    if given is not None:
        if spent.was_spent(serial, given, clock()):
            raise AwsRefusedError(_spent_message(serial, clock(), spent, given))
        return given
    if mfa_process:
        code = run_process(mfa_process, profile)
        if spent.was_spent(serial, code, clock()):
            wait = seconds_to_next_code(clock()) + 1
            say(
                f"The code from mfa_process was just used; waiting {quantity(wait, 'second')} "
                "for the next one."
            )
            sleep(wait)
            code = run_process(mfa_process, profile)
            if spent.was_spent(serial, code, clock()):
                raise AwsRefusedError(_spent_message(serial, clock(), spent, code))
        return code
    try:
        terminal = open_terminal()
    except NoTerminalError:
        # --- mfa_prompt: the profile's dialog program, only when there is no terminal ---
        if prompt_program:

            def check(answer: str) -> tuple[str | None, str | None]:
                try:
                    code = normalize(answer)
                except UsageError as error:
                    return None, str(error)
                if spent.was_spent(serial, code, clock()):
                    return None, _spent_message(serial, clock(), spent, code)
                return code, None

            question = f"MFA code for {serial}:"
            return dialog.ask(prompt_program, profile=profile, question=question, check=check)
        # --- end of mfa_prompt ---
        before = f"{stale_note} " if stale_note else ""
        raise NoCodeError(
            f"{before}No MFA code for {serial} and no terminal to ask on: pass it as "
            "`aws mfa CODE` / --token-code CODE, or set mfa_process or mfa_prompt in the profile."
        ) from None
    try:
        while True:
            answer = terminal.ask(f"MFA code for {serial}: ")
            if answer is None:
                raise NoCodeError("No MFA code was entered.")
            try:
                code = normalize(answer)
            except UsageError as error:
                terminal.tell(str(error))
                continue
            if spent.was_spent(serial, code, clock()):
                terminal.tell(_spent_message(serial, clock(), spent, code))
                continue
            return code
    finally:
        terminal.close()
