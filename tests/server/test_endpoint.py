"""The wrapper and `--server` under real conditions: other users, leftover processes, signals.

Other users are real uids (`setpriv`); limits are real rlimits; signals are sent to the real
aws-mfa-run process, and the terminal is a real pseudo-terminal.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import AWS_MFA_RUN, Bed
from fakeaws import FakeAws

PYTHON = sys.executable
NOBODY = 65534  # the other local user
SERVER_UID = 4242  # a user without privileges, so that RLIMIT_NPROC binds (root ignores it)
SETPRIV = shutil.which("setpriv")
# This virtualenv's Python may live where other users cannot enter (a pyenv build under /root):
# they run the system's Python of the same version, with this virtualenv's packages.
SYSTEM_PYTHON = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
needs_other_users = pytest.mark.skipif(
    os.geteuid() != 0
    or SETPRIV is None
    or not sys.platform.startswith("linux")
    or not os.access(SYSTEM_PYTHON, os.X_OK),
    reason=f"other users need root, setpriv (util-linux) and {SYSTEM_PYTHON}, on Linux",
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a subreaper and prctl are Linux's"
)


def login(bed: Bed) -> None:
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 0, done.stderr


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def as_nobody(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert SETPRIV is not None
    return subprocess.run(
        [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
    )


@pytest.fixture
def shared(fake: FakeAws) -> Iterator[Bed]:
    """A bed that another uid can use: owned by SERVER_UID, under a directory all may enter
    (pytest's own temporary directories are root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="aws-mfa-run-endpoint-"))
    root.chmod(0o755)
    world = Bed(root, fake)
    world.write_profiles()
    exchange = root / "exchange"  # where the command and the other user leave notes
    exchange.mkdir()
    exchange.chmod(0o1777)
    try:
        yield world
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _own(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid)


# The command: asks the endpoint with its token every 0.2 s, before, during and after the flood.
ASKER = r"""
import http.client, os, sys, time, urllib.parse
exchange = sys.argv[1]
url = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
with open(os.path.join(exchange, "port.tmp"), "w") as handle:
    handle.write(str(url.port))
os.rename(os.path.join(exchange, "port.tmp"), os.path.join(exchange, "port"))
def ask():
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=4)
    connection.request("GET", url.path, headers={"Authorization": token})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.status
deadline = time.time() + 30
while not os.path.exists(os.path.join(exchange, "flooding")):
    assert time.time() < deadline, "no flood"
    time.sleep(0.05)
answered = failed = 0
start = time.time()
while time.time() < start + 10:  # the flood holds its connections for 7 s
    try:
        answered += ask() == 200
    except Exception as error:
        failed += 1
        print("failed:", type(error).__name__, error, flush=True)
    time.sleep(0.2)
print(f"answered={answered} failed={failed}", flush=True)
"""

# The other user: opens many connections to the port and sends nothing.
FLOOD = r"""
import os, socket, sys, time
exchange, count = sys.argv[1], int(sys.argv[2])
port = int(open(os.path.join(exchange, "port")).read())
held = []
for _ in range(count):
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    held.append(connection)
open(os.path.join(exchange, "flooding"), "w").close()
time.sleep(7)
cut = 0
for connection in held:
    connection.setblocking(False)
    try:
        cut += connection.recv(4096) is not None  # an answer or the end: it was cut
    except BlockingIOError:
        pass  # still open, still waiting
    except OSError:
        cut += 1  # reset
print(f"held={len(held)} cut={cut}", flush=True)
"""


@needs_other_users
@pytest.mark.other_users
def test_idle_connections_from_another_user_neither_stop_nor_starve_the_endpoint(
    shared: Bed,
) -> None:
    """With a thread limit (RLIMIT_NPROC) far below the number of connections another local
    user holds open, requests with the token are still answered, during the flood and after;
    the idle connections are cut."""
    login(shared)
    exchange = shared.root / "exchange"
    (exchange / "asker.py").write_text(ASKER)
    (exchange / "flood.py").write_text(FLOOD)
    _own(shared.root, SERVER_UID)
    exchange.chmod(0o1777)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (16, 16))  # our processes and threads
        os.setgroups([])
        os.setgid(SERVER_UID)
        os.setuid(SERVER_UID)

    asker = [str(exchange / "asker.py"), str(exchange)]
    server = subprocess.Popen(
        [SYSTEM_PYTHON, "-m", "aws_mfa_run", "--server", SYSTEM_PYTHON, *asker],
        env={**shared.env, "PYTHONPATH": SITE_PACKAGES},
        cwd=shared.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limited,
    )
    try:
        wait_for((exchange / "port").exists, 30, "the command to start")
        flood = as_nobody(SYSTEM_PYTHON, str(exchange / "flood.py"), str(exchange), "300")
        assert flood.returncode == 0, flood.stderr
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "failed=0" in out, out
    answered = int(out.split("answered=")[1].split()[0])
    assert answered >= 10, out
    assert flood.stdout.strip() == "held=300 cut=300", flood.stdout


