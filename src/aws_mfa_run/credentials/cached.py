"""The one cached-fetch template: read the cache, else lock, read again, fetch, write.

However many processes start at once without usable credentials, one of them takes the lock and
fetches (asking for a code when it must); the others wait, then find its credentials and use them.
Waiters stay silent: under make -j their lines would garble the one prompt on the terminal.
"""

from __future__ import annotations

import os

from aws_mfa_run import files
from aws_mfa_run.credentials.session import SessionCredentials

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def cached_fetch(
    *,
    read: Callable[[], SessionCredentials | None],
    usable: Callable[[SessionCredentials], bool],
    fetch: Callable[[], SessionCredentials],
    write: Callable[[SessionCredentials], None],
    lock_path: str,
    force: bool,
) -> tuple[SessionCredentials, bool]:
    """Usable credentials, and whether they were fetched now (False: from the cache)."""
    if not force:
        found = read()
        if found is not None and usable(found):
            return found, False
    files.ensure_directory(os.path.dirname(lock_path))
    with files.locked(lock_path):
        # Whoever held the lock may just have stored what we need.
        if not force:
            found = read()
            if found is not None and usable(found):
                return found, False
        fresh = fetch()
        write(fresh)
        return fresh, True
