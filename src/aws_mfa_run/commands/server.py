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
import sys
import time

from aws_mfa_run.credentials.chain import get_credentials
from aws_mfa_run.credentials.mfa_session import Prompting
from aws_mfa_run.credentials.store import read_ini, stored_session
from aws_mfa_run.endpoint import CredentialsCache, CredentialsServer, FetchFailedError
from aws_mfa_run.errors import MfaRunError, NoCodeError, command_error
from aws_mfa_run.prctl import PR_SET_CHILD_SUBREAPER, forbid_core_dumps, prctl
from aws_mfa_run.profiles import config_values
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
    import socket
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


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _spawn(command: list[str], env: Mapping[str, str], sigmask: set[int]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return os.posix_spawnp(
            command[0], command, dict(env), setsigmask=sigmask, setsigdef=ignored_by_python()
        )
    except OSError as error:
        raise command_error(command[0], error) from None


def ignored_by_python() -> set[int]:
    """Python ignores SIGPIPE (and SIGXFSZ); an ignored signal stays ignored across exec, so
    COMMAND gets the default back, as subprocess does with restore_signals. Signals the user's
    shell ignored (nohup's HUP) stay ignored, as they would under exec."""
    import signal

    return {signal.SIGPIPE} | ({signal.SIGXFSZ} if hasattr(signal, "SIGXFSZ") else set())


def forwarded_signals() -> set[int]:
    """Every signal a program can send us and mean for COMMAND: all but those we cannot catch,
    SIGCHLD (ours), and the ones a fault raises (blocking those would hide a crash of ours)."""
    import signal

    kept = {
        signal.SIGKILL,
        signal.SIGSTOP,
        signal.SIGCHLD,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGILL,
        signal.SIGFPE,
        signal.SIGTRAP,
        signal.SIGSYS,
    }
    return {int(signo) for signo in signal.valid_signals()} - kept


def supervise(
    command: list[str],
    env: Mapping[str, str],
    *,
    on_started: Callable[[], None],
    on_ended: Callable[[], None] = lambda: None,
) -> int:
    """Run COMMAND with the endpoint until COMMAND ends and return its exit status (128+N for
    signal N); on Linux, keep the endpoint for COMMAND's descendants after that.

    A background job (`nohup job &`) keeps the endpoint's URI and token after COMMAND ends: were
    the endpoint to close then, any local user could bind its port and answer the job with their
    own credentials. The shell waits for our pid and wants COMMAND's status, so three processes:

    - we (the caller's process) fork the endpoint's process, then only pass signals on and wait
      for the one line COMMAND's reaper reports: COMMAND's status (or an error), our own;
    - the endpoint's process forks the reaper (before any thread), starts the endpoint
      (`on_started`), lets the reaper go, and serves until the reaper ends; then `on_ended`;
    - the reaper makes itself the child subreaper (orphaned descendants become its children),
      spawns COMMAND, passes our signals on, reports COMMAND's status when it ends, and reaps
      every descendant until none is left. It runs nothing else: the endpoint's own children
      (mfa_process) are not its to reap.

    Elsewhere (no sigwaitinfo, no subreaper) the endpoint ends with COMMAND, as it always did.
    """
    import signal

    if not hasattr(signal, "sigwaitinfo") or not sys.platform.startswith("linux"):
        return _supervise_with_handlers(command, env, on_started)
    import socket

    forwarded = forwarded_signals()
    # Blocked before the fork, so none is lost in between: we take them with sigwaitinfo; the
    # other two processes never unblock them (a signal to the job's group ends neither).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, forwarded | {signal.SIGCHLD})
    ours, theirs = socket.socketpair()
    caller = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    endpoint_pid = os.fork()
    if endpoint_pid == 0:
        status = 1
        try:
            ours.close()
            _run_endpoint(command, env, set(previous), theirs, caller, on_started, on_ended)
            status = 0
        except BaseException:  # never return into the caller's code: that would be a second us
            pass
        finally:
            os._exit(status)
    theirs.close()
    on_ended()  # our copy of the listening socket: the endpoint's process holds its own
    forbid_core_dumps(limit=True)
    return _wait_for_report(ours, endpoint_pid, forwarded)


def _wait_for_report(channel: socket.socket, endpoint_pid: int, forwarded: set[int]) -> int:
    """Pass signals on until the reaper reports COMMAND's end (one line, then a SIGCHLD to wake
    us); its status, or the error it reports as MfaRunError."""
    import signal

    channel.setblocking(False)
    session_leader = os.getsid(0) == os.getpid()
    while True:
        info = signal.sigwaitinfo(forwarded | {signal.SIGCHLD})
        signo = info.si_signo
        if signo == signal.SIGCHLD:
            report = _read_report(channel)
            if report is not None:
                return _reported_status(report)
            done, wait_status = os.waitpid(endpoint_pid, os.WNOHANG)
            if done == endpoint_pid:
                report = _read_report(channel)
                if report is not None:
                    return _reported_status(report)
                raise MfaRunError(
                    f"The credentials endpoint ended (status {_status(wait_status)}) before "
                    "the command did."
                )
            continue
        from_program = info.si_code <= 0 and info.si_pid != os.getpid()
        # A hang-up of our terminal goes to the session leader only: when that is us, it is
        # COMMAND's too. Anything else the terminal sends went to COMMAND's group already.
        if from_program or (session_leader and signo in (signal.SIGHUP, signal.SIGCONT)):
            try:
                channel.send(bytes([signo]))
            except OSError:
                pass  # the reaper is gone: the endpoint process's SIGCHLD tells us
        if signo in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
            os.kill(os.getpid(), signal.SIGSTOP)  # stopped with COMMAND: the shell sees the job so


def _read_report(channel: socket.socket) -> str | None:
    try:
        data = channel.recv(4096)
    except OSError:  # nothing yet (BlockingIOError), or the reaper is gone
        return None
    return data.decode(errors="replace") if data else None


def _reported_status(report: str) -> int:
    kind, _, rest = report.strip().partition(" ")
    if kind == "exit":
        return int(rest)
    code, _, message = rest.partition(" ")
    error = MfaRunError(message)
    error.exit_code = int(code)
    raise error


def _run_endpoint(
    command: list[str],
    env: Mapping[str, str],
    sigmask: set[int],
    channel: socket.socket,
    caller: int,
    on_started: Callable[[], None],
    on_ended: Callable[[], None],
) -> None:
    """The endpoint's process: fork the reaper, start the endpoint, serve until the reaper ends."""
    go_read, go_write = os.pipe()  # endpoint -> reaper: "go", or the error that stops it
    ended_read, ended_write = os.pipe()  # reaper -> endpoint: a byte when COMMAND ends, then EOF
    reaper_pid = os.fork()
    if reaper_pid == 0:
        status = 1
        try:
            os.close(go_write)
            os.close(ended_read)
            _reap(command, env, sigmask, channel, caller, go_read, ended_write)
            status = 0
        except BaseException:  # never return into the caller's code
            pass
        finally:
            os._exit(status)
    os.close(go_read)
    os.close(ended_write)
    channel.close()
    try:
        on_started()
    except MfaRunError as error:
        os.write(go_write, f"error {error.exit_code} {error}".replace("\n", " ").encode())
    else:
        os.write(go_write, b"go")
    os.close(go_write)
    forbid_core_dumps(limit=True)
    _detach(keep_stderr=True)  # messages still go to the caller's stderr while COMMAND runs
    while True:
        try:
            data = os.read(ended_read, 64)
        except OSError:
            data = b""
        if not data:
            break  # the reaper ended: no descendant of COMMAND is left
        _detach(keep_stderr=False)  # COMMAND ended: a `$(...)` or pipe of the caller ends now
    on_ended()
    os.waitpid(reaper_pid, 0)


def _reap(
    command: list[str],
    env: Mapping[str, str],
    sigmask: set[int],
    channel: socket.socket,
    caller: int,
    go: int,
    ended: int,
) -> None:
    """The reaper: COMMAND's parent, the subreaper of its descendants.

    A CONT is passed on only to a stopped COMMAND: `fg` (a shell's CONT to the whole job) has
    resumed it already, and a second CONT would run its handler twice.
    """
    import signal
    import threading

    subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1)
    lock = threading.Lock()  # COMMAND's pid is not reaped while a signal is passed on to it
    alive: list[int] = []

    def report(line: str) -> None:
        try:
            channel.sendall(line.encode() + b"\n")
        except OSError:
            return  # the caller's process is gone: so is its pid, maybe taken by a stranger
        os.kill(caller, signal.SIGCHLD)  # wakes its sigwaitinfo

    def pass_on() -> None:
        while True:
            try:
                data = channel.recv(64)
            except OSError:
                return
            if not data:
                return  # the caller's process ended: nothing more to pass on
            with lock:
                for signo in data:
                    if alive and (signo != signal.SIGCONT or _stopped(alive[0])):
                        try:
                            os.kill(alive[0], signo)
                        except OSError:
                            pass

    word = b""
    while True:
        chunk = os.read(go, 4096)
        if not chunk:
            break
        word += chunk
    os.close(go)
    if word != b"go":
        report(word.decode(errors="replace") or "error 1 The credentials endpoint did not start.")
        return
    try:
        threading.Thread(target=pass_on, name="signals", daemon=True).start()
        with lock:
            alive.append(_spawn(command, env, sigmask))
    except MfaRunError as error:
        report(f"error {error.exit_code} {error}".replace("\n", " "))
        return
    except RuntimeError:  # "can't start new thread"
        report("error 1 Cannot pass signals on: no thread could be started (ulimit -u).")
        return
    forbid_core_dumps(limit=True)
    _detach(keep_stderr=False)  # COMMAND has the caller's descriptors: we need none
    pid = alive[0]
    while subreaper or alive:
        try:
            # WNOWAIT: who ended, without reaping it yet (COMMAND's pid stays COMMAND's while a
            # signal may be on its way to it).
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            break  # no descendant left: each became our child as it was orphaned
        if info is None:
            continue
        with lock:
            _, wait_status = os.waitpid(info.si_pid, 0)
            if info.si_pid == pid:
                alive.clear()
        if info.si_pid == pid:
            os.write(ended, b"x")
            report(f"exit {_status(wait_status)}")


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t")
    except (OSError, IndexError):
        return False


def _detach(*, keep_stderr: bool) -> None:
    """Point our standard descriptors at /dev/null: a reader of the caller's pipe would
    otherwise wait for the endpoint to end."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1) if keep_stderr else (0, 1, 2):
        os.dup2(null, descriptor)
    os.close(null)


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
