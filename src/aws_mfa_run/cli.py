"""The entry point: parse the command line, run one mode, turn our errors into exit codes.

The argument parser is our own: argparse and its `re` import would cost more than the whole warm
path of `aws-mfa-run COMMAND`, which must stay close to the cost of starting Python.
"""

from __future__ import annotations

import os
import sys
import time

from aws_mfa_run.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    MfaRunError,
    UsageError,
)
from aws_mfa_run.settings import Options

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_mfa_run.credentials.session import SessionCredentials
    from aws_mfa_run.settings import Settings

USAGE = """\
usage: aws-mfa-run [OPTIONS] COMMAND [ARGS...]   run COMMAND with MFA session credentials
       aws-mfa-run --server [OPTIONS] COMMAND    the same, kept fresh for as long as it runs
       aws-mfa-run --login [CODE] [OPTIONS]      store a session in the target profile
       aws-mfa-run --env [sh|bash|zsh|fish]      print the session as shell exports
       aws-mfa-run --credential-process          print the session for credential_process
       aws-mfa-run --status                      show stored sessions (no AWS call)
       aws-mfa-run --install-alias [--force]     add `aws mfa` to ~/.aws/cli/alias

options:
  -p, --profile NAME       profile with the long-term keys (default: $AWS_PROFILE, else default)
  --target-profile NAME    profile that receives the session (default: mfa for default,
                           else NAME-mfa)
  --serial ARN             MFA device (default: mfa_serial of the profile, else asked of IAM)
  --token-code CODE        the 6-digit MFA code (default: mfa_process of the profile, else the
                           terminal)
  --duration SECONDS       session length, 900 to 129600 (default: mfa_session_duration of the
                           profile, else STS's 12 hours)
  --min-remaining MINUTES  get a new session when the stored one has less left (default 16)
  --force                  --login: get a new session even if the stored one is valid;
                           --install-alias: replace a different `mfa` alias
  --server                 serve credentials to COMMAND from a local endpoint, renewed before
                           they run out (default: mfa_server of the profile)
  -h, --help               show this help
  --version                show the version

Through the alias, name the profile as `aws mfa CODE -p NAME` (or AWS_PROFILE=NAME aws mfa CODE).
Exit codes: 0 ok, 2 usage, 3 local files or profiles, 4 no MFA code, 5 refused by AWS,
6 AWS unreachable, 126/127 command not executable/not found, 130 interrupted.
"""

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
}
_MODES = {
    "--login": "login",
    "--env": "env",
    "--credential-process": "credential-process",
    "--status": "status",
    "--install-alias": "install-alias",
    "-h": "help",
    "--help": "help",
    "--version": "version",
}


def parse_arguments(argv: list[str]) -> tuple[Options, list[str]]:
    """Options, and the code words given after --login. Options end at `--` or, except in
    --login, at the first word that is not an option: the rest is the command, untouched."""
    options = Options()
    code_words: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if word == "--":
            options.command = argv[index:]
            break
        name, has_value, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _MODES:
            if has_value and name != "--env":
                raise UsageError(f"{name} takes no value.")
            mode = _MODES[name]
            if options.mode != "run" and options.mode != mode:
                raise UsageError(f"{name} cannot be combined with --{options.mode}.")
            options.mode = mode
            if name == "--env":
                from aws_mfa_run.environ import SHELLS

                if not has_value and index < len(argv) and argv[index] in SHELLS:
                    value, index = argv[index], index + 1
                if has_value or value:
                    if value not in SHELLS:
                        raise UsageError(f"--env takes one of {', '.join(SHELLS)}, not {value!r}.")
                    options.shell = value
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
        if word.startswith("-") and word != "-" and not (options.mode == "login" and _digits(word)):
            raise UsageError(f"Unknown option {word[:60]}; see aws-mfa-run --help.")
        if options.mode == "login":
            code_words.append(word)
            continue
        options.command = argv[index - 1 :]
        break
    if options.command and options.mode != "run":
        raise UsageError(f"--{options.mode} runs no command; remove {options.command[0][:60]}.")
    if options.server and options.mode != "run":
        raise UsageError(f"--server runs a command; it cannot be combined with --{options.mode}.")
    return options, code_words


def _digits(word: str) -> bool:
    return word.replace(" ", "").isdigit()


def _say(message: str) -> None:
    # One line whatever a message quotes (a profile name, a path): no control characters.
    shown = "".join(ch if ch.isprintable() else "?" for ch in message)
    print(f"aws-mfa-run: {shown}", file=sys.stderr, flush=True)


def _nested_session(
    options: Options, env: Mapping[str, str], now: float
) -> SessionCredentials | None:
    """Inside `aws-mfa-run`, the same profile's session comes from the environment it gave us."""
    from aws_mfa_run.settings import MARKER_VARIABLE, reuse_margin, source_profile_name
    from aws_mfa_run.timefmt import parse_utc

    marker = env.get(MARKER_VARIABLE)
    if not marker or options.target_profile or options.serial or options.mode == "login":
        return None
    if source_profile_name(options, env) != marker:
        return None
    expiration = parse_utc(env.get("AWS_CREDENTIAL_EXPIRATION", ""))
    key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    token = env.get("AWS_SESSION_TOKEN")
    if not (expiration and key_id and secret and token):
        return None
    # The files are not read here, so their mfa_min_remaining cannot count.
    if expiration - now <= reuse_margin(options, None, None):
        return None
    from aws_mfa_run.credentials.session import SessionCredentials

    return SessionCredentials(key_id, secret, token, expiration)


