"""Recover the global options the AWS CLI kept from an alias.

The AWS CLI parses its global options (`--profile`, `--region`, ... and unambiguous prefixes of
them) out of the whole command line before it runs a `!` alias, and passes the alias only what is
left: `aws mfa 123456 --profile dev` runs `sh -c 'aws-mfa-run --login 123456'` with no trace of
`dev`. Acting on `default` there would be silently wrong, so we read the command line of the
process that ran the alias and take the options from there.

That process is recognised however the AWS CLI was started: `aws` (v1 script or v2 binary, by any
name or symlink), `python -m awscli`, or any program that ran one of the user's `!` aliases
through `sh -c`. When a program ran our alias, we cannot tell it for the AWS CLI and its command
line has a word that the AWS CLI would take for `--profile`, we stop rather than guess.
Process command lines come from /proc (Linux) or, elsewhere, from `ps` (macOS, the BSDs). Tests
run the `ps` path here by naming an empty directory as the proc root (AWS_MFA_RUN_PROC_ROOT) and
putting a `ps` that answers as macOS's does on PATH.
"""

from __future__ import annotations

import os

from aws_mfa_run import files, inifile
from aws_mfa_run.errors import ConfigError, UsageError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# The AWS CLI's global options that take a value (v1 and v2), for prefix matching.
GLOBALS_WITH_VALUE = (
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
GLOBAL_FLAGS = (
    "--debug",
    "--no-verify-ssl",
    "--no-paginate",
    "--no-sign-request",
    "--no-cli-pager",
    "--cli-auto-prompt",
    "--no-cli-auto-prompt",
    "--version",
)
# Global options aws-mfa-run cannot honour for its own calls to AWS: refused (exit 2) rather than
# ignored, so that a code never goes to another endpoint than the one named, nor without the
# certificate checks the user asked for.
UNSUPPORTED_GLOBALS = {
    "endpoint-url": "set AWS_ENDPOINT_URL_STS (or endpoint_url in the profile) instead",
    "ca-bundle": "set AWS_CA_BUNDLE (or ca_bundle in the profile) instead",
    "no-verify-ssl": "aws-mfa-run never sends a code without checking the certificate",
}
_SHELLS = {"sh", "dash", "bash", "zsh", "ash", "ksh", "busybox"}
PROC_ROOT = "/proc"
PROC_ROOT_VARIABLE = "AWS_MFA_RUN_PROC_ROOT"  # another /proc; tests hide it with an empty one


class Process:
    """A process's command line and parent, as the system shows them."""

    def __init__(
        self, pid: int, argv: list[str], parent: int | None, exe: str | None, joined: bool = False
    ) -> None:
        self.pid, self.argv, self.parent, self.exe = pid, argv, parent, exe
        # From `ps`: the words were joined with spaces, and split again at every space.
        self.joined = joined


def process_reader(env: Mapping[str, str]) -> Callable[[int], Process | None]:
    """`read_process` with the proc root the environment names (default /proc)."""
    proc_root = env.get(PROC_ROOT_VARIABLE) or PROC_ROOT
    return lambda pid: read_process(pid, proc_root)


def read_process(pid: int, proc_root: str = PROC_ROOT) -> Process | None:
    """From a Linux /proc where there is one, else from `ps` (macOS, the BSDs: their procfs, when
    mounted at all, has no `stat` of Linux's form)."""
    if os.path.exists(f"{proc_root}/self/stat"):
        try:
            with open(f"{proc_root}/{pid}/cmdline", "rb") as handle:
                raw = handle.read()
            with open(f"{proc_root}/{pid}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            return None
        argv = [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0")[:-1]]
        # The command name in field 2 may hold spaces and parentheses; fields after the last ')'
        # don't.
        fields = stat[stat.rfind(b")") + 2 :].split()
        try:
            exe: str | None = os.readlink(f"{proc_root}/{pid}/exe")
        except OSError:
            exe = None
        return Process(pid, argv, int(fields[1]) if len(fields) > 1 else None, exe)
    return _ps_process(pid)


def _ps_process(pid: int) -> Process | None:
    import subprocess

    try:
        done = subprocess.run(
            ["ps", "-ww", "-o", "ppid=", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # `  501 /usr/local/bin/aws --profile dev mfa 123456`: the parent right-aligned.
    parent, _, command = done.stdout.strip().partition(" ")
    if done.returncode != 0 or not parent.isdigit():
        return None
    # ps joins the arguments with spaces: words with spaces in them cannot be told apart.
    return Process(pid, command.split(), int(parent), None, joined=True)


def _script_of(argv: list[str]) -> tuple[str | None, list[str]]:
    """For a Python interpreter's argv: the script (or `-m module`) and the arguments after it."""
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "-m" and index + 1 < len(argv):
            return f"-m {argv[index + 1]}", argv[index + 2 :]
        if word in ("-c",):
            return None, []
        if word.startswith("-"):
            index += 2 if word in ("-W", "-X") else 1
            continue
        return word, argv[index + 1 :]
    return None, []


def aws_cli_arguments(process: Process) -> list[str] | None:
    """The arguments given to the AWS CLI, when `process` is the AWS CLI; else None."""
    argv = process.argv
    if not argv:
        return None
    name = os.path.basename(argv[0])
    exe = os.path.basename(process.exe) if process.exe else ""
    if name == "aws" or exe == "aws":
        return argv[1:]
    # macOS's framework builds (python.org, Homebrew) run as `.../Python.app/Contents/MacOS/Python`.
    if name.lower().startswith("python") or exe.lower().startswith("python"):
        script, rest = _script_of(argv)
        if script is None:
            return None
        if script in ("-m awscli", "-m awscli.__main__"):
            return rest
        if os.path.basename(script) == "aws" or _is_awscli_script(script):
            return rest
    return None


def _is_awscli_script(path: str) -> bool:
    """A renamed or copied AWS CLI v1 entry script."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"awscli.clidriver" in head or b"import awscli" in head


def parse_aws_command_line(arguments: list[str]) -> tuple[dict[str, str], str | None]:
    """The value-taking global options (by name without dashes) and the first command word."""
    found: dict[str, str] = {}
    command = None
    index = 0
    while index < len(arguments):
        word = arguments[index]
        index += 1
        if word == "--":
            break
        if not word.startswith("--") or len(word) < 3:
            if command is None and not word.startswith("-"):
                command = word
            continue
        name, has_value, value = word.partition("=")
        if len(name) >= 6 and "--no-verify-ssl".startswith(name):  # argparse takes a prefix
            found["no-verify-ssl"] = ""
            continue
        if name in GLOBAL_FLAGS:
            continue
        matches = [option for option in GLOBALS_WITH_VALUE if option.startswith(name)]
        exact = [option for option in matches if option == name]
        chosen = exact or (matches if len(matches) == 1 else [])
        if not chosen:
            continue
        if not has_value:
            if index >= len(arguments):
                break
            value = arguments[index]
            index += 1
        found[chosen[0][2:]] = value
    return found, command


def check_supported(found: Mapping[str, str]) -> None:
    """Refuse the global options of the AWS CLI that we cannot pass on to our calls."""
    for name, advice in UNSUPPORTED_GLOBALS.items():
        if name in found:
            raise UsageError(
                f"The AWS CLI does not pass --{name} on to its aliases, and aws-mfa-run cannot "
                f"honour it when it reads it back: {advice}."
            )


def might_name_a_profile(arguments: list[str]) -> bool:
    """Whether the AWS CLI would take a word of `arguments` for --profile."""
    return any(
        len(word.partition("=")[0]) >= 3 and "--profile".startswith(word.partition("=")[0])
        for word in arguments
    )


def external_aliases(alias_file: str) -> dict[str, str]:
    """The user's `!` aliases: name -> the command line after the `!`."""

    try:
        text = files.read_text(alias_file)
        values = (inifile.parse(text, alias_file).get("toplevel") or {}) if text else {}
    except ConfigError:
        return {}
    return {
        name: value.strip()[1:].strip()
        for name, value in values.items()
        if value.strip().startswith("!")
    }


def _runs_an_alias(shell: Process, alias_file: str) -> bool:
    """Whether `shell` is the `sh -c '<alias> ARGS'` the AWS CLI runs for a `!` alias."""
    argv = shell.argv
    if os.path.basename(argv[0]).lstrip("-") not in _SHELLS or "-c" not in argv[1:3]:
        return False
    after = argv[argv.index("-c") + 1 :]
    # From `ps`, the script's words arrive split: join them back (its spaces were single ones).
    script = " ".join(after) if shell.joined else (after[0] if after else "")
    return any(
        script == value or script.startswith(value + " ")
        for value in external_aliases(alias_file).values()
        if value
    )


def find_alias_globals(
    alias_file: str,
    reader: Callable[[int], Process | None] = read_process,
    parent_pid: int | None = None,
) -> dict[str, str]:
    """Global options of the AWS CLI that ran us through an external (`!`) alias.

    Empty when no AWS CLI ran us so: botocore also starts us directly from `aws` as a
    credential_process, and then its `--profile` names the profile that uses us, not our source.
    """
    process = reader(os.getppid() if parent_pid is None else parent_pid)
    if process is None or not process.argv:
        return {}
    arguments = aws_cli_arguments(process)
    if arguments is not None:  # the shell exec'd us: our parent is the AWS CLI itself
        found, command = parse_aws_command_line(arguments)
        return found if command in external_aliases(alias_file) else {}
    if not _runs_an_alias(process, alias_file) or process.parent is None or process.parent <= 1:
        return {}
    runner = reader(process.parent)
    if runner is None or not runner.argv:
        return {}
    arguments = aws_cli_arguments(runner)
    if arguments is not None:
        return parse_aws_command_line(arguments)[0]
    if might_name_a_profile(runner.argv[1:]):
        shown = os.path.basename(runner.argv[0])[:40]
        raise UsageError(
            f"The alias was run by {shown!r}, which aws-mfa-run cannot tell for the AWS CLI, "
            "so a --profile given to it cannot be read; name the profile with -p NAME "
            "(aws mfa CODE -p NAME) or AWS_PROFILE=NAME instead."
        )
    return {}
