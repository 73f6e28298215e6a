"""prctl(2): what this process lets others do with it (dump its core, read its memory) and
whether it reaps orphans. Linux only; elsewhere each call is a no-op that says it failed.

A leaf, used by the entry point (every mode of the full path) and by --server.
"""

from __future__ import annotations

import sys

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> bool:
    """prctl(2) where there is one (Linux); False where it failed or does not exist."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def forbid_core_dumps(*, limit: bool) -> None:
    """No core file of ours: it would hold long-term keys or the MFA session's. Not dumpable
    (also keeps other processes of the user from reading our memory; exec resets it, so a
    command we exec or start is as dumpable as ever) and, with `limit`, RLIMIT_CORE 0: only
    once a command we start is running, which keeps the user's limit (posix_spawn cannot set a
    limit for the child)."""
    prctl(PR_SET_DUMPABLE, 0)
    if limit:
        import resource

        try:
            resource.setrlimit(
                resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1])
            )
        except (OSError, ValueError):
            pass
