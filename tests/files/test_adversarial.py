"""Trying hard to break it: kills mid-write, many writers and readers, hostile input and files.

Figures (trials, processes, inputs, times) are collected in conftest.FIGURES and printed at the
end of the run; CONTRIBUTING.md's "Reliability" section quotes them.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from aws_mfa_run import codes, inifile
from aws_mfa_run.aws.answers import stored_values
from aws_mfa_run.credentials import store
from aws_mfa_run.settings import KEY_SOURCE
from conftest import AWS, AWS_MFA_RUN, FIGURES, REPO, Bed
from fakeaws import FakeAws
from hammer import session_for
from helpers import kill_delays
from makefiles import write_makefile

HAMMER = [sys.executable, str(REPO / "tests" / "hammer.py")]


def crash_trials() -> int:
    """SIGKILLs per file: AWS_MFA_RUN_TRIALS (CI sets 200), else 50 to keep `make test` short."""
    value = os.environ.get("AWS_MFA_RUN_TRIALS", "50")
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"AWS_MFA_RUN_TRIALS must be a positive number, not {value!r}")
    return int(value)


CRASH_TRIALS = crash_trials()
# Each file's trials are split into shards, tests of their own (a HOME each) that pytest-xdist
# workers run side by side; shard k makes trials k, k + CRASH_SHARDS, ... of CRASH_TRIALS.
CRASH_SHARDS = 2


def edited(text: str, section: str, values: dict[str, str | None]) -> str:
    return inifile.edit_section(inifile.parse(text, "x"), section, values)


def session_section(tag: str) -> dict[str, str | None]:
    session = session_for(tag)
    # aws_mfa_run_key_id: the id written, the proof that the keys there are ours.
    return {
        **stored_values(session),
        KEY_SOURCE: "default",
        "aws_mfa_run_key_id": session.access_key_id,
        "aws_mfa_run_written": store.fingerprints(session),  # salted hashes, no secret
    }


CRASH_CASES: dict[str, tuple[str, str, Callable[[str], set[str]]]] = {
    # kind: (file, original text, the texts a reader may find after a kill)
    "credentials": (
        "credentials",
        "# keys\r\n[default]\r\naws_access_key_id = AKIAX\r\naws_secret_access_key = s\r\n\r\n"
        "[mfa]\r\naws_access_key_id=ASIAOLD\r\naws_secret_access_key=o\r\naws_session_token=o\r\n"
        "aws_mfa_run_expiration = 2020-01-01T00:00:00Z\r\naws_mfa_run_source_profile = default\r\n"
        "\r\n[zeta]\r\nregion = x\r\n# the end, no newline",
        lambda text: {
            text,
            edited(text, "mfa", session_section("A")),
            edited(text, "mfa", session_section("B")),
        },
    ),
    "config": (
        "config",
        "[default]\nregion = eu-west-1\n# mine\n\n[profile other]\noutput = json\n",
        lambda text: {
            text,
            edited(text, "default", {"mfa_serial": "arn:aws:iam::1:mfa/A"}),
            edited(text, "default", {"mfa_serial": "arn:aws:iam::1:mfa/B"}),
        },
    ),
    "alias": (
        "cli/alias",
        "# my aliases\n[toplevel]\nwhoami = sts get-caller-identity\nmfa = !old-script\n",
        lambda text: {text, edited(text, "toplevel", {"mfa": "!aws-mfa-run --login"})},
    ),
}


@pytest.mark.parametrize("shard", range(CRASH_SHARDS))
@pytest.mark.parametrize("kind", list(CRASH_CASES))
def test_sigkill_during_writes_never_tears_a_file(bed: Bed, kind: str, shard: int) -> None:
    name, original, allowed_for = CRASH_CASES[kind]
    path = bed.aws_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    allowed = allowed_for(original)
    arguments = [*HAMMER, kind, str(bed.home)] + (["mfa"] if kind == "credentials" else [])
    # How long after its writes began each kill lands: spread over the first 50 ms.
    delays = kill_delays(kind, 0.05, CRASH_TRIALS, shard, CRASH_SHARDS)
    changed = leftovers = 0
    for delay in delays:
        path.write_bytes(original.encode())
        path.chmod(0o600)
        writer = subprocess.Popen(arguments, env=bed.env, stderr=subprocess.DEVNULL)
        started = bed.home / f"writing-{writer.pid}"
        deadline = time.monotonic() + 20
        while not started.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)  # into the writes, wherever they are by then
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        found = path.read_bytes().decode()
        assert found in allowed, f"torn {kind} file after a kill:\n{found!r}"
        inifile.parse(found, str(path)).validate()
        changed += found != original
        leftovers += any(entry.name.endswith(".tmp") for entry in path.parent.iterdir())
    # The next writer removes what killed ones left, and is not blocked by a stale lock.
    once = [*arguments, "1"]
    done = subprocess.run(once, env=bed.env, timeout=20, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not [entry for entry in path.parent.iterdir() if entry.name.endswith(".tmp")]
    FIGURES[f"crash trials ({kind} file), shard {shard + 1} of {CRASH_SHARDS}"] = (
        f"{len(delays)} SIGKILLs, 0 torn or partly changed files; {changed} found a new version, "
        f"{leftovers} landed mid-write (the temporary file is removed by the next write)"
    )
    assert changed > 0  # the kills did land while the writer was writing


def test_32_writers_and_32_readers(bed: Bed) -> None:
    original = "# team keys\n[default]\naws_access_key_id = AKIAX\naws_secret_access_key = s\n"
    bed.credentials.write_text(original)
    readers = [
        subprocess.Popen(
            [*HAMMER, "read", str(bed.home), "4"],
            env=bed.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(32)
    ]
    deadline = time.monotonic() + 60
    while len(list(bed.home.glob("reading-*"))) < 32:  # every reader reading before a write
        assert time.monotonic() < deadline, "the readers never started"
        time.sleep(0.01)
    writers = [
        subprocess.Popen(
            [*HAMMER, "once", str(bed.home), f"t{number}"],
            env=bed.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(32)
    ]
    assert [writer.wait(60) for writer in writers] == [0] * 32
    results = [reader.communicate(timeout=60) for reader in readers]
    assert [reader.returncode for reader in readers] == [0] * 32, results
    reads = sum(int(out.strip()) for out, _ in results)
    text = bed.credentials.read_text()
    assert text.startswith(original)
    ini = inifile.parse(text, "c")
    for number in range(32):
        expected = stored_values(session_for(f"t{number}"))
        values = ini.get(f"t{number}")
        assert values is not None and all(values.get(key) == expected[key] for key in expected)
    FIGURES["concurrent writers"] = (
        f"32 writers, 32 readers ({reads} reads), 0 profiles lost, 0 torn reads"
    )


class LockOpens:
    """Counts the opens of each fetch lock file (inotify IN_OPEN on the locks directory): a
    waiter polls the lock with the file open, the holder holds it, so three processes that
    reached one lock opened it three times. /proc/PID/fd would name the openers, but is closed
    to a user who is not root: aws-mfa-run is not dumpable. inotify merges an event into an
    identical one not read yet: opens must come further apart than the reads."""

    IN_OPEN = 0x20

    def __init__(self, locks: Path) -> None:
        import ctypes

        locks.parent.mkdir(mode=0o700, exist_ok=True)
        locks.mkdir(mode=0o700, exist_ok=True)
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, os.strerror(ctypes.get_errno())
        added = self.libc.inotify_add_watch(self.fd, str(locks).encode(), self.IN_OPEN)
        assert added >= 0, os.strerror(ctypes.get_errno())
        self.opens: dict[str, int] = {}

    def waiters(self) -> int:
        """How many processes wait for a lock held by another: opens of one lock file, less
        its holder's."""
        import struct

        while True:
            try:
                events = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            at = 0
            while at < len(events):
                _, mask, _, size = struct.unpack_from("iIII", events, at)
                name = events[at + 16 : at + 16 + size].rstrip(b"\0").decode()
                at += 16 + size
                if mask & self.IN_OPEN and name.endswith(".lock"):
                    self.opens[name] = self.opens.get(name, 0) + 1
        return max([count - 1 for count in self.opens.values()], default=0)

    def close(self) -> None:
        os.close(self.fd)


