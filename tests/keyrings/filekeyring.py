"""A keyring backend of the tests' own: entries in one JSON file in the (temporary) HOME.

Selected the way keyring selects any backend, with PYTHON_KEYRING_BACKEND=filekeyring.FileKeyring
and this directory on PYTHONPATH, so that separate processes (aws-mfa-run, the tests) share it.
Writes are atomic (a new file renamed over the old one, under a lock), as a real keyring's are:
a kill leaves the old entries or the new ones.

What a real keyring does to its callers, on request of the environment: FILEKEYRING_REFUSE_SET
(a locked keyring refuses a write), FILEKEYRING_REFUSE_READ (`N`: the N-th read of the process
is refused; `after-set`: every read after a write; `of:NAME`: every read of profile NAME's
entry, as an item whose access was denied), FILEKEYRING_READ_WAITS_FOR (a read waits,
as behind an unlock dialog, until that file exists; PATH.waiting says it is waiting), and
FILEKEYRING_KILL_AFTER_SET (the process is killed the moment its write landed).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError


def keyring_path() -> Path:
    return Path.home() / "test-keyring.json"


class FileKeyring(KeyringBackend):
    priority = 1

    def _entries(self) -> dict[str, str]:
        try:
            entries: dict[str, str] = json.loads(keyring_path().read_text())
            return entries
        except FileNotFoundError:
            return {}

    def _change(self, key: str, value: str | None) -> bool:
        path = keyring_path()
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._entries()
            existed = key in entries
            if value is None:
                entries.pop(key, None)
            else:
                entries[key] = value
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(temporary, "w") as handle:
                json.dump(entries, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        return existed

    reads = 0
    written = False

    def get_password(self, service: str, username: str) -> str | None:
        FileKeyring.reads += 1
        refused = os.environ.get("FILEKEYRING_REFUSE_READ")  # "N": the N-th read of a process
        if refused and (
            (refused == "after-set" and FileKeyring.written)
            or refused == str(FileKeyring.reads)
            or refused == f"of:{username}"
        ):
            raise KeyringLocked("the keyring is locked (the unlock dialog was cancelled)")
        waits_for = os.environ.get("FILEKEYRING_READ_WAITS_FOR")  # an unlock dialog left open
        if waits_for:
            Path(f"{waits_for}.waiting").touch()
            deadline = time.monotonic() + 60
            while not os.path.exists(waits_for) and time.monotonic() < deadline:
                time.sleep(0.01)
        return self._entries().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        if os.environ.get("FILEKEYRING_REFUSE_SET"):  # as a locked keyring whose unlock failed
            raise PasswordSetError("the keyring is locked (the unlock dialog was cancelled)")
        self._change(f"{service}\0{username}", password)
        FileKeyring.written = True
        if os.environ.get("FILEKEYRING_KILL_AFTER_SET"):  # a kill right after the entry landed
            os.kill(os.getpid(), signal.SIGKILL)

    def delete_password(self, service: str, username: str) -> None:
        if not self._change(f"{service}\0{username}", None):
            raise PasswordDeleteError("no such entry")
