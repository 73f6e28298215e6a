"""The command line: pure parsing into Options, and the help text.

The parser is our own: argparse and its `re` import would cost more than the whole warm path of
`aws-mfa-run COMMAND`, which must stay close to the cost of starting Python.
"""

from __future__ import annotations

from aws_mfa_run.errors import UsageError

USAGE = """\
usage: aws-mfa-run [OPTIONS] COMMAND [ARGS...]   run COMMAND with MFA session credentials
       aws-mfa-run --server [OPTIONS] COMMAND    the same, kept fresh for as long as it runs
       aws-mfa-run --login [CODE] [OPTIONS]      store a session in the target profile
       aws-mfa-run --env [sh|bash|zsh|fish|powershell]
                                                 print the session as shell exports
       aws-mfa-run --credential-process          print the session for credential_process
       aws-mfa-run --status [--json]             show stored sessions (no AWS call)
       aws-mfa-run --logout [--all]              remove what aws-mfa-run stored for a profile
       aws-mfa-run --console [-p ROLE] [--print] open the AWS console signed in as a role
       aws-mfa-run --install-alias [--force]     add `aws mfa` to ~/.aws/cli/alias
       aws-mfa-run --uninstall-alias             remove `aws mfa` from ~/.aws/cli/alias
       aws-mfa-run --completion bash|zsh|fish    print a shell completion script
       aws-mfa-run --store-keys [-p NAME]        move the profile's keys into the OS keyring
       aws-mfa-run --unstore-keys [-p NAME]      move them back into the credentials file
       aws-mfa-run --rotate-keys [-p NAME]       replace the profile's access key with a new one

options:
  -p, --profile NAME       profile to use: with the long-term keys, or a role profile
                           (default: $AWS_PROFILE, else default)
  --target-profile NAME    profile that receives the session (default: mfa for default,
                           else NAME-mfa)
  --serial ARN             MFA device (default: mfa_serial of the profile, else asked of IAM)
  --token-code CODE        the 6-digit MFA code (default: mfa_process of the profile, else the
                           terminal); with --login, a code means "log in now", even while a
                           stored session is valid
  --duration SECONDS       session length, 900 to 129600 (default: mfa_session_duration of the
                           profile, else STS's 12 hours)
  --min-remaining MINUTES  get a new session when the stored one has less left (default 16,
                           at most half the session's lifetime)
  --force                  --login: get a new session even if the stored one is valid;
                           --install-alias: replace a different `mfa` alias
  --server                 serve credentials to COMMAND from a local endpoint, renewed before
                           they run out (default: mfa_server of the profile)
  --all                    --logout: every profile aws-mfa-run stored a session for
  --json                   --status: one JSON document (schema in README)
  --print                  --console: print the sign-in URL instead of opening a browser
  -h, --help               show this help
  --version                show the version

Through the alias, name the profile as `aws mfa CODE -p NAME` (or AWS_PROFILE=NAME aws mfa CODE).
Exit codes: 0 ok, 2 usage, 3 local files or profiles, 4 no MFA code, 5 refused by AWS,
6 AWS unreachable, 126/127 command not executable/not found, 130 interrupted.
"""

SHELLS = ("sh", "bash", "zsh", "fish", "powershell", "pwsh")


class Options:
    """What the command line asked for. Built once by `parse_arguments`, never changed after."""

    def __init__(self) -> None:
        self.mode = "run"  # run | login | env | credential-process | status | logout | ...
        self.profile: str | None = None
        self.target_profile: str | None = None
        self.serial: str | None = None
        self.duration: str | None = None
        self.min_remaining: str | None = None
        self.token_code: str | None = None  # as given (normalized by codes.normalize)
        self.force = False
        self.server = False  # --server: run the command with a credentials endpoint
        self.all = False
        self.shell = "sh"
        self.json = False  # --status --json
        self.print_url = False  # --console --print
        self.completion_shell = ""  # --completion SHELL
        self.command: list[str] = []


