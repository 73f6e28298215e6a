"""`aws-mfa-run --server COMMAND`: COMMAND asks a loopback endpoint of ours for credentials.

Static keys in an environment never refresh: role credentials from an MFA session last at most an
hour, and after that every call of a long job fails. Here COMMAND runs as our child with
`AWS_CONTAINER_CREDENTIALS_FULL_URI` and `AWS_CONTAINER_AUTHORIZATION_TOKEN` instead, so every SDK
asks us at start and again before its credentials run out, and we answer from the same chain,
store, cache and locks as every other mode: role credentials renewed from the stored MFA session,
and when that ends, a code from mfa_process, else the terminal, else an error the SDK shows.

COMMAND's exit status is ours (a death by signal N as 128+N) as soon as it ends; the endpoint
lives on while any of its descendants does (see `supervise`). COMMAND is in our process group,
so what the terminal sends (INT, QUIT, TSTP, WINCH) reaches it without us; every signal a
program sends to us, and a hang-up of a terminal whose session we lead, is passed on.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run.credentials.chain import get_credentials
from aws_mfa_run.credentials.mfa_session import Prompting
from aws_mfa_run.credentials.store import read_ini, stored_session
from aws_mfa_run.endpoint import CredentialsCache, CredentialsServer, FetchFailedError
from aws_mfa_run.errors import MfaRunError, NoCodeError
from aws_mfa_run.prctl import forbid_core_dumps
from aws_mfa_run.profiles import config_values
from aws_mfa_run.supervisor import supervise
from aws_mfa_run.terminal import NoTerminalError
from aws_mfa_run.warm import (
    MARKER_VARIABLE,
    OTHER_SOURCES,
    REAL_CONFIG_FILE_VARIABLE,
    REAL_CREDENTIALS_FILE_VARIABLE,
    REGION_MARKER_VARIABLE,
    REGION_VARIABLES,
    REMOVED,
    region_variables,
    user_region,
)

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from aws_mfa_run.aws.answers import SessionCredentials
    from aws_mfa_run.commands import Context
    from aws_mfa_run.credentials.mfa_session import Prompting
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
# botocore's boto 2 provider, before the container provider: keys in the [Credentials] section
# of $BOTO_CONFIG, else of these files.
BOTO_CONFIG = "BOTO_CONFIG"
BOTO_CONFIG_FILES = ("/etc/boto.cfg", "~/.boto")


def boto_config_paths(env: Mapping[str, str]) -> list[str]:
    if BOTO_CONFIG in env:
        return [env[BOTO_CONFIG]]
    home = env.get("HOME") or os.path.expanduser("~")
    return [path.replace("~", home, 1) for path in BOTO_CONFIG_FILES]


def _default_profile_has_credentials(section: Mapping[str, str] | None) -> bool:
    return section is not None and any(section.get(key) for key in CREDENTIAL_KEYS)


# A file every SDK reads as absent, and that nobody can write: keys that `aws configure` would
# write into the hidden credentials file (/dev/null would take them and say nothing, and a new
# secret key is shown once) make it fail and say so instead.
HIDDEN_FILE = os.path.join(os.devnull, "hidden-by-aws-mfa-run")


def server_environment(
    env: Mapping[str, str],
    *,
    url: str,
    token: str,
    profile: str,
    region: str | None,
    config: IniText,
    credentials: IniText,
    boto_configs: Sequence[IniText] = (),
) -> dict[str, str]:
    """COMMAND's environment: our endpoint and token, no keys, the marker and a region.

    Without AWS_PROFILE an SDK uses the profile `default`, and keys found there come before the
    container provider in every SDK's chain: a credentials file (or config file) whose default
    profile holds credentials is hidden from COMMAND (pointed at HIDDEN_FILE), and its real path
    handed on in our own variable, so `aws mfa` and a nested aws-mfa-run still find it. Keys in
    a boto 2 config (`boto_configs`, read from `boto_config_paths`) come before the endpoint in
    botocore's chain: that config is hidden likewise (BOTO_CONFIG=/dev/null).
    """

    child = {
        name: value
        for name, value in env.items()
        if name not in REMOVED and name not in OTHER_SOURCES and name not in ENDPOINT_VARIABLES
    }
    if _default_profile_has_credentials(credentials.get("default")):
        child[REAL_CREDENTIALS_FILE_VARIABLE] = credentials.path
        child["AWS_SHARED_CREDENTIALS_FILE"] = HIDDEN_FILE
    if _default_profile_has_credentials(config_values("default", config)):
        child[REAL_CONFIG_FILE_VARIABLE] = config.path
        child["AWS_CONFIG_FILE"] = HIDDEN_FILE
    if any((boto.get("Credentials") or {}).get("aws_access_key_id") for boto in boto_configs):
        child[BOTO_CONFIG] = os.devnull
    child[FULL_URI] = url
    child[AUTHORIZATION_TOKEN] = token
    child[MARKER_VARIABLE] = profile
    if user_region(env) is None:  # a region an outer aws-mfa-run set is replaced, as there
        for name in (*REGION_VARIABLES, REGION_MARKER_VARIABLE):
            child.pop(name, None)
    child.update(region_variables(region, env))
    return child


def no_terminal() -> Terminal:
    """The terminal once COMMAND runs: never ours to prompt on. COMMAND is in our process group,
    so whenever the terminal's foreground is ours it is COMMAND's too, and a code typed at our
    prompt could reach COMMAND's reads (or its input ours); under an interactive shell its jobs
    own the terminal. A code then comes from mfa_process or mfa_prompt, or `aws mfa CODE` in
    another terminal stores a session that the endpoint picks up."""

    raise NoTerminalError()


def make_fetch(
    context: Context, prompting: Prompting, first_code: str | None = None
) -> Callable[[], SessionCredentials]:
    """The credentials for the command line's profile, from the chain with the files as they are
    at each call (never forced): what the wrapper would inject if it started now. A code given on
    the command line serves the first call only."""

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


def describe_error(
    profile: str, *, code_source: bool = False
) -> Callable[[MfaRunError], FetchFailedError]:
    """The error answer for a failed renewal: the SDK shows its Message (and we say it once).
    `code_source`: the profile has mfa_process or mfa_prompt, whose failure is worth its words;
    without one, no code is to be had, and the session's end was announced ahead."""
    how = "" if profile == "default" else f" (`aws mfa CODE -p {profile}`)"

    def describe(error: MfaRunError) -> FetchFailedError:
        if isinstance(error, NoCodeError):
            ended = f"aws-mfa-run: {ENDED} for profile '{profile}'{how} in any terminal"
            if not code_source:
                return FetchFailedError(
                    "MfaSessionEnded",
                    f"{ended}, then try again (aws-mfa-run does not ask on the terminal while "
                    "the command uses it; mfa_process or mfa_prompt in the profile would).",
                )
            return FetchFailedError(
                "MfaSessionEnded",
                f"{ended}, then try again. {error}",
                f"aws-mfa-run: no new MFA session for profile '{profile}' yet: {error}",
            )
        return FetchFailedError(
            "CredentialsUnavailable",
            f"aws-mfa-run: {error}",
            f"aws-mfa-run: renewing the credentials failed: {error} The current ones are served "
            "until they end, and renewing is tried again.",
        )

    return describe