JOB = r"""
import os, sys, time, botocore.session
exchange = sys.argv[1]
port = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"].split(":")[2].split("/")[0]
open(os.path.join(exchange, "port.tmp"), "w").write(port)
os.rename(os.path.join(exchange, "port.tmp"), os.path.join(exchange, "port"))  # whole once seen
deadline = time.time() + 30
while not os.path.exists(os.path.join(exchange, "go")):
    assert time.time() < deadline
    time.sleep(0.05)
client = botocore.session.get_session().create_client("sts")
open(os.path.join(exchange, "arn.tmp"), "w").write(client.get_caller_identity()["Arn"])
os.rename(os.path.join(exchange, "arn.tmp"), os.path.join(exchange, "arn"))  # whole once seen
"""

BIND = r"""
import errno, socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    listener.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as error:
    print("refused" if error.errno == errno.EADDRINUSE else error)
else:
    print("bound")
"""


@linux_only
@needs_other_users
@pytest.mark.other_users
def test_a_background_job_keeps_the_endpoint_and_its_port_after_the_command(
    shared: Bed,
) -> None:
    """`--server sh -c 'nohup job &'`: aws-mfa-run exits at once with sh's status; the job gets
    our credentials after that, another user cannot take the port meanwhile, and the endpoint
    closes when the job has ended."""
    login(shared)
    exchange = shared.root / "exchange"
    (exchange / "job.py").write_text(JOB)
    script = f"nohup {PYTHON} {exchange / 'job.py'} {exchange} >/dev/null 2>&1 & exit 3"
    started = time.time()
    done = shared.run(AWS_MFA_RUN, "--server", "sh", "-c", script, timeout=30)
    assert done.returncode == 3, done.stderr
    assert done.stderr == ""
    assert time.time() - started < 25  # did not wait for the job (it waits for `go`)
    wait_for((exchange / "port").exists, 20, "the job to start")
    port = (exchange / "port").read_text()
    taken = as_nobody(SYSTEM_PYTHON, "-c", BIND, port)
    assert taken.stdout.strip() == "refused", taken.stdout + taken.stderr
    (exchange / "go").touch()
    wait_for((exchange / "arn").exists, 30, "the job's call")
    assert (exchange / "arn").read_text() == shared.alice.arn

    def closed() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", int(port))) == errno.ECONNREFUSED

    wait_for(closed, 20, "the endpoint to close after the job")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    found.append(int(entry.name))
                    todo.append(int(entry.name))
    return found


def _core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return line.split()[4]
    raise AssertionError("no core limit")


def _core_limit_is_zero(pid: int) -> bool:
    return _core_limit(pid) == "0"


CORE_COMMAND = r"""
import os, resource, sys, time
soft = resource.getrlimit(resource.RLIMIT_CORE)[0]
print("command core limit", "unlimited" if soft == resource.RLIM_INFINITY else soft, flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
"""


