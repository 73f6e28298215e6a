"""The one place that writes long-term keys: into the OS keyring and out of the files
(--store-keys), back into the credentials file (--unstore-keys), a rotated key in place of the
old one (--rotate-keys), and our records about them: the profile's `credential_process` line,
the keyring's key id (warm.KEY_KEYRING_KEY), the sessions and role caches of other keys ended,
those of a rotated key moved to the new one. The commands decide which of these applies and say
what happened; the keyring entry itself is written by keyring_store.

Crash-safe: every step leaves the keys in at least one place, whole.
  store:   1. keyring: write the pair, read it back, compare;
           2. config file: `credential_process = aws-mfa-run --credential-process -p NAME`
              (the file keys still win while they are there, in botocore and here);
           3. credentials file: remove the two key lines.
           Every copy of the pair goes (the profile's section of either file); another pair (or
           half of one) beside it is refused before anything changes.
  unstore: 1. credentials file: the two key lines back; 2. config file: our credential_process
           removed; 3. keyring: the entry removed, only while the files (read again under their
           lock) still hold the pair.
  rotate:  the new key where the old one is (the file's two lines in one atomic write, or the
           keyring entry replaced and read back), only while that place still holds the old one.
Each file changes in one atomic write under its edit lock (store.FileLocks), made again on the
new text when another tool (`aws configure set`) wrote the file meanwhile: its edit is never lost.
"""

from __future__ import annotations

import os
import shlex
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.credentials import keyring_store, store
from aws_mfa_run.credentials.keys import KEY_ID, KEYRING, SECRET, LongTermKeys
from aws_mfa_run.credentials.longterm import config_section, file_keys, own_process_command
from aws_mfa_run.credentials.role import end_caches_of_other_keys, move_caches_source_key
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.profiles import config_profiles, config_section_name
from aws_mfa_run.settings import role_chain
from aws_mfa_run.warm import KEY_KEYRING_KEY, is_own_process

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROCESS_KEY = "credential_process"


def read_checked(path: str) -> inifile.IniText:
    """The file, refused (ConfigError) when it is not one we can edit safely."""
    ini = store.read_ini(path)
    ini.validate()
    return ini


def own_process_of(profile: str, config: inifile.IniText) -> str | None:
    """The credential_process of the profile's config section, if any (ours or another)."""
    section = config_section(profile, config)
    return (config.get(section) or {}).get(PROCESS_KEY) if section else None


def record_keyring_key(
    profile: str, config_path: str, credentials_path: str, *, state_dir: str, backend: Any
) -> None:
    """Record the id of the keys the keyring holds for `profile` now (read again under the
    credentials file's edit lock), when its keys may come from the keyring."""
    store.record_keyring_key(
        credentials_path=credentials_path,
        config_path=config_path,
        profile=profile,
        state_dir=state_dir,
        key_id_now=lambda: keyring_store.key_id(profile, backend),
    )


def which_to_keep(profile: str, keyring_key_id: str) -> str:
    """The end of the sentence for keys in the files that differ from the keyring's (say after
    `aws configure` with another IAM user's keys): neither is ever dropped by us, as either may
    be the only copy of a key; the user decides, and is told how."""
    quoted = shlex.quote(profile)
    return (
        f"to use the files' keys, delete the keyring entry (service aws-mfa-run, user "
        f"{profile}; {keyring_key_id}, if you no longer need it) with your keyring's tool, "
        f"such as `secret-tool clear service aws-mfa-run username {quoted}` on Linux or "
        f"`security delete-generic-password -s aws-mfa-run -a {quoted}` on macOS, then run "
        "--store-keys again; to use the keyring's, take the other key lines out of the files."
    )


def add_own_process(profile: str, config_path: str, state_dir: str) -> None:
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

    sources = rooted_at(profile, store.read_ini(config_path), store.read_ini(credentials_path))

    def edit(ini: inifile.IniText) -> str:
        text = store.with_other_keys_sessions_ended(ini, sources, key_id, time.time())
        return store.with_keyring_key(inifile.parse(text, ini.path), profile, key_id) or text

    store.edit_file(credentials_path, edit, private=True)
    end_caches_of_other_keys(state_dir, profile, key_id)


def rooted_at(profile: str, config: inifile.IniText, credentials: inifile.IniText) -> set[str]:
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


def end_other_keys_sessions(
    profile: str, key_id: str, config_path: str, credentials_path: str, state_dir: str
) -> None:
    """_end_other_keys_sessions under the credentials file's edit lock."""
    files.ensure_directory(os.path.dirname(os.path.abspath(credentials_path)))
    with store.FileLocks(credentials_path, state_dir=state_dir):
        _end_other_keys_sessions(profile, key_id, config_path, credentials_path, state_dir)


def _check_no_foreign_process(profile: str, config: inifile.IniText) -> None:
    process = own_process_of(profile, config)
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


def use_keyring_keys(
    profile: str, key_id: str, config_path: str, credentials_path: str, state_dir: str
) -> None:
    """The keyring holds the profile's keys (`key_id`) and no file does: the other keys'
    sessions end, then our credential_process goes into the config file."""
    end_other_keys_sessions(profile, key_id, config_path, credentials_path, state_dir)
    add_own_process(profile, config_path, state_dir)


