"""The session store: the target profile in the credentials file, and its config section.

`aws mfa`, the wrapper and --credential-process all read and write the same place, so one code
covers them all and `aws ... --profile mfa` works too. A stored session is ours only when it carries
our expiration key and its access key id is the one we wrote there (recorded beside it: a copied
marker line cannot fake the id in the section); a target holding keys we did not write, or whose
credentials come from elsewhere (a role, SSO, a credential_process), is never written, served or
emptied.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.aws.answers import (
    KEY_EXPIRATION,
    KEY_ID,
    KEY_ISSUED,
    SECRET,
    SESSION_KEYS,
    TOKEN,
    SessionCredentials,
    from_stored,
    is_access_key_id,
    stored_values,
)
from aws_mfa_run.credentials import state
from aws_mfa_run.errors import ConfigError, MfaRunError
from aws_mfa_run.profiles import config_header, config_values
from aws_mfa_run.settings import COPIED_KEYS, FOREIGN_CREDENTIAL_KEYS, KEY_COPIED, KEY_SOURCE
from aws_mfa_run.timefmt import format_utc
from aws_mfa_run.warm import (
    KEY_KEYRING_KEY,
    keyring_record_applies,
    made_with,
    visible_source_key_id,
)
from aws_mfa_run.warm import KEY_SOURCE_KEY as KEY_SOURCE_KEY
from aws_mfa_run.warm import KEY_WRITTEN as KEY_WRITTEN
from aws_mfa_run.warm import keys_are_ours as keys_are_ours

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

# Another tool (`aws configure set`) may be rewriting the file in place, unlocked, just as we read
# it: a read that lost sections is retried for this long before we refuse to write it back.
CHANGED_FILE_RETRIES = 40
CHANGED_FILE_WAIT = 0.05
# The access key id we wrote into the target: its keys are ours only while they carry this id.
# Set when the target was added to a file that had no final newline, so that --logout gives the
# file back byte for byte. Its value names the files: credentials, config.
KEY_NO_FINAL_NEWLINE = "aws_mfa_run_no_final_newline"
# The files in which the target's section was the user's before our first line went into it
# (`credentials`, `config`): --logout leaves such a section, even empty, and removes only our
# lines. A section not named here is one we added, and goes when nothing else is left in it.
KEY_USERS_SECTIONS = "aws_mfa_run_users_sections"
# Proof that the secret key and the session token in the target are the ones we wrote, without
# keeping either: `HASH(secret) HASH(token)`, SHA-256 salted with the session's access key id
# (recorded as KEY_WRITTEN). --logout removes each value only while it is ours (someone may have
# replaced the key id alone, or the whole pair).
KEY_FINGERPRINTS = "aws_mfa_run_written"
OWN_KEYS = (
    KEY_EXPIRATION,
    KEY_ISSUED,
    KEY_SOURCE,
    KEY_SOURCE_KEY,
    KEY_COPIED,
    KEY_WRITTEN,
    KEY_NO_FINAL_NEWLINE,
    KEY_USERS_SECTIONS,
    KEY_FINGERPRINTS,
)


def _fingerprint(salt: str, value: str) -> str:
    import hashlib  # only the full path writes or removes a session

    return hashlib.sha256(f"{salt}\0{value}".encode()).hexdigest()[:32]


def fingerprints(session: SessionCredentials) -> str:
    """KEY_FINGERPRINTS of a session we are about to write. A secret key or token is random
    (well over a hundred bits), so its hash cannot be turned back into it; the salt, the
    session's own access key id (random, unique to the session, no secret), keeps equal values
    of different sessions apart and needs no record of its own; and the record sits beside the
    secret itself, in the same private file, and goes with it."""
    salt = session.access_key_id
    return (
        f"{_fingerprint(salt, session.secret_access_key)} "
        f"{_fingerprint(salt, session.session_token)}"
    )


def written_by_us(values: Mapping[str, str]) -> set[str]:
    """The keys among the secret key and the session token of a target section that still hold
    the values we wrote (KEY_FINGERPRINTS); empty without that record."""
    hashes = values.get(KEY_FINGERPRINTS, "").split()
    salt = values.get(KEY_WRITTEN)
    if len(hashes) != 2 or not salt:
        return set()
    return {
        key
        for key, recorded in zip((SECRET, TOKEN), hashes)
        if key in values and _fingerprint(salt, values[key]) == recorded
    }


def read_ini(path: str) -> inifile.IniText:
    return inifile.parse(files.read_text(path) or "", path)


def foreign_keys(credentials: inifile.IniText, target: str) -> str | None:
    """Why `target` holds keys that are not ours to replace or serve; None when it does not."""
    values = credentials.get(target) or {}
    if values.get(KEY_ID) and (KEY_EXPIRATION not in values or not keys_are_ours(values)):
        return (
            f"Profile '{target}' in {credentials.path} holds keys that aws-mfa-run did not "
            "write; choose another --target-profile or remove that section."
        )
    return None


def stored_session(
    credentials: inifile.IniText, target: str, source: str
) -> SessionCredentials | None:
    """The session `target` holds for `source`, valid or not; else None (keys someone else put
    there are never served)."""
    values = credentials.get(target)
    if not values or values.get(KEY_SOURCE) != source or not keys_are_ours(values):
        return None
    return from_stored(values)


def other_source_key(
    credentials: inifile.IniText, target: str, current_key_id: str | None
) -> str | None:
    """The source key id recorded with the session in `target` when the source now holds
    another key (`current_key_id`, None: not known): that session belongs to the key it was
    made with, perhaps another IAM user's, and is never reused. None otherwise."""
    values = credentials.get(target) or {}
    if made_with(values, current_key_id):
        return None
    return values.get(KEY_SOURCE_KEY)


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
    foreign = foreign_keys(credentials, target)
    if foreign:
        raise ConfigError(foreign)
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
    """The file, once it again holds every section it held when we first read it.

    Another tool rewriting it in place (`aws configure set`: truncate, then write, in pieces
    once the file is large) shows us a file cut anywhere, even mid-line: by now a code may have
    been spent, so a file that does not parse is read again too before we give up."""
    malformed: ConfigError | None = None
    for _ in range(CHANGED_FILE_RETRIES):
        try:
            current = read_ini(path)
            current.validate()
        except ConfigError as error:
            malformed = error
            sleep(CHANGED_FILE_WAIT)
            continue
        missing = expected_sections - set(current.sections)
        if not missing:
            return current
        malformed = None
        sleep(CHANGED_FILE_WAIT)
    if malformed is not None:
        raise malformed
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


