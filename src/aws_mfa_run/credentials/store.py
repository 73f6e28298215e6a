"""The session store: the target profile in the credentials file, and its config section.

`aws mfa`, the wrapper and --credential-process all read and write the same place, so one code
covers them all and `aws ... --profile mfa` works too. A stored session is ours only when it carries
our expiration key; a target holding keys we did not write, or whose credentials come from
elsewhere (a role, SSO, a credential_process), is never written.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.credentials import state
from aws_mfa_run.credentials.session import (
    KEY_EXPIRATION,
    KEY_ISSUED,
    SESSION_KEYS,
    SessionCredentials,
    from_stored,
    stored_values,
)
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.settings import (
    COPIED_KEYS,
    FOREIGN_CREDENTIAL_KEYS,
    KEY_COPIED,
    KEY_SOURCE,
    config_header,
    config_values,
)

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# Another tool (`aws configure set`) may be rewriting the file in place, unlocked, just as we read
# it: a read that lost sections is retried for this long before we refuse to write it back.
CHANGED_FILE_RETRIES = 40
CHANGED_FILE_WAIT = 0.05


def read_ini(path: str) -> inifile.IniText:
    return inifile.parse(files.read_text(path) or "", path)


def stored_session(
    credentials: inifile.IniText, target: str, source: str
) -> SessionCredentials | None:
    """The session `target` holds for `source`, valid or not; else None."""
    values = credentials.get(target)
    if not values or values.get(KEY_SOURCE) != source:
        return None
    return from_stored(values)


def check_target(
    credentials: inifile.IniText, config: inifile.IniText, target: str, source: str
) -> None:
    """Refuse, before any code is spent, a target that is not ours to write for `source`."""
    values = credentials.get(target) or {}
    holder = values.get(KEY_SOURCE)
    if holder and holder != source:
        raise ConfigError(
            f"Profile '{target}' holds the MFA session of profile '{holder}'; choose another "
            f"--target-profile, or end that session first (aws-mfa-run --logout -p {holder})."
        )
    if values.get("aws_access_key_id") and KEY_EXPIRATION not in values:
        raise ConfigError(
            f"Profile '{target}' in {credentials.path} holds keys that aws-mfa-run did not "
            "write; choose another --target-profile or remove that section."
        )
    for key in FOREIGN_CREDENTIAL_KEYS:
        if key in values or key in (config_values(target, config) or {}):
            raise ConfigError(
                f"Profile '{target}' gets its credentials from {key}; aws-mfa-run will not "
                "write session keys into it. Choose another --target-profile."
            )


def _wait_for_whole_file(
    path: str,
    expected_sections: set[str],
    sleep: Callable[[float], None],
) -> inifile.IniText:
    """The credentials file, once it again holds every section it held when we first read it."""
    for _ in range(CHANGED_FILE_RETRIES):
        current = read_ini(path)
        current.validate()
        missing = expected_sections - set(current.sections)
        if not missing:
            return current
        sleep(CHANGED_FILE_WAIT)
    shown = ", ".join(sorted(missing))[:120]
    raise ConfigError(
        f"{path} lost profiles ({shown}) while aws-mfa-run was updating it, as when another "
        "tool rewrites it at the same moment; nothing was written. Check the file, then run again."
    )


def copied_values(credentials: inifile.IniText, target: str) -> dict[str, str]:
    """The config values we copied into the target's config section from its profile, as
    recorded in its credentials section (which is all ours): `region=eu-west-1 output=json`.
    A value still as we wrote it is ours to keep in step; anything else there is the user's."""
    listed = (credentials.get(target) or {}).get(KEY_COPIED, "")
    pairs = (word.partition("=") for word in listed.split())
    return {key: value for key, _, value in pairs if key in COPIED_KEYS and value}


def target_config_changes(
    config: inifile.IniText, target: str, wanted: Mapping[str, str | None], ours: Mapping[str, str]
) -> tuple[dict[str, str | None], str | None]:
    """The edits that keep the values we copied (region, output) in step with the profile, and
    the new record of what we copied; a value the user set or changed is never touched."""
    current = config_values(target, config) or {}
    changes: dict[str, str | None] = {}
    now_ours: list[str] = []
    for key in COPIED_KEYS:
        value = wanted.get(key)
        if key in current and current[key] != ours.get(key):
            continue  # the user's
        if value and " " not in value and "=" not in value:
            now_ours.append(f"{key}={value}")
            if current.get(key) != value:
                changes[key] = value
        elif key in current:
            changes[key] = None  # we copied it; the profile has none now
    return changes, " ".join(now_ours) or None


class _Locks:
    """The edit lock of each distinct file, in our own state directory, always taken in the same
    order (two processes taking two locks in opposite orders would deadlock)."""

    def __init__(self, *paths: str, state_dir: str) -> None:
        self._directories = (state_dir, os.path.join(state_dir, state.LOCKS))
        self._locks = [
            files.locked(lock) for lock in sorted({state.file_lock(state_dir, p) for p in paths})
        ]

    def __enter__(self) -> None:
        files.ensure_private_directories(*self._directories)
        entered = []
        try:
            for lock in self._locks:
                lock.__enter__()
                entered.append(lock)
        except BaseException:
            for lock in reversed(entered):
                lock.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        for lock in reversed(self._locks):
            lock.__exit__()


