"""`--rotate-keys`: replace a profile's access key with a new one, where the old one was kept.

With the profile's MFA session (IAM policies usually demand MFA for this), in this order:
  1. ListAccessKeys: refused when the IAM user has two keys already (IAM's limit);
  2. CreateAccessKey; only once AWS has answered with the new key id is it written, with the old
     key id, into a note of the rotation in our state directory (key ids: no secret);
  3. GetCallerIdentity with the new key (retried while IAM makes it known everywhere);
  4. the note marked "storing", then the new key stored where the old one was (the file's two
     lines in one atomic write, or the keyring entry replaced and read back: key_writes) and
     read back;
  5. DeleteAccessKey of the old key; the note removed.
The note is the only proof that a key is ours: a CreateAccessKey that failed (or whose answer
never came) leaves none, and a key without a note is never deleted, whatever its creation date.
A kill before 4 leaves the old key in place and working; the next run deletes the new key (its
secret never reached a file), after checking that neither file nor the keyring holds it. A kill
after 4 leaves the new key in place and working; the next run (or --status) names the old key
that still needs deleting, and --rotate-keys deletes it.
"""

from __future__ import annotations

import os
import shlex
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.aws import iam, sts
from aws_mfa_run.credentials import key_writes, keyring_store, state, store
from aws_mfa_run.credentials.keys import FILE, KEYRING, LongTermKeys
from aws_mfa_run.credentials.longterm import long_term_keys
from aws_mfa_run.credentials.mfa_session import Prompting, get_mfa_session
from aws_mfa_run.errors import AwsRefusedError, AwsUnreachableError, ConfigError, MfaRunError
from aws_mfa_run.inifile import IniText, split_lines
from aws_mfa_run.profiles import config_profiles
from aws_mfa_run.settings import ROLE_SOURCE_MIN_REMAINING, Settings
from aws_mfa_run.warm import KEY_KEYRING_KEY, KEY_SOURCE, KEY_SOURCE_KEY

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from aws_mfa_run.commands import Context

IAM_KEY_LIMIT = 2
# IAM is eventually consistent: a new key may be refused for some seconds after CreateAccessKey.
NEW_KEY_PROPAGATION = 30
# The note's phases: the new key exists in IAM; it is being stored; it is stored and read back.
CREATED, STORING, STORED = "created", "storing", "stored"


class Note:
    """The note of a rotation under way for one profile: old key id, new key id, phase."""

    def __init__(self, state_dir: str, profile: str) -> None:
        self.path, self.lock_path = state.rotation_note(state_dir, profile)
        self.directory = os.path.dirname(self.path)

    def read(self) -> dict[str, str]:
        text = files.read_text(self.path)
        if not text:
            return {}
        try:
            return inifile.parse(text, self.path).get("rotation") or {}
        except ConfigError:
            return {}

    def write(self, values: dict[str, str]) -> None:
        files.ensure_directory(self.directory)
        text = inifile.edit_section(inifile.parse("", self.path), "rotation", dict(values))
        files.write_atomic(self.path, text, private=True)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def pending_deletion(state_dir: str, profile: str, current_key_id: str | None) -> str | None:
    """The old key id a rotation of `profile` left to delete, if any (for --status): only when
    the profile now holds the key that rotation created."""
    note = Note(state_dir, profile).read()
    old, new = note.get("old_key_id"), note.get("new_key_id")
    if old and new and current_key_id == new:
        return old
    return None


def _line_key(line: str) -> str:
    return line.partition("=")[0].strip()


def _our_records(profile: str, config: IniText, credentials: IniText) -> dict[int, str | None]:
    """The lines of the credentials file that name a key as our record of it, each with the
    source profile of the session it belongs to that is no profile of these files any more (a
    role removed since, or a profile of another config file: it may still sign with the key),
    else None. Records that hold nothing are left out: our records of keyring entries' keys (each
    entry is read by itself), and the records of sessions whose source is rooted at the rotated
    profile (moved to the new key already: those left are a kill's, and the same user's). A
    record of any other profile's session holds the key: that profile signs with it (a
    credential_process of the user's, the environment; `default` needs no section for that)."""
    existing = {"default"} | set(config_profiles(config)) | set(credentials.sections)
    own = key_writes.rooted_at(profile, config, credentials)
    records: dict[int, str | None] = {}
    for section in credentials.sections.values():
        source = section.values.get(KEY_SOURCE)
        for key, (start, end) in section.spans.items():
            if key == KEY_KEYRING_KEY or (key == KEY_SOURCE_KEY and source in own):
                gone: str | None = None
            elif key == KEY_SOURCE_KEY and source is not None and source not in existing:
                gone = source
            else:
                continue
            records.update(dict.fromkeys(range(start, end), gone))
    return records