def test_ctrl_c_with_two_waiters_leaves_no_lock(ready: Bed) -> None:
    # Started half a second apart (see LockOpens), all three still run at once.
    recipes = {
        target: f"sleep {delay}; {AWS_MFA_RUN} true" for target, delay in zip("abc", (0, 0.5, 1))
    }
    write_makefile(ready.root, recipes)
    lock_opens = LockOpens(ready.aws_dir / "aws-mfa-run" / "locks")
    try:
        child = ready.spawn("make", "-j3")
        child.expect_exact("MFA code for ")
        deadline = time.monotonic() + 20
        while lock_opens.waiters() < 2:  # the other two must be waiting on the lock
            assert time.monotonic() < deadline, "the other two runs never waited on the lock"
            time.sleep(0.05)
    finally:
        lock_opens.close()
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    transcript = child.before or ""
    assert transcript.count("aws-mfa-run: interrupted; nothing was written.") == 3, transcript
    # make stops: killed by the SIGINT, or, when its children's exits beat its own handler (a
    # race inside GNU make), with its error status 2.
    assert child.signalstatus == signal.SIGINT or child.exitstatus == 2, transcript
    done = ready.run(AWS_MFA_RUN, "--token-code", ready.fresh_code(), "true", timeout=20)
    assert done.returncode == 0, done.stderr
    assert "aws_session_token" in ready.credentials.read_text()


