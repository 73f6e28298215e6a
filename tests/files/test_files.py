"""The user's files and our state directory: every refusal that could be known comes before a
code is spent, locks live where only the user can take them, and another tool writing the same
file at the same moment loses nothing."""

from __future__ import annotations

import configparser
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_mfa_run import files
from aws_mfa_run.errors import ConfigError
from conftest import AWS, AWS_MFA_RUN, Bed
from fakeaws import FakeAws

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (CI runs as root): chattr, mounts, another uid")


def _state(bed: Bed) -> Path:
    return bed.aws_dir / "aws-mfa-run"


def _everything(bed: Bed) -> dict[str, bytes]:
    """Every file under ~/.aws, our state included (the spent codes, the role caches), but for
    lock files and the failure a fetch leaves beside its lock for the runs that waited on it."""
    return {
        str(path.relative_to(bed.aws_dir)): path.read_bytes()
        for path in sorted(bed.aws_dir.rglob("*"))
        if path.is_file() and ".lock" not in path.name
    }


def refused_before_any_code(
    bed: Bed, named: str, *, prefix: list[str] | None = None, code: str | None = None
) -> str:
    """`aws mfa CODE` is refused with exit 3 and one sentence naming `named`; no GetSessionToken
    reached AWS, the code is still unused, and no file changed by a byte."""
    code = code or bed.fresh_code()
    before = _everything(bed)
    calls = bed.fake.calls["GetSessionToken"]
    done = bed.run(*(prefix or []), AWS_MFA_RUN, "--login", code, timeout=60)
    assert done.returncode == 3, done.stderr
    assert bed.fake.calls["GetSessionToken"] == calls, done.stderr
    assert code not in bed.device.used
    assert _everything(bed) == before
    (line,) = done.stderr.strip().splitlines()  # one sentence, never a traceback
    assert named in line, line
    return line


# ---- item 6: a byte-order mark ------------------------------------------------------------


@pytest.mark.parametrize("which", ["credentials", "config"])
def test_a_file_with_a_byte_order_mark_is_refused_before_any_code(ready: Bed, which: str) -> None:
    path = ready.credentials if which == "credentials" else ready.config
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    # What we refuse is what botocore, and so the AWS CLI itself, cannot read.
    by_the_cli = ready.run(AWS, "configure", "list")
    assert by_the_cli.returncode != 0 and "Unable to parse config file" in by_the_cli.stderr
    line = refused_before_any_code(ready, f"{path} starts with a byte-order mark")
    assert "UTF-8 without BOM" in line
    # The sentence's own fix works: the same login then succeeds.
    fix = line.split("for example with ", 1)[1]
    subprocess.run(["sh", "-c", fix], check=True)
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    ready.login()


# ---- item 7 and issue 20 item 3: our state directory ---------------------------------------


@pytest.mark.parametrize("how", ["another user's", "writable by others"])
def test_a_state_directory_not_ours_alone_is_refused_before_any_code(ready: Bed, how: str) -> None:
    _as_root()
    ready.login()  # the directory exists, with its locks and the spent code
    state = _state(ready)
    if how == "another user's":
        for path in [state, *state.rglob("*")]:
            os.chown(path, 65534, 65534)
        named = f"{state} belongs to another user (uid 65534)"
    else:
        state.chmod(0o777)
        named = f"{state} can be written by other users (mode 0777)"
    refused_before_any_code(ready, named)


@pytest.mark.parametrize("how", ["chattr +i", "read-only mount"])
def test_a_read_only_state_directory_is_refused_before_any_code(ready: Bed, how: str) -> None:
    """Before the fix: the code was spent, then "Cannot write .../used-codes"."""
    _as_root()
    ready.login()
    state = _state(ready)
    prefix: list[str] = []
    if how == "chattr +i":
        subprocess.run(["chattr", "+i", str(state)], check=True)
    else:
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
        if probe.returncode != 0:
            pytest.skip(f"no mount namespace here: {probe.stderr.decode()[-200:]!r}")
        mount = f'mount --bind -o ro "{state}" "{state}" && exec "$0" "$@"'
        prefix = ["unshare", "-m", "sh", "-c", mount]
    try:
        refused_before_any_code(ready, f"Cannot write into {state}", prefix=prefix)
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=False)


