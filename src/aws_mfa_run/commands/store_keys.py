"""`--store-keys`, `--unstore-keys`: move a profile's long-term keys into the OS keyring and back.

Crash-safe: every step leaves the keys in at least one place, whole.
  --store-keys:   1. keyring: write the pair, read it back, compare;
                  2. config file: `credential_process = aws-mfa-run --credential-process -p NAME`
                     (the file keys still win while they are there, in botocore and here);
                  3. credentials file: remove the two key lines.
                  Every copy of the pair goes (the profile's section of either file); another
                  pair (or half of one) beside it is refused before anything changes.
  --unstore-keys: 1. credentials file: the two key lines back; 2. config file: our
                  credential_process removed; 3. keyring: the entry removed, only while the
                  files (read again under their lock) still hold the pair.
Each file changes in one atomic write under its edit lock, made again on the new text when
another tool (`aws configure set`) wrote the file meanwhile: its edit is never lost.
After --store-keys, `aws --profile NAME` gets the profile's MFA session through that
credential_process, which reads the keys from the keyring when it needs a new session (our own
credential_process is never taken as a source of keys: see credentials/longterm.py).
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.aws.answers import is_access_key_id, is_secret_text
from aws_mfa_run.commands.alias import on_path
from aws_mfa_run.credentials import keyring_store, store
from aws_mfa_run.credentials.keys import KEY_ID, KEYRING, SECRET, LongTermKeys, checked_keys
from aws_mfa_run.credentials.longterm import config_section, file_keys, own_process_command
from aws_mfa_run.credentials.role import end_caches_of_other_keys
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.profiles import config_profiles, config_section_name
from aws_mfa_run.settings import role_chain
from aws_mfa_run.terminal import NoTerminalError, Terminal, open_terminal
from aws_mfa_run.warm import KEY_KEYRING_KEY, is_own_process

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from aws_mfa_run.commands import Context

PROCESS_KEY = "credential_process"


def _read(path: str) -> inifile.IniText:
    ini = store.read_ini(path)
    ini.validate()
    return ini


def _own_process_of(profile: str, config: inifile.IniText) -> str | None:
    section = config_section(profile, config)
    return (config.get(section) or {}).get(PROCESS_KEY) if section else None


def _typed_keys(
    profile: str,
    config_path: str,
    credentials_path: str,
    open_terminal: Callable[[], Terminal],
) -> LongTermKeys:
    """Long-term keys typed on the terminal, neither echoed, checked as keys from a file are."""
    try:
        terminal = open_terminal()
    except NoTerminalError:
        raise ConfigError(
            f"Profile '{profile}' has no keys in {credentials_path} or {config_path} to move "
            "into the keyring, and there is no terminal to type them on; run --store-keys at a "
            "terminal, or name the profile that holds them with -p."
        ) from None
    try:
        terminal.tell(
            f"Profile '{profile}' has no keys in a file: type them to store them in the OS "
            "keyring only (nothing is shown as you type)."
        )
        key_id = terminal.ask_hidden("Access key ID: ")
        secret = terminal.ask_hidden("Secret access key: ") if key_id else None
    finally:
        terminal.close()
    if not key_id:
        raise ConfigError("No access key id was typed; nothing was stored.")
    if not secret:
        raise ConfigError("No secret access key was typed; nothing was stored.")
    if key_id.startswith("ASIA"):
        raise ConfigError(
            "The access key id you typed (ASIA...) is one of temporary session credentials, not "
            "a long-term key; type the keys of an IAM user. Nothing was stored."
        )
    if not is_access_key_id(key_id):
        raise ConfigError(
            "The access key id you typed is not one (16 to 128 letters, digits or _); nothing "
            "was stored."
        )
    if not is_secret_text(secret):
        raise ConfigError(
            "The secret access key you typed is not one (printable characters without spaces); "
            "nothing was stored."
        )
    return checked_keys(key_id, secret, KEYRING, "the keys you typed")


def _add_own_process(profile: str, config_path: str, state_dir: str) -> None:
    """Our credential_process in the profile's config section (created when it has none)."""
    files.ensure_directory(os.path.dirname(os.path.abspath(config_path)))

    def add(config: inifile.IniText) -> str:
        _check_no_foreign_process(profile, config)
        section = config_section(profile, config) or config_section_name(profile)
        return inifile.edit_section(config, section, {PROCESS_KEY: own_process_command(profile)})

    with store.FileLocks(config_path, state_dir=state_dir):
        store.edit_file(config_path, add, private=False)


