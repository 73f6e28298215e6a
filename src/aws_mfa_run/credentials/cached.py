"""The one cached-fetch template: read the cache, else lock, read again, fetch, write.

However many processes start at once without usable credentials, one of them takes the lock and
fetches (asking for a code when it must); the others wait, then find its credentials and use them.
Waiters stay silent: under make -j their lines would garble the one prompt on the terminal.
When that fetch fails (a wrong code, AWS unreachable), the processes that were waiting for it fail
with the same sentence instead of each asking for, and sending, a code of their own.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.errors import InterruptedByUserError, MfaRunError, error_for_exit_code

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

FAILURE_SUFFIX = ".failed"


def cached_fetch(
    *,
    read: Callable[[], SessionCredentials | None],
    usable: Callable[[SessionCredentials], bool],
    fetch: Callable[[], SessionCredentials],
    write: Callable[[SessionCredentials], None],
    lock_path: str,
    force: bool,
    adopt_failure: bool = True,
) -> tuple[SessionCredentials, bool]:
    """Usable credentials, and whether they were fetched now (False: from the cache).
    `adopt_failure`: False for a caller with a code of its own (`aws mfa CODE`), whom the failure
    of a fetch without one (--server's renewal, say) must not stop."""
    if not force:
        found = read()
        if found is not None and usable(found):
            return found, False
    # The lock lives in our own state directory, which must be private: a lock file others can
    # open is one they can hold forever.
    locks = os.path.dirname(lock_path)
    files.ensure_private_directories(os.path.dirname(locks), locks)
    waiting_since = time.time()
    with files.locked(lock_path, wait=files.FETCH_LOCK_WAIT):
        # Whoever held the lock may just have stored what we need, or failed to.
        if not force:
            found = read()
            if found is not None and usable(found):
                return found, False
        if adopt_failure:
            _raise_failure_since(lock_path, waiting_since)
        try:
            fresh = fetch()
        except InterruptedByUserError:
            raise
        except MfaRunError as error:
            _record_failure(lock_path, error)
            raise
        write(fresh)
        _forget_failure(lock_path)
        return fresh, True


def _raise_failure_since(lock_path: str, since: float) -> None:
    """The failure of a fetch that ended while we waited for the lock, as our own error."""
    try:
        text = files.read_text(lock_path + FAILURE_SUFFIX) or ""
    except MfaRunError:
        return
    when, _, rest = text.partition(" ")
    code, _, message = rest.partition(" ")
    try:
        failed_at, exit_code = float(when), int(code)
    except ValueError:
        return
    if failed_at >= since and message.strip():
        raise error_for_exit_code(exit_code, message.strip())


def _record_failure(lock_path: str, error: MfaRunError) -> None:
    # Our sentences carry no secret; one line, as they are shown.
    message = " ".join(str(error).split())
    try:
        files.write_atomic(
            lock_path + FAILURE_SUFFIX, f"{time.time()} {error.exit_code} {message}\n", private=True
        )
    except MfaRunError:
        pass  # the failure itself is what the user must see


def _forget_failure(lock_path: str) -> None:
    try:
        os.unlink(lock_path + FAILURE_SUFFIX)
    except OSError:
        pass
