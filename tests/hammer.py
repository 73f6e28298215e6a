"""A writer and a reader for the crash and concurrency tests, using the installed package.

hammer.py credentials HOME TARGET [N]  write sessions A, B, A, ... to TARGET, N times or until
                                       killed
hammer.py config HOME [N]           write mfa_serial A, B, A, ..., N times or until killed
hammer.py alias HOME [N]            install the alias (--force), then put the old one back with
                                    the same primitives; N times or until killed
hammer.py once HOME TARGET          write one session to TARGET and exit
hammer.py read HOME SECONDS         parse the credentials file again and again; exit 1 on a
                                    torn file (a session section missing one of its keys)
"""

from __future__ import annotations

import os
import sys
import time

from aws_mfa_run import alias, files, inifile, store
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.settings import Settings


def session_for(tag: str) -> SessionCredentials:
    """Deterministic fake keys for a tag, so a checker can rebuild the expected bytes."""
    return SessionCredentials(
        f"ASIA{tag:0>16}", f"secret/{tag}+" * 4, f"token{tag}" * 20, 4102444800
    )


def settings_for(home: str, target: str) -> Settings:
    return Settings(
        source_profile="default",
        target_profile=target,
        serial=None,
        duration=None,
        min_remaining=0,
        region=None,
        output=None,
        mfa_process=None,
        config_path=os.path.join(home, ".aws", "config"),
        credentials_path=os.path.join(home, ".aws", "credentials"),
        state_dir=os.path.join(home, ".aws", "aws-mfa-run"),
    )


def main(arguments: list[str]) -> int:
    kind, home = arguments[0], arguments[1]
    os.environ["HOME"] = home
    if kind == "credentials":
        settings = settings_for(home, arguments[2])
        count = int(arguments[3]) if len(arguments) > 3 else None
        number = 0
        while count is None or number < count:
            store.write_session(settings, session_for("AB"[number % 2]))
            number += 1
        return 0
    if kind == "config":
        settings = settings_for(home, "mfa")
        count = int(arguments[2]) if len(arguments) > 2 else None
        number = 0
        while count is None or number < count:
            store.save_mfa_serial(settings, f"arn:aws:iam::1:mfa/{'AB'[number % 2]}")
            number += 1
        return 0
    if kind == "alias":
        path = alias.alias_file_path()
        original = files.read_text(path) or ""
        count = int(arguments[2]) if len(arguments) > 2 else None
        number = 0
        while count is None or number < count:
            alias.install(force=True)
            with files.locked_directory_of(path):
                files.write_atomic(path, original, private=False, locked_directory=True)
            number += 1
        return 0
    if kind == "once":
        store.write_session(settings_for(home, arguments[2]), session_for(arguments[2]))
        return 0
    if kind == "read":
        path = os.path.join(home, ".aws", "credentials")
        deadline = time.monotonic() + float(arguments[2])
        reads = 0
        while time.monotonic() < deadline:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            for section in inifile.parse(text, path).sections.values():
                values = section.values
                if "aws_mfa_run_expiration" in values and not all(
                    values.get(key) for key in store.SESSION_KEYS
                ):
                    print(f"torn section {section.name}", file=sys.stderr)
                    return 1
            reads += 1
        print(reads)
        return 0
    raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