def store_typed_keys(
    profile: str,
    typed: LongTermKeys,
    config_path: str,
    credentials_path: str,
    *,
    state_dir: str,
    backend: Any,
) -> None:
    """Keys typed by the user into the keyring only (they never touch a file), then the other
    keys' sessions ended and our credential_process into the config file."""
    # Their id is recorded first: once they are in the keyring, a kill before anything else
    # would leave nothing to tell the sessions of other keys apart. Taken back when the keyring
    # refuses them, so that a refusal changes no file.
    files.ensure_directory(os.path.dirname(os.path.abspath(credentials_path)))
    existed = os.path.lexists(credentials_path)
    with store.FileLocks(credentials_path, state_dir=state_dir):
        before = store.read_ini(credentials_path).get(profile)
        store.edit_file(
            credentials_path,
            lambda ini: store.with_keyring_key(ini, profile, typed.access_key_id),
            private=True,
        )

    def take_back() -> None:
        _take_back_record(
            profile, before, typed.access_key_id, credentials_path, state_dir, existed=existed
        )

    try:
        stored = keyring_store.replace(profile, typed, backend, expected=None, state_dir=state_dir)
    except BaseException:
        # The write may have landed before the failure (a read-back refused, a Ctrl-C): the
        # record goes only once the keyring, read again, shows it did not.
        try:
            landed = typed.same_keys(keyring_store.read(profile, backend))
        except BaseException:
            landed = True  # cannot tell: the record stays (at worst, a code is asked)
        if not landed:
            take_back()
        raise
    if not stored:
        take_back()
        raise ConfigError(  # stored meanwhile: keep it
            f"The OS keyring got keys of profile '{profile}' meanwhile; the typed ones "
            "were not stored."
        )
    end_other_keys_sessions(profile, typed.access_key_id, config_path, credentials_path, state_dir)
    add_own_process(profile, config_path, state_dir)


def _take_back_record(
    profile: str,
    before: dict[str, str] | None,
    key_id: str,
    credentials_path: str,
    state_dir: str,
    *,
    existed: bool,
) -> None:
    """The record line as it was before store_typed_keys wrote `key_id` (`before`: the profile's
    section then; None: there was none, and the section goes with the line when nothing else
    is in it), while it still says `key_id`; a credentials file the record created goes when
    nothing else is in it (`existed`: there was one before)."""

    def edit(ini: inifile.IniText) -> str | None:
        if (ini.get(profile) or {}).get(KEY_KEYRING_KEY) != key_id:
            return None
        if before is None:
            return inifile.remove_keys(ini, profile, [KEY_KEYRING_KEY])
        return store.with_keyring_key(ini, profile, before.get(KEY_KEYRING_KEY))

    with store.FileLocks(credentials_path, state_dir=state_dir):
        store.edit_file(credentials_path, edit, private=True)
        if not existed and (files.read_text(credentials_path) or "") == "":
            os.unlink(credentials_path)


def move_into_keyring(
    profile: str,
    found: tuple[LongTermKeys, str],
    config: inifile.IniText,
    credentials: inifile.IniText,
    config_path: str,
    credentials_path: str,
    *,
    state_dir: str,
    backend: Any,
) -> tuple[str | None, list[str]]:
    """The keys `found` in the files (`config`, `credentials`: as the caller read them) into the
    keyring and out of every file that holds them, in the three steps above. Returns the note of
    the last file write (or None) and the paths of the files the keys left."""
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
        again = read_checked(config_path), read_checked(credentials_path)
        found_again = file_keys(profile, *again)
        if found_again is None or not keys.same_keys(found_again[0]):
            raise changed()
        # The keyring, read again under the locks: an --unstore-keys of the same pair meanwhile
        # (it deletes the entry under these locks) would otherwise leave the keys nowhere.
        in_keyring = keyring_store.read(profile, backend)
        if in_keyring is None or not keys.same_keys(in_keyring):
            raise ConfigError(
                f"The OS keyring entry of profile '{profile}' was removed or changed while the "
                "keys were being stored (another --unstore-keys?); the keys were left in the "
                "files. Run --store-keys again."
            )
        holders = _copies(profile, keys, *again, found_again[1])
        # Sessions of other keys end while the files still show the key id (step 1, before
        # the key can leave them).
        _end_other_keys_sessions(
            profile, keys.access_key_id, config_path, credentials_path, state_dir
        )
        note = store.edit_file(config_path, edit_config, private=False)
        if credentials_path in holders:
            note = store.edit_file(credentials_path, edit_credentials, private=True) or note
    return note, holders