@linux_only
def test_a_crash_of_ours_leaves_no_core_file_while_the_command_keeps_its_limit(
    ready: Bed,
) -> None:
    """With `ulimit -c unlimited`: the command can dump core as before, our processes (which
    hold the MFA session's keys) cannot: SIGSEGV leaves no core file."""
    login(ready)
    (ready.root / "command.py").write_text(CORE_COMMAND)
    done_file = ready.root / "done"

    def unlimited() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    caller = subprocess.Popen(
        [AWS_MFA_RUN, "--server", PYTHON, str(ready.root / "command.py"), str(done_file)],
        env=ready.env,
        cwd=ready.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=unlimited,
        start_new_session=True,
    )
    try:
        assert caller.stdout is not None
        assert caller.stdout.readline() == "command core limit unlimited\n"
        ours = [caller.pid] + [
            pid
            for pid in _descendants(caller.pid)
            if "aws-mfa-run" in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        for pid in ours:
            wait_for(functools.partial(_core_limit_is_zero, pid), 10, f"no core limit of {pid}")
        os.kill(caller.pid, signal.SIGSEGV)
        assert caller.wait(timeout=20) == -signal.SIGSEGV
    finally:
        done_file.touch()
        if caller.poll() is None:
            caller.kill()
    time.sleep(1)  # a core file, had one been written, would be complete by now
    assert sorted(path.name for path in ready.root.glob("core*")) == []


SOURCES = {
    "AWS_WEB_IDENTITY_TOKEN_FILE": "",  # set below: a real token file
    "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/pod",
    "AWS_ROLE_SESSION_NAME": "pod",
    "AWS_ACCESS_KEY": "AKIAOTHERKEY00000000",
    "AWS_SECRET_KEY": "other-secret",
    "AMAZON_ACCESS_KEY_ID": "AKIAOTHERKEY00000001",
    "AMAZON_SECRET_ACCESS_KEY": "other-secret",
    "AWS_CREDENTIAL_FILE": "",  # set below: a file with other keys
    "AWS_ACCOUNT_ID": "999999999999",
}

WHO = r"""
import json, os, botocore.session
client = botocore.session.get_session().create_client("sts")
print(json.dumps({"arn": client.get_caller_identity()["Arn"], "env": sorted(os.environ)}))
"""


@pytest.mark.parametrize("mode", [[], ["--server"]], ids=["wrapper", "server"])
def test_web_identity_and_other_sources_in_the_environment_do_not_win(
    ready: Bed, mode: list[str]
) -> None:
    """Variables that some SDK's chain prefers to ours (EKS/IRSA web identity, other names of
    keys, botocore's AWS_CREDENTIAL_FILE) are removed: botocore runs as our credentials."""
    login(ready)
    token = ready.root / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl")
    other = ready.root / "other-keys"
    other.write_text("AWSAccessKeyId=AKIAOTHERKEY00000002\nAWSSecretKey=other-secret\n")
    env = {**SOURCES, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_CREDENTIAL_FILE": str(other)}
    done = ready.run(AWS_MFA_RUN, *mode, PYTHON, "-c", WHO, env=env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["arn"] == ready.alice.arn
    assert set(SOURCES) & set(seen["env"]) == set()


def test_the_wrapper_gives_the_command_default_sigpipe(ready: Bed) -> None:
    """Python ignores SIGPIPE, and an ignored signal survives exec: restored before it."""
    login(ready)
    for mode in ([], ["--server"]):
        quiet = ready.run(AWS_MFA_RUN, *mode, "sh", "-c", "yes | head -1")
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "y\n", ""), mode
        killed = ready.run(AWS_MFA_RUN, *mode, "sh", "-c", "kill -PIPE $$; exit 3")
        # exec: the signal ends the process we started; --server: its status, as a shell's
        assert killed.returncode == (128 + signal.SIGPIPE if mode else -signal.SIGPIPE), mode
        status = ready.run(AWS_MFA_RUN, *mode, "grep", "SigIgn", "/proc/self/status")
        ignored = int(status.stdout.split()[1], 16)  # bit N-1 for signal N
        assert ignored & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)) == 0, mode


TRAPS = r"""
import os, signal, sys, time
log = open(sys.argv[1], "a", buffering=1)
exit_on = sys.argv[3]
def seen(number, _frame):
    name = signal.Signals(number).name
    log.write(name + "\n")
    if name == exit_on:
        os._exit(42)
for name in sys.argv[2].split(","):
    signal.signal(getattr(signal, name), seen)
log.write("ready\n")
while True:
    time.sleep(0.05)
"""
# Every signal a program may send to mean "COMMAND, do this"; TERM last: the command ends on it.
SENT = [
    *("SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH", "SIGCONT"),
    *("SIGPIPE", "SIGVTALRM", "SIGPROF", "SIGURG", "SIGIO", "SIGXCPU", "SIGTERM"),
]


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@linux_only
def test_every_signal_a_program_sends_to_the_server_reaches_the_command_once(
    ready: Bed,
) -> None:
    """kill -INT, -QUIT, -USR1, ... sent to aws-mfa-run --server reach the command, once each;
    -TSTP stops the command and aws-mfa-run (the shell sees the job stopped), -CONT resumes
    both."""
    login(ready)
    (ready.root / "traps.py").write_text(TRAPS)
    log = ready.root / "signals.log"
    names = ",".join(SENT)
    caller = subprocess.Popen(
        [AWS_MFA_RUN, "--server", PYTHON, str(ready.root / "traps.py"), str(log), names, "SIGTERM"],
        env=ready.env,
        cwd=ready.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A group of its own in our session, as a shell's job: in an orphaned group (a session
        # of its own) the kernel would discard the TSTP.
        preexec_fn=os.setpgrp,  # a process group of its own (process_group= is 3.11+)
    )
    try:
        wait_for(lambda: _lines(log) == ["ready"], 20, "the command")
        (command,) = [
            pid
            for pid in _descendants(caller.pid)
            if "aws-mfa-run" not in Path(f"/proc/{pid}/cmdline").read_text()
        ]
        expected = ["ready"]
        for name in SENT:
            if name == "SIGCONT":
                # TSTP first: the command stops, and aws-mfa-run with it, as a job would.
                os.kill(caller.pid, signal.SIGTSTP)
                wait_for(lambda: _state(command) == "T", 10, "the command to stop")
                wait_for(lambda: _state(caller.pid) == "T", 10, "aws-mfa-run to stop")
            os.kill(caller.pid, getattr(signal, name))
            expected.append(name)
            wait_for(lambda: _lines(log)[: len(expected)] == expected, 10, name)
            if name == "SIGCONT":
                assert _state(caller.pid) != "T" and _state(command) != "T"
        assert caller.wait(timeout=20) == 42
    finally:
        if caller.poll() is None:
            caller.kill()
    time.sleep(0.3)
    assert _lines(log) == expected  # nothing twice


