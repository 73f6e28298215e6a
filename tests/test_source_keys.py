"""A stored MFA session belongs to the long-term key it was made with: once the source profile
holds another IAM user's keys (`aws configure`, an edit), that session is never reused by any
mode; --rotate-keys (a new key of the same user) keeps it; sessions of the previous version (no
key recorded) keep working."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import AWS_MFA_RUN, Bed
from fakeaws import User
from helpers import WHOAMI, use_test_keyring, with_roles

RECORDED = "aws_mfa_run_source_key_id"
PRINT_KEY = [sys.executable, "-c", "import os; print(os.environ['AWS_ACCESS_KEY_ID'])"]


def switch_default_to_bob(bed: Bed) -> User:
    """What `aws configure` does when the user types another IAM user's keys: the two key lines
    of [default] now hold bob's keys, and mfa_serial names bob's device."""
    bob = bed.fake.add_user("bob")
    alice = bed.alice
    text = bed.credentials.read_text()
    # [default] comes first: the first occurrences are its lines ([mfa] records alice's key id).
    text = text.replace(alice.access_key, bob.access_key, 1)
    text = text.replace(alice.secret_key, bob.secret_key, 1)
    bed.credentials.write_text(text)
    config = bed.config.read_text().replace(bed.device.serial, bob.devices[0].serial)
    bed.config.write_text(config)
    return bob


def test_a_session_of_the_previous_keys_is_never_reused(ready: Bed) -> None:
    ready.login()
    old = ready.ini_section(ready.credentials, "mfa")
    assert old[RECORDED] == ready.alice.access_key  # a key id, no secret
    bob = switch_default_to_bob(ready)
    # Every mode that would serve the stored session (warm and full paths) asks for a new one
    # instead; with no terminal and no code it cannot get one, and says why.
    for mode in (
        ["--credential-process"],
        ["--env"],
        PRINT_KEY,
        ["-p", "default", *PRINT_KEY],
        ["--login"],
    ):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 4, (mode, done.stdout, done.stderr)
        assert old["aws_access_key_id"] not in done.stdout, mode
        assert old["aws_secret_access_key"] not in done.stdout, mode
    assert ready.alice.access_key in done.stderr and bob.access_key in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    status = ready.run(AWS_MFA_RUN, "--status")
    assert "made with access key " + ready.alice.access_key in status.stdout, status.stdout
    (row,) = json.loads(ready.run(AWS_MFA_RUN, "--status", "--json").stdout)["profiles"]
    assert ready.alice.access_key in row["not_reused"] and row["error"] is None

    # A login with bob's code makes bob's session, which is reused from then on.
    ready.login(device=bob.devices[0])
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == bob.access_key
    done = ready.run(AWS_MFA_RUN, *PRINT_KEY)
    assert done.returncode == 0 and ready.fake.sessions[done.stdout.strip()].user is bob
    assert ready.run(AWS_MFA_RUN, "--credential-process").returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 2
    status = ready.run(AWS_MFA_RUN, "--status", "--json")
    assert json.loads(status.stdout)["profiles"][0]["not_reused"] is None


def test_the_same_key_in_the_config_file_keeps_the_session(ready: Bed) -> None:
    """Keys moved from the credentials file to the config file are the same key: kept."""
    ready.login()
    lines = ready.credentials.read_text().split("\n")
    keys = [line for line in lines if line.startswith("aws_")][:2]
    ready.credentials.write_text("\n".join(line for line in lines if line not in keys))
    ready.config.write_text(ready.config.read_text() + "\n".join(keys) + "\n")
    assert ready.run(AWS_MFA_RUN, "--credential-process").returncode == 0
    assert ready.run(AWS_MFA_RUN, "--env").returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_session_stored_by_the_previous_version_keeps_working(ready: Bed) -> None:
    ready.login()
    text = ready.credentials.read_text()
    line = f"{RECORDED} = {ready.alice.access_key}\n"
    assert line in text
    ready.credentials.write_text(text.replace(line, ""))
    for mode in (["--credential-process"], ["--env"], PRINT_KEY, ["--login"]):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 1


@pytest.mark.parametrize("place", ["file", "config", "keyring"])
def test_rotate_keys_keeps_the_sessions_of_the_same_user(ready: Bed, place: str) -> None:
    use_test_keyring(ready)
    if place == "keyring":
        assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    if place == "config":
        lines = ready.credentials.read_text().split("\n")
        keys = [line for line in lines if line.startswith("aws_")][:2]
        ready.credentials.write_text("\n".join(line for line in lines if line not in keys))
        ready.config.write_text(ready.config.read_text() + "\n".join(keys) + "\n")
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    ((new_key, _),) = ready.alice.keys.items()
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == new_key
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 1


def test_role_credentials_of_the_previous_keys_are_never_served(ready: Bed) -> None:
    with_roles(ready)
    ready.login()
    done = ready.run(AWS_MFA_RUN, "-p", "admin", *WHOAMI)
    assert done.returncode == 0 and "assumed-role/admin/" in done.stdout, done.stderr
    assert ready.fake.assumed == {"admin": 1}
    switch_default_to_bob(ready)
    # alice's role credentials are cached for an hour: bob's keys never get them.
    for mode in (["-p", "admin", *PRINT_KEY], ["--credential-process", "-p", "admin"]):
        again = ready.run(AWS_MFA_RUN, *mode)
        assert again.returncode == 4, (mode, again.stdout, again.stderr)
        assert "ASIA" not in again.stdout
    assert ready.fake.assumed == {"admin": 1} and ready.fake.calls["GetSessionToken"] == 1


def test_a_rotation_stopped_before_its_sessions_moved_finishes_without_a_code(
    ready: Bed,
) -> None:
    """A kill after the new key was stored (in the config file or the keyring: a write of its
    own) but before the sessions were moved to it: the next --rotate-keys moves them first,
    so it finishes with the stored session, asking no code."""
    ready.login()
    old_key = ready.alice.access_key
    new_key, new_secret = "AKIANEWKEYOFALICE001", "new/secret+key"
    ready.alice.keys[new_key] = (new_secret, 0.0)
    ready.fake.users[new_key] = ready.alice
    text = ready.credentials.read_text()
    ready.credentials.write_text(
        text.replace(old_key, new_key, 1).replace(ready.alice.secret_key, new_secret, 1)
    )
    rotations = ready.aws_dir / "aws-mfa-run" / "rotations"
    rotations.mkdir(mode=0o700)
    (rotations / "default.ini").write_text(
        f"[rotation]\nold_key_id = {old_key}\nnew_key_id = {new_key}\nphase = stored\n"
    )
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert set(ready.alice.keys) == {new_key} and ready.fake.calls["GetSessionToken"] == 1
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == new_key
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY).returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_session_of_other_environment_keys_is_never_reused(ready: Bed) -> None:
    """Keys exported in the environment (the profile's section holds none): alice's session is
    not served once bob's keys are exported instead, by the warm path or the full path."""
    text = ready.credentials.read_text()
    for line in text.splitlines():
        if line.startswith(("aws_access_key_id", "aws_secret_access_key")):
            text = text.replace(line + "\n", "", 1)
    ready.credentials.write_text(text)
    alice = {"AWS_ACCESS_KEY_ID": ready.alice.access_key,
             "AWS_SECRET_ACCESS_KEY": ready.alice.secret_key}  # fmt: skip
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=alice)
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == ready.alice.access_key
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY, env=alice).returncode == 0  # alice's: reused
    bob = ready.fake.add_user("bob")
    bobs = {"AWS_ACCESS_KEY_ID": bob.access_key, "AWS_SECRET_ACCESS_KEY": bob.secret_key}
    for mode in (["--credential-process"], ["--env"], PRINT_KEY, ["--login"]):
        done = ready.run(AWS_MFA_RUN, *mode, env=bobs)
        assert done.returncode == 4, (mode, done.stdout, done.stderr)
        assert ready.fake.calls["GetSessionToken"] == 1, mode


def test_a_role_login_target_of_the_previous_keys_is_not_kept(ready: Bed) -> None:
    """`aws mfa -p admin` stored alice's role credentials in admin-mfa; with bob's keys in the
    source, a login without a code does not call them still valid ("nothing to do")."""
    with_roles(ready)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "admin-mfa")[RECORDED] == ready.alice.access_key
    switch_default_to_bob(ready)
    done = ready.run(AWS_MFA_RUN, "--login", "-p", "admin")
    assert "nothing to do" not in done.stderr
    assert done.returncode == 4, done.stderr
