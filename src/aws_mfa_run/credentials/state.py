"""The one place that names aws-mfa-run's own state files under ~/.aws/aws-mfa-run/ (0700).

Names are hashes of everything that identifies the entry, so any profile name the AWS CLI accepts
(spaces, quotes, 300 characters) gives a short, valid file name, and an entry whose inputs change
(another source, another external id, another config file) gets a new name instead of serving
the old identity.
"""

from __future__ import annotations

import os

LOCKS = "locks"
ROLES = "roles"
ROTATIONS = "rotations"
USED_CODES = "used-codes"
ROTATED_KEYS = "rotated-keys"

_FNV_PRIME, _MASK_64 = 0x100000001B3, (1 << 64) - 1
# Two FNV-1a passes from different offsets: 128 bits, without hashlib's import (~2 ms, paid by
# every process waiting under make -j).
_OFFSETS = (0xCBF29CE484222325, 0x84222325CBF29CE4)


def key_hash(*parts: str) -> str:
    data = "\0".join(parts).encode("utf-8", "surrogateescape")
    digests = []
    for digest in _OFFSETS:
        for byte in data:
            digest = ((digest ^ byte) * _FNV_PRIME) & _MASK_64
        digests.append(f"{digest:016x}")
    return "".join(digests)


def real(path: str) -> str:
    return os.path.realpath(path)


def session_lock(state_dir: str, credentials_path: str, source_profile: str, target: str) -> str:
    """The lock held while the MFA session of `source_profile` stored in `target` is fetched."""
    name = key_hash("session", real(credentials_path), source_profile, target)
    return os.path.join(state_dir, LOCKS, f"{name}.lock")


def file_lock(state_dir: str, path: str) -> str:
    """The lock held while the file `path` (its real file) is edited: here, in our own 0700
    directory, never on ~/.aws itself, which any local user can open and so lock forever."""
    return os.path.join(state_dir, LOCKS, f"file-{key_hash('file', real(path))}.lock")


def role_cache(state_dir: str, *identity: str) -> str:
    """The cache file of role credentials identified by `identity` (see credentials.role)."""
    return os.path.join(state_dir, ROLES, f"{key_hash('role', *identity)}.ini")


def lock_for(cache_path: str) -> str:
    directory, name = os.path.split(cache_path)
    return os.path.join(os.path.dirname(directory), LOCKS, f"{os.path.splitext(name)[0]}.lock")


def used_codes(state_dir: str) -> str:
    return os.path.join(state_dir, USED_CODES)


def rotated_keys(state_dir: str) -> str:
    """Where --rotate-keys notes each key it replaced, and by which (see store.note_rotation)."""
    return os.path.join(state_dir, ROTATED_KEYS)


def rotation_note(state_dir: str, profile: str) -> tuple[str, str]:
    """The note of a --rotate-keys under way for `profile`, and its lock. Named by the profile
    itself, escaped (not hashed), so that a user can see which profile a leftover note is for."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else f"%{ord(ch):02x}" for ch in profile)
    directory = os.path.join(state_dir, ROTATIONS)
    return os.path.join(directory, f"{safe}.ini"), os.path.join(directory, f"{safe}.lock")


def alias_unended(state_dir: str, alias_file: str) -> str:
    """Where --install-alias notes the last line of an alias file that had no final newline, so
    that --uninstall-alias gives the file back byte for byte."""
    return os.path.join(state_dir, f"alias-unended-{key_hash('alias', real(alias_file))}")
