"""Long-term keys against other programs acting at the same moment: another tool editing the
files between our read and our rename, or taking the keys out again right after it; a keyring
entry replaced during a rotation; the same key in another profile's keyring entry; the keys in
both files.

A slow disk opens the windows wide and on cue: the command runs under strace, which makes every
fsync it calls take SLOW_FSYNC seconds (nothing else changes), and the other tool, a thread of
the test, writes the file in place without a lock as `aws configure set` does.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aws_mfa_run.credentials import state
from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import SERVICE, add_profile_with_alices_key, keyring_entry, use_test_keyring

SLOW_FSYNC = 0.4
STRACE = shutil.which("strace")
OWN_PROCESS = "credential_process = aws-mfa-run --credential-process -p default\n"
CI_KEYS = "[ci]\naws_access_key_id = AKIACIPROFILE0000000\naws_secret_access_key = ci-only-copy\n"
CI_CONFIG = "[profile ci]\nregion = eu-central-1\n"


def _strace_works() -> bool:
    if STRACE is None:
        return False
    done = subprocess.run([STRACE, "-qq", "-o", "/dev/null", "true"], capture_output=True)
    return done.returncode == 0


slow_disk = pytest.mark.skipif(
    not _strace_works(),
    reason="no working strace here (Debian package strace; ptrace must be allowed): it makes "
    "the disk slow on cue",
)


def run_on_slow_disk(bed: Bed, *args: str) -> subprocess.CompletedProcess[str]:
    assert STRACE is not None
    delay = f"inject=fsync:delay_exit={int(SLOW_FSYNC * 1_000_000)}"
    trace = [STRACE, "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync", "-e", delay]
    return bed.run(*trace, AWS_MFA_RUN, *args, timeout=120)


def in_background(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def rewrite_in_place(path: Path, text: str) -> None:
    """What awscli's ConfigFileWriter does: open to write (truncating), write, no lock."""
    with open(path, "w") as handle:
        handle.write(text)


def alice_pair(bed: Bed) -> dict[str, object]:
    return {
        "Version": 1,
        "AccessKeyId": bed.alice.access_key,
        "SecretAccessKey": bed.alice.secret_key,
    }


# ---- A3: --unstore-keys removes the keyring entry only while the file holds the keys ----------