def put_back(
    profile: str,
    keys: LongTermKeys,
    config_path: str,
    credentials_path: str,
    *,
    state_dir: str,
    backend: Any,
) -> tuple[str | None, str]:
    """The keyring's keys `keys` back into the credentials file, our credential_process out of
    the config file, then the keyring entry removed, in the three steps above. Returns the note
    of the credentials file's write (or None) and the path of the file that holds the keys."""
    files.ensure_directory(os.path.dirname(os.path.abspath(credentials_path)))
    files.ensure_directory(os.path.dirname(os.path.abspath(config_path)))

    def other_keys(path: str) -> ConfigError:
        return ConfigError(
            f"Profile '{profile}' has other keys in {path} than the keyring "
            f"({keys.access_key_id}); " + which_to_keep(profile, keys.access_key_id)
        )

    def put_keys(credentials: inifile.IniText) -> str | None:
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
        process = own_process_of(profile, config)
        if section is None or not process or not is_own_process(process):
            return None
        return inifile.edit_section(config, section, {PROCESS_KEY: None})

    with store.FileLocks(credentials_path, config_path, state_dir=state_dir):
        config, credentials = read_checked(config_path), read_checked(credentials_path)
        found = file_keys(profile, config, credentials)
        if found is not None and not keys.same_keys(found[0]):
            raise other_keys(found[1])
        note = store.edit_file(credentials_path, put_keys, private=True)
        store.edit_file(config_path, remove_own_process, private=False)
        # Step 3: the keyring entry, only while the files, read again right before, hold the
        # pair: another tool writing the credentials file from a reading older than our write
        # takes the keys out of it again, and then the entry is their only copy.
        found = file_keys(profile, read_checked(config_path), read_checked(credentials_path))
        if found is not None and not keys.same_keys(found[0]):
            raise other_keys(found[1])
        if found is None:
            raise ConfigError(
                f"The keys of profile '{profile}' ({keys.access_key_id}) are no longer in "
                f"{credentials_path} (another program changed it meanwhile), so the OS keyring "
                "entry, which holds them, was kept; run --unstore-keys again."
            )
        keyring_store.delete(profile, backend, expected=keys, state_dir=state_dir)
    return note, found[1]


def store_rotated_key(
    profile: str,
    old: LongTermKeys,
    new: LongTermKeys,
    config_path: str,
    credentials_path: str,
    backend: Any,
    state_dir: str,
) -> None:
    """Put `new` where `old` is: the same file lines, or the keyring entry; only while that
    place still holds `old`, read again right before (what replaced it meanwhile may be the
    only copy of another key)."""
    changed = ConfigError(
        f"The keys of profile '{profile}' changed during the rotation; the new key "
        f"{new.access_key_id} was not stored."
    )
    if old.origin == KEYRING:
        if not keyring_store.replace(profile, new, backend, expected=old, state_dir=state_dir):
            raise changed
        # Until the new id is recorded, it and the sessions' disagree: a use asks for a code (a
        # login records it: mfa_session), and nothing is served as the old key's.
        record_keyring_key(
            profile, config_path, credentials_path, state_dir=state_dir, backend=backend
        )
        keep_sessions(
            profile, old.access_key_id, new.access_key_id, config_path, credentials_path, state_dir
        )
        return
    with store.FileLocks(credentials_path, config_path, state_dir=state_dir):
        config, credentials = store.read_ini(config_path), store.read_ini(credentials_path)
        found = file_keys(profile, config, credentials)
        if found is None or not old.same_keys(found[0]):
            raise changed
        holder_path = found[1]
        sources = rooted_at(profile, config, credentials)
        section = profile if holder_path == credentials.path else config_section(profile, config)
        assert section is not None

        def put_new(holder: inifile.IniText) -> str:
            values = holder.get(section) or {}
            if (values.get(KEY_ID), values.get(SECRET)) != old.pair:
                raise changed
            text = inifile.edit_section(
                holder, section, {KEY_ID: new.access_key_id, SECRET: new.secret_access_key}
            )
            if holder_path != credentials.path:
                return text
            # The sessions made with the old key are the same user's: in step, in the same write.
            edited = inifile.parse(text, holder.path)
            return store.with_source_key_moved(
                edited, sources, old.access_key_id, new.access_key_id
            )

        store.edit_file(holder_path, put_new, private=True)
        if holder_path == credentials_path:  # else keep_sessions notes it
            store.note_rotation(
                state_dir, profile, old.access_key_id, new.access_key_id, time.time()
            )
            move_caches_source_key(state_dir, profile, old.access_key_id, new.access_key_id)
    if holder_path != credentials_path:
        keep_sessions(
            profile, old.access_key_id, new.access_key_id, config_path, credentials_path, state_dir
        )


def keep_sessions(
    profile: str, old: str, new: str, config_path: str, credentials_path: str, state_dir: str
) -> None:
    """The sessions, role login targets and role caches made with the old key now count as made
    with the new one: the same IAM user's. A kill just before this leaves them recorded with the
    old key: the next --rotate-keys, which finishes that rotation, moves them first (until then
    a use asks for a code; nothing is lost)."""
    sources = rooted_at(profile, store.read_ini(config_path), store.read_ini(credentials_path))
    store.move_source_key(
        credentials_path=credentials_path,
        state_dir=state_dir,
        profile=profile,
        sources=sources,
        old_id=old,
        new_id=new,
    )
    move_caches_source_key(state_dir, profile, old, new)
