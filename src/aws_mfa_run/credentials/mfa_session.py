"""The MFA session of a source profile: from the store, else a code and one GetSessionToken.

Everything that could make the write fail is checked before the code is asked for: the files
parse, the target is ours to write, every file and directory that will be written is writable,
the keys are long-term and well formed, the CA bundle setting is usable. A code is spent only on
a call whose answer can be kept.
"""

from __future__ import annotations

import os
import stat
import time

from aws_mfa_run import codes, files
from aws_mfa_run.aws import client, iam, sts
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.credentials import keyring_store, state, store
from aws_mfa_run.credentials.cached import cached_fetch
from aws_mfa_run.credentials.keys import FILE, KEYRING
from aws_mfa_run.credentials.longterm import file_keys, long_term_keys, visible_key_id
from aws_mfa_run.errors import (
    AwsRefusedError,
    AwsUnreachableError,
    ConfigError,
    InterruptedByUserError,
    MfaRunError,
)
from aws_mfa_run.profiles import config_values
from aws_mfa_run.settings import Settings
from aws_mfa_run.terminal import NoTerminalError, Terminal, open_terminal
from aws_mfa_run.timefmt import quantity
from aws_mfa_run.warm import is_access_key_id, keyring_key_id, keyring_record_applies

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_mfa_run.codes import SpentCodes
    from aws_mfa_run.credentials.keys import LongTermKeys
    from aws_mfa_run.inifile import IniText


# Ctrl-C while AWS was asked: the code is recorded as sent (in our own state directory), so the
# usual "nothing was written" would not be the whole truth.
INTERRUPTED_AFTER_SENDING = (
    "interrupted while AWS was being asked for a session; your AWS files are unchanged, but the "
    "code counts as used (AWS may have received it): the next try needs the next code."
)