@slow_disk
def test_unstore_keeps_the_entry_when_another_tool_takes_the_keys_out_again(ready: Bed) -> None:
    """Another tool read the credentials file before our write and writes it back (with a
    profile of its own) just after: the keys leave the file again. The keyring entry, then
    their only copy, stays, and the user is told; a second --unstore-keys finishes the job."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    stale = ready.credentials.read_text()

    # The keys back in the file, not the keyring's key id recorded there since --store-keys.
    key_line = f"aws_access_key_id = {ready.alice.access_key}"

    def other_tool() -> None:
        if wait_for(lambda: key_line in ready.credentials.read_text()):
            rewrite_in_place(ready.credentials, stale + CI_KEYS)

    thread = in_background(other_tool)
    done = run_on_slow_disk(ready, "--unstore-keys")
    thread.join(10)
    assert ready.credentials.read_text() == stale + CI_KEYS  # the other tool's write landed
    assert done.returncode == 3, done.stderr
    assert "entry, which holds them, was kept" in done.stderr
    assert ready.alice.secret_key not in done.stderr
    assert keyring_entry(ready) == alice_pair(ready)
    # Run again, it puts them back (the other tool's profile stays) and only then removes them.
    again = ready.run(AWS_MFA_RUN, "--unstore-keys")
    assert again.returncode == 0, again.stderr
    assert ready.ini_section(ready.credentials, "default") == {
        "aws_access_key_id": ready.alice.access_key,
        "aws_secret_access_key": ready.alice.secret_key,
    }
    assert CI_KEYS in ready.credentials.read_text()
    assert keyring_entry(ready) is None


# ---- A4: an edit another tool makes between our read and our rename is kept ------------------


def setup_store(bed: Bed) -> None:
    use_test_keyring(bed)


def setup_keys_in_keyring_without_our_line(bed: Bed) -> None:
    """--store-keys done, then our line taken out of the config: the next --store-keys only
    adds that line back."""
    use_test_keyring(bed)
    assert bed.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    bed.config.write_text(bed.config.read_text().replace(OWN_PROCESS, ""))


def setup_unstore(bed: Bed) -> None:
    use_test_keyring(bed)
    assert bed.run(AWS_MFA_RUN, "--store-keys").returncode == 0


def setup_rotate(bed: Bed) -> None:
    use_test_keyring(bed)
    bed.login()


CASES = {
    # name: (set-up, command, the file the other tool edits, what it adds)
    "store-keys, credentials": (setup_store, ["--store-keys"], "credentials", CI_KEYS),
    "store-keys, config": (setup_store, ["--store-keys"], "config", CI_CONFIG),
    "store-keys, our line only": (
        setup_keys_in_keyring_without_our_line,
        ["--store-keys"],
        "config",
        CI_CONFIG,
    ),
    "unstore-keys, credentials": (setup_unstore, ["--unstore-keys"], "credentials", CI_KEYS),
    "unstore-keys, config": (setup_unstore, ["--unstore-keys"], "config", CI_CONFIG),
    "rotate-keys, credentials": (setup_rotate, ["--rotate-keys"], "credentials", CI_KEYS),
}


@slow_disk
@pytest.mark.parametrize("case", list(CASES))
def test_an_edit_another_tool_makes_while_we_write_is_kept(ready: Bed, case: str) -> None:
    setup, args, which, added = CASES[case]
    setup(ready)
    path = ready.credentials if which == "credentials" else ready.config
    old_key = ready.alice.access_key

    def other_tool() -> None:
        # Our temporary file beside the file: we have read it and not yet renamed over it.
        pattern = f".{path.name}.aws-mfa-run-*.tmp"
        if wait_for(lambda: any(path.parent.glob(pattern))):
            rewrite_in_place(path, path.read_text() + added)

    thread = in_background(other_tool)
    done = run_on_slow_disk(ready, *args)
    thread.join(10)
    assert done.returncode == 0, done.stderr
    assert added in path.read_text(), f"the other tool's edit of {path.name} was lost"
    # And our own edit was made too.
    credentials, config = ready.credentials.read_text(), ready.config.read_text()
    if args == ["--store-keys"]:
        assert ready.alice.secret_key not in credentials and OWN_PROCESS in config
        assert keyring_entry(ready) == alice_pair(ready)
    elif args == ["--unstore-keys"]:
        assert ready.alice.secret_key in credentials and OWN_PROCESS not in config
        assert keyring_entry(ready) is None
    else:
        ((new_key, (new_secret, _)),) = ready.alice.keys.items()
        assert new_key != old_key
        assert ready.ini_section(ready.credentials, "default") == {
            "aws_access_key_id": new_key,
            "aws_secret_access_key": new_secret,
        }


# ---- A5: a key another profile's keyring entry holds is not deleted -------------------------


def test_rotation_keeps_an_old_key_another_profiles_keyring_entry_holds(ready: Bed) -> None:
    use_test_keyring(ready)
    alice = ready.alice
    old = alice.access_key
    add_profile_with_alices_key(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys", "-p", "ci").returncode == 0
    # Only ci's entry has it (the file keeps its id, no secret, as the entry's record).
    assert f"aws_access_key_id = {old}" not in ready.credentials.read_text().split("[ci]")[1]
    assert alice.secret_key not in ready.credentials.read_text().split("[ci]")[1]
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert f"old key {old} is not deleted" in done.stderr
    assert "keyring entry of profile 'ci'" in done.stderr
    assert old in alice.keys and len(alice.keys) == 2
    assert (keyring_entry(ready, "ci") or {}).get("AccessKeyId") == old
    # Profile ci still works with the key its entry holds.
    who = ready.run(
        AWS_MFA_RUN, "-p", "ci", "--token-code", ready.fresh_code(), "aws", "sts",
        "get-caller-identity",
    )  # fmt: skip
    assert who.returncode == 0 and "user/alice" in who.stdout, who.stderr


def test_rotation_without_any_keyring_still_deletes_the_old_key(ready: Bed) -> None:
    """No keyring at all (keyring's `fail` backend): no entry can hold the key."""
    ready.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    ready.login()
    old = ready.alice.access_key
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert old not in ready.alice.keys and len(ready.alice.keys) == 1


# ---- A25: a keyring entry replaced during the rotation is not overwritten --------------------


def test_rotation_never_overwrites_an_entry_replaced_meanwhile(ready: Bed) -> None:
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    ready.login()
    old = ready.alice.access_key
    bob = ready.fake.add_user("bob")
    ready.fake.new_key_delay = 3.0  # the rotation waits for IAM to know the new key
    keyring = ready.home / "test-keyring.json"

    def user_stores_another_key() -> None:
        # As the keyring's own tools would: the entry replaced, under the keyring's lock.
        if not wait_for(lambda: ready.fake.calls["CreateAccessKey"] > 0):
            return
        with open(f"{keyring}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = json.loads(keyring.read_text())
            entries[f"{SERVICE}\0default"] = json.dumps(
                {"Version": 1, "AccessKeyId": bob.access_key, "SecretAccessKey": bob.secret_key}
            )
            keyring.write_text(json.dumps(entries))

    thread = in_background(user_stores_another_key)
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", timeout=120)
    thread.join(10)
    assert done.returncode == 3, done.stderr
    assert "changed during the rotation" in done.stderr
    assert (keyring_entry(ready) or {}).get("SecretAccessKey") == bob.secret_key
    assert old in ready.alice.keys  # the old key is kept
    # The new key is recorded for the next run, which deletes it (its secret was never kept).
    (new,) = set(ready.alice.keys) - {old}
    notes = list((ready.aws_dir / "aws-mfa-run" / "rotations").glob("*.ini"))
    assert len(notes) == 1 and new in notes[0].read_text()


# ---- A22: the keys in both files ---------------------------------------------------------------


def keys_in_config(bed: Bed, key_id: str, secret: str) -> None:
    bed.config.write_text(
        f"[default]\nregion = eu-west-1\nmfa_serial = {bed.device.serial}\n"
        f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    )
    bed.config.chmod(0o644)  # as `aws configure` leaves it


def test_store_keys_takes_every_copy_of_the_pair_out_of_the_files(ready: Bed) -> None:
    use_test_keyring(ready)
    keys_in_config(ready, ready.alice.access_key, ready.alice.secret_key)
    credentials = ready.credentials.read_text()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0, done.stderr
    assert str(ready.config) in done.stderr and str(ready.credentials) in done.stderr
    assert ready.config.read_text() == (
        f"[default]\nregion = eu-west-1\nmfa_serial = {ready.device.serial}\n{OWN_PROCESS}"
    )
    # The pair out of the credentials file, the keyring's key id recorded in its place.
    assert ready.credentials.read_text() == credentials.replace(
        f"aws_access_key_id = {ready.alice.access_key}\n"
        f"aws_secret_access_key = {ready.alice.secret_key}\n",
        f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n",
    )
    assert keyring_entry(ready) == alice_pair(ready)
    assert oct(os.stat(ready.config).st_mode & 0o777) == "0o644"  # no secret left in it
    ready.login()  # the keys work, from the keyring


def test_store_keys_refuses_other_keys_in_the_other_file(ready: Bed) -> None:
    use_test_keyring(ready)
    other = ready.fake.add_user("other")
    keys_in_config(ready, other.access_key, other.secret_key)
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 3, done.stderr
    assert f"other key lines in {ready.config}" in done.stderr
    assert ready.snapshot() == before and keyring_entry(ready) is None
    # The profile still uses the keys of the credentials file, as botocore does.
    who = ready.run(AWS, "sts", "get-caller-identity", "--profile", "default")
    assert who.returncode == 0 and "user/alice" in who.stdout, who.stderr


# ---- the keyring entry removed while --store-keys waits for the files' locks -------------------


def test_store_keys_never_takes_the_keys_out_of_the_files_once_the_entry_is_gone(
    ready: Bed,
) -> None:
    """The pair is in the files and in the keyring (a --store-keys killed after its keyring
    write leaves that). A new --store-keys finds the entry holding the pair, then waits for the
    files' locks, held by another run; meanwhile that run (--unstore-keys, or the keyring's own
    tools) removes the entry. The keys must stay in the files: else they are nowhere."""
    use_test_keyring(ready)
    killed = {**ready.env, "FILEKEYRING_KILL_AFTER_SET": "1"}
    ready.run(AWS_MFA_RUN, "--store-keys", env=killed)
    assert keyring_entry(ready) is not None
    assert ready.alice.secret_key in ready.credentials.read_text()
    state_dir = ready.aws_dir / "aws-mfa-run"
    lock_path = state.file_lock(str(state_dir), str(ready.credentials))
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store = subprocess.Popen(
            [AWS_MFA_RUN, "--store-keys"],
            env=ready.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Past its keyring step, it waits for our lock (it has the lock file open).
        assert wait_for(lambda: holds_open(store.pid, lock_path)), "never reached the lock"
        keyring = ready.home / "test-keyring.json"
        with open(f"{keyring}.lock", "a") as keyring_lock:
            fcntl.flock(keyring_lock, fcntl.LOCK_EX)
            entries = json.loads(keyring.read_text())
            del entries[f"{SERVICE}\0default"]
            keyring.write_text(json.dumps(entries))
    _, stderr = store.communicate(timeout=60)
    assert store.returncode == 3 and "removed or changed" in stderr, stderr
    assert keyring_entry(ready) is None
    text = ready.credentials.read_text()
    assert f"aws_access_key_id = {ready.alice.access_key}" in text
    assert f"aws_secret_access_key = {ready.alice.secret_key}" in text


def holds_open(pid: int, path: str) -> bool:
    """Whether process `pid` has the file `path` open (Linux: /proc)."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == path:
                return True
        except OSError:
            continue
    return False