@linux_only
def test_a_hang_up_of_our_terminal_reaches_the_command(ready: Bed) -> None:
    """aws-mfa-run --server leading a terminal's session (`ssh -t host aws-mfa-run ...`,
    `xterm -e ...`): when the terminal closes, the command gets SIGHUP."""
    login(ready)
    (ready.root / "traps.py").write_text(TRAPS)
    log = ready.root / "signals.log"
    traps = str(ready.root / "traps.py")
    child = ready.spawn(AWS_MFA_RUN, "--server", PYTHON, traps, str(log), "SIGHUP", "SIGHUP")
    wait_for(lambda: _lines(log) == ["ready"], 20, "the command")
    child.ptyproc.fileobj.close()  # the terminal goes away (the kernel hangs it up)
    child.ptyproc.closed = child.closed = True  # nothing left for pexpect to close
    try:
        wait_for(lambda: "SIGHUP" in _lines(log), 10, "SIGHUP to reach the command")
    finally:
        if not _lines(log)[1:]:
            os.kill(child.pid, signal.SIGKILL)
        _, status = os.waitpid(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 42


def test_slow_and_oversized_requests_are_cut_while_the_token_is_answered() -> None:
    """A client that drips its request, or sends more than a request can be, is cut; a client
    with the token is answered meanwhile, and after a thousand idle connections."""
    from aws_mfa_run.aws.answers import SessionCredentials
    from aws_mfa_run.endpoint import (
        REQUEST_TIMEOUT,
        CredentialsCache,
        CredentialsServer,
        FetchFailedError,
    )
    from aws_mfa_run.errors import MfaRunError

    def fetch() -> SessionCredentials:
        return SessionCredentials("ASIA0000000000000001", "secret", "token", time.time() + 3600)

    def no_error(error: MfaRunError) -> FetchFailedError:
        pytest.fail(f"the fetch failed: {error}")

    cache = CredentialsCache(fetch, describe_error=no_error, say=pytest.fail, margin=16 * 60)
    server = CredentialsServer(cache)
    server.start()
    port = int(server.url.split(":")[2].split("/")[0])
    request = f"GET /credentials HTTP/1.1\r\nAuthorization: {server.token}\r\n\r\n".encode()

    def ask() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(request)
            return client.recv(4096).split(b"\r\n")[0]

    try:
        slow = socket.create_connection(("127.0.0.1", port))
        started = time.time()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as big:
            big.sendall(b"A" * 20000)
            assert big.recv(4096).startswith(b"HTTP/1.1 400 ")
        assert ask() == b"HTTP/1.1 200 OK"
        with pytest.raises(OSError):  # the drip goes on until the server cuts it
            for _ in range(int(REQUEST_TIMEOUT * 4) + 20):
                slow.sendall(b"G")
                time.sleep(0.5)
        assert time.time() - started < REQUEST_TIMEOUT + 3
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(1000)]
        assert ask() == b"HTTP/1.1 200 OK"
        for connection in held:
            connection.close()
    finally:
        server.close()


def test_keys_in_a_boto_config_do_not_win_over_the_endpoint(ready: Bed) -> None:
    """botocore reads a boto 2 config (~/.boto, or $BOTO_CONFIG) before the container provider:
    with keys there, --server hides it from the command, and botocore runs as our credentials."""
    login(ready)
    bob = ready.fake.add_user("bob")
    keys = f"[Credentials]\naws_access_key_id = {bob.access_key}\n"
    keys += f"aws_secret_access_key = {bob.secret_key}\n"
    (ready.home / ".boto").write_text(keys)
    elsewhere = ready.root / "boto.cfg"
    elsewhere.write_text(keys)
    for env in ({}, {"BOTO_CONFIG": str(elsewhere)}):
        done = ready.run(AWS_MFA_RUN, "--server", PYTHON, "-c", WHO, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["arn"] == ready.alice.arn, env
    # A boto config without keys stays the command's.
    elsewhere.write_text("[Boto]\nnum_retries = 3\n")
    shown = ready.run(
        AWS_MFA_RUN,
        "--server",
        "sh",
        "-c",
        "echo $BOTO_CONFIG",
        env={"BOTO_CONFIG": str(elsewhere)},
    )
    assert shown.stdout == f"{elsewhere}\n"
