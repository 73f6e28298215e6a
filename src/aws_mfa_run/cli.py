"""The entry point: the warm path first, else the full path.

The warm path (warm.py: a valid session stored for the profile, one module of ours) handles most
runs; everything else is the full path (entry.py), imported only when the warm path is not enough.
"""

from __future__ import annotations

import os
import sys
import time

from aws_mfa_run import warm


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    env.setdefault("HOME", os.path.expanduser("~"))
    status = warm.run(arguments, env, time.time())
    if status is not None:
        return status
    from aws_mfa_run import entry  # the rest of the package: only now

    return entry.main(arguments, env)