def test_no_secret_on_any_command_line(ready: Bed) -> None:
    secret = ready.root / "totp-secret"
    secret.write_text(ready.device.secret)
    with ready.config.open("a") as handle:
        handle.write(
            f"mfa_process = {sys.executable} {REPO / 'tests' / 'totp.py'} {secret}\n"
            "[profile cp]\ncredential_process = aws-mfa-run --credential-process\n"
            "region = eu-west-1\n"
        )
    seen: set[str] = set()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        seen.add(
                            Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                        )
                    except OSError:
                        pass
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        assert ready.run(AWS_MFA_RUN, "sh", "-c", "sleep 0.3").returncode == 0
        assert ready.run(AWS, "dynamodb", "list-tables", "--profile", "cp").returncode == 0
        assert ready.run("sh", "-c", f'eval "$("{AWS_MFA_RUN}" --env)"; sleep 0.3').returncode == 0
        forced = ready.run(AWS, "mfa", "--force", ready.fresh_code())
        assert forced.returncode == 0, forced.stderr
    finally:
        stop.set()
        sampler.join()
    secrets = [ready.alice.secret_key] + [
        value for s in ready.fake.sessions.values() for value in (s.secret_key, s.token)
    ]
    assert len(seen) > 10
    leaks = [line for line in seen for value in secrets if value in line]
    assert leaks == []
    FIGURES["command lines sampled for secrets"] = f"{len(seen)} distinct, 0 with a secret"