def _holder(
    key_id: str,
    profile: str,
    config_path: str,
    credentials_path: str,
    backend: Any,
    env: Mapping[str, str],
) -> tuple[str, bool] | None:
    """Why `key_id` must not be deleted (it is still held), and whether that is certain, read
    right before a key is deleted: the environment exports it, either file names it (any
    profile, any line but our own records of it, see _our_records), or the keyring entry of any
    profile of the files holds it (the keyring has one entry per profile). None when nothing
    holds it. What cannot be read counts as holding it, uncertainly: the rotation is left to
    finish on the next run; so does a session of a profile no file names any more, which the
    user is told how to end."""
    if env.get("AWS_ACCESS_KEY_ID") == key_id:
        return "this shell exports it (AWS_ACCESS_KEY_ID)", True
    texts = {path: files.read_text(path) or "" for path in (credentials_path, config_path)}
    try:
        credentials = inifile.parse(texts[credentials_path], credentials_path)
        config = inifile.parse(texts[config_path], config_path)
        records = _our_records(profile, config, credentials)
    except ConfigError as error:
        return f"{str(error).rstrip('.')}; so it was not checked", False
    # Every place is looked at before an uncertain answer is given: a certain holder found
    # later must be named (the way out of an uncertain one is to delete the key by hand).
    uncertain: tuple[str, bool] | None = None
    for path, text in texts.items():
        lines = split_lines(text)
        for index, line in enumerate(lines):
            if key_id not in line or _line_key(line) == KEY_KEYRING_KEY:
                continue
            if path != credentials_path or index not in records:
                return f"{path} still names it", True
            gone = records[index]
            if gone is not None and uncertain is None:
                section = _section_at(credentials, index)
                uncertain = (
                    (
                        f"profile '{section}' in {path} holds a session made with it, of profile "
                        f"'{gone}', which neither file names (a role removed since, or a profile "
                        f"of another config file); if nothing signs with that key any more, remove "
                        f"[{section}] from {path}"
                    ),
                    False,
                )
    try:
        if not keyring_store.is_available(backend):
            return uncertain  # no keyring at all: nothing can be stored in one
    except ConfigError as error:
        return f"{str(error).rstrip('.')}; so the keyring entries were not checked", False
    for name in dict.fromkeys([*credentials.sections, *config_profiles(config)]):
        try:
            entry = keyring_store.read(name, backend)
        except ConfigError as error:
            if uncertain is None:
                uncertain = f"{str(error).rstrip('.')} (profile '{name}'); it may hold it", False
            continue
        if entry is not None and entry.access_key_id == key_id:
            return f"the keyring entry of profile '{name}' still holds it", True
    return uncertain


def _section_at(ini: IniText, index: int) -> str:
    """The name of the section whose lines include line `index`."""
    for section in ini.sections.values():
        if any(start <= index < end for start, end in section.spans.values()):
            return section.name
    return "?"