class FileLocks:
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
    source_key_id: str | None = None,
    copied: Mapping[str, str | None],
    expected_sections: set[str],
    env: Mapping[str, str],
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Write the session to the target profile and keep the target's copied config values in
    step. Returns notes for the user. `source_key_id`: the source's long-term key id the session
    was made with (recorded: see other_source_key); `env`: the environment it was read from.

    Both files or neither: the config file is checked writable for real before the credentials
    file is replaced, and should its write still fail, the credentials file gets its old text
    back. A file another tool changed while we wrote it is edited again on its new text."""
    notes: list[str] = []
    _ensure_parent(credentials_path)
    _ensure_parent(config_path)
    with FileLocks(credentials_path, config_path, state_dir=state_dir):
        made_with_key = source_key_id
        for attempt in range(files.CHANGED_FILE_ATTEMPTS):
            credentials = _wait_for_whole_file(credentials_path, expected_sections, sleep)
            config = _wait_for_whole_file(config_path, set(), sleep)
            source_key_id = _current_key_of(
                made_with_key, source, credentials, config, state_dir, env
            )
            check_target(credentials, config, target, source)
            ours = copied_values(credentials, target)
            changes, now_ours = target_config_changes(config, target, copied, ours)
            unended = (credentials.get(target) or {}).get(KEY_NO_FINAL_NEWLINE, "").split()
            if target not in credentials.sections and _unended(credentials):
                unended.append("credentials")
            if changes and config_values(target, config) is None and _unended(config):
                unended.append("config")
            users = _users_sections(credentials, config, target, ours, bool(changes))
            new_credentials = inifile.edit_section(
                credentials,
                target,
                {
                    **stored_values(session),
                    KEY_SOURCE: source,
                    KEY_SOURCE_KEY: source_key_id,
                    KEY_COPIED: now_ours,
                    KEY_WRITTEN: session.access_key_id,
                    KEY_NO_FINAL_NEWLINE: " ".join(sorted(set(unended))) or None,
                    KEY_USERS_SECTIONS: users,
                    KEY_FINGERPRINTS: fingerprints(session),
                },
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
            except files.FileChangedError:
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


def _users_sections(
    credentials: inifile.IniText,
    config: inifile.IniText,
    target: str,
    ours: Mapping[str, str],
    config_changes: bool,
) -> str | None:
    """The record of KEY_USERS_SECTIONS after this write: what it said, plus the credentials
    section when it is there without a line of ours yet, plus the config section when we are
    about to add values to one that holds none of ours."""
    values = credentials.get(target)
    users = set((values or {}).get(KEY_USERS_SECTIONS, "").split()) & {"credentials", "config"}
    if values is not None and KEY_SOURCE not in values:
        users.add("credentials")
    current = config_values(target, config)
    holds_ours = current is not None and any(current.get(k) == v for k, v in ours.items())
    if config_changes and current is not None and not holds_ours:
        users.add("config")
    return " ".join(sorted(users)) or None


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
        except files.FileChangedError:
            if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                raise
            files.pause_after_change()


def _restore(path: str, old: str, written: str) -> None:
    """Put back the text we replaced, unless someone changed the file since."""
    try:
        files.write_atomic(path, old, private=True, locked_directory=True, based_on=written)
    except ConfigError:
        pass  # the error that made us restore is what the user must see


def _unended(ini: inifile.IniText) -> bool:
    text = ini.text()
    return bool(text) and not text.endswith(("\n", "\r"))


def _restore_unended(before: inifile.IniText, text: str, section: str) -> str:
    """`text` without the final line break that adding `section` (now removed, and the last
    section of `before`) gave a file that had none."""
    found = before.sections.get(section)
    if found is None or any(other.header > found.header for other in before.sections.values()):
        return text
    if section in inifile.parse(text, before.path).sections:
        return text
    for ending in ("\r\n", "\n", "\r"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


REMOVED, FOREIGN = "removed", "foreign"


def _remove_lines(
    ini: inifile.IniText, section: str, keys: tuple[str, ...] | list[str], *, keep_section: bool
) -> str:
    """The text without `keys` in `section`; the section goes too when nothing is left in it,
    unless it was the user's before we wrote into it (`keep_section`)."""
    if keep_section:
        return inifile.edit_section(ini, section, dict.fromkeys(keys))
    return inifile.remove_keys(ini, section, keys)


