"""The modes of aws-mfa-run, one entry each: the one place a mode is added.

The parser and the help text (arguments.py), the dispatch (entry.py) and the completion scripts'
words (completion_scripts.py, given `completion_words()`) are all derived from `MODES`. Each
entry names the function that runs it through a small loader that imports its module of
`aws_mfa_run.commands` only when that mode runs (the rest of the package is not imported for
nothing); the loaders are plain imports, so that readers and tools can follow the dispatch.
"""

from __future__ import annotations

from aws_mfa_run.completion_scripts import PROFILES_MODE
from aws_mfa_run.options import OPTIONS

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_mfa_run.commands import Context
    from aws_mfa_run.completion_scripts import Word

    Runner = Callable[[Context], int]

# What a mode takes after its flag (the words up to the next option), instead of a command.
NO_WORDS = ""
CODE = "code"  # --login 123456
ENV_SHELL = "env"  # --env [SHELL]: optional, one of options.SHELLS
SHELL = "shell"  # --completion SHELL: one of options.COMPLETION_SHELLS

# The options (Options attributes) a mode uses; any other is refused, never silently ignored.
SESSION = ("profile", "target_profile", "serial", "token_code", "duration", "min_remaining")


class Mode:
    """One mode: its flag (none for running a command), its lines of the help text (what follows
    `aws-mfa-run FLAG`, and what it does), its word in the completion scripts, what it takes
    after the flag, and the loader of the function that runs it."""

    def __init__(
        self,
        name: str,
        flag: str,
        load: Callable[[], Runner],
        *,
        usage: tuple[tuple[str, str], ...],
        completion: str,
        words: str = NO_WORDS,
        after_login: bool = False,
        accepts: tuple[str, ...] = (),
    ) -> None:
        self.name = name  # Options.mode
        self.flag = flag
        self.load = load
        self.usage = usage  # (arguments after the flag, what it does), one per line of help
        self.completion = completion  # its description in the completion scripts ("": hidden)
        self.words = words
        # The alias runs `aws-mfa-run --login ...`: `aws mfa --logout` reaches us as
        # `--login --logout`, which means this mode.
        self.after_login = after_login
        self.accepts = accepts  # its options: Options attributes, each a flag of arguments.py


# ---- the loaders: each imports the one module that runs its mode ------------------------------


def _run() -> Runner:
    from aws_mfa_run.commands import run

    return run.run


def _login() -> Runner:
    from aws_mfa_run.commands import login

    return login.run


def _env() -> Runner:
    from aws_mfa_run.commands import env

    return env.run


def _credential_process() -> Runner:
    from aws_mfa_run.commands import credential_process

    return credential_process.run


def _status() -> Runner:
    from aws_mfa_run.commands import status

    return status.run


def _logout() -> Runner:
    from aws_mfa_run.commands import logout

    return logout.run


def _console() -> Runner:
    from aws_mfa_run.commands import console

    return console.run


def _install_alias() -> Runner:
    from aws_mfa_run.commands import alias

    return alias.run


def _uninstall_alias() -> Runner:
    from aws_mfa_run.commands import uninstall_alias

    return uninstall_alias.run


def _completion() -> Runner:
    from aws_mfa_run.commands import completion

    return completion.script_printer(completion_words(), completion_options())


def _complete_profiles() -> Runner:
    from aws_mfa_run.commands import completion

    return completion.run


def _store_keys() -> Runner:
    from aws_mfa_run.commands import store_keys

    return store_keys.run


def _rotate_keys() -> Runner:
    from aws_mfa_run.commands import rotate_keys

    return rotate_keys.run