def rotate_keys(
    settings: Settings,
    config: IniText,
    credentials: IniText,
    env: Mapping[str, str],
    *,
    token_code: str | None,
    say: Callable[[str], None],
    backend: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:

    profile = settings.source_profile
    config.validate()
    credentials.validate()
    old = long_term_keys(profile, config, credentials, env, keyring_backend=backend)
    if old.origin not in (FILE, KEYRING):
        raise ConfigError(
            f"The keys of profile '{profile}' come from the {old.origin}; aws-mfa-run can only "
            "rotate keys it can store back (in a file or the keyring)."
        )
    note = Note(settings.paths.state_dir, profile)
    files.ensure_directory(note.directory)
    paths = settings.paths
    with files.locked(note.lock_path):
        earlier = note.read()
        if earlier.get("old_key_id") and earlier.get("new_key_id") == old.access_key_id:
            # A rotation of ours stored this key and was stopped before its sessions were moved
            # to it: they are the same user's, and finishing it must not cost a code.
            key_writes.keep_sessions(
                profile,
                earlier["old_key_id"],
                old.access_key_id,
                paths.config,
                paths.credentials,
                paths.state_dir,
            )
        # The MFA session only has to outlive these few calls.
        prompting = Prompting(say=say, clock=clock, sleep=sleep)
        session, _ = get_mfa_session(
            settings,
            env,
            prompting,
            token_code=token_code,
            force=False,
            margin=ROLE_SOURCE_MIN_REMAINING,
        )
        region = settings.region

        def listed() -> dict[str, float]:
            return dict(
                iam.list_access_keys(caller=session, profile=profile, region=region, env=env)
            )

        def delete(key_id: str) -> None:
            iam.delete_access_key(
                caller=session, profile=profile, region=region, key_id=key_id, env=env
            )

        def held(key_id: str) -> tuple[str, bool] | None:
            return _holder(key_id, profile, paths.config, paths.credentials, backend, env)

        keys = listed()
        if _finish_earlier_rotation(note, profile, old, keys, delete, held, say):
            return
        keys = listed()
        if old.access_key_id not in keys:
            raise ConfigError(
                f"The key of profile '{profile}' ({old.access_key_id}) is not one of the IAM "
                "user's keys; check that profile."
            )
        others = sorted(key for key in keys if key != old.access_key_id)
        if len(keys) >= IAM_KEY_LIMIT:
            raise AwsRefusedError(
                "The IAM user already has two access keys, IAM's limit: "
                f"{old.access_key_id} (profile '{profile}') and {', '.join(others)}. Delete the "
                "one nothing uses (aws iam delete-access-key --access-key-id ID), then try again."
            )
        try:
            key_id, secret = iam.create_access_key(
                caller=session, profile=profile, region=region, env=env
            )
        except MfaRunError as error:
            # No note: a key AWS may have created without telling us is never ours to delete.
            raise type(error)(
                f"Creating the new access key failed: {error} The old key {old.access_key_id} "
                "is kept. If AWS created a key anyway, `aws iam list-access-keys` shows it; "
                "aws-mfa-run deletes only keys it saw created."
            ) from None
        new = LongTermKeys(key_id, secret, old.origin)
        recorded = {"old_key_id": old.access_key_id, "new_key_id": key_id}
        try:
            note.write({**recorded, "phase": CREATED, "started": str(int(clock()))})
        except MfaRunError:
            delete(key_id)  # without a note nothing would ever prove it ours: undo it now
            raise
        _check_new_key(new, profile, region, env, clock, sleep, delete, note, say)
        note.write({**recorded, "phase": STORING, "started": str(int(clock()))})
        key_writes.store_rotated_key(
            profile, old, new, paths.config, paths.credentials, backend, paths.state_dir
        )
        stored = long_term_keys(
            profile,
            store.read_ini(paths.config),
            store.read_ini(paths.credentials),
            {},
            keyring_backend=backend,
        )
        if not new.same_keys(stored):
            raise ConfigError(
                f"The new key {key_id} of profile '{profile}' did not read back from where it was "
                f"stored; the old key {old.access_key_id} was kept in AWS."
            )
        note.write({**recorded, "phase": STORED, "started": str(int(clock()))})
        where = "the OS keyring" if old.origin == KEYRING else "its file"
        holding = held(old.access_key_id)
        if holding and not holding[1]:
            raise ConfigError(
                f"The new key {key_id} of profile '{profile}' is stored in {where} and works, "
                f"but the old key {old.access_key_id} is not deleted yet: {holding[0]}. Run "
                f"--rotate-keys again to finish{_by_hand(profile, old.access_key_id)}."
            )
        if holding:
            note.remove()
            say(
                f"Stored the new key {key_id} of profile '{profile}' in {where}; the old key "
                f"{old.access_key_id} is not deleted: {holding[0]}; {_STAYS}."
            )
            return
        try:
            delete(old.access_key_id)
        except MfaRunError as error:
            raise type(error)(
                f"The new key {key_id} of profile '{profile}' is stored in {where} and works, "
                f"but deleting the old key {old.access_key_id} failed: {error} Run "
                "--rotate-keys again to finish."
            ) from None
        note.remove()
    say(
        f"Rotated the access key of profile '{profile}': {old.access_key_id} -> {key_id} "
        f"(stored in {where}, checked with AWS); the old key is deleted."
    )


# After a holder that certainly uses the old key: no command to paste (it would end that
# holder's access), but what is left to do.
_STAYS = (
    "it stays in IAM until nothing uses it: give what uses it the new key (an IAM user has two "
    "at most), then delete the old one in IAM"
)


def _by_hand(profile: str, key_id: str) -> str:
    """The way out when the check keeps failing (a keyring item that is always refused): the
    command that deletes `key_id` with the profile's MFA session (IAM demands one)."""
    quoted = shlex.quote(profile)
    command = f"aws-mfa-run -p {quoted} aws iam delete-access-key --access-key-id {key_id}"
    return f", or, once nothing uses it, delete it yourself: {command}"


def _finish_earlier_rotation(
    note: Note,
    profile: str,
    current: LongTermKeys,
    keys: dict[str, float],
    delete: Callable[[str], None],
    held: Callable[[str], tuple[str, bool] | None],
    say: Callable[[str], None],
) -> bool:
    """Complete what an interrupted rotation left. True when that completed a rotation.

    Only the note's keys are candidates: its new key (created by us, deleted while no file or
    keyring entry holds it and it was never stored), and its old key once the profile holds the
    new one. Each is checked against the files and the keyring right before it is deleted."""
    values = note.read()
    old, new, phase = values.get("old_key_id"), values.get("new_key_id"), values.get("phase")
    if not old or not new:
        note.remove()  # no key was recorded as created: there is nothing of ours to delete
        return False
    if current.access_key_id == new:
        holding = held(old) if old in keys else None
        if holding and not holding[1]:
            raise ConfigError(
                f"The old key {old}, left by an interrupted rotation, is not deleted yet: "
                f"{holding[0]}. Run --rotate-keys again to finish{_by_hand(profile, old)}."
            )
        if old in keys and not holding:
            delete(old)
            say(f"Deleted the old key {old}, left by an interrupted rotation.")
        elif holding:
            say(f"The old key {old} is not deleted: {holding[0]}; {_STAYS}.")
        note.remove()
        say(f"The rotation of key {old} to {new} is complete; nothing more to do.")
        return True
    if new in keys:
        if phase != STORED and not held(new):
            # Created by us and never stored: its secret is gone, so nothing can use it.
            delete(new)
            say(f"Deleted key {new}, created by an interrupted rotation (it was never stored).")
        else:
            say(
                f"Key {new}, created by an earlier rotation, is not deleted: it was stored "
                "and the profile no longer uses it. Delete it yourself if nothing else does."
            )
    note.remove()
    return False


def _check_new_key(
    new: LongTermKeys,
    profile: str,
    region: str | None,
    env: Mapping[str, str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    delete: Callable[[str], None],
    note: Note,
    say: Callable[[str], None],
) -> None:
    """GetCallerIdentity with the new key until IAM knows it; else delete it and give up."""

    started = clock()
    deadline = started + NEW_KEY_PROPAGATION
    pause = 1.0
    waiting = False
    while True:
        try:
            sts.caller_arn(keys=new.pair, profile=profile, region=region, env=env)
            if waiting:
                say(f"AWS accepted the new key after {clock() - started:.0f} seconds.")
            return
        except AwsUnreachableError as error:
            raise AwsUnreachableError(
                f"Checking the new key {new.access_key_id} failed: {error} It is not stored "
                "and the old key is kept; the next --rotate-keys deletes the new one."
            ) from None
        except AwsRefusedError:
            now = clock()
            if now >= deadline:
                break
            if not waiting:
                say(
                    f"AWS does not accept the new key {new.access_key_id} yet (IAM takes a "
                    f"moment to make a new key known); waiting up to {NEW_KEY_PROPAGATION} "
                    "seconds."
                )
                waiting = True
            sleep(min(pause, deadline - now))
            pause = min(pause * 2, 8)
    waited = f"{clock() - started:.0f}"
    try:
        delete(new.access_key_id)
    except MfaRunError as error:
        raise type(error)(
            f"AWS did not accept the new key {new.access_key_id} in {waited} seconds, and "
            f"deleting it failed: {error} The old key is kept; the next --rotate-keys deletes "
            "the new one."
        ) from None
    note.remove()
    raise AwsRefusedError(
        f"AWS did not accept the new key {new.access_key_id} in {waited} seconds; it was "
        "deleted again and the old key kept."
    )


def run(context: Context) -> int:
    """--rotate-keys for the named profile (never a role profile)."""
    config, credentials = context.files()
    settings = context.settings(config, credentials)
    if settings.roles:
        raise ConfigError(
            f"Profile '{settings.profile}' is a role profile; name the profile that holds the "
            "keys with -p."
        )
    rotate_keys(
        settings, config, credentials, context.env, token_code=context.token_code(), say=context.say
    )
    return 0