def remove_session(
    *, credentials_path: str, config_path: str, state_dir: str, target: str, source: str
) -> str | None:
    """Remove our keys from `target` (the section too when nothing else is left in it) and the
    values we copied into its config section. REMOVED; FOREIGN when the keys there are not the
    ones we wrote (they stay: only our own lines go); None when there was nothing of ours.
    Ownership is read under the lock, right before the write."""
    with FileLocks(credentials_path, config_path, state_dir=state_dir):
        credentials = read_ini(credentials_path)
        values = credentials.get(target)
        if values is None or values.get(KEY_SOURCE) != source:
            return None
        copied = copied_values(credentials, target)
        unended = values.get(KEY_NO_FINAL_NEWLINE, "").split()
        users = values.get(KEY_USERS_SECTIONS, "").split()
        result = REMOVED if keys_are_ours(values) else FOREIGN
        # Each session value goes only while it is the one we wrote: with the record, the key
        # id, secret and token are checked one by one (someone may have replaced one of them);
        # a session of the previous version (no record) goes whole while its key id is ours.
        if KEY_FINGERPRINTS in values:
            session_keys = sorted(written_by_us(values))
            if values.get(KEY_ID) is not None and values.get(KEY_WRITTEN) == values.get(KEY_ID):
                session_keys.append(KEY_ID)
            mine = [key for key in SESSION_KEYS if key in session_keys]
        else:
            mine = list(SESSION_KEYS) if result == REMOVED else []
        ours = (*mine, *OWN_KEYS)
        text = _remove_lines(credentials, target, ours, keep_section="credentials" in users)
        if "credentials" in unended:
            text = _restore_unended(credentials, text, target)
        files.write_atomic(
            credentials_path, text, private=True, locked_directory=True, based_on=credentials.text()
        )
        config = read_ini(config_path)
        current = config_values(target, config) or {}
        still_ours = sorted(key for key, value in copied.items() if current.get(key) == value)
        if still_ours:
            header = config_header(target, config)
            text = _remove_lines(config, header, still_ours, keep_section="config" in users)
            if "config" in unended:
                text = _restore_unended(config, text, header)
            files.write_atomic(
                config_path, text, private=False, locked_directory=True, based_on=config.text()
            )
    return result


def with_source_key_moved(
    ini: inifile.IniText, sources: Collection[str], old_id: str, new_id: str
) -> str:
    """The text with every session stored from one of `sources` (a profile, and the role
    profiles whose login targets it is the root of) recorded as made with `old_id` recorded as
    made with `new_id` instead (--rotate-keys: a new key of the same IAM user keeps them)."""
    text = ini.text()
    for name in [section.name for section in ini.sections.values()]:
        current = inifile.parse(text, ini.path)
        values = current.get(name) or {}
        if values.get(KEY_SOURCE) in sources and values.get(KEY_SOURCE_KEY) == old_id:
            text = inifile.edit_section(current, name, {KEY_SOURCE_KEY: new_id})
    return text