def _ensure_parent(path: str) -> None:
    files.ensure_directory(os.path.dirname(os.path.abspath(path)))


def write_session(
    *,
    credentials_path: str,
    config_path: str,
    state_dir: str,
    target: str,
    source: str,
    session: SessionCredentials,
    copied: Mapping[str, str | None],
    expected_sections: set[str],
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Write the session to the target profile and keep the target's copied config values in
    step. Returns notes for the user.

    Both files or neither: the config file is checked writable for real before the credentials
    file is replaced, and should its write still fail, the credentials file gets its old text
    back. A file another tool changed while we wrote it is edited again on its new text."""
    notes: list[str] = []
    _ensure_parent(credentials_path)
    _ensure_parent(config_path)
    with _Locks(credentials_path, config_path, state_dir=state_dir):
        for attempt in range(files.CHANGED_FILE_ATTEMPTS):
            credentials = _wait_for_whole_file(credentials_path, expected_sections, sleep)
            config = read_ini(config_path)
            check_target(credentials, config, target, source)
            ours = copied_values(credentials, target)
            changes, now_ours = target_config_changes(config, target, copied, ours)
            new_credentials = inifile.edit_section(
                credentials,
                target,
                {**stored_values(session), KEY_SOURCE: source, KEY_COPIED: now_ours},
            )
            if changes:
                files.check_writable(config_path)
            try:
                note = files.write_atomic(
                    credentials_path,
                    new_credentials,
                    private=True,
                    locked_directory=True,
                    based_on=credentials.text(),
                )
            except files.FileChanged:
                if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                    raise
                files.pause_after_change()
                continue
            if note:
                notes.append(note)
            if changes:
                try:
                    _edit_config(config_path, target, copied, ours)
                except BaseException:
                    _restore(credentials_path, credentials.text(), new_credentials)
                    raise
            break
    return notes


def _edit_config(
    config_path: str, target: str, copied: Mapping[str, str | None], ours: Mapping[str, str]
) -> None:
    """Keep the target's copied values in step in the config file (its edit lock is held)."""
    for attempt in range(files.CHANGED_FILE_ATTEMPTS):
        config = read_ini(config_path)
        changes, _ = target_config_changes(config, target, copied, ours)
        if not changes:
            return
        new_config = inifile.edit_section(config, config_header(target, config), changes)
        if new_config == config.text():
            return
        try:
            files.write_atomic(
                config_path,
                new_config,
                private=False,
                locked_directory=True,
                based_on=config.text(),
            )
            return
        except files.FileChanged:
            if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                raise
            files.pause_after_change()


def _restore(path: str, old: str, written: str) -> None:
    """Put back the text we replaced, unless someone changed the file since."""
    try:
        files.write_atomic(path, old, private=True, locked_directory=True, based_on=written)
    except ConfigError:
        pass  # the error that made us restore is what the user must see


def remove_session(
    *, credentials_path: str, config_path: str, state_dir: str, target: str, source: str
) -> bool:
    """Remove our keys from `target` (the section too when nothing else is left in it) and the
    values we copied into its config section. False when there was nothing of ours."""
    with _Locks(credentials_path, config_path, state_dir=state_dir):
        credentials = read_ini(credentials_path)
        values = credentials.get(target)
        if values is None or values.get(KEY_SOURCE) != source:
            return False
        copied = copied_values(credentials, target)
        ours = (*SESSION_KEYS, KEY_EXPIRATION, KEY_ISSUED, KEY_SOURCE, KEY_COPIED)
        text = inifile.remove_keys(credentials, target, ours)
        files.write_atomic(
            credentials_path, text, private=True, locked_directory=True, based_on=credentials.text()
        )
        config = read_ini(config_path)
        current = config_values(target, config) or {}
        still_ours = sorted(key for key, value in copied.items() if current.get(key) == value)
        if still_ours:
            text = inifile.remove_keys(config, config_header(target, config), still_ours)
            files.write_atomic(
                config_path, text, private=False, locked_directory=True, based_on=config.text()
            )
    return True


def save_mfa_serial(config_path: str, profile: str, serial: str, state_dir: str) -> None:
    """Remember a discovered device as `mfa_serial` in the source profile's config section."""
    _ensure_parent(config_path)
    with _Locks(config_path, state_dir=state_dir):
        for attempt in range(files.CHANGED_FILE_ATTEMPTS):
            config = read_ini(config_path)
            header = config_header(profile, config)
            new = inifile.edit_section(config, header, {"mfa_serial": serial})
            try:
                files.write_atomic(
                    config_path, new, private=False, locked_directory=True, based_on=config.text()
                )
                return
            except files.FileChanged:
                if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                    raise
                files.pause_after_change()
