"""`--store-keys`, `--unstore-keys`: move a profile's long-term keys into the OS keyring and back.

This module decides which case applies and says what happened; the writes, each step
crash-safe (the keys always whole in at least one place), are credentials/key_writes.py's.
After --store-keys, `aws --profile NAME` gets the profile's MFA session through that
credential_process, which reads the keys from the keyring when it needs a new session (our own
credential_process is never taken as a source of keys: see credentials/longterm.py).
"""

from __future__ import annotations

from aws_mfa_run import files
from aws_mfa_run.aws.answers import is_access_key_id, is_secret_text
from aws_mfa_run.commands.alias import on_path
from aws_mfa_run.credentials import key_writes, keyring_store
from aws_mfa_run.credentials.key_writes import own_process_of, read_checked
from aws_mfa_run.credentials.keys import KEYRING, LongTermKeys, checked_keys
from aws_mfa_run.credentials.longterm import config_section, file_keys, own_process_command
from aws_mfa_run.errors import ConfigError, NoKeyringError
from aws_mfa_run.settings import role_chain
from aws_mfa_run.terminal import NoTerminalError, Terminal, open_terminal
from aws_mfa_run.warm import is_own_process

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from aws_mfa_run.commands import Context


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
        key_id = terminal.ask_hidden("Access key ID: ") or ""
        _check_typed_key_id(key_id)  # before the secret is typed for nothing
        secret = terminal.ask_hidden("Secret access key: ")
    finally:
        terminal.close()
    if not secret:
        raise ConfigError("No secret access key was typed; nothing was stored.")
    if not is_secret_text(secret):
        raise ConfigError(
            "The secret access key you typed is not one (printable characters without spaces); "
            "nothing was stored."
        )
    return checked_keys(key_id, secret, KEYRING, "the keys you typed")


def _check_typed_key_id(key_id: str) -> None:
    if not key_id:
        raise ConfigError("No access key id was typed; nothing was stored.")
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
    config, credentials = read_checked(config_path), read_checked(credentials_path)
    found = file_keys(profile, config, credentials)
    process = own_process_of(profile, config)
    in_keyring = keyring_store.read(profile, backend)
    if found is None and process and is_own_process(process) and in_keyring:
        # The id of the keyring's keys may be unrecorded (an earlier version) or stale (a kill
        # in --rotate-keys): recorded, the keyring read again under the lock.
        key_writes.record_keyring_key(
            profile, config_path, credentials_path, state_dir=state_dir, backend=backend
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
                f"({in_keyring.access_key_id}) than {found[1]}; "
                + key_writes.which_to_keep(profile, in_keyring.access_key_id)
            )
        key_writes.use_keyring_keys(
            profile, in_keyring.access_key_id, config_path, credentials_path, state_dir
        )
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
        key_writes.store_typed_keys(
            profile, typed, config_path, credentials_path, state_dir=state_dir, backend=backend
        )
        say(
            f"Stored the keys of profile '{profile}' ({typed.access_key_id}) in the OS keyring "
            f"({keyring_store.backend_name(backend)}); no file holds them."
        )
        say(
            f"{config_path} now says `credential_process = {own_process_command(profile)}` for "
            "it, so `aws --profile ...` gets its MFA session."
        )
        return
    keys = found[0]
    note, holders = key_writes.move_into_keyring(
        profile,
        found,
        config,
        credentials,
        config_path,
        credentials_path,
        state_dir=state_dir,
        backend=backend,
    )
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
    try:
        keys = keyring_store.read(profile, backend)
    except NoKeyringError:
        keys = None  # no keyring at all holds nothing: keys in a file leave nothing to do
        if file_keys(profile, read_checked(config_path), read_checked(credentials_path)) is None:
            raise
    if keys is None:
        found = file_keys(profile, read_checked(config_path), read_checked(credentials_path))
        if found is not None:  # a second --unstore-keys: the same rule as a second --store-keys
            say(
                f"The keys of profile '{profile}' are in {found[1]} already, not in the OS "
                "keyring; nothing to do."
            )
            return
        raise ConfigError(f"The OS keyring holds no keys of profile '{profile}'.")
    note, holder = key_writes.put_back(
        profile, keys, config_path, credentials_path, state_dir=state_dir, backend=backend
    )
    if note:
        say(note)
    say(
        f"Moved the keys of profile '{profile}' ({keys.access_key_id}) from the OS keyring back "
        f"into {holder}."
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