def with_other_keys_sessions_ended(
    ini: inifile.IniText, sources: Collection[str], key_id: str, now: float
) -> str:
    """The text with every session stored from one of `sources` (a profile, and the role
    profiles whose login targets it is the root of) recorded as made with another key than
    `key_id` marked ended at `now` (its expiration, our own line; nothing else changes). For
    --store-keys: once the keys are in the keyring no file shows their id, so a session of
    another key (perhaps another IAM user's) would no longer be told apart and must end first."""
    text = ini.text()
    for name in [section.name for section in ini.sections.values()]:
        current = inifile.parse(text, ini.path)
        values = current.get(name) or {}
        recorded = values.get(KEY_SOURCE_KEY)
        if (
            values.get(KEY_SOURCE) in sources
            and recorded is not None
            and recorded != key_id
            and keys_are_ours(values)
            and KEY_EXPIRATION in values
        ):
            ended = from_stored(values)
            if ended is None or ended.expiration > now:
                text = inifile.edit_section(current, name, {KEY_EXPIRATION: format_utc(now)})
    return text


def _current_key_of(
    made_with_key: str | None,
    source: str,
    credentials: inifile.IniText,
    config: inifile.IniText,
    state_dir: str,
    env: Mapping[str, str],
) -> str | None:
    """The source key to record with a session made with `made_with_key`: the key --rotate-keys
    replaced it with while AWS answered (the same user's session), unless the source holds
    `made_with_key` itself again (a restored backup, `aws configure`): then the note is stale, and
    mapped, the session would never be reused."""
    if made_with_key is None:
        return None
    holds = visible_source_key_id(credentials.get(source), config_values(source, config), env)
    if holds == made_with_key:
        return made_with_key
    return rotated_to(state_dir, source, made_with_key, time.time())


# How long a replaced key's sessions may still be stored: the longest session AWS gives, and the
# fifteen minutes of clock skew it accepts.
ROTATION_MEMORY = 129_600 + 900


def note_rotation(state_dir: str, profile: str, old_id: str, new_id: str, now: float) -> None:
    """Note that `new_id` replaced `old_id` as the key of `profile` (key ids, no secret; the
    profile by a hash), so that a login of that profile still waiting for AWS with the old key
    when the rotation ended records its session as the new key's (the same IAM user's) instead
    of storing one that is never reused. Another profile holding the same old key keeps it, and
    its sessions stay its own. The caller holds the credentials file's edit lock (session writes
    read the notes under it)."""
    path = state.rotated_keys(state_dir)
    tag = _rotation_tag(profile)
    kept = [
        f"{owner} {old} {new} {int(when)}\n"
        for owner, old, new, when in _rotations(state_dir)
        if _recent(when, now) and (owner, old) != (tag, old_id)
    ]
    # Whole seconds rounded down: rounded up, a login reading the note within half a second would
    # find it in the future, ignore it (_recent), and store a session that is never reused.
    line = f"{tag} {old_id} {new_id} {int(now)}\n"
    try:
        files.ensure_private_directories(state_dir)
        files.write_atomic(path, "".join([*kept, line]), private=True)
    except MfaRunError:
        pass  # best effort: the rotation itself is done; at worst such a login asks again


def _recent(when: float, now: float) -> bool:
    """Within ROTATION_MEMORY, and not in the future (a clock that was ahead)."""
    return 0 <= now - when < ROTATION_MEMORY


def rotated_to(state_dir: str, profile: str, key_id: str, now: float) -> str:
    """The key that replaced `key_id` as the key of `profile` (and any that replaced that one),
    within ROTATION_MEMORY; `key_id` itself when none did."""
    tag = _rotation_tag(profile)
    replaced = {
        old: new
        for owner, old, new, when in _rotations(state_dir)
        if owner == tag and _recent(when, now)
    }
    seen = {key_id}
    while key_id in replaced and replaced[key_id] not in seen:
        key_id = replaced[key_id]
        seen.add(key_id)
    return key_id


def _rotation_tag(profile: str) -> str:
    return state.key_hash("rotated", profile)