# In the order of the help text and the completion scripts.
MODES: tuple[Mode, ...] = (
    Mode(
        "run",
        "",
        _run,
        usage=(
            ("[OPTIONS] COMMAND [ARGS...]", "run COMMAND with MFA session credentials"),
            ("--server [OPTIONS] COMMAND", "the same, kept fresh for as long as it runs"),
        ),
        completion="",  # no flag: the first word that is not an option
        accepts=(*SESSION, "server"),
    ),
    Mode(
        "login",
        "--login",
        _login,
        usage=(("[CODE] [OPTIONS]", "store a session in the target profile"),),
        completion="store a session in the target profile",
        words=CODE,
        accepts=(*SESSION, "force"),
    ),
    Mode(
        "env",
        "--env",
        _env,
        usage=(("[sh|bash|zsh|fish|powershell]", "print the session as shell exports"),),
        completion="print the session as shell exports",
        words=ENV_SHELL,
        accepts=SESSION,
    ),
    Mode(
        "credential-process",
        "--credential-process",
        _credential_process,
        usage=(("", "print the session for credential_process"),),
        completion="print the session for credential_process",
        accepts=SESSION,
    ),
    Mode(
        "status",
        "--status",
        _status,
        usage=(("[--json]", "show stored sessions (no AWS call)"),),
        completion="show stored sessions",
        after_login=True,
        accepts=("profile", "target_profile", "min_remaining", "json"),
    ),
    Mode(
        "logout",
        "--logout",
        _logout,
        usage=(("[--all]", "remove what aws-mfa-run stored for a profile"),),
        completion="remove what aws-mfa-run stored for a profile",
        after_login=True,
        accepts=("profile", "all"),
    ),
    Mode(
        "console",
        "--console",
        _console,
        usage=(("[-p ROLE] [--print]", "open the AWS console signed in as a role"),),
        completion="open the AWS console with a role's credentials",
        after_login=True,
        accepts=(*SESSION, "print_url"),
    ),
    Mode(
        "install-alias",
        "--install-alias",
        _install_alias,
        usage=(("[--force]", "add `aws mfa` to ~/.aws/cli/alias"),),
        completion="add `aws mfa` to ~/.aws/cli/alias",
        accepts=("force",),
    ),
    Mode(
        "uninstall-alias",
        "--uninstall-alias",
        _uninstall_alias,
        usage=(("", "remove `aws mfa` from ~/.aws/cli/alias"),),
        completion="remove `aws mfa` from ~/.aws/cli/alias",
        after_login=True,
    ),
    Mode(
        "completion",
        "--completion",
        _completion,
        usage=(("bash|zsh|fish", "print a shell completion script"),),
        completion="print a shell completion script",
        words=SHELL,
    ),
    Mode(
        "complete-profiles",
        PROFILES_MODE,
        _complete_profiles,
        usage=(),  # hidden: what the completion scripts run to list profile names
        completion="",
    ),
    Mode(
        "store-keys",
        "--store-keys",
        _store_keys,
        usage=(("[-p NAME]", "move the profile's keys into the OS keyring"),),
        completion="move the profile's keys into the OS keyring",
        accepts=("profile",),
    ),
    Mode(
        "unstore-keys",
        "--unstore-keys",
        _store_keys,
        usage=(("[-p NAME]", "move them back into the credentials file"),),
        completion="move them back into the credentials file",
        accepts=("profile",),
    ),
    Mode(
        "rotate-keys",
        "--rotate-keys",
        _rotate_keys,
        usage=(("[-p NAME]", "replace the profile's access key with a new one"),),
        completion="replace the profile's access key with a new one",
        accepts=SESSION,
    ),
)


def mode_named(name: str) -> Mode:
    """The entry of `name` (an Options.mode the parser set from this table)."""
    return next(mode for mode in MODES if mode.name == name)


def completion_words() -> list[Word]:
    """The modes as the completion scripts offer them: (flags, kind of value, description)."""
    kinds = {ENV_SHELL: "env", SHELL: "shell"}
    return [
        ((mode.flag,), kinds.get(mode.words, ""), mode.completion)
        for mode in MODES
        if mode.flag and mode.completion
    ]


def completion_options() -> dict[str, list[str]]:
    """Each mode's flag and the options it uses: what the completion scripts offer after it."""
    return {
        mode.flag: [name for name, (attribute, _) in OPTIONS.items() if attribute in mode.accepts]
        for mode in MODES
        if mode.flag and mode.completion
    }