# The end of an MFA session that no mfa_process can renew is said this long before it comes.
ANNOUNCE_AHEAD = 10 * 60
# The store is looked at again at least this often: `aws mfa CODE` may have moved the end.
WATCH_INTERVAL = 30.0


def session_end_notice(end: float, source: str) -> str:
    how = "" if source == "default" else f" -p {source}"
    at = time.strftime("%H:%M", time.localtime(end))  # local time: this is for a person
    return (
        f"the MFA session of '{source}' ends at {at}; run `aws mfa CODE{how}` in any terminal "
        "to continue without a break"
    )


class EndWatcher:
    """Says once, ANNOUNCE_AHEAD before it, when the stored MFA session ends with no mfa_process
    to renew it; again for each later session that nears its end the same way."""

    def __init__(
        self,
        look: Callable[[], tuple[float, str] | None],
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        import threading

        self._look = look
        self._say = say
        self._clock = clock
        self._stopped = threading.Event()

    def start(self) -> None:
        import threading

        # The thread is made here, in the process that runs it: --server forks the endpoint's
        # process after building us, and Python 3.13 refuses to start a thread made before.
        threading.Thread(target=self._watch, name="session-end", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()

    def check(self, announced: float | None) -> tuple[float | None, float]:
        """One look: what was announced now (or before), and how long until the next look."""
        found = self._look()
        if found is None:
            return announced, WATCH_INTERVAL
        end, source = found
        ahead = end - ANNOUNCE_AHEAD - self._clock()
        if ahead > 0:
            return announced, min(ahead, WATCH_INTERVAL)
        if end > self._clock() and end != announced:
            self._say(session_end_notice(end, source))
            announced = end
        return announced, WATCH_INTERVAL

    def _watch(self) -> None:
        announced: float | None = None
        while not self._stopped.is_set():
            try:
                announced, wait = self.check(announced)
            except Exception:  # a notice is not worth a traceback in the command's output
                wait = WATCH_INTERVAL
            self._stopped.wait(wait)


def stored_session_end(context: Context) -> tuple[float, str] | None:
    """When the stored MFA session of the profile's source ends, if no mfa_process renews it."""

    try:
        config, credentials = context.files()
        settings = context.settings(config, credentials)
    except MfaRunError:
        return None  # a file being edited: the next look will tell
    if settings.mfa_process:
        return None
    session = stored_session(credentials, settings.session_target, settings.source_profile)
    return None if session is None else (session.expiration, settings.source_profile)


def run(context: Context, settings: Settings) -> int:
    """Fetch once (errors and prompts as in the wrapper, before COMMAND starts), then serve
    COMMAND until it ends; returns its exit status."""

    forbid_core_dumps(limit=False)  # before the first secret is read; the limit comes later
    # The first fetch may prompt as the wrapper does: COMMAND does not own the terminal yet.
    opener: list[Callable[[], Terminal]] = [context.terminal_opener]
    prompting = Prompting(say=context.say, clock=context.clock, terminal_opener=lambda: opener[0]())
    fetch = make_fetch(context, prompting, first_code=context.token_code())
    first = fetch()
    opener[0] = no_terminal

    def report(message: str) -> None:
        context.say(message.removeprefix("aws-mfa-run: "))  # say() puts our name in front

    paths = settings.paths

    def version() -> object:
        # The files the chain reads: `aws mfa CODE` in another terminal changes the store.
        states: list[object] = []
        for path in (paths.credentials, paths.config):
            try:
                status = os.stat(path)
            except OSError:
                states.append(None)
                continue
            states.append((status.st_mtime_ns, status.st_size, status.st_ino))
        return tuple(states)

    code_source = bool(settings.mfa_process or settings.mfa_prompt)
    cache = CredentialsCache(
        fetch,
        describe_error=describe_error(settings.profile, code_source=code_source),
        say=report,
        margin=settings.min_remaining,
        version=version,
    )
    cache.prime(first)
    watcher = EndWatcher(lambda: stored_session_end(context), report)
    server = CredentialsServer(cache)
    child_env = server_environment(
        context.env,
        url=server.url,
        token=server.token,
        profile=settings.profile,
        region=settings.region,
        config=read_ini(paths.config),
        credentials=read_ini(paths.credentials),
        boto_configs=[boto for path in boto_config_paths(context.env) if (boto := _read(path))],
    )

    def started() -> None:
        # Threads start here, after supervise() blocked the signals it waits for: they inherit
        # that mask, so no signal meant for supervise() is taken by one of them.
        server.start()
        watcher.start()

    try:
        return supervise(
            context.options.command, child_env, on_started=started, on_ended=server.close
        )
    finally:
        watcher.stop()
        server.close()


def _read(path: str) -> IniText | None:
    """A boto config, or None where botocore would skip it too (unreadable, not INI)."""

    try:
        return read_ini(path)
    except MfaRunError:
        return None
