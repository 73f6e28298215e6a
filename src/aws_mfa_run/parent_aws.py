"""Recover the global options the AWS CLI kept from an alias.

The AWS CLI parses its global options (`--profile`, `--region`, ... and unambiguous prefixes of
them) out of the whole command line before it runs a `!` alias, and passes the alias only what is
left: `aws mfa 123456 --profile dev` runs `aws-mfa-run --login 123456` with no trace of `dev`.
Acting on `default` there would be silently wrong, so we read the command line of the `aws`
process that started us (through the `sh -c` it uses) and take the options from there.
This needs /proc (Linux); where it is missing nothing is found and the alias warns in README.
"""

from __future__ import annotations

import os

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# The AWS CLI's global options that take a value (v1 and v2), for prefix matching.
_GLOBALS_WITH_VALUE = (
    "--profile",
    "--region",
    "--output",
    "--endpoint-url",
    "--query",
    "--color",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
)
_GLOBAL_FLAGS = (
    "--debug",
    "--no-verify-ssl",
    "--no-paginate",
    "--no-sign-request",
    "--no-cli-pager",
    "--cli-auto-prompt",
    "--no-cli-auto-prompt",
    "--version",
)
_SHELLS = {"sh", "dash", "bash", "zsh", "ash", "ksh", "busybox"}


def _cmdline(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1]]


def _parent_pid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name in field 2 may hold spaces and parentheses; fields after the last ')' don't.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _is_aws(argv: list[str]) -> bool:
    names = [os.path.basename(part) for part in argv[:2]]
    return bool(names) and (
        names[0] == "aws"
        or (names[0].startswith("python") and len(names) > 1 and names[1] == "aws")
    )


def parse_aws_command_line(argv: list[str]) -> tuple[dict[str, str], str | None]:
    """The value-taking global options (by name without dashes) and the first command word."""
    found: dict[str, str] = {}
    command = None
    index = 2 if os.path.basename(argv[0]).startswith("python") else 1
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("--") or len(word) < 3:
            if command is None and not word.startswith("-"):
                command = word
            continue
        name, has_value, value = word.partition("=")
        if name in _GLOBAL_FLAGS:
            continue
        matches = [option for option in _GLOBALS_WITH_VALUE if option.startswith(name)]
        exact = [option for option in matches if option == name]
        chosen = exact or (matches if len(matches) == 1 else [])
        if not chosen:
            continue
        if not has_value:
            if index >= len(argv):
                break
            value = argv[index]
            index += 1
        found[chosen[0][2:]] = value
    return found, command


def find_alias_globals(is_external_alias: Callable[[str], bool]) -> dict[str, str]:
    """Global options of the `aws` process that ran us through an external (`!`) alias.

    Empty when our parent is not such an `aws`: botocore also starts us directly from `aws` as a
    credential_process, and then its `--profile` names the profile that uses us, not our source.
    """
    pid = os.getppid()
    for _ in range(3):  # aws -> sh -c -> us, or aws -> us when the shell execs its last command
        argv = _cmdline(pid)
        if not argv:
            return {}
        if _is_aws(argv):
            found, command = parse_aws_command_line(argv)
            return found if command is not None and is_external_alias(command) else {}
        if os.path.basename(argv[0]).lstrip("-") not in _SHELLS or "-c" not in argv[1:3]:
            return {}
        parent = _parent_pid(pid)
        if parent is None or parent <= 1:
            return {}
        pid = parent
    return {}
