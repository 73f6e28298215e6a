"""Valid session credentials: from the store, else (under a lock) a code and one STS call.

However many processes start at once without a valid session, one of them takes the lock, asks for
the code and calls STS; the others wait, then find its session in the store and use it.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import codes, files, store
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.settings import Settings
from aws_mfa_run.terminal import NoTerminal, Terminal, open_terminal

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


FNV_OFFSET, FNV_PRIME, MASK_64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def _fetch_lock_path(settings: Settings) -> str:
    # One lock per session store entry: the credentials file and the source profile. Named by
    # a 64-bit FNV-1a hash, not hashlib: every process waiting under make -j would pay its
    # import (~2 ms). Two entries sharing a lock by a collision only wait for each other.
    key = f"{os.path.realpath(settings.credentials_path)}\0{settings.source_profile}"
    digest = FNV_OFFSET
    for byte in key.encode("utf-8", "surrogateescape"):
        digest = ((digest ^ byte) * FNV_PRIME) & MASK_64
    return os.path.join(settings.state_dir, "locks", f"{digest:016x}.lock")


def discover_serial(
    settings: Settings,
    keys: tuple[str, str],
    say: Callable[[str], None],
    terminal_opener: Callable[[], Terminal],
) -> str:
    """Find the user's MFA device with IAM ListMFADevices and remember it in the config."""
    from aws_mfa_run import sts

    serials = sts.list_mfa_devices(
        keys=keys, profile=settings.source_profile, region=settings.region
    )
    profile = settings.source_profile
    if not serials:
        raise ConfigError(
            f"The IAM user of profile '{profile}' has no MFA device; assign one in the IAM "
            "console, or name it with --serial ARN."
        )
    chosen = serials[0]
    if len(serials) > 1:
        listed = ", ".join(serials)
        try:
            terminal = terminal_opener()
        except NoTerminal:
            raise ConfigError(
                f"The IAM user of profile '{profile}' has several MFA devices ({listed}); "
                "name one with --serial ARN or as mfa_serial in the profile."
            ) from None
        try:
            for number, serial in enumerate(serials, 1):
                terminal.tell(f"  {number}. {serial}")
            while True:
                answer = terminal.ask(f"Which MFA device [1-{len(serials)}]: ")
                if answer is None:
                    raise ConfigError("No MFA device was chosen.")
                if answer.isdigit() and 1 <= int(answer) <= len(serials):
                    chosen = serials[int(answer) - 1]
                    break
        finally:
            terminal.close()
    store.save_mfa_serial(settings, chosen)
    say(f"Found MFA device {chosen}; saved it as mfa_serial of profile '{profile}'.")
    return chosen


def get_session(
    settings: Settings,
    credentials: IniText,
    *,
    token_code: str | None,
    force: bool,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.time,
    terminal_opener: Callable[[], Terminal] = open_terminal,
    env: Mapping[str, str] | None = None,
) -> tuple[SessionCredentials, bool]:
    """The session for `settings`, and whether it was fetched now (False: reused from the store).

    `credentials` is the already parsed credentials file, so the warm path reads it only once.
    `env`: where environment keys may come from (default: this process's environment).
    """
    if not force:
        session = store.stored_session(settings, credentials)
        if session is not None and store.usable(session, clock(), settings.min_remaining):
            return session, False
    files.ensure_directory(os.path.join(settings.state_dir, "locks"))

    # Waiters stay silent: under make -j their lines would garble the one prompt on the terminal.
    with files.locked(_fetch_lock_path(settings)):
        # Read again: whoever held the lock may just have stored a session, or changed the files.
        credentials_now = store.read_ini(settings.credentials_path)
        config_now = store.read_ini(settings.config_path)
        if not force:
            session = store.stored_session(settings, credentials_now)
            if session is not None and store.usable(session, clock(), settings.min_remaining):
                return session, False
        # Check both files whole before a code is spent: a write refused afterwards would waste it.
        config_now.validate()
        credentials_now.validate()
        files.check_writable(settings.credentials_path)
        from aws_mfa_run.credentials.longterm import long_term_keys

        keys = long_term_keys(
            settings.source_profile,
            config_now,
            credentials_now,
            os.environ if env is None else env,
        ).pair
        serial = settings.serial or discover_serial(settings, keys, say, terminal_opener)
        spent = codes.SpentCodes(settings.state_dir)
        from aws_mfa_run import sts

        client = sts.prepare_session_token_call(
            keys=keys,
            profile=settings.source_profile,
            region=settings.region,
        )
        try:
            code = codes.obtain_code(
                serial=serial,
                profile=settings.source_profile,
                given=token_code,
                mfa_process=settings.mfa_process,
                spent=spent,
                open_terminal=terminal_opener,
                clock=clock,
                say=say,
            )
            session = sts.get_session_token(
                client=client,
                profile=settings.source_profile,
                serial=serial,
                code=code,
                duration=settings.duration,
                clock=clock,
            )
        finally:
            client.close()
        spent.remember(serial, code, clock())
        for note in store.write_session(settings, session):
            say(note)
        return session, True
