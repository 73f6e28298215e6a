"""The full path: parse the command line, run one mode, turn our errors into exit codes.

cli.py runs it when the warm path (warm.py) is not enough. Each mode is an entry of modes.MODES,
whose loader imports its module of `aws_mfa_run.commands` only when it runs. The environment is
read by cli.py and handed down; only what sees the process's own environment reads os.environ
too (aws/client.py: the REQUESTS_CA_BUNDLE botocore reads; prompt_program.py: what the programs
it runs inherit).
This is the one place that turns an exception into a message.
"""

from __future__ import annotations

import signal
import sys

from aws_mfa_run import __version__
from aws_mfa_run.arguments import USAGE, parse_arguments
from aws_mfa_run.commands import Context, say
from aws_mfa_run.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, MfaRunError
from aws_mfa_run.modes import mode_named
from aws_mfa_run.options import OPTIONS
from aws_mfa_run.prctl import forbid_core_dumps

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEBUG_VARIABLE = "AWS_MFA_RUN_DEBUG"


def run(argv: list[str], env: Mapping[str, str]) -> int:

    options = parse_arguments(argv)
    if options.mode == "help":
        sys.stdout.write(USAGE)
        return EXIT_OK
    if options.mode == "version":
        print(f"aws-mfa-run {__version__}")
        return EXIT_OK
    run_mode = mode_named(options.mode).load()
    return run_mode(Context(options, env))


# What a failed --env prints instead of the variables: a script whose status is not 0, so that
# `eval "$(aws-mfa-run --env)" && make` (fish: `| source; and make`) stops, as the failure of
# `--env` itself, inside `$(...)`, would not stop it. PowerShell's Invoke-Expression gets nothing.
FAILED_ENV_SCRIPT = {"powershell": "", "pwsh": ""}


def failed_env_script(argv: list[str]) -> str | None:
    """What stdout gets when the command line asks for --env and the run fails (a usage error
    too: `--env --force`), None when it does not ask for --env."""
    try:
        options = parse_arguments(argv)
    except MfaRunError:
        # Not parsed: --env among the options asked for it (nothing ran, nothing else is
        # printed); its shell is the next word, or the one after `=`. The options end at `--`
        # or at the first other word (a command's own --env is its own).
        index = 0
        while index < len(argv) and argv[index] != "--":
            word = argv[index]
            if word == "--env" or word.startswith("--env="):
                shell = word[6:] if "=" in word else "".join(argv[index + 1 : index + 2])
                return FAILED_ENV_SCRIPT.get(shell, "false\n")
            if not word.startswith("-"):
                return None
            takes_value = OPTIONS.get(word, ("", False))[1]
            index += 2 if takes_value else 1
        return None
    if options.mode != "env":
        return None
    return FAILED_ENV_SCRIPT.get(options.shell, "false\n")


def main(argv: list[str], env: dict[str, str]) -> int:

    # Before any secret is read: a core dump (SIGQUIT at a prompt, a crash) of any mode would
    # hold the long-term keys or a session. exec resets it: the command keeps its own.
    forbid_core_dumps(limit=False)
    script = failed_env_script(argv)
    if script is not None:
        # Killed while it waits (a code, AWS), --env must still print its failed script: a
        # script printed by nobody lets `eval "$(...)" && next` go on. SIGTERM and SIGHUP
        # (`timeout`, a closed terminal) end the run as Ctrl-C does; SIGKILL cannot be caught.
        for number in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, _interrupt)
    status = _main(argv, env)
    if status != EXIT_OK and script:
        try:
            sys.stdout.write(script)
            sys.stdout.flush()
        except OSError:
            pass  # a closed stdout: nobody evaluates it
    return status


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str], env: dict[str, str]) -> int:
    try:
        return run(argv, env)
    except MfaRunError as error:
        say(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\naws-mfa-run: interrupted; nothing was written.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # a bug of ours
        if env.get(DEBUG_VARIABLE):
            # Asked for: the traceback (code locations and exception texts, which are ours and
            # carry no secret: they never quote keys, tokens or codes).
            import traceback

            traceback.print_exc()
        say(
            f"internal error ({type(error).__name__}); please report it with the command you ran"
            f" (run it again with {DEBUG_VARIABLE}=1 to see where it happened)."
        )
        return EXIT_INTERNAL