def test_the_state_directory_is_created_private(ready: Bed) -> None:
    umask = os.umask(0o022)
    try:
        ready.login()
    finally:
        os.umask(umask)
    state = _state(ready)
    for directory in (state, state / "locks"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory


@pytest.fixture
def home_for_nobody(fake: FakeAws) -> Iterator[Bed]:
    """A bed another uid can reach (pytest's temporary root is 0700), as a real home is."""
    root = Path(tempfile.mkdtemp(prefix="aws-mfa-run-files-"))
    try:
        os.chmod(root, 0o755)
        bed = Bed(root, fake)
        bed.home.chmod(0o755)
        bed.aws_dir.chmod(0o755)  # as `aws configure` leaves it
        bed.write_profiles()
        bed.config.chmod(0o644)
        yield bed
    finally:
        shutil.rmtree(root)


HOLD_LOCKS = (
    "import fcntl, os, sys, time\n"
    "held = []\n"
    "for path in sys.argv[1:]:\n"
    "    flags = os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0)\n"
    "    fd = os.open(path, flags)\n"
    "    fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "    held.append(fd)\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def test_another_user_holding_a_lock_on_dot_aws_blocks_nothing(home_for_nobody: Bed) -> None:
    """Before the fix, `aws mfa CODE` spent the code, then waited forever for the ~/.aws lock."""
    _as_root()
    bed = home_for_nobody
    probe = subprocess.run([*NOBODY, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot run as uid 65534 here: {probe.stderr[-200:]!r}")
    # Any Python the other user can run (a pyenv one under /root may be closed to them).
    candidates = [sys.executable, "/usr/bin/python3"]
    runs = [
        python
        for python in candidates
        if subprocess.run(
            [*NOBODY, python, "-c", "pass"], capture_output=True, check=False
        ).returncode
        == 0
    ]
    if not runs:
        pytest.skip(f"no Python that uid 65534 can run here: {candidates}")
    # Everything another user can open: ~/.aws, the config file (0644), the home directory.
    targets = [str(bed.aws_dir), str(bed.config), str(bed.home)]
    holder = subprocess.Popen(
        [*NOBODY, runs[0], "-c", HOLD_LOCKS, *targets],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held", holder.stderr
        code = bed.fresh_code()
        done = bed.run(AWS_MFA_RUN, "--login", code, timeout=40)
        assert done.returncode == 0, done.stderr
        assert bed.ini_section(bed.credentials, "mfa")["aws_session_token"]
        # Our own lock files stay out of its reach.
        state = _state(bed)
        nobody_opens = subprocess.run(
            [*NOBODY, "ls", str(state)], capture_output=True, text=True, check=False
        )
        assert nobody_opens.returncode != 0 and "Permission denied" in nobody_opens.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_wait_ends_with_a_sentence_naming_the_lock_and_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "some.lock"
    lock.touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCKS, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(ConfigError) as refused, files.locked(str(lock), wait=0.5):
            pass
        assert 0.5 <= time.monotonic() - started < 5
        message = str(refused.value)
        assert f"Waited 0.5 seconds for the lock on {lock}" in message
        assert f"held by process {holder.pid} (uid {os.geteuid()})" in message
    finally:
        holder.kill()
        holder.wait()
    with files.locked(str(lock), wait=0.5):  # free again once its holder is gone
        pass


# ---- item 9: writable by the mode bits, not for real ----------------------------------------


@pytest.mark.parametrize("which", ["credentials", "config"])
def test_an_immutable_file_is_refused_before_any_code(ready: Bed, which: str) -> None:
    _as_root()
    path = ready.credentials if which == "credentials" else ready.config
    assert path.stat().st_mode & 0o200  # the mode bits say writable
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        refused_before_any_code(ready, f"Cannot write {path}: the system forbids it")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.parametrize("what", ["config file", "~/.aws"])
def test_a_read_only_mount_is_refused_before_any_code(ready: Bed, what: str) -> None:
    """`docker run -v ~/.aws/config:/root/.aws/config:ro` or `-v ~/.aws:/root/.aws:ro`. Before the
    fix: the code was spent, the credentials file written, then the config write failed."""
    _as_root()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode()[-200:]!r}")
    if what == "~/.aws":
        ready.login()  # the state directory exists (a read-only ~/.aws could not hold a new one)
    mounted = ready.config if what == "config file" else ready.aws_dir
    mount = f'mount --bind -o ro "{mounted}" "{mounted}" && exec "$0" "$@"'
    named = f"{ready.config}: it is on a read-only file system"
    if what == "~/.aws":  # our state directory, inside it, is the first thing checked
        named = f"Cannot write into {_state(ready)} (read-only"
    refused_before_any_code(
        ready, named, prefix=["unshare", "-m", "sh", "-c", mount], code=ready.fresh_code()
    )


def test_no_partial_write_when_the_config_file_cannot_be_written(ready: Bed) -> None:
    """The write itself checks the config file for real before it replaces the credentials
    file: both are written, or neither (here the config file turned immutable after the code
    was spent, the moment the pre-code check cannot cover)."""
    _as_root()
    script = (
        "import sys\n"
        "from aws_mfa_run.credentials import store\n"
        "from aws_mfa_run.aws.answers import SessionCredentials\n"
        "from aws_mfa_run.errors import MfaRunError\n"
        "home = sys.argv[1]\n"
        "session = SessionCredentials('ASIA' + 'A' * 16, 's' * 40, 't' * 200, 4102444800)\n"
        "try:\n"
        "    store.write_session(credentials_path=home + '/.aws/credentials',\n"
        "        config_path=home + '/.aws/config', state_dir=home + '/.aws/aws-mfa-run',\n"
        "        target='mfa', source='default', session=session,\n"
        "        copied={'region': 'eu-west-1'}, expected_sections={'default'}, env={})\n"
        "except MfaRunError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    before = ready.snapshot()
    subprocess.run(["chattr", "+i", str(ready.config)], check=True)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(ready.home)], capture_output=True, text=True
        )
    finally:
        subprocess.run(["chattr", "-i", str(ready.config)], check=False)
    assert done.returncode == 3, done.stderr
    assert f"Cannot write {ready.config}" in done.stdout
    assert ready.snapshot() == before  # the credentials file too


# ---- item 11: `aws configure set` writing the same file during our logins ------------------


@pytest.mark.parametrize("which", ["credentials", "config"])
def test_the_aws_clis_writer_racing_our_logins_loses_no_update(ready: Bed, which: str) -> None:
    """The AWS CLI's own ConfigFileWriter (what `aws configure set` runs: read, then rewrite in
    place, no lock) adds a key to another profile in a loop while we log in again and again.
    Every key it added must still be there at the end. Before the fix, some were lost."""
    from awscli.customizations.configure.writer import (  # type: ignore[import-untyped]
        ConfigFileWriter,
    )

    ready.fake.accept_reused_codes = True  # one code serves every login of this test
    path = ready.credentials if which == "credentials" else ready.config
    section = "other" if which == "credentials" else "profile other"
    # In the config file we write only when a value we copy changes: the other tool changes the
    # region we copy now and then, so that logins write the config file too.
    regions: list[str] = []
    written: list[str] = []
    stop = threading.Event()
    failure: list[BaseException] = []

    def configure_set() -> None:
        writer = ConfigFileWriter()
        rng = random.Random(which)
        try:
            while not stop.is_set():
                key = f"k{len(written)}"
                writer.update_config({"__section__": section, key: "v"}, str(path))
                written.append(key)
                if which == "config" and len(written) % 25 == 0:
                    region = f"eu-west-{len(regions) % 3 + 1}"
                    writer.update_config({"__section__": "default", "region": region}, str(path))
                    regions.append(region)
                # Hundreds of times faster than `aws configure set` run by hand (~0.5 s a run).
                time.sleep(rng.uniform(0, 0.03))
        except BaseException as error:  # pragma: no cover - reported below
            failure.append(error)

    thread = threading.Thread(target=configure_set, daemon=True)
    thread.start()
    stored = 0
    try:
        # Up to 12 logins stored; more tries where the other tool's truncated moments, longer on
        # a loaded machine, refused some.
        for _ in range(36):
            if stored == 12:
                break
            (_state(ready) / "used-codes").unlink(missing_ok=True)
            calls = ready.fake.calls["GetSessionToken"]
            done = ready.run(AWS_MFA_RUN, "--login", "--force", ready.device.code())
            if done.returncode == 3:
                # Our first read landed while the other tool had the file truncated: a clear
                # refusal before any code (we cannot tell its empty file from the user's).
                assert ready.fake.calls["GetSessionToken"] == calls, done.stderr
                continue
            assert done.returncode == 0, done.stderr
            stored += 1
    finally:
        stop.set()
        thread.join()
    assert not failure, failure
    assert stored >= 6, stored
    assert len(written) > 100, len(written)  # it did write all along
    parser = configparser.RawConfigParser()
    parser.read(path)
    missing = [key for key in written if not parser.has_option(section, key)]
    assert not missing, f"{len(missing)} of {len(written)} updates lost: {missing[:10]}"
    if which == "config":
        assert parser.get("default", "region") == regions[-1]
    else:
        assert parser.get("default", "aws_access_key_id") == ready.alice.access_key
    # With the other tool gone, a login stores its session, and the AWS CLI uses it.
    ready.login("--force")
    done = ready.run(AWS, "dynamodb", "list-tables", "--profile", "mfa")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("which", ["credentials", "config"])
def test_a_file_caught_mid_rewrite_after_the_code_was_spent_is_read_again(
    ready: Bed, which: str
) -> None:
    """While AWS's answer is on its way, another tool rewrites a file in place and we read it cut
    mid-line: the code is spent by then, so we read again until it is whole and store the session
    (before: exit 3, the session lost with its code). The other tool's edit stays."""
    path = ready.credentials if which == "credentials" else ready.config
    whole = path.read_text() + "\n[tool-added]\nregion = eu-west-1\n"
    cut = whole[: whole.index("[tool-added]") + 5]  # `[tool` : not a line that parses

    def rewrite_in_place() -> None:
        path.write_text(cut)
        later = threading.Timer(0.4, lambda: path.write_text(whole))
        later.daemon = True
        later.start()

    ready.fake.on_answer["GetSessionToken"] = rewrite_in_place
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert "[tool-added]" in path.read_text()
    tables = ready.run(AWS, "dynamodb", "list-tables", "--profile", "mfa")
    assert tables.returncode == 0, tables.stderr


def test_a_lock_file_removed_while_we_wait_is_not_the_lock_we_hold(tmp_path: Path) -> None:
    """--logout removes lock files under their lock: a run that waited on the removed file must
    not believe it holds the lock a later run takes on the new file of that name."""
    lock = tmp_path / "some.lock"
    lock.touch()
    remove_then_release = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(0.5)\n"
        "os.unlink(sys.argv[1])\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", remove_then_release, str(lock)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    held = files.locked(str(lock), wait=10)
    with held:
        assert os.fstat(held.fd).st_ino == lock.stat().st_ino  # the file the name holds now
    holder.wait()


def test_a_file_another_tool_holds_open_to_write_is_not_replaced(tmp_path: Path) -> None:
    """`aws configure set` opens the file to write (truncating it) and writes its text a moment
    later: what it is about to write must not go into a file we have just replaced."""
    path = tmp_path / "credentials"
    path.write_text("[a]\nk = 1\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "with open(sys.argv[1], 'r+') as handle:\n"  # open to write, not yet written
            "    print('open', flush=True)\n"
            "    time.sleep(1)\n"
            "    handle.write('[a]\\nk = 2\\n')\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    with pytest.raises(files.FileChangedError):
        files.write_atomic(
            str(path), "[a]\nk = 1\n[b]\nx = y\n", private=False, based_on=path.read_text()
        )
    holder.wait()
    assert path.read_text() == "[a]\nk = 2\n"  # the other tool's text, in the file
    assert not list(tmp_path.glob(".credentials.*"))