def test_files_holding_secrets_are_private_under_umask_000(ready: Bed) -> None:
    ready.credentials.chmod(0o666)
    done = ready.run("sh", "-c", f'umask 000; exec "{AWS_MFA_RUN}" --login {ready.fresh_code()}')
    assert done.returncode == 0, done.stderr
    state = ready.aws_dir / "aws-mfa-run"
    for path in (ready.credentials, state / "used-codes"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    for directory in (state, state / "locks"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_planted_symlink_is_written_through_never_widened(ready: Bed) -> None:
    elsewhere = ready.root / "other-user"
    elsewhere.mkdir()
    target = elsewhere / "credentials"
    target.write_text(ready.credentials.read_text())
    target.chmod(0o644)
    ready.credentials.unlink()
    ready.credentials.symlink_to(target)
    ready.login()
    assert ready.credentials.is_symlink() and os.readlink(ready.credentials) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "aws_session_token" in target.read_text()


STORED = "'default' -> 'mfa': MFA session valid until"


def test_files_that_are_not_what_they_should_be(ready: Bed) -> None:
    keys = ready.credentials.read_text()
    path = str(ready.credentials)
    # name: (file contents, exit status, what the one sentence must name)
    cases = {
        "empty": ("", 3, "'default' has no long-term keys"),
        "binary": ("\x00\x01\x02[default]\n", 3, f"{path} is not a text file"),
        "only junk": ("this is not ini\n", 3, f"{path} line 1:"),
        "duplicate section elsewhere": (keys + "[x]\na=1\n[x]\nb=2\n", 3, f"{path} line 7:"),
        "key before section": ("k = v\n" + keys, 3, f"{path} line 1:"),
        "crlf": (keys.replace("\n", "\r\n"), 0, STORED),
        "no final newline": (keys.rstrip("\n"), 0, STORED),
        "bom": ("\ufeff" + keys, 3, f"{path} starts with a byte-order mark"),
        "tabs": (keys.replace(" = ", "\t=\t"), 0, STORED),
        "profile-style section in credentials": (keys + "[profile x]\nregion = y\n", 0, STORED),
        "huge": (keys + "".join(f"[p{n}]\nk = {'v' * 50}\n" for n in range(20000)), 0, STORED),
    }
    ready.fake.accept_reused_codes = True  # this test is about files: one code serves every case
    for name, (text, expected, named) in cases.items():
        ready.credentials.write_bytes(text.encode("utf-8", "surrogateescape"))
        for leftover in ready.credentials.parent.glob("aws-mfa-run/used-codes"):
            leftover.unlink()
        before = ready.credentials.read_bytes()
        sessions = len(ready.fake.sessions)
        done = ready.run(AWS_MFA_RUN, "--login", "--force", ready.device.code())
        assert done.returncode == expected, (name, done.stderr)
        (line,) = done.stderr.strip().splitlines()  # one sentence, never a traceback
        assert named in line, (name, line)
        if expected:
            assert ready.credentials.read_bytes() == before, name
            assert len(ready.fake.sessions) == sessions, f"{name}: a code was spent"
        else:
            # The user's lines come first, unchanged; the new session follows.
            after = ready.credentials.read_bytes()
            assert after.startswith(before), name
            session = list(ready.fake.sessions.values())[-1]
            stored = inifile.parse(after.decode("utf-8"), name).get("mfa") or {}
            assert stored.get("aws_session_token") == session.token, name
    FIGURES["malformed files tried"] = f"{len(cases)} kinds, each a clear refusal or a correct edit"


def test_missing_directory_dangling_symlink_and_nonfile(ready: Bed) -> None:
    keys = ready.credentials.read_text()
    config = ready.config.read_text()
    # Keys in the config file, the credentials file a dangling symlink into an existing directory:
    # written through (a new 0600 file where the link points).
    ready.config.write_text(config + keys.split("[default]\n", 1)[1])
    ready.credentials.unlink()
    pointed = ready.root / "dotfiles" / "credentials"
    pointed.parent.mkdir()
    ready.credentials.symlink_to(pointed)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert ready.credentials.is_symlink() and stat.S_IMODE(pointed.stat().st_mode) == 0o600
    # Pointing into a directory that does not exist: refused, one sentence.
    ready.credentials.unlink()
    ready.credentials.symlink_to(ready.root / "nowhere" / "credentials")
    done = ready.run(AWS_MFA_RUN, "--login", "--force", ready.fresh_code())
    assert done.returncode == 3 and "does not exist" in done.stderr
    assert not (ready.root / "nowhere").exists()
    # A FIFO in place of the config file is not read (that could hang) but refused.
    ready.credentials.unlink()
    ready.config.unlink()
    os.mkfifo(ready.config)
    started = time.monotonic()
    done = ready.run(AWS_MFA_RUN, "--login", "123456", timeout=20)
    assert done.returncode == 3 and time.monotonic() - started < 10, done.stderr
    # The wrapper's quick path does not hang on it either: the full path refuses it.
    for mode in (["true"], ["--credential-process"]):
        done = ready.run(AWS_MFA_RUN, *mode, timeout=20)
        assert done.returncode == 3 and "not a regular file" in done.stderr, done.stderr


def test_symlink_loop_in_place_of_the_credentials_file(ready: Bed) -> None:
    ready.credentials.unlink()
    ready.credentials.symlink_to(ready.credentials)
    done = ready.run(AWS_MFA_RUN, "--login", "123456")
    assert done.returncode == 3 and "symbolic links" in done.stderr, done.stderr


def _unprivileged(bed: Bed) -> list[str]:
    """A prefix that runs a command as nobody, or [] when we are not root anyway."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, AWS_MFA_RUN, "--version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot run the installed command as nobody here: {probe.stderr[-200:]!r}")
    return prefix


@pytest.fixture
def world_for_nobody(fake: FakeAws) -> Iterator[Bed]:
    """A bed outside pytest's 0700 temporary root, which nobody could not enter; removed after
    the test, whatever its outcome."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="aws-mfa-run-nobody-"))
    try:
        os.chmod(root, 0o755)
        yield Bed(root, fake)
    finally:
        shutil.rmtree(root)


@pytest.mark.other_users
def test_permission_denied_as_an_unprivileged_user(world_for_nobody: Bed) -> None:
    """Permission bits do not stop root, so these cases run as nobody (when we are root)."""
    bed = world_for_nobody
    root = bed.root
    prefix = _unprivileged(bed)
    bed.write_profiles()
    if prefix:
        for path in [root, *root.rglob("*")]:
            os.chown(path, 65534, 65534)
    before = bed.snapshot()
    bed.credentials.chmod(0o000)
    unreadable = bed.run(*prefix, AWS_MFA_RUN, "--login", bed.fresh_code())
    assert unreadable.returncode == 3 and "permission denied" in unreadable.stderr
    bed.credentials.chmod(0o600)
    bed.aws_dir.chmod(0o555)
    read_only = bed.run(*prefix, AWS_MFA_RUN, "--login", bed.fresh_code())
    assert read_only.returncode == 3 and "permission denied" in read_only.stderr
    assert bed.fake.calls["GetSessionToken"] == 0  # refused before the code was spent
    bed.aws_dir.chmod(0o755)
    assert bed.snapshot() == before


def test_spent_codes_of_different_devices_written_at_once_are_all_kept(
    tmp_path: Path,
) -> None:
    # Fetches for different profiles hold different locks, and may record their codes at the
    # same instant: each must still find its own entries afterwards.
    writers = 12
    script = (
        "import sys, time\n"
        "from aws_mfa_run import codes\n"
        "start = float(sys.argv[2])\n"
        "time.sleep(max(0, start - time.time()))\n"
        "for round in range(5):\n"
        "    spent = codes.SpentCodes(sys.argv[1] + '/used-codes')\n"
        "    assert spent.claim(f'dev-{sys.argv[3]}', f'12345{round}', 1000 + round) is None\n"
    )
    start = time.time() + 1.0
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(start), str(number)])
        for number in range(writers)
    ]
    assert [process.wait(timeout=60) for process in processes] == [0] * writers
    spent = codes.SpentCodes(str(tmp_path / "used-codes"))
    kept = [
        n
        for n in range(writers)
        if all(spent.was_spent(f"dev-{n}", f"12345{round}", 1004) for round in range(5))
    ]
    assert kept == list(range(writers))
