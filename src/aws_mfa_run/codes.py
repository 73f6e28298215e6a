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
    """The codes sent per device in a private file of ours: one `SERIAL CODE EPOCH [STATE]` per
    line, kept for SPENT_CODE_MEMORY. STATE is `sent` (recorded before the request left; no
    answer yet, or none will come: the run was stopped), `rejected`, or nothing (accepted).

    A code once sent is never sent again: AWS takes each code once, and one it rejected stays
    wrong. So a code is recorded before it is sent, and whether it is spent is checked in the
    same step, under the file's lock (`claim`): of two runs that got the same code at once (two
    profiles of one device under make -j), the one that records it sends it and the other does
    not. A code that then never left this computer is forgotten again (`forget`). The memory is
    no secret (the codes are spent), so it outlives --logout.

    Plain lines, not JSON: the one process that fetches under make -j would pay json's import.
    """

    SENT = "sent"
    REJECTED = "rejected"
    USED = "used"  # accepted: no STATE on its line

    def __init__(self, path: str) -> None:
        self.path = path
        # The codes this object recorded as sent (serial, code) -> when: only those are its own
        # to settle or forget, never another run's record of the same code.
        self._claimed: dict[tuple[str, str], int] = {}

    def _load(self) -> list[tuple[str, str, int, str]]:
        entries = []
        for line in (files.read_text(self.path) or "").splitlines():
            fields = line.split()
            if len(fields) in (3, 4) and fields[2].isascii() and fields[2].isdigit():
                state = fields[3] if len(fields) == 4 else self.USED
                if state not in (self.SENT, self.REJECTED):
                    state = self.USED
                entries.append((fields[0], fields[1], int(fields[2]), state))
        return entries

    def outcome(self, serial: str, code: str, now: float) -> str | None:
        """`sent`, `rejected` or `used` when `code` was sent for `serial` lately, else None."""
        found = None
        for name, sent, when, state in self._load():
            if name == serial and sent == code and now - when < SPENT_CODE_MEMORY:
                found = state
        return found

    def was_spent(self, serial: str, code: str, now: float) -> bool:
        return self.outcome(serial, code, now) is not None

    def claim(self, serial: str, code: str, now: float) -> str | None:
        """Record `code` as sent for `serial`, before it is sent, and return None; or, when it
        was sent lately (by this run or another), record nothing and return its outcome."""
        found: list[str] = []

        def change(entries: list[tuple[str, str, int, str]]) -> bool:
            for name, sent, when, state in entries:
                if (name, sent) == (serial, code) and now - when < SPENT_CODE_MEMORY:
                    found.append(state)
            if found:
                return False
            entries.append((serial, code, int(now), self.SENT))
            return True

        self._rewrite(now, change)
        if found:
            return found[-1]
        self._claimed[(serial, code)] = int(now)
        return None

    def settle(self, serial: str, code: str, now: float, *, rejected: bool) -> None:
        """AWS answered: our record of `code` becomes accepted or rejected."""
        state = self.REJECTED if rejected else self.USED
        self._change_own(serial, code, now, state)

    def forget(self, serial: str, code: str, now: float) -> None:
        """`code` never left this computer: our record of it goes, and the code stays usable."""
        self._change_own(serial, code, now, None)
        self._claimed.pop((serial, code), None)

    def holds_sent_codes(self) -> bool:
        """Whether this object recorded a code as sent and has not forgotten it since."""
        return bool(self._claimed)

    def _change_own(self, serial: str, code: str, now: float, state: str | None) -> None:
        """Our own record of `code` (sent by this object, and still `sent`) takes `state`, or
        goes with None; anything else, another run's record above all, is left alone."""
        when = self._claimed.get((serial, code))
        if when is None:
            return
        own = (serial, code, when, self.SENT)

        def change(entries: list[tuple[str, str, int, str]]) -> bool:
            if own not in entries:
                return False
            at = entries.index(own)
            if state is None:
                del entries[at]
            else:
                entries[at] = (serial, code, when, state)
            return True

        self._rewrite(now, change)

    def _rewrite(
        self, now: float, change: Callable[[list[tuple[str, str, int, str]]], bool]
    ) -> None:
        """Read, `change` (True: write) and write the memory as one step. Fetches for different
        profiles hold different locks: this one is shared by all, so that no two of them record
        the same code, nor drop each other's entries."""
        files.ensure_directory(os.path.dirname(self.path))
        with files.locked_directory_of(self.path):
            entries = [entry for entry in self._load() if now - entry[2] < SPENT_CODE_MEMORY]
            if not change(entries):
                return
            text = "".join(
                f"{name} {sent} {when}{'' if state == self.USED else ' ' + state}\n"
                for name, sent, when, state in entries
            )
            files.write_atomic(self.path, text, private=True, locked_directory=True)