def _end_other_keys_sessions(
    profile: str, key_id: str, config_path: str, credentials_path: str, state_dir: str
) -> None:
    """End the stored sessions, role login targets and role caches of `profile` made with
    another key than `key_id`, and record `key_id` as the keyring's (warm.KEY_KEYRING_KEY), in
    one write (the caller holds the credentials file's edit lock). A session or role fetch that
    was waiting for AWS meanwhile stores its credentials later, with the other key's id: the
    record tells them apart from then on."""

    sources = _rooted_at(profile, store.read_ini(config_path), store.read_ini(credentials_path))

    def edit(ini: inifile.IniText) -> str:
        text = store.with_other_keys_sessions_ended(ini, sources, key_id, time.time())
        return store.with_keyring_key(inifile.parse(text, ini.path), profile, key_id) or text

    store.edit_file(credentials_path, edit, private=True)
    end_caches_of_other_keys(state_dir, profile, key_id)


def _rooted_at(profile: str, config: inifile.IniText, credentials: inifile.IniText) -> set[str]:
    """`profile`, and every role profile whose chain ends at its keys: the sources that the
    targets of `aws mfa -p ROLE` record."""
    found = {profile}
    for name in config_profiles(config):
        try:
            chain, root = role_chain(name, config, credentials)
        except ConfigError:
            continue  # a broken profile stores nothing
        if chain and root == profile:
            found.add(name)
    return found


def _ending_other_keys_sessions(
    profile: str, key_id: str, config_path: str, credentials_path: str, state_dir: str
) -> None:
    """_end_other_keys_sessions under the credentials file's edit lock."""
    files.ensure_directory(os.path.dirname(os.path.abspath(credentials_path)))
    with store.FileLocks(credentials_path, state_dir=state_dir):
        _end_other_keys_sessions(profile, key_id, config_path, credentials_path, state_dir)


def _check_no_foreign_process(profile: str, config: inifile.IniText) -> None:
    process = _own_process_of(profile, config)
    if process and not is_own_process(process):
        raise ConfigError(
            f"Profile '{profile}' got a credential_process of its own meanwhile; the keys "
            "are in the keyring, but the config file was left as it is."
        )


def _profile_sections(
    profile: str, config: inifile.IniText, credentials: inifile.IniText
) -> list[tuple[inifile.IniText, str]]:
    """The profile's sections that can hold keys: credentials file, then config file."""
    places = [(credentials, profile)]
    section = config_section(profile, config)
    if section is not None:
        places.append((config, section))
    return places


def _holds_copy(keys: LongTermKeys, ini: inifile.IniText, section: str) -> bool | None:
    """True when the section holds exactly the pair `keys`, False when it holds no key line,
    None when it holds other key lines (another pair, or half of one)."""
    values = ini.get(section) or {}
    found = values.get(KEY_ID), values.get(SECRET)
    if found == (None, None):
        return False
    return True if found == keys.pair else None


def _copies(
    profile: str,
    keys: LongTermKeys,
    config: inifile.IniText,
    credentials: inifile.IniText,
    holder: str,
) -> list[str]:
    """The paths of the files whose section of the profile holds the pair `keys`. A file that
    holds other key lines for the profile is refused, named: once the pair left, those would
    become the profile's keys (or half of them)."""
    found = []
    for ini, section in _profile_sections(profile, config, credentials):
        copy = _holds_copy(keys, ini, section)
        if copy is None:
            raise ConfigError(
                f"Profile '{profile}' has other key lines in {ini.path} than its keys "
                f"({keys.access_key_id}) in {holder}; remove the ones you no longer use, then "
                "run --store-keys again."
            )
        if copy:
            found.append(ini.path)
    return found


