"""`aws-mfa-run --server COMMAND`: COMMAND asks a loopback endpoint of ours for credentials.

Static keys in an environment never refresh: role credentials from an MFA session last at most an
hour, and after that every call of a long job fails. Here COMMAND runs as our child with
`AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` instead, so every SDK
asks us at start and again before its credentials run out, and we answer from the same chain,
store, cache and locks as every other mode: role credentials renewed from the stored MFA session,
and when that ends, a code from mfa_process, else the terminal, else an error the SDK shows.

The endpoint lives exactly as long as COMMAND. COMMAND is in our process group, so what the
terminal sends (INT, QUIT, TSTP, WINCH, HUP on hang-up) reaches it without us; TERM and HUP sent
to us by a program are passed on. Its exit status is ours, a death by signal N as 128+N.
"""

from __future__ import annotations

import os
import sys
import time

from aws_mfa_run.errors import MfaRunError, NoCodeError
from aws_mfa_run.server import CredentialsCache, CredentialsServer, FetchFailed

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_mfa_run.commands import Context
    from aws_mfa_run.credentials.mfa_session import Prompting
    from aws_mfa_run.credentials.session import SessionCredentials
    from aws_mfa_run.inifile import IniText
    from aws_mfa_run.settings import Settings
    from aws_mfa_run.terminal import Terminal

FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
AUTHORIZATION_TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
# Other ways to point an SDK at a container endpoint: ours replace them.
ENDPOINT_VARIABLES = (
    FULL_URI,
    AUTHORIZATION_TOKEN,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
# Keys of a profile that every SDK's chain uses before the container provider.
CREDENTIAL_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
)
ENDED = "the MFA session has ended; run `aws mfa CODE`"


def _default_profile_has_credentials(section: Mapping[str, str] | None) -> bool:
    return section is not None and any(section.get(key) for key in CREDENTIAL_KEYS)