def _inside_server(options: Options, env: Mapping[str, str]) -> bool:
    """Inside `aws-mfa-run --server` for the same profile: its endpoint serves us as well."""
    from aws_mfa_run.settings import MARKER_VARIABLE, source_profile_name

    marker = env.get(MARKER_VARIABLE)
    if not marker or not env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return False
    if options.target_profile or options.serial:
        return False
    return source_profile_name(options, env) == marker


def run(argv: list[str], env: Mapping[str, str]) -> int:
    options, code_words = parse_arguments(argv)
    if options.mode == "help":
        sys.stdout.write(USAGE)
        return EXIT_OK
    if options.mode == "version":
        from aws_mfa_run import __version__

        print(f"aws-mfa-run {__version__}")
        return EXIT_OK
    if options.mode == "run" and not options.command:
        raise UsageError("Nothing to run: give a COMMAND, or --login; see aws-mfa-run --help.")
    if options.mode == "install-alias":
        from aws_mfa_run import alias

        _say(alias.install(options.force))
        if not _on_path("aws-mfa-run", env):
            _say("Note: aws-mfa-run is not on your PATH, so the alias cannot run it yet.")
        return EXIT_OK

    token_code = None
    if code_words or options.token_code is not None:
        if code_words and options.token_code is not None:
            raise UsageError("Give the MFA code once, either after --login or as --token-code.")
        from aws_mfa_run.codes import normalize

        token_code = normalize(" ".join(code_words) if code_words else options.token_code or "")

    if options.mode != "credential-process":
        from aws_mfa_run import alias, parent_aws

        options.aws_globals = parent_aws.find_alias_globals(alias.is_external_alias)

    now = time.time()
    nested = _nested_session(options, env, now)
    if options.mode == "run" and (
        (nested is not None and not options.server) or _inside_server(options, env)
    ):
        from aws_mfa_run.run import exec_command

        exec_command(options.command, dict(env))  # the session (or endpoint) is already in it
    return _with_files(options, env, token_code, now, nested)


def _with_files(
    options: Options,
    env: Mapping[str, str],
    token_code: str | None,
    now: float,
    nested: SessionCredentials | None,
) -> int:
    from aws_mfa_run import store
    from aws_mfa_run.settings import file_paths, resolve

    config_path, credentials_path, state_dir = file_paths(env)
    config = store.read_ini(config_path)
    credentials = store.read_ini(credentials_path)

    if options.mode == "status":
        from aws_mfa_run.settings import source_profile_name
        from aws_mfa_run.status import status_lines

        explicit = None
        if options.profile or options.aws_globals.get("profile") or env.get("AWS_PROFILE"):
            explicit = source_profile_name(options, env)
        lines = status_lines(options, env, config, credentials, state_dir, now, explicit)
        sys.stdout.write("\n".join(lines) + "\n")
        return EXIT_OK

    from aws_mfa_run import roles

    role_plan = roles.plan(options, env, config, credentials, state_dir)
    settings = (
        role_plan.settings if role_plan else resolve(options, env, config, credentials, state_dir)
    )
    if options.mode == "run" and (options.server or settings.server):
        from aws_mfa_run.commands import server

        return server.run(options, env, settings, token_code=token_code, say=_say)
    login = options.mode == "login"
    if nested is not None:
        session = nested
    elif role_plan is not None:
        stored = store.stored_session(settings, credentials)
        reusable = store.usable(stored, now, settings.min_remaining)
        if login and not options.force and reusable and stored is not None:
            _report_login(settings, stored, False)
            return EXIT_OK
        session, _ = roles.get_role_session(
            role_plan, credentials, token_code=token_code, force=options.force and login, say=_say
        )
        if login:
            for note in store.write_session(settings, session):
                _say(note)
            _report_login(settings, session, True, roles.describe(role_plan))
            return EXIT_OK
    else:
        from aws_mfa_run.session import get_session

        session, fetched = get_session(
            settings, credentials, token_code=token_code, force=options.force and login, say=_say
        )
        if login:
            _report_login(settings, session, fetched)
            return EXIT_OK

    from aws_mfa_run import environ

    if options.mode == "credential-process":
        sys.stdout.write(environ.credential_process_json(session) + "\n")
        return EXIT_OK
    if options.mode == "env":
        variables = environ.session_variables(
            session,
            settings.source_profile,
            settings.region,
            env,
        )
        sys.stdout.write(environ.shell_script(variables, options.shell))
        return EXIT_OK
    from aws_mfa_run.run import exec_command

    child = environ.child_environment(
        env,
        session,
        settings.source_profile,
        settings.region,
    )
    exec_command(options.command, child)
    return EXIT_OK  # not reached: exec replaced us


def _report_login(
    settings: Settings, session: SessionCredentials, fetched: bool, via: str = ""
) -> None:
    from aws_mfa_run.timefmt import describe_until

    until = describe_until(session.expiration, time.time())
    source = settings.source_profile
    target = settings.target_profile
    if fetched:
        what = f" ({via})" if via else ""
        _say(f"Profile '{source}'{what} -> '{target}': MFA session valid {until}.")
    else:
        _say(
            f"Profile '{target}' already holds an MFA session of '{source}', valid {until}; "
            "nothing to do (--force gets a new one)."
        )


def _on_path(program: str, env: Mapping[str, str]) -> bool:
    for directory in env.get("PATH", "").split(os.pathsep):
        if directory and os.access(os.path.join(directory, program), os.X_OK):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, os.environ)
    except MfaRunError as error:
        _say(str(error))
        return error.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\naws-mfa-run: interrupted; nothing was written.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # a bug of ours: one line, never a traceback that could hold data
        _say(f"internal error ({type(error).__name__}); please report it with the command you ran.")
        return EXIT_INTERNAL