def store_keys(
    profile: str,
    config_path: str,
    credentials_path: str,
    *,
    state_dir: str,
    say: Callable[[str], None],
    backend: Any = None,
    open_terminal: Callable[[], Terminal] = open_terminal,
) -> None:
    config, credentials = _read(config_path), _read(credentials_path)
    found = file_keys(profile, config, credentials)
    process = _own_process_of(profile, config)
    in_keyring = keyring_store.read(profile, backend)
    if found is None and process and is_own_process(process) and in_keyring:
        # The id of the keyring's keys may be unrecorded (an earlier version) or stale (a kill
        # in --rotate-keys): recorded, the keyring read again under the lock.
        store.record_keyring_key(
            credentials_path=credentials_path,
            config_path=config_path,
            profile=profile,
            state_dir=state_dir,
            key_id_now=lambda: keyring_store.key_id(profile, backend),
        )
        say(f"The keys of profile '{profile}' are in the keyring already; nothing to do.")
        return
    if process and not is_own_process(process):
        raise ConfigError(
            f"Profile '{profile}' has a credential_process of its own; --store-keys would "
            "replace it. Remove it first, or keep the keys where they are."
        )
    if in_keyring is not None and (found is None or not in_keyring.same_keys(found[0])):
        # A keyring entry is never replaced: it may be the only copy of a key.
        if found is not None:
            raise ConfigError(
                f"The OS keyring holds other keys of profile '{profile}' "
                f"({in_keyring.access_key_id}) than {found[1]}; remove the ones you no longer "
                "use first (--unstore-keys brings the keyring's back)."
            )
        _ending_other_keys_sessions(
            profile, in_keyring.access_key_id, config_path, credentials_path, state_dir
        )
        _add_own_process(profile, config_path, state_dir)
        say(
            f"The keys of profile '{profile}' ({in_keyring.access_key_id}) are in the keyring "
            f"already; {config_path} now says `credential_process = "
            f"{own_process_command(profile)}` for it."
        )
        return
    if found is None:
        # No keys on disk: the user types them, and they never touch a file (aws-vault's `add`).
        files.check_writable(config_path)  # before the user types anything
        typed = _typed_keys(profile, config_path, credentials_path, open_terminal)
        # The sessions of other keys end first: once the typed keys are in the keyring, a kill
        # before their id is recorded would leave nothing to tell those sessions apart.
        _ending_other_keys_sessions(
            profile, typed.access_key_id, config_path, credentials_path, state_dir
        )
        if not keyring_store.replace(profile, typed, backend, expected=None, state_dir=state_dir):
            raise ConfigError(  # stored meanwhile: keep it
                f"The OS keyring got keys of profile '{profile}' meanwhile; the typed ones "
                "were not stored."
            )
        _add_own_process(profile, config_path, state_dir)
        say(
            f"Stored the keys of profile '{profile}' ({typed.access_key_id}) in the OS keyring "
            f"({keyring_store.backend_name(backend)}); no file holds them."
        )
        say(
            f"{config_path} now says `credential_process = {own_process_command(profile)}` for "
            "it, so `aws --profile ...` gets its MFA session."
        )
        return
    keys, holder = found
    # Every copy of the pair goes: one left behind (say in the config file, readable by all as
    # `aws configure` leaves it) would keep the secret on disk. Decided before anything changes.
    holders = _copies(profile, keys, config, credentials, holder)
    # Both files will be written: refuse a read-only one before the secret goes anywhere new.
    files.check_writable(credentials_path)
    files.check_writable(config_path)
    if not keyring_store.replace(profile, keys, backend, expected=None, state_dir=state_dir):
        raise ConfigError(
            f"The OS keyring got other keys of profile '{profile}' meanwhile; they were kept, "
            "and the keys in the files were left where they are."
        )

    def changed() -> ConfigError:
        return ConfigError(
            f"The keys of profile '{profile}' changed while they were being stored; "
            "run --store-keys again."
        )

    def edit_config(config: inifile.IniText) -> str:
        # Step 2: our credential_process, and the pair out of the config file if it is there.
        _check_no_foreign_process(profile, config)
        section = config_section(profile, config) or config_section_name(profile)
        copy = _holds_copy(keys, config, section)
        if copy is None:
            raise changed()
        values: dict[str, str | None] = {PROCESS_KEY: own_process_command(profile)}
        if copy:
            values.update({KEY_ID: None, SECRET: None})
        return inifile.edit_section(config, section, values)

    def edit_credentials(credentials: inifile.IniText) -> str | None:
        # Step 3: the pair out of the credentials file.
        copy = _holds_copy(keys, credentials, profile)
        if copy is None:
            raise changed()
        if not copy:
            return None
        return inifile.edit_section(credentials, profile, {KEY_ID: None, SECRET: None})

    files.ensure_directory(os.path.dirname(os.path.abspath(config_path)))
    with store.FileLocks(credentials_path, config_path, state_dir=state_dir):
        again = _read(config_path), _read(credentials_path)
        found_again = file_keys(profile, *again)
        if found_again is None or not keys.same_keys(found_again[0]):
            raise changed()
        holders = _copies(profile, keys, *again, found_again[1])
        # Sessions of other keys end while the files still show the key id (step 1, before
        # the key can leave them).
        _end_other_keys_sessions(
            profile, keys.access_key_id, config_path, credentials_path, state_dir
        )
        note = store.edit_file(config_path, edit_config, private=False)
        if credentials_path in holders:
            note = store.edit_file(credentials_path, edit_credentials, private=True) or note
    if note:
        say(note)
    say(
        f"Moved the keys of profile '{profile}' ({keys.access_key_id}) into the OS keyring "
        f"({keyring_store.backend_name(backend)}) and out of {' and '.join(holders)}."
    )
    say(
        f"{config_path} now says `credential_process = {own_process_command(profile)}` for it, "
        "so `aws --profile ...` gets its MFA session; --unstore-keys puts the keys back."
    )