def _spent_message(serial: str, now: float, outcome: str) -> str:
    """Why a code is not sent: AWS took it already, rejected it, or may have taken it."""
    wait = f"wait {quantity(seconds_to_next_code(now), 'second')} for the next code."
    if outcome == SpentCodes.REJECTED:
        return (
            f"That code was already sent for {serial} and AWS rejected it; a code is never sent "
            f"twice: check the device, and {wait}"
        )
    if outcome == SpentCodes.SENT:
        return (
            f"That code was already sent for {serial} (by another run, or by one stopped before "
            f"AWS answered), and AWS accepts each code once; {wait}"
        )
    return f"That code was already used for {serial}, and AWS accepts each code once; {wait}"


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


def import_ahead() -> None:
    """Import now what obtain_code may import (a program's subprocess, the terminal's termios, a
    write's signal and ctypes): while it runs, a botocore client is built in another thread
    (aws.sts.SessionTokenCall), and two threads importing at once can fail in CPython (under
    load, 'cannot import name Mapping from collections.abc' was seen). obtain_code then imports
    nothing."""
    import ctypes  # noqa: F401
    import signal  # noqa: F401
    import subprocess  # noqa: F401
    import termios  # noqa: F401


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
    """A fresh code for `serial`, from the first source that has one, recorded in `spent` as
    sent (see SpentCodes.claim): the caller sends it, or forgets it if it cannot."""
    if given is not None:
        outcome = spent.claim(serial, given, clock())
        if outcome is not None:
            raise AwsRefusedError(_spent_message(serial, clock(), outcome))
        return given
    if mfa_process:
        code = run_process(mfa_process, profile)
        if spent.claim(serial, code, clock()) is not None:
            wait = seconds_to_next_code(clock()) + 1
            say(
                f"The code from mfa_process was just used; waiting {quantity(wait, 'second')} "
                "for the next one."
            )
            sleep(wait)
            code = run_process(mfa_process, profile)
            outcome = spent.claim(serial, code, clock())
            if outcome is not None:
                raise AwsRefusedError(_spent_message(serial, clock(), outcome))
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
                outcome = spent.claim(serial, code, clock())
                if outcome is not None:
                    return None, _spent_message(serial, clock(), outcome)
                return code, None

            question = f"MFA code for {serial}:"
            return dialog.ask(prompt_program, profile=profile, question=question, check=check)
        # --- end of mfa_prompt ---
        missing = f"o MFA code for {serial} and no terminal to ask on"
        # One sentence: why a new session is needed (when a stored one is there), then what is
        # missing for it.
        first = f"{stale_note}, and n{missing}" if stale_note else f"N{missing}"
        raise NoCodeError(
            f"{first}: pass it as `aws mfa CODE` / --token-code CODE, or set mfa_process or "
            "mfa_prompt in the profile."
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
            outcome = spent.claim(serial, code, clock())
            if outcome is not None:
                terminal.tell(_spent_message(serial, clock(), outcome))
                continue
            return code
    finally:
        terminal.close()
