"""The command line: pure parsing into Options, and the help text, both derived from the modes
of modes.py and the options below.

The parser is our own: argparse and its `re` import would cost more than the whole warm path of
`aws-mfa-run COMMAND`, which must stay close to the cost of starting Python.
"""

from __future__ import annotations

from aws_mfa_run.errors import UsageError
from aws_mfa_run.modes import CODE, ENV_SHELL, MODES, NO_WORDS, SHELL
from aws_mfa_run.options import COMPLETION_SHELLS, OPTIONS, SHELLS, Options

# The help text's lines for the modes start here; the help of each mode starts in this column.
_PREFIXES = ("usage: ", "       ")
_HELP_COLUMN = 49


def _usage_lines() -> str:
    lines: list[str] = []
    for mode in MODES:
        for arguments, does in mode.usage:
            prefix = _PREFIXES[1] if lines else _PREFIXES[0]
            line = prefix + " ".join(word for word in ("aws-mfa-run", mode.flag, arguments) if word)
            if len(line) < _HELP_COLUMN:
                lines.append(line.ljust(_HELP_COLUMN) + does)
            else:
                lines.append(line)
                lines.append(" " * _HELP_COLUMN + does)
    return "".join(f"{line}\n" for line in lines)


USAGE = (
    _usage_lines()
    + """\

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
)

# flag -> Options.mode: the modes, and --version (-h and --help are looked at first).
MODES_BY_FLAG = {mode.flag: mode.name for mode in MODES if mode.flag}
MODES_BY_FLAG["--version"] = "version"
# Modes that take the words after them (not a command): the code, a shell name.
_WORDS = {mode.name: mode.words for mode in MODES}
# Modes that may follow the alias's own --login (`aws mfa --logout`, `aws mfa --status`).
_AFTER_LOGIN = tuple(mode.name for mode in MODES if mode.after_login)
# mode -> the options it uses (modes.Mode.accepts).
_ACCEPTS = {mode.name: mode.accepts for mode in MODES}
# Modes whose word may be given as --flag=WORD.
_WORD_AS_VALUE = tuple(mode.flag for mode in MODES if mode.words in (ENV_SHELL, SHELL))


def parse_arguments(argv: list[str]) -> Options:
    """Options end at `--` or, except in --login and --env, at the first word that is not an
    option: the rest is the command, untouched. --help wins over everything, so `aws mfa --help`
    and `aws mfa help` (the alias adds --login) show help."""
    options = Options()
    words: list[str] = []
    given: list[str] = []  # the options named, as typed
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            options.command = argv[index:]
            break
        name, has_value, value = word.partition("=") if word.startswith("--") else (word, "", "")
        takes_words = _WORDS.get(options.mode, NO_WORDS) != NO_WORDS
        if name in ("-h", "--help") or (word == "help" and takes_words):
            return _help()
        if name in MODES_BY_FLAG:
            if has_value and name not in _WORD_AS_VALUE:
                raise UsageError(f"{name} takes no value.")
            mode = MODES_BY_FLAG[name]
            if options.mode == "login" and mode in _AFTER_LOGIN and not words:
                options.mode = "run"  # `aws mfa --logout`: the alias put --login first
            if options.mode != "run" and options.mode != mode:
                raise UsageError(f"{name} cannot be combined with --{options.mode}.")
            options.mode = mode
            if has_value:
                words.append(value)
            continue
        if name in OPTIONS:
            attribute, takes_value = OPTIONS[name]
            given.append(name)
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
        if takes_words:
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
    _check_applies(options, given)
    return options


def _check_applies(options: Options, given: list[str]) -> None:
    """An option the mode does not use is refused: ignored, it would mislead (`--logout
    --target-profile ci` logs out every target of the profile, `--status --token-code` spends
    nothing)."""
    accepts = _ACCEPTS.get(options.mode)
    if accepts is None:  # --version
        return
    for name in given:
        if OPTIONS[name][0] not in accepts:
            what = "running a command" if options.mode == "run" else f"--{options.mode}"
            raise UsageError(f"{name} does not apply to {what}; see aws-mfa-run --help.")


def _help() -> Options:
    options = Options()
    options.mode = "help"
    return options


def _take_words(options: Options, words: list[str]) -> None:
    kind = _WORDS.get(options.mode, NO_WORDS)
    if kind == SHELL:
        if len(words) != 1 or words[0] not in COMPLETION_SHELLS:
            raise UsageError(f"--{options.mode} needs a shell: {', '.join(COMPLETION_SHELLS)}.")
        options.completion_shell = words[0]
        return
    if kind == ENV_SHELL:
        if len(words) > 1 or (words and words[0] not in SHELLS):
            shown = " ".join(words)[:60]
            raise UsageError(f"--{options.mode} takes one of {', '.join(SHELLS)}, not {shown!r}.")
        if words:
            options.shell = words[0]
        return
    if kind == CODE and words:
        if options.token_code is not None:
            raise UsageError("Give the MFA code once, either after --login or as --token-code.")
        options.token_code = " ".join(words)


def _digits(word: str) -> bool:
    return word.replace(" ", "").isdigit()