def unstore_keys(
    profile: str,
    config_path: str,
    credentials_path: str,
    *,
    state_dir: str,
    say: Callable[[str], None],
    backend: Any = None,
) -> None:
    keys = keyring_store.read(profile, backend)
    if keys is None:
        found = file_keys(profile, _read(config_path), _read(credentials_path))
        if found is not None:  # a second --unstore-keys: the same rule as a second --store-keys
            say(
                f"The keys of profile '{profile}' are in {found[1]} already, not in the OS "
                "keyring; nothing to do."
            )
            return
        raise ConfigError(f"The OS keyring holds no keys of profile '{profile}'.")
    files.ensure_directory(os.path.dirname(os.path.abspath(credentials_path)))
    files.ensure_directory(os.path.dirname(os.path.abspath(config_path)))

    def other_keys(path: str) -> ConfigError:
        return ConfigError(
            f"Profile '{profile}' has other keys in {path} than the keyring; "
            "remove the ones you no longer use first."
        )

    def put_back(credentials: inifile.IniText) -> str | None:
        # Step 1: the keys back into the credentials file, unless a file holds them already
        # (`config`: as read under the lock, below).
        # With the keys back in the files, the keyring's key id is no longer recorded.
        in_files = file_keys(profile, config, credentials)
        if in_files is not None:
            if not keys.same_keys(in_files[0]):
                raise other_keys(in_files[1])
            return store.with_keyring_key(credentials, profile, None)
        values: dict[str, str | None] = {
            KEY_ID: keys.access_key_id,
            SECRET: keys.secret_access_key,
            KEY_KEYRING_KEY: None,
        }
        return inifile.edit_section(credentials, profile, values)

    def remove_own_process(config: inifile.IniText) -> str | None:
        # Step 2: our credential_process out of the config file.
        section = config_section(profile, config)
        process = _own_process_of(profile, config)
        if section is None or not process or not is_own_process(process):
            return None
        return inifile.edit_section(config, section, {PROCESS_KEY: None})

    with store.FileLocks(credentials_path, config_path, state_dir=state_dir):
        config, credentials = _read(config_path), _read(credentials_path)
        found = file_keys(profile, config, credentials)
        if found is not None and not keys.same_keys(found[0]):
            raise other_keys(found[1])
        note = store.edit_file(credentials_path, put_back, private=True)
        store.edit_file(config_path, remove_own_process, private=False)
        # Step 3: the keyring entry, only while the files, read again right before, hold the
        # pair: another tool writing the credentials file from a reading older than our write
        # takes the keys out of it again, and then the entry is their only copy.
        found = file_keys(profile, _read(config_path), _read(credentials_path))
        if found is not None and not keys.same_keys(found[0]):
            raise other_keys(found[1])
        if found is None:
            raise ConfigError(
                f"The keys of profile '{profile}' ({keys.access_key_id}) are no longer in "
                f"{credentials_path} (another program changed it meanwhile), so the OS keyring "
                "entry, which holds them, was kept; run --unstore-keys again."
            )
        keyring_store.delete(profile, backend, expected=keys, state_dir=state_dir)
    if note:
        say(note)
    say(
        f"Moved the keys of profile '{profile}' ({keys.access_key_id}) from the OS keyring back "
        f"into {found[1]}."
    )


def run(context: Context) -> int:
    """--store-keys and --unstore-keys for the named profile (never a role profile)."""

    config, credentials = context.files()
    profile = context.settings_profile()
    known = config_section(profile, config) is not None or credentials.get(profile) is not None
    new_profile = context.options.mode == "store-keys" and not known  # its keys will be typed
    if not new_profile and role_chain(profile, config, credentials, context.env)[0]:
        raise ConfigError(
            f"Profile '{profile}' is a role profile; name the profile that holds the keys with -p."
        )
    paths = context.paths
    if context.options.mode == "store-keys":
        store_keys(
            profile,
            paths.config,
            paths.credentials,
            state_dir=paths.state_dir,
            say=context.say,
            open_terminal=context.terminal_opener,
        )
        if not on_path("aws-mfa-run", context.env):
            context.say(
                "Note: aws-mfa-run is not on your PATH, so that credential_process cannot run it."
            )
    else:
        unstore_keys(
            profile, paths.config, paths.credentials, state_dir=paths.state_dir, say=context.say
        )
    return 0
