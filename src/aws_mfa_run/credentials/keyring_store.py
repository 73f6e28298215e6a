"""Long-term keys in the OS keyring (macOS Keychain, Windows Credential Locker, Secret Service,
KWallet), through the `keyring` library, imported only here and only when called.

One entry per profile: service `aws-mfa-run`, user name the profile, and as its password one JSON
object with both keys, so the pair is written (and replaced) in one step and is never half there.
keyring picks the backend itself (PYTHON_KEYRING_BACKEND, its keyringrc.cfg, else the best the
system offers); a backend object can be passed in instead.

An entry may be the only copy of a key: it is replaced or removed only while it holds what the
caller expects, read again right before, under a lock of ours on the entry (so that two runs of
ours never both act on one reading; another program takes no lock of ours, and the fresh read is
what guards against it).
"""

from __future__ import annotations

import os

from aws_mfa_run import files
from aws_mfa_run.credentials import state
from aws_mfa_run.credentials.keys import KEYRING, LongTermKeys, checked_keys
from aws_mfa_run.errors import ConfigError, NoKeyringError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


SERVICE = "aws-mfa-run"


def _backend(backend: Any) -> Any:
    if backend is not None:
        return backend
    try:
        import keyring
    except ImportError as error:
        # keyring is a required dependency (pyproject.toml): missing or broken, the installation
        # is damaged, and `pip install keyring` would often go into another environment (pipx).
        raise ConfigError(
            f"The keyring library that aws-mfa-run requires cannot be imported ({error}); "
            "reinstall aws-mfa-run (pipx reinstall aws-mfa-run, or pip install --force-reinstall "
            "aws-mfa-run)."
        ) from None
    try:
        return keyring.get_keyring()
    except Exception as error:  # a PYTHON_KEYRING_BACKEND or keyringrc.cfg naming no backend
        raise ConfigError(
            f"The OS keyring backend chosen by PYTHON_KEYRING_BACKEND or keyringrc.cfg cannot "
            f"be loaded ({type(error).__name__}); fix that setting."
        ) from None


def _failed(error: Exception, doing: str) -> ConfigError:
    # keyring's messages name the backend's trouble, never a stored secret. Whole sentences
    # only: the first one, else the error's kind.
    if type(error).__name__ == "NoKeyringError":  # keyring found no backend at all
        return NoKeyringError(
            "There is no OS keyring to use (the keyring library found no backend); README's "
            '"Setting up the keyring" says how to start one.'
        )
    text = str(error).strip()
    first = text.split(". ")[0].rstrip(".") if text else type(error).__name__
    if len(first) > 200:
        first = type(error).__name__
    return ConfigError(f"The OS keyring could not {doing}: {first}.")


def backend_name(backend: Any = None) -> str:
    found = _backend(backend)
    return f"{type(found).__module__}.{type(found).__name__}"


def is_available(backend: Any = None) -> bool:
    """False when keyring found no backend at all (its `fail` one): nothing can be stored in
    it, and every read would fail."""
    found = _backend(backend)
    try:
        from keyring.backends import fail
    except ImportError:
        return True
    return not isinstance(found, fail.Keyring)


def key_id(profile: str, backend: Any = None) -> str | None:
    """The access key id of the profile's keys in the keyring (read), None when it holds none."""
    keys = read(profile, backend)
    return keys.access_key_id if keys else None


def read(profile: str, backend: Any = None) -> LongTermKeys | None:
    """The profile's keys in the keyring, None when it holds none; ConfigError when the keyring
    cannot be used or its entry is damaged."""
    import json

    found = _backend(backend)
    try:
        text = found.get_password(SERVICE, profile)
    except Exception as error:  # keyring.errors.KeyringError and the backends' own
        raise _failed(error, "be read") from None
    if text is None:
        return None
    where = f"the keyring entry of profile '{profile}'"
    try:
        value = json.loads(text)
        key_id, secret = value["AccessKeyId"], value["SecretAccessKey"]
    except (ValueError, TypeError, KeyError, RecursionError):  # RecursionError: [[[[...]]]]
        raise ConfigError(
            f"{where[0].upper()}{where[1:]} is not one aws-mfa-run wrote; remove it "
            f"(service {SERVICE}, user {profile})."
        ) from None
    if not isinstance(key_id, str) or not isinstance(secret, str):
        raise ConfigError(f"{where[0].upper()}{where[1:]} holds no keys.")
    return checked_keys(key_id, secret, KEYRING, where)


def write(profile: str, keys: LongTermKeys, backend: Any = None) -> None:
    """Put the keys into the keyring and read them back: ConfigError unless they are there."""
    import json

    found = _backend(backend)
    text = json.dumps(
        {"Version": 1, "AccessKeyId": keys.access_key_id, "SecretAccessKey": keys.secret_access_key}
    )
    try:
        found.set_password(SERVICE, profile, text)
    except Exception as error:
        raise _failed(error, "store the keys") from None
    if not keys.same_keys(read(profile, found)):
        raise ConfigError(
            "The OS keyring did not give back the keys just stored in it; they stay where "
            "they were."
        )


def _entry_lock(profile: str, state_dir: str) -> files.locked:
    """Our lock on the profile's entry, in our own 0700 state directory."""
    locks = os.path.join(state_dir, state.LOCKS)
    files.ensure_private_directories(state_dir, locks)
    name = f"keyring-{state.key_hash('keyring', SERVICE, profile)}.lock"
    return files.locked(os.path.join(locks, name))


def replace(
    profile: str,
    keys: LongTermKeys,
    backend: Any = None,
    *,
    expected: LongTermKeys | None,
    state_dir: str,
) -> bool:
    """Write `keys` as the profile's entry (and read them back) only while the entry holds the
    `expected` keys (None: no entry at all) or `keys` already. False, with nothing written, when
    it holds anything else: that entry may be someone's only copy of a key."""
    found = _backend(backend)
    with _entry_lock(profile, state_dir):
        current = read(profile, found)
        if keys.same_keys(current):
            return True
        as_expected = current is None if expected is None else expected.same_keys(current)
        if not as_expected:
            return False
        write(profile, keys, found)
    return True


def delete(profile: str, backend: Any = None, *, expected: LongTermKeys, state_dir: str) -> None:
    """Remove the profile's entry (none there is fine) while it holds the `expected` keys, read
    right before: an entry that changed meanwhile may be someone's only copy of a key."""
    found = _backend(backend)
    with _entry_lock(profile, state_dir):
        current = read(profile, found)
        if current is None:
            return
        if not expected.same_keys(current):
            raise ConfigError(
                f"The keyring entry of profile '{profile}' changed meanwhile; it was left as it is."
            )
        try:
            found.delete_password(SERVICE, profile)
        except Exception as error:
            raise _failed(error, "remove the entry") from None