class Prompting:
    """The side effects a fetch may need, injected: how to speak, the clock, the terminal."""

    def __init__(
        self,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        terminal_opener: Callable[[], Terminal] = open_terminal,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.say = say
        self.clock = clock
        self.terminal_opener = terminal_opener
        self.sleep = sleep


def get_mfa_session(
    settings: Settings,
    env: Mapping[str, str],
    prompting: Prompting,
    *,
    token_code: str | None,
    force: bool,
    margin: float,
    ended: str | None = None,
) -> tuple[SessionCredentials, bool]:
    """The MFA session of `settings.source_profile`, and whether it was fetched now. `ended`: the
    access key id of a session AWS called expired, never reused whatever its stored end says."""
    paths = settings.paths
    source, target = settings.source_profile, settings.session_target
    floor = settings.floor if not settings.roles else 0

    def read() -> SessionCredentials | None:
        credentials = store.read_ini(paths.credentials)
        found = store.stored_session(credentials, target, source)
        if found is None:
            return None
        # A session made with another long-term key of the source (the user put another IAM
        # user's keys there since) is that key's: never reused, as one that has ended.
        config = store.read_ini(paths.config)
        current = visible_key_id(source, config, credentials, env)
        other = store.other_source_key(credentials, target, current)
        if other is None or keyring_holds(settings, config, credentials, other, mend=True):
            return found
        return None

    def usable(session: SessionCredentials) -> bool:
        return session.access_key_id != ended and session.usable(prompting.clock(), margin, floor)

    fetched: list[tuple[set[str], str]] = []

    def fetch() -> SessionCredentials:
        session, sections, key_id = _fetch(
            settings, env, prompting, token_code, margin, floor, forced=force
        )
        fetched.append((sections, key_id))
        return session

    def write(session: SessionCredentials) -> None:
        for note in store.write_session(
            credentials_path=paths.credentials,
            config_path=paths.config,
            state_dir=paths.state_dir,
            target=target,
            source=source,
            session=session,
            source_key_id=fetched[-1][1],
            copied=settings.session_copies,
            expected_sections=fetched[-1][0],
            env=env,
            sleep=prompting.sleep,
        ):
            prompting.say(note)

    lock = state.session_lock(paths.state_dir, paths.credentials, source, target)
    return cached_fetch(
        read=read,
        usable=usable,
        fetch=fetch,
        write=write,
        lock_path=lock,
        force=force,
        adopt_failure=token_code is None,
    )


def _fetch(
    settings: Settings,
    env: Mapping[str, str],
    prompting: Prompting,
    token_code: str | None,
    margin: float,
    floor: float,
    *,
    forced: bool,
) -> tuple[SessionCredentials, set[str], str]:
    # Only a fetch needs these: the warm path (a valid stored session) does without them.

    paths = settings.paths
    config = store.read_ini(paths.config)
    credentials = store.read_ini(paths.credentials)
    # Check both files whole, and everything the write needs, before a code is spent.
    config.validate()
    credentials.validate()
    store.check_target(credentials, config, settings.session_target, settings.source_profile)
    files.check_writable(paths.credentials)
    files.check_writable(paths.config)
    # Where the spent code will be remembered, and the files' edit locks.
    files.ensure_private_directories(paths.state_dir)
    files.check_writable(state.used_codes(paths.state_dir))

    client.check_environment(env, config_values(settings.source_profile, config))
    keys = long_term_keys(settings.source_profile, config, credentials, env)
    found_in = file_keys(settings.source_profile, config, credentials)
    _warn_if_readable(keys, found_in[1] if found_in else None, paths.config, prompting.say)
    discovered = None if settings.serial else discover_serial(settings, keys, env, prompting)
    serial = settings.serial or discovered or ""
    stale = store.stored_session(credentials, settings.session_target, settings.source_profile)
    other_key = store.other_source_key(credentials, settings.session_target, keys.access_key_id)
    spent = codes.SpentCodes(state.used_codes(paths.state_dir))
    codes.import_ahead()  # before the client's thread starts importing botocore
    call = sts.prepare_session_token_call(
        keys=keys.pair, profile=settings.source_profile, region=settings.region, env=env
    )
    try:
        code = codes.obtain_code(
            serial=serial,
            profile=settings.source_profile,
            given=token_code,
            mfa_process=settings.mfa_process,
            spent=spent,
            open_terminal=prompting.terminal_opener,
            clock=prompting.clock,
            sleep=prompting.sleep,
            say=prompting.say,
            stale_note=_stale_note(
                stale, prompting.clock(), margin, floor, other_key, keys, forced=forced
            ),
            prompt_program=settings.mfa_prompt,
        )
        # The code is recorded as sent from here on (see codes.SpentCodes): a run stopped
        # while AWS answers, by Ctrl-C or any signal, leaves it recorded, never sent twice.
        try:
            call.ready()
        except BaseException:
            _forget(spent, serial, code, prompting.clock())  # it never left this computer
            raise
        try:
            session = call.get_session_token(
                serial=serial, code=code, duration=settings.duration, clock=prompting.clock
            )
        except client.NotSentError:
            _forget(spent, serial, code, prompting.clock())  # still usable: not sent
            raise
        except AwsUnreachableError as error:
            # A 503, throttling or timeout may come after AWS took the code: it is spent.
            _settle(spent, serial, code, prompting.clock(), rejected=False)
            raise AwsUnreachableError(
                f"{error} That code counts as used (AWS may have received it): "
                "the next try needs the next code."
            ) from None
        except client.NotJudgedError:
            # AWS refused the keys or the signature before it looked at the code: the code is
            # not consumed, and once the keys are fixed it can be sent within its 30 seconds.
            _forget(spent, serial, code, prompting.clock())
            raise
        except AwsRefusedError:
            # A code AWS rejected is never sent again either.
            _settle(spent, serial, code, prompting.clock(), rejected=True)
            raise
    except KeyboardInterrupt:
        if spent.holds_sent_codes():
            raise InterruptedByUserError(INTERRUPTED_AFTER_SENDING) from None
        raise
    finally:
        call.close()
    _settle(spent, serial, code, prompting.clock(), rejected=False)
    # Mended only now, as the discovered serial below: a failed login changes no file. Best
    # effort: the code is spent, and the session it bought must be stored whatever the keyring
    # does now (a record left stale is mended by a later run).
    recorded = keyring_key_id(
        credentials.get(settings.source_profile), config_values(settings.source_profile, config)
    )
    if keys.origin == KEYRING and recorded != keys.access_key_id:
        try:
            _mend_keyring_record(settings)
        except MfaRunError:
            pass
    if discovered:
        # Saved only now: a failed login changes no file.
        profile = settings.source_profile
        store.save_mfa_serial(paths.config, profile, discovered, paths.state_dir)
        prompting.say(
            f"Found MFA device {discovered}; saved it as mfa_serial of profile '{profile}'."
        )
    return session, set(credentials.sections), keys.access_key_id


def _settle(spent: SpentCodes, serial: str, code: str, now: float, *, rejected: bool) -> None:
    """Record AWS's answer to a code. Best effort: the code is recorded as sent already, which
    keeps it from being sent again; the answer itself is what the user needs."""
    try:
        spent.settle(serial, code, now, rejected=rejected)
    except MfaRunError:
        pass


def _forget(spent: SpentCodes, serial: str, code: str, now: float) -> None:
    """Forget a code that never left this computer. Best effort: the failure that kept it here
    is what the user needs to read; at worst the code stays recorded and the next one is asked."""
    try:
        spent.forget(serial, code, now)
    except MfaRunError:
        pass


def _stale_note(
    stale: SessionCredentials | None,
    now: float,
    margin: float,
    floor: float,
    other_key: str | None,
    keys: LongTermKeys,
    *,
    forced: bool,
) -> str | None:
    if stale is None or stale.remaining(now) <= 0:
        return None
    if other_key is not None and not is_access_key_id(other_key):  # an edit damaged it
        return (
            "The stored session's record of the access key it was made with is damaged (a "
            "session of the profile's key is needed)"
        )
    if other_key is not None:
        return (
            f"The stored session was made with access key {other_key}, and the profile now "
            f"holds {keys.access_key_id} (a session of the new key is needed)"
        )
    left = quantity(int(stale.remaining(now) // 60), "minute")
    if stale.usable(now, margin, floor):
        if not forced:
            return None  # not reused for a reason said elsewhere (an ended key, say)
        return f"A new session was asked for (--force), though the stored one has {left} left"
    wanted = int(stale.margin(margin, floor) // 60)
    return f"The stored session has {left} left, under the {wanted}-minute margin"


def keyring_holds(
    settings: Settings,
    config: IniText,
    credentials: IniText,
    made_with_key: str | None,
    *,
    mend: bool,
) -> bool:
    """Whether the keyring itself holds `made_with_key` for the source, asked where stored
    credentials (an MFA session, a role cache) recorded as made with it disagree with the key
    id seen, no file holds keys, and the id seen may be our record of the keyring's key gone
    stale (a kill in --rotate-keys, an edit) or the environment's keys of another tool beside
    it. `mend`: the record is mended as the keyring says (never by --status, which only reads).
    A keyring that cannot be read holds nothing: the fetch says why."""
    source = settings.source_profile
    in_credentials, in_config = credentials.get(source), config_values(source, config)
    # The keyring may hold the source's keys: no file does, and no credential_process of the
    # user's gives them (with no record, one an earlier version did not write, it is asked too).
    if made_with_key is None or file_keys(source, config, credentials):
        return False
    # A profile no file names gets its keys from the environment alone (longterm): a keyring
    # entry left under its name holds nothing of it, and no record is written for it.
    if in_credentials is None and in_config is None:
        return False
    if not keyring_record_applies(in_credentials, in_config):
        return False
    try:
        held = _mend_keyring_record(settings) if mend else keyring_store.key_id(source)
    except MfaRunError:
        return False
    return held == made_with_key


def _mend_keyring_record(settings: Settings) -> str | None:
    """Record the id of the keys the keyring holds for the source now, where an earlier version
    wrote none or the record went stale; returns that id, None when the keyring holds no keys
    (see store.record_keyring_key, warm.KEY_KEYRING_KEY)."""
    source = settings.source_profile
    return store.record_keyring_key(
        credentials_path=settings.paths.credentials,
        config_path=settings.paths.config,
        profile=source,
        state_dir=settings.paths.state_dir,
        key_id_now=lambda: keyring_store.key_id(source),
    )


def _warn_if_readable(
    keys: LongTermKeys, keys_file: str | None, config_path: str, say: Callable[[str], None]
) -> None:
    """Long-term keys in a config file others can read get the warning the AWS CLI gives."""

    if keys.origin != FILE or keys_file != config_path:
        return
    try:
        mode = os.stat(config_path).st_mode
    except OSError:
        return
    if mode & 0o077:
        say(
            f"{config_path} holds long-term keys and is readable by other users "
            f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {config_path}`."
        )


def discover_serial(
    settings: Settings, keys: LongTermKeys, env: Mapping[str, str], prompting: Prompting
) -> str:
    """Find the user's MFA device with IAM ListMFADevices (saved once a login succeeds)."""

    profile = settings.source_profile
    serials = iam.list_mfa_devices(keys=keys.pair, profile=profile, region=settings.region, env=env)
    if not serials:
        raise ConfigError(
            f"The IAM user of profile '{profile}' has no MFA device; assign one in the IAM "
            "console, or name it with --serial ARN."
        )
    chosen = serials[0]
    if len(serials) > 1:
        listed = ", ".join(serials)
        try:
            terminal = prompting.terminal_opener()
        except NoTerminalError:
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
    return chosen