def server_environment(
    env: Mapping[str, str],
    *,
    url: str,
    token: str,
    profile: str,
    region: str | None,
    config: IniText,
    credentials: IniText,
) -> dict[str, str]:
    """COMMAND's environment: our endpoint and token, no keys, the marker and a region.

    Without AWS_PROFILE an SDK uses the profile `default`, and keys found there come before the
    container provider in every SDK's chain: a credentials file (or config file) whose default
    profile holds credentials is hidden from COMMAND (pointed at /dev/null), and its real path
    handed on in our own variable, so `aws mfa` and a nested aws-mfa-run still find it.
    """
    from aws_mfa_run.environ import REGION_VARIABLES, REMOVED, region_variables, user_region
    from aws_mfa_run.settings import (
        MARKER_VARIABLE,
        REAL_CONFIG_FILE_VARIABLE,
        REAL_CREDENTIALS_FILE_VARIABLE,
        REGION_MARKER_VARIABLE,
        config_values,
    )

    child = {
        name: value
        for name, value in env.items()
        if name not in REMOVED and name not in ENDPOINT_VARIABLES
    }
    if _default_profile_has_credentials(credentials.get("default")):
        child[REAL_CREDENTIALS_FILE_VARIABLE] = credentials.path
        child["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    if _default_profile_has_credentials(config_values("default", config)):
        child[REAL_CONFIG_FILE_VARIABLE] = config.path
        child["AWS_CONFIG_FILE"] = os.devnull
    child[FULL_URI] = url
    child[AUTHORIZATION_TOKEN] = token
    child[MARKER_VARIABLE] = profile
    if user_region(env) is None:  # a region an outer aws-mfa-run set is replaced, as there
        for name in (*REGION_VARIABLES, REGION_MARKER_VARIABLE):
            child.pop(name, None)
    child.update(region_variables(region, env))
    return child


def foreground_terminal() -> Terminal:
    """The terminal, when we may prompt on it: only while our process group is in its foreground.
    Under an interactive shell (`--server $SHELL`) the shell's jobs own it, and a read would stop
    us (SIGTTIN); the SDK then gets the error answer, and `aws mfa CODE` in that shell helps."""
    from aws_mfa_run.terminal import NoTerminal, Terminal

    try:
        descriptor = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        raise NoTerminal() from None
    try:
        foreground = os.tcgetpgrp(descriptor) == os.getpgrp()
    except OSError:
        foreground = False
    finally:
        os.close(descriptor)
    if not foreground:
        raise NoTerminal()
    return Terminal()


def make_fetch(
    context: Context, prompting: Prompting, first_code: str | None = None
) -> Callable[[], SessionCredentials]:
    """The credentials for the command line's profile, from the chain with the files as they are
    at each call (never forced): what the wrapper would inject if it started now. A code given on
    the command line serves the first call only."""
    from aws_mfa_run.credentials.chain import get_credentials

    codes = [first_code]  # the command line's code, until the first call takes it

    def fetch() -> SessionCredentials:
        config, credentials = context.files()
        settings = context.settings(config, credentials)
        token_code, codes[0] = codes[0], None
        session, _ = get_credentials(
            settings, context.env, prompting, token_code=token_code, allow_inherited=False
        )
        return session

    return fetch


def describe_error(profile: str) -> Callable[[MfaRunError], FetchFailed]:
    """The error answer for a failed fetch: the SDK shows its Message (and we say it once)."""
    how = "" if profile == "default" else f" (`aws mfa CODE -p {profile}`)"

    def describe(error: MfaRunError) -> FetchFailed:
        if isinstance(error, NoCodeError):
            return FetchFailed(
                "MfaSessionEnded",
                f"aws-mfa-run: {ENDED} for profile '{profile}'{how}, then try again "
                "(no mfa_process and no terminal to ask for a code on).",
            )
        return FetchFailed("CredentialsUnavailable", f"aws-mfa-run: {error}")

    return describe


def run(context: Context, settings: Settings) -> int:
    """Fetch once (errors and prompts as in the wrapper, before COMMAND starts), then serve
    COMMAND until it ends; returns its exit status."""
    from aws_mfa_run.credentials.mfa_session import Prompting
    from aws_mfa_run.credentials.store import read_ini

    # The first fetch may prompt as the wrapper does: COMMAND does not own the terminal yet.
    opener: list[Callable[[], Terminal]] = [context.terminal_opener]
    prompting = Prompting(say=context.say, clock=context.clock, terminal_opener=lambda: opener[0]())
    fetch = make_fetch(context, prompting, first_code=context.token_code())
    started = time.time()
    first = fetch()
    opener[0] = foreground_terminal

    def report(message: str) -> None:
        context.say(message.removeprefix("aws-mfa-run: "))  # say() puts our name in front

    paths = settings.paths

    def version() -> object:
        # The session store: `aws mfa CODE` in another terminal changes it.
        try:
            status = os.stat(paths.credentials)
        except OSError:
            return None
        return status.st_mtime_ns, status.st_size, status.st_ino

    cache = CredentialsCache(
        fetch, describe_error=describe_error(settings.profile), say=report, version=version
    )
    cache.prime(first, started)
    server = CredentialsServer(cache)
    child_env = server_environment(
        context.env,
        url=server.url,
        token=server.token,
        profile=settings.profile,
        region=settings.region,
        config=read_ini(paths.config),
        credentials=read_ini(paths.credentials),
    )
    try:
        return supervise(context.options.command, child_env, on_started=server.start)
    finally:
        server.close()


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _spawn(command: list[str], env: Mapping[str, str], sigmask: set[int]) -> int:
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    # Python ignores SIGPIPE (and SIGXFSZ); an ignored signal stays ignored across exec, so
    # COMMAND gets the default back, as subprocess does with restore_signals.
    defaults = {signal.SIGPIPE} | ({signal.SIGXFSZ} if hasattr(signal, "SIGXFSZ") else set())
    try:
        return os.posix_spawnp(
            command[0], command, dict(env), setsigmask=sigmask, setsigdef=defaults
        )
    except OSError as error:
        from aws_mfa_run.commands.run import command_error

        raise command_error(command[0], error) from None


# si_code of a signal the kernel sent (a terminal hang-up, say), as opposed to kill() by a program.
SI_KERNEL = 0x80


def supervise(command: list[str], env: Mapping[str, str], *, on_started: Callable[[], None]) -> int:
    """Run COMMAND as our child until it ends; its exit status (128+N for signal N).

    The signals we handle are blocked in every thread (the endpoint's threads start after this)
    and taken one at a time here; COMMAND starts with the signal mask we had.
    """
    import signal

    handled = {signal.SIGCHLD, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP}
    if not hasattr(signal, "sigwaitinfo"):  # macOS
        return _supervise_with_handlers(command, env, on_started)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    try:
        pid = _spawn(command, env, set(previous))
        on_started()
        while True:
            info = signal.sigwaitinfo(handled)
            if info.si_signo == signal.SIGCHLD:
                done, wait_status = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    # A Ctrl-C that ended COMMAND may still be pending for us: it was COMMAND's,
                    # and must not turn into our KeyboardInterrupt once the mask is restored.
                    while signal.sigtimedwait(handled, 0) is not None:
                        pass
                    return _status(wait_status)
            elif info.si_signo in (signal.SIGTERM, signal.SIGHUP) and info.si_code != SI_KERNEL:
                # Sent to us by a program: COMMAND would have had it without us.
                try:
                    os.kill(pid, info.si_signo)
                except ProcessLookupError:
                    pass
            # INT and QUIT (and a hang-up) come from the terminal to the whole process group:
            # COMMAND has them already and decides; we wait for it.
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _supervise_with_handlers(
    command: list[str], env: Mapping[str, str], on_started: Callable[[], None]
) -> int:
    """The same where there is no sigwaitinfo: TERM and HUP passed on, INT and QUIT left to
    COMMAND (a hang-up cannot be told from a program's HUP here, so COMMAND may get it twice)."""
    import signal

    pid = _spawn(command, env, set(signal.pthread_sigmask(signal.SIG_BLOCK, set())))

    def forward(signo: int, _frame: object) -> None:
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass

    for signo in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signo, forward)
    for signo in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signo, lambda _signo, _frame: None)
    on_started()
    _, wait_status = os.waitpid(pid, 0)
    return _status(wait_status)