def _rotations(state_dir: str) -> list[tuple[str, str, str, float]]:
    """The notes of note_rotation; a line that is not one is skipped (a mangled note moves no
    session)."""
    try:
        text = files.read_text(state.rotated_keys(state_dir)) or ""
    except ConfigError:
        return []
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 4 and is_access_key_id(words[1]) and is_access_key_id(words[2]):
            try:
                found.append((words[0], words[1], words[2], float(words[3])))
            except ValueError:
                continue
    return found


def move_source_key(
    *,
    credentials_path: str,
    state_dir: str,
    profile: str,
    sources: Collection[str],
    old_id: str,
    new_id: str,
) -> None:
    """with_source_key_moved in the credentials file, under its edit lock, the rotation noted
    first (note_rotation)."""
    with FileLocks(credentials_path, state_dir=state_dir):
        note_rotation(state_dir, profile, old_id, new_id, time.time())
        edit_file(
            credentials_path,
            lambda ini: with_source_key_moved(ini, sources, old_id, new_id),
            private=True,
        )


def edit_file(
    path: str, edit: Callable[[inifile.IniText], str | None], *, private: bool
) -> str | None:
    """Replace `path` with `edit` of its current text (None: nothing to change), made again on
    the new text whenever another tool wrote the file between our read and our rename, so that
    its edit is never lost. `edit` re-checks what it relies on each time (raising ConfigError to
    give up). The caller holds the file's edit lock. Returns write_atomic's note."""
    for attempt in range(files.CHANGED_FILE_ATTEMPTS):
        ini = read_ini(path)
        ini.validate()
        new_text = edit(ini)
        if new_text is None or new_text == ini.text():
            return None
        try:
            return files.write_atomic(
                path, new_text, private=private, locked_directory=True, based_on=ini.text()
            )
        except files.FileChangedError:
            if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                raise
            files.pause_after_change()
    return None  # not reached: the last attempt returns or raises


def with_keyring_key(ini: inifile.IniText, profile: str, key_id: str | None) -> str | None:
    """The text with KEY_KEYRING_KEY (the id of the keys the keyring holds for `profile`) set to
    `key_id` in the profile's section, or removed (None); None when nothing changes."""
    values = ini.get(profile)
    if (values or {}).get(KEY_KEYRING_KEY) == key_id:
        return None
    return inifile.edit_section(ini, profile, {KEY_KEYRING_KEY: key_id})


def record_keyring_key(
    *,
    credentials_path: str,
    config_path: str,
    profile: str,
    state_dir: str,
    key_id_now: Callable[[], str | None],
) -> str | None:
    """with_keyring_key in the credentials file: the id of the keys the keyring holds for
    `profile` now (`key_id_now`), for a profile whose keys may come from the keyring
    (warm.keyring_record_applies). Returns that id (None: the keyring holds no keys, or the
    record does not apply).

    The keyring is read before the credentials file's edit lock is taken (it may wait for its
    user, an unlock dialog, and other runs must not wait for that), and the record is written
    only while it still says what it said before the keyring was read: whoever changed it
    meanwhile (--store-keys, --rotate-keys) wrote what the keyring holds after them. An empty
    keyring removes no record: --unstore-keys does that, and a record whose entry is gone is
    outweighed by the environment's keys (warm.visible_source_key_id)."""
    credentials = read_ini(credentials_path)
    values = credentials.get(profile)
    if not keyring_record_applies(values, config_values(profile, read_ini(config_path))):
        return None
    seen = (values or {}).get(KEY_KEYRING_KEY)
    key_id = key_id_now()
    if key_id is None or key_id == seen:
        return key_id

    def edit(ini: inifile.IniText) -> str | None:
        if (ini.get(profile) or {}).get(KEY_KEYRING_KEY) != seen:
            return None  # recorded meanwhile, after its own keyring write
        return with_keyring_key(ini, profile, key_id)

    _ensure_parent(credentials_path)
    with FileLocks(credentials_path, state_dir=state_dir):
        edit_file(credentials_path, edit, private=True)
    return key_id


def save_mfa_serial(config_path: str, profile: str, serial: str, state_dir: str) -> None:
    """Remember a discovered device as `mfa_serial` in the source profile's config section."""
    _ensure_parent(config_path)
    with FileLocks(config_path, state_dir=state_dir):
        for attempt in range(files.CHANGED_FILE_ATTEMPTS):
            config = read_ini(config_path)
            header = config_header(profile, config)
            new = inifile.edit_section(config, header, {"mfa_serial": serial})
            try:
                files.write_atomic(
                    config_path, new, private=False, locked_directory=True, based_on=config.text()
                )
                return
            except files.FileChangedError:
                if attempt + 1 == files.CHANGED_FILE_ATTEMPTS:
                    raise
                files.pause_after_change()
