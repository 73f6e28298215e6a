"""COMMAND run under a supervisor of three processes, for `--server`: its exit status comes back
as soon as it ends, while the endpoint lives on for as long as any descendant of COMMAND does.

Process plumbing only (forks, a child subreaper, signals passed on, standard descriptors let go);
what the endpoint serves is not its business: the caller hands in `on_started`/`on_ended`.
"""

from __future__ import annotations

import os
import sys

from aws_mfa_run.errors import MfaRunError, command_error
from aws_mfa_run.prctl import PR_SET_CHILD_SUBREAPER, forbid_core_dumps, prctl

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping


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