# option -> (Options attribute, takes a value)
_OPTIONS = {
    "-p": ("profile", True),
    "--profile": ("profile", True),
    "--target-profile": ("target_profile", True),
    "--serial": ("serial", True),
    "--token-code": ("token_code", True),
    "--duration": ("duration", True),
    "--min-remaining": ("min_remaining", True),
    "--force": ("force", False),
    "--server": ("server", False),
    "--all": ("all", False),
    "--json": ("json", False),
    "--print": ("print_url", False),
}
MODES = {
    "--login": "login",
    "--env": "env",
    "--credential-process": "credential-process",
    "--status": "status",
    "--logout": "logout",
    "--install-alias": "install-alias",
    "--uninstall-alias": "uninstall-alias",
    "--console": "console",
    "--completion": "completion",
    "--complete-profiles": "complete-profiles",  # hidden: for the completion scripts
    "--store-keys": "store-keys",
    "--unstore-keys": "unstore-keys",
    "--rotate-keys": "rotate-keys",
    "-h": "help",
    "--help": "help",
    "--version": "version",
}
# Modes that take the words after them (not a command): the code, a shell name.
_WORDS_MODES = ("login", "env", "completion")
COMPLETION_SHELLS = ("bash", "zsh", "fish")
# Modes that may follow the alias's own --login (`aws mfa --logout`, `aws mfa --status`).
_AFTER_LOGIN = ("logout", "status", "console", "uninstall-alias")


def parse_arguments(argv: list[str]) -> Options:
    """Options end at `--` or, except in --login and --env, at the first word that is not an
    option: the rest is the command, untouched. --help wins over everything, so `aws mfa --help`
    and `aws mfa help` (the alias adds --login) show help."""
    options = Options()
    words: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            options.command = argv[index:]
            break
        name, has_value, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in ("-h", "--help") or (word == "help" and options.mode in _WORDS_MODES):
            return _help()
        if name in MODES:
            if has_value and name not in ("--env", "--completion"):
                raise UsageError(f"{name} takes no value.")
            mode = MODES[name]
            if options.mode == "login" and mode in _AFTER_LOGIN and not words:
                options.mode = "run"  # `aws mfa --logout`: the alias put --login first
            if options.mode != "run" and options.mode != mode:
                raise UsageError(f"{name} cannot be combined with --{options.mode}.")
            options.mode = mode
            if has_value:
                words.append(value)
            continue
        if name in _OPTIONS:
            attribute, takes_value = _OPTIONS[name]
            if not takes_value:
                if has_value:
                    raise UsageError(f"{name} takes no value.")
                setattr(options, attribute, True)
                continue
            if not has_value:
                if index >= len(argv):
                    raise UsageError(f"{name} needs a value.")
                value, index = argv[index], index + 1
            setattr(options, attribute, value)
            continue
        if options.mode in _WORDS_MODES:
            if word.startswith("-") and word != "-" and not _digits(word):
                raise UsageError(f"Unknown option {word[:60]}; see aws-mfa-run --help.")
            words.append(word)
            continue
        if word.startswith("-") and word != "-":
            raise UsageError(f"Unknown option {word[:60]}; see aws-mfa-run --help.")
        options.command = argv[index - 1 :]
        break
    _take_words(options, words)
    if options.command and options.mode != "run":
        raise UsageError(f"--{options.mode} runs no command; remove {options.command[0][:60]}.")
    if options.server and options.mode != "run":
        raise UsageError(f"--server runs a command; it cannot be combined with --{options.mode}.")
    if options.all and options.mode != "logout":
        raise UsageError("--all goes with --logout.")
    if options.all and options.profile is not None:
        raise UsageError(
            "--logout --all logs out every profile; drop -p, or drop --all to log out one."
        )
    if options.json and options.mode != "status":
        raise UsageError("--json goes with --status.")
    if options.print_url and options.mode != "console":
        raise UsageError("--print goes with --console.")
    return options


def _help() -> Options:
    options = Options()
    options.mode = "help"
    return options


def _take_words(options: Options, words: list[str]) -> None:
    if options.mode == "completion":
        if len(words) != 1 or words[0] not in COMPLETION_SHELLS:
            raise UsageError(f"--completion needs a shell: {', '.join(COMPLETION_SHELLS)}.")
        options.completion_shell = words[0]
        return
    if options.mode == "env":
        if len(words) > 1 or (words and words[0] not in SHELLS):
            shown = " ".join(words)[:60]
            raise UsageError(f"--env takes one of {', '.join(SHELLS)}, not {shown!r}.")
        if words:
            options.shell = words[0]
        return
    if words:
        if options.token_code is not None:
            raise UsageError("Give the MFA code once, either after --login or as --token-code.")
        options.token_code = " ".join(words)


def _digits(word: str) -> bool:
    return word.replace(" ", "").isdigit()
