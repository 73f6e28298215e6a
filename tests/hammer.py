"""A writer and a reader for the crash and concurrency tests, using the installed package.

hammer.py credentials HOME TARGET [N]  write sessions A, B, A, ... to TARGET, N times or until
                                       killed
hammer.py config HOME [N]           write mfa_serial A, B, A, ..., N times or until killed
hammer.py alias HOME [N]            install the alias (--force), then put the old one back with
                                    the same primitives; N times or until killed
                                    (each writer says HOME/writing-PID when its writes begin)
hammer.py once HOME TARGET          write one session to TARGET and exit
hammer.py read HOME SECONDS         parse the credentials file again and again; exit 1 on a
                                    torn file (a session section missing one of its keys);
                                    HOME/reading-PID says that it has started
"""

from __future__ import annotations

import os
import sys
import time

from aws_mfa_run import files, inifile
from aws_mfa_run.aws.answers import SESSION_KEYS, SessionCredentials
from aws_mfa_run.commands import alias
from aws_mfa_run.credentials import store


def session_for(tag: str) -> SessionCredentials:
    """Deterministic fake keys for a tag, so a checker can rebuild the expected bytes."""
    return SessionCredentials(
        f"ASIA{tag:0>16}", f"secret/{tag}+" * 4, f"token{tag}" * 20, 4102444800
    )


def write_session(home: str, target: str, session: SessionCredentials) -> None:
    store.write_session(
        credentials_path=os.path.join(home, ".aws", "credentials"),
        config_path=os.path.join(home, ".aws", "config"),
        state_dir=os.path.join(home, ".aws", "aws-mfa-run"),
        target=target,
        source="default",
        session=session,
        copied={},
        expected_sections=set(),
        env={},
    )


def main(arguments: list[str]) -> int:
    kind, home = arguments[0], arguments[1]
    os.environ["HOME"] = home
    if kind in ("credentials", "config", "alias"):
        # HOME/writing-PID: imports done, the writes begin (the crash test times its kills from
        # here, not from a start-up whose length depends on the machine's load).
        open(os.path.join(home, f"writing-{os.getpid()}"), "w").close()
    if kind == "credentials":
        count = int(arguments[3]) if len(arguments) > 3 else None
        number = 0
        while count is None or number < count:
            write_session(home, arguments[2], session_for("AB"[number % 2]))
            number += 1
        return 0
    if kind == "config":
        config_path = os.path.join(home, ".aws", "config")
        count = int(arguments[2]) if len(arguments) > 2 else None
        number = 0
        while count is None or number < count:
            store.save_mfa_serial(
                config_path,
                "default",
                f"arn:aws:iam::1:mfa/{'AB'[number % 2]}",
                os.path.join(home, ".aws", "aws-mfa-run"),
            )
            number += 1
        return 0
    if kind == "alias":
        path = os.path.join(home, ".aws", "cli", "alias")
        original = files.read_text(path) or ""
        count = int(arguments[2]) if len(arguments) > 2 else None
        number = 0
        while count is None or number < count:
            state_dir = os.path.join(home, ".aws", "aws-mfa-run")
            alias.install(path, True, state_dir)
            with alias.edit_lock(path, state_dir):
                files.write_atomic(path, original, private=False, locked_directory=True)
            number += 1
        return 0
    if kind == "once":
        write_session(home, arguments[2], session_for(arguments[2]))
        return 0
    if kind == "read":
        path = os.path.join(home, ".aws", "credentials")
        deadline = time.monotonic() + float(arguments[2])
        open(os.path.join(home, f"reading-{os.getpid()}"), "w").close()  # for the test to see
        reads = 0
        while time.monotonic() < deadline:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            for section in inifile.parse(text, path).sections.values():
                values = section.values
                if "aws_mfa_run_expiration" in values and not all(
                    values.get(key) for key in SESSION_KEYS
                ):
                    print(f"torn section {section.name}", file=sys.stderr)
                    return 1
            reads += 1
        print(reads)
        return 0
    raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
