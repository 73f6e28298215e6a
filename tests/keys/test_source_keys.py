"""A stored MFA session belongs to the long-term key it was made with: once the source profile
holds another IAM user's keys (`aws configure`, an edit), that session is never reused by any
mode; --rotate-keys (a new key of the same user) keeps it; sessions of the previous version (no
key recorded) keep working."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time

import pytest

from conftest import AWS, AWS_MFA_RUN, Bed
from fakeaws import User
from helpers import (
    WHOAMI,
    add_profile_with_alices_key,
    keyring_entry,
    type_keys,
    use_test_keyring,
    with_roles,
)

RECORDED = "aws_mfa_run_source_key_id"
PRINT_KEY = [sys.executable, "-c", "import os; print(os.environ['AWS_ACCESS_KEY_ID'])"]


def another_tools_session(bed: Bed) -> dict[str, str]:
    """Session credentials of another IAM user, bob, as another tool exports them (made with
    the real `aws sts get-session-token`; no mark of ours)."""
    bob = bed.fake.add_user("bob")
    bobs_keys = {"AWS_ACCESS_KEY_ID": bob.access_key, "AWS_SECRET_ACCESS_KEY": bob.secret_key}
    made = bed.run(AWS, "sts", "get-session-token", "--output", "json", env=bobs_keys)
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": answer["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": answer["SecretAccessKey"],
        "AWS_SESSION_TOKEN": answer["SessionToken"],
    }


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


@pytest.mark.parametrize("damaged", ["", "not a key id"])
def test_a_damaged_record_of_the_sessions_key_is_named_as_such(ready: Bed, damaged: str) -> None:
    """An edit that empties or garbles the record of the key a session was made with: the
    session is not reused (it may be another user's), and --status says the record is damaged
    instead of naming an empty or garbled key."""
    ready.login()
    text = ready.credentials.read_text()
    line = f"{RECORDED} = {ready.alice.access_key}"
    assert line in text
    ready.credentials.write_text(text.replace(line, f"{RECORDED} = {damaged}".rstrip()))
    status = ready.run(AWS_MFA_RUN, "--status")
    assert status.returncode == 0, status.stderr
    (row,) = [line for line in status.stdout.splitlines() if line.startswith("default ")]
    assert f"its record of the access key it was made with ({RECORDED}) is damaged" in row, row
    assert "made with access key ," not in status.stdout
    done = ready.run(AWS_MFA_RUN, "--credential-process")
    assert done.returncode == 4 and ready.fake.calls["GetSessionToken"] == 1, done.stderr
    assert "record of the access key it was made with is damaged" in done.stderr, done.stderr
    assert "access key ," not in done.stderr


def test_another_tools_session_exported_beside_a_profile_without_keys_gets_nothing(
    ready: Bed,
) -> None:
    """[default] holds no keys: alice logged in with her exported long-term keys. The shell now
    exports bob's session credentials (another tool's, no mark of ours): no long-term key of
    default can be seen, so her stored session is served by no mode; each says why. Our own
    session exported (`--env`, a run nested in ours) is still served."""
    alice = ready.alice
    ready.credentials.write_text("")
    ready.config.write_text(f"[default]\nregion = eu-west-1\nmfa_serial = {ready.device.serial}\n")
    exported = {"AWS_ACCESS_KEY_ID": alice.access_key, "AWS_SECRET_ACCESS_KEY": alice.secret_key}
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=exported)
    assert done.returncode == 0, done.stderr
    mfa = ready.ini_section(ready.credentials, "mfa")
    bobs_session = another_tools_session(ready)
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode, env=bobs_session)
        assert done.returncode != 0, (mode, done.stdout)
        assert mfa["aws_access_key_id"] not in done.stdout, mode
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert "Profile 'default' has no long-term keys" in done.stderr, done.stderr
    status = ready.run(AWS_MFA_RUN, "--status", env=bobs_session)
    assert "shows no long-term key here" in status.stdout and " : " not in status.stdout
    ours = ready.run(AWS_MFA_RUN, "--env", env=exported)
    assert ours.returncode == 0, ours.stderr
    nested = ready.run("sh", "-c", f"eval \"$({AWS_MFA_RUN} --env)\"; {AWS_MFA_RUN} --env",
                       env=exported)  # fmt: skip
    assert nested.returncode == 0 and mfa["aws_access_key_id"] in nested.stdout, nested.stderr
    assert ready.fake.calls["GetSessionToken"] == 2  # alice's login, and bob's own


def test_another_tools_session_beside_a_keyring_profile_without_its_record_costs_no_code(
    ready: Bed,
) -> None:
    """alice's keys in the keyring, the record of their id gone (an earlier version wrote none),
    and another tool's session exported: her stored session is served after a look at the
    keyring, which holds her key, and the record is written again; no code, no "(--force)"."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    ready.login()
    record = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n"
    assert record in ready.credentials.read_text()
    ready.credentials.write_text(ready.credentials.read_text().replace(record, ""))
    bobs_session = another_tools_session(ready)
    mfa = ready.ini_section(ready.credentials, "mfa")
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode, env=bobs_session)
        assert done.returncode == 0, (mode, done.stderr)
        assert mfa["aws_access_key_id"] in done.stdout, mode
    assert record in ready.credentials.read_text()
    assert ready.fake.calls["GetSessionToken"] == 2  # alice's login, and bob's own


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


@pytest.mark.parametrize("place", ["file", "config", "keyring"])
def test_rotate_keys_keeps_role_logins_and_role_credentials_and_deletes_the_old_key(
    ready: Bed, place: str
) -> None:
    """README: --rotate-keys keeps the session, and "the same holds for role credentials
    assumed with it": a role login target (`aws mfa CODE -p admin`) and a role cache both record
    the old key; the rotation moves them to the new one, deletes the old key, and neither a
    code nor another AssumeRole is needed afterwards."""
    use_test_keyring(ready)
    with_roles(ready)
    if place == "keyring":
        assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    if place == "config":
        lines = ready.credentials.read_text().split("\n")
        keys = [line for line in lines if line.startswith("aws_")][:2]
        ready.credentials.write_text("\n".join(line for line in lines if line not in keys))
        config = ready.config.read_text()
        assert config.startswith("[default]\n")
        ready.config.write_text(
            config.replace("[default]\n", "[default]\n" + "\n".join(keys) + "\n", 1)
        )
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    assert ready.run(AWS_MFA_RUN, "-p", "admin", "true").returncode == 0
    old = ready.alice.access_key
    assumed = dict(ready.fake.assumed)
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert old not in ready.alice.keys and len(ready.alice.keys) == 1, done.stderr
    assert "still to delete" not in ready.run(AWS_MFA_RUN, "--status").stdout
    (new,) = ready.alice.keys
    assert ready.ini_section(ready.credentials, "admin-mfa")[RECORDED] == new
    assert [cache[RECORDED] for cache in role_caches(ready)] == [new]
    for mode in (["-p", "admin", *PRINT_KEY], ["--credential-process", "-p", "admin"]):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    done = ready.run(AWS_MFA_RUN, "--login", "-p", "admin")
    assert done.returncode == 0 and "nothing to do" in done.stderr, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1 and ready.fake.assumed == assumed


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
    # A stale session token left beside bob's long-term key (a shell that ran under a wrapper)
    # does not make alice's session his either.
    stale = {**bobs, "AWS_SESSION_TOKEN": "stale", "AWS_SECURITY_TOKEN": "stale"}
    served = ready.ini_section(ready.credentials, "mfa")["aws_access_key_id"]
    for mode in (["--credential-process"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode, env=stale)
        assert done.returncode != 0 and served not in done.stdout, (mode, done.stdout)


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


def test_store_keys_of_another_users_key_ends_the_role_login_target(ready: Bed) -> None:
    """`aws mfa -p admin` stored alice's role credentials in admin-mfa (its source recorded as
    admin); bob's keys go into the keyring: that target is marked ended too, as [mfa] is."""
    use_test_keyring(ready)
    with_roles(ready)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    before = ready.ini_section(ready.credentials, "admin-mfa")
    switch_default_to_bob(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    after = ready.ini_section(ready.credentials, "admin-mfa")
    ended = datetime.datetime.fromisoformat(after["aws_mfa_run_expiration"].replace("Z", "+00:00"))
    assert ended <= datetime.datetime.now(datetime.timezone.utc), after
    # Only our expiration line changed.
    assert {**after, "aws_mfa_run_expiration": ""} == {**before, "aws_mfa_run_expiration": ""}


def role_caches(bed: Bed) -> list[dict[str, str]]:
    """The recorded lines of every role cache in the bed (no secret is compared from them)."""
    found = []
    for path in sorted((bed.aws_dir / "aws-mfa-run" / "roles").glob("*.ini")):
        found.append(bed.ini_section(path, "role"))
    return found


def assert_nothing_served(bed: Bed, *modes: list[str]) -> None:
    """Each mode asks for a new session (exit 4: no terminal, no code) and serves no key."""
    for mode in modes:
        done = bed.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 4, (mode, done.stdout, done.stderr)
        assert "ASIA" not in done.stdout, mode


ROLE_AND_SESSION_MODES = (
    ["--credential-process"],
    ["--env"],
    PRINT_KEY,
    ["-p", "admin", *PRINT_KEY],
    ["--credential-process", "-p", "admin"],
)


def test_store_keys_of_another_users_key_ends_the_sessions_of_the_old_one(ready: Bed) -> None:
    """alice's session and role credentials are stored; bob's keys replace hers in [default]
    and --store-keys moves them into the keyring, where no file shows their id: alice's
    session and role credentials are never served again (they end: our own lines only)."""
    use_test_keyring(ready)
    with_roles(ready)
    ready.login()
    assert ready.run(AWS_MFA_RUN, "-p", "admin", "true").returncode == 0
    assert ready.fake.assumed == {"admin": 1}
    bob = switch_default_to_bob(ready)
    before = ready.credentials.read_text().splitlines()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0, done.stderr
    assert keyring_entry(ready)["AccessKeyId"] == bob.access_key  # type: ignore[index]
    after = ready.credentials.read_text().splitlines()
    # Only bob's two key lines left the file, and only the session's expiration changed.
    removed = [line for line in before if line not in after]
    added = [line for line in after if line not in before]
    assert sorted(removed) == sorted(
        [
            f"aws_access_key_id = {bob.access_key}",
            f"aws_secret_access_key = {bob.secret_key}",
            next(line for line in before if line.startswith("aws_mfa_run_expiration")),
        ]
    ), (removed, added)
    # And the id of bob's key is recorded where his key lines were (no secret).
    assert sorted(line.split(" = ")[0] for line in added) == [
        "aws_mfa_run_expiration",
        "aws_mfa_run_keyring_key_id",
    ], added
    assert f"aws_mfa_run_keyring_key_id = {bob.access_key}" in added
    assert_nothing_served(ready, *ROLE_AND_SESSION_MODES)
    assert ready.fake.calls["GetSessionToken"] == 1 and ready.fake.assumed == {"admin": 1}
    (row, *_) = json.loads(ready.run(AWS_MFA_RUN, "--status", "--json").stdout)["profiles"]
    assert row["profile"] == "default" and row["seconds_left"] == 0, row
    # bob's code gets bob's session (his keys from the keyring), served from then on.
    ready.login(device=bob.devices[0])
    done = ready.run(AWS_MFA_RUN, *PRINT_KEY)
    assert done.returncode == 0 and ready.fake.sessions[done.stdout.strip()].user is bob


def test_store_keys_of_the_same_key_keeps_the_sessions(ready: Bed) -> None:
    use_test_keyring(ready)
    with_roles(ready)
    ready.login()
    assert ready.run(AWS_MFA_RUN, "-p", "admin", "true").returncode == 0
    session = ready.ini_section(ready.credentials, "mfa")
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    assert ready.ini_section(ready.credentials, "mfa") == session
    for mode in ROLE_AND_SESSION_MODES:
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 1 and ready.fake.assumed == {"admin": 1}


def test_typed_keys_of_another_user_end_the_sessions_of_the_old_one(ready: Bed) -> None:
    """The keys' lines were taken out of the files (no key id to compare); --store-keys with
    bob's keys typed at the terminal ends alice's stored session."""
    use_test_keyring(ready)
    ready.login()
    bob = ready.fake.add_user("bob")
    text = ready.credentials.read_text()
    for line in (
        f"aws_access_key_id = {ready.alice.access_key}\n",
        f"aws_secret_access_key = {ready.alice.secret_key}\n",
    ):
        assert line in text
        text = text.replace(line, "", 1)
    ready.credentials.write_text(text)
    child = type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys"), bob)
    assert child.exitstatus == 0, child.before
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_kill_right_after_typed_keys_reach_the_keyring_serves_no_old_session(
    ready: Bed,
) -> None:
    """alice's key lines were taken out of the files; bob's keys are typed into --store-keys,
    which is killed the moment they are in the keyring (nothing else done): alice's stored
    session is never served, and running --store-keys again finishes the job."""
    use_test_keyring(ready)
    ready.login()
    bob = ready.fake.add_user("bob")
    text = ready.credentials.read_text()
    for line in key_lines(ready.alice):
        text = text.replace(line, "", 1)
    ready.credentials.write_text(text)
    killed = {**ready.env, "FILEKEYRING_KILL_AFTER_SET": "1"}
    child = type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys", env=killed), bob)
    assert child.signalstatus == 9, (child.exitstatus, child.before)
    assert keyring_entry(ready)["AccessKeyId"] == bob.access_key  # type: ignore[index]
    assert_nothing_served(ready, ["-p", "default", *PRINT_KEY], ["--env"])
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0, done.stderr
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)
    assert ready.fake.calls["GetSessionToken"] == 1


def key_lines(user: User) -> list[str]:
    return [
        f"aws_access_key_id = {user.access_key}\n",
        f"aws_secret_access_key = {user.secret_key}\n",
    ]


def put_bobs_keys_into_default(bed: Bed) -> User:
    """`aws configure set` of bob's keys (and device) into [default], which holds no keys."""
    bob = bed.fake.add_user("bob")
    text = bed.credentials.read_text()
    before_session = text.split("[mfa]")[0]
    assert (
        "[default]\n" in text
        and f"aws_access_key_id = {bed.alice.access_key}" not in before_session
    )
    bed.credentials.write_text(
        text.replace(
            "[default]\n",
            f"[default]\naws_access_key_id = {bob.access_key}\n"
            f"aws_secret_access_key = {bob.secret_key}\n",
            1,
        )
    )
    bed.config.write_text(bed.config.read_text().replace(bed.device.serial, bob.devices[0].serial))
    return bob


def test_role_credentials_record_the_key_of_their_session_when_keys_are_in_the_keyring(
    ready: Bed,
) -> None:
    """The source's keys are in the keyring, so no file shows their id when the role is
    assumed: the cache records the key its MFA session was made with (alice's), and bob's keys
    put into [default] later never get alice's role credentials."""
    use_test_keyring(ready)
    with_roles(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 0, done.stderr
    (cache,) = role_caches(ready)
    assert cache[RECORDED] == ready.alice.access_key, cache
    assert cache["aws_mfa_run_source_profile"] == "default"
    put_bobs_keys_into_default(ready)
    assert_nothing_served(
        ready, ["-p", "admin", *PRINT_KEY], ["--credential-process", "-p", "admin"]
    )
    assert ready.fake.assumed == {"admin": 1}


def test_role_credentials_record_the_key_their_session_was_made_with_not_a_later_one(
    ready: Bed,
) -> None:
    """bob's keys replace alice's while her AssumeRole answer is on its way: the role cache
    records alice's key (the one her session was made with), so bob's setup never gets it."""
    with_roles(ready)

    def switch() -> None:
        switch_default_to_bob(ready)

    ready.fake.on_answer["AssumeRole"] = switch
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 0, done.stderr
    assert ready.alice.access_key not in ready.credentials.read_text().split("[mfa]")[0]
    (cache,) = role_caches(ready)
    assert cache[RECORDED] == ready.alice.access_key, cache
    assert_nothing_served(
        ready, ["-p", "admin", *PRINT_KEY], ["--credential-process", "-p", "admin"]
    )
    assert ready.fake.assumed == {"admin": 1}


def test_status_says_role_credentials_of_the_previous_keys_are_not_reused(ready: Bed) -> None:
    with_roles(ready)
    ready.login()
    assert ready.run(AWS_MFA_RUN, "-p", "admin", "true").returncode == 0
    switch_default_to_bob(ready)
    document = json.loads(ready.run(AWS_MFA_RUN, "--status", "--json").stdout)
    (admin,) = [row for row in document["profiles"] if row["profile"] == "admin"]
    (cache,) = admin["role_caches"]
    assert cache["seconds_left"] > 0 and ready.alice.access_key in cache["not_reused"], cache
    text = ready.run(AWS_MFA_RUN, "--status").stdout
    (line,) = [line for line in text.splitlines() if line.startswith("admin ")]
    assert "made with access key " + ready.alice.access_key in line, text
    assert "valid" not in line, line


# ---- a login or a role fetch already waiting for AWS when the keys move into the keyring -------


def switch_to_bob_and_store_keys(bed: Bed, results: list[int]) -> None:
    """bob's keys replace alice's in [default] and `--store-keys` moves them into the keyring:
    another terminal, while one of alice's calls waits for AWS's answer."""
    switch_default_to_bob(bed)
    done = bed.run(AWS_MFA_RUN, "--store-keys")
    assert bob_in_keyring(bed), done.stderr
    results.append(done.returncode)


def bob_in_keyring(bed: Bed) -> bool:
    entry = keyring_entry(bed)
    return entry is not None and entry["AccessKeyId"] != bed.alice.access_key


def test_a_login_waiting_for_aws_while_keys_are_stored_never_serves_the_old_users_session(
    ready: Bed,
) -> None:
    """alice's `aws mfa CODE` waits for GetSessionToken's answer while bob's keys go into the
    keyring: the session it stores afterwards is alice's, and no mode serves it for bob's."""
    use_test_keyring(ready)
    stored: list[int] = []
    ready.fake.on_answer["GetSessionToken"] = lambda: switch_to_bob_and_store_keys(ready, stored)
    ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert stored == [0]
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == ready.alice.access_key
    assert_nothing_served(
        ready, ["--credential-process"], ["--env"], PRINT_KEY, ["-p", "default", *PRINT_KEY]
    )
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_role_fetch_waiting_for_aws_while_keys_are_stored_never_serves_the_old_users_role(
    ready: Bed,
) -> None:
    """alice's role credentials are on their way (AssumeRole) while bob's keys go into the
    keyring: the role cache written afterwards is alice's, and never served for bob's keys."""
    use_test_keyring(ready)
    with_roles(ready)
    ready.login()
    stored: list[int] = []
    ready.fake.on_answer["AssumeRole"] = lambda: switch_to_bob_and_store_keys(ready, stored)
    assert ready.run(AWS_MFA_RUN, "-p", "admin", "true").returncode == 0
    assert stored == [0]
    (cache,) = role_caches(ready)
    assert cache[RECORDED] == ready.alice.access_key, cache
    assert_nothing_served(ready, *ROLE_AND_SESSION_MODES)
    assert ready.fake.assumed == {"admin": 1}


def test_keys_in_the_keyring_of_an_earlier_version_get_their_id_recorded_at_the_next_login(
    ready: Bed,
) -> None:
    """An earlier version moved the keys into the keyring without recording their id where
    they were: the next login records it, and that session is reused from then on."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    line = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n"
    assert line in ready.credentials.read_text()
    ready.credentials.write_text(ready.credentials.read_text().replace(line, ""))
    ready.login()
    assert line in ready.credentials.read_text()
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        assert ready.run(AWS_MFA_RUN, *mode).returncode == 0, mode
    assert ready.fake.calls["GetSessionToken"] == 1


def remove_key_lines(bed: Bed, user: User) -> None:
    text = bed.credentials.read_text()
    for line in key_lines(user):
        assert line in text
        text = text.replace(line, "", 1)
    bed.credentials.write_text(text)


def test_typed_keys_killed_in_the_keyring_while_a_login_waits_never_serve_its_session(
    ready: Bed,
) -> None:
    """alice's `aws mfa CODE` waits for AWS's answer while her key lines are taken out and bob's
    keys are typed into --store-keys, which is killed the moment they are in the keyring (no
    credential_process written yet): the session alice's login stores is never served."""
    use_test_keyring(ready)
    bob = ready.fake.add_user("bob")
    killed = {**ready.env, "FILEKEYRING_KILL_AFTER_SET": "1"}

    def type_bobs_keys() -> None:
        remove_key_lines(ready, ready.alice)
        type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys", env=killed), bob)

    ready.fake.on_answer["GetSessionToken"] = type_bobs_keys
    ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert keyring_entry(ready)["AccessKeyId"] == bob.access_key  # type: ignore[index]
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == ready.alice.access_key
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)
    assert ready.fake.calls["GetSessionToken"] == 1


def test_typed_keys_the_keyring_refuses_change_no_file(ready: Bed) -> None:
    """The keyring refuses the typed keys (locked, its unlock cancelled): exit 3, and the
    credentials and config files are as they were, byte for byte, the stored session too."""
    use_test_keyring(ready)
    ready.login()
    bob = ready.fake.add_user("bob")
    remove_key_lines(ready, ready.alice)
    before = ready.snapshot()
    refusing = {**ready.env, "FILEKEYRING_REFUSE_SET": "1"}
    child = type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys", env=refusing), bob)
    assert child.exitstatus == 3, child.before
    assert ready.snapshot() == before
    assert keyring_entry(ready) is None


def test_our_credential_process_in_the_credentials_file_keeps_the_record_in_step(
    ready: Bed,
) -> None:
    """botocore takes a credential_process from the credentials file too: with ours moved there,
    --rotate-keys keeps the keyring key's record in step, deletes the old key, and the session
    is served without a code."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    own = "credential_process = aws-mfa-run --credential-process -p default\n"
    ready.config.write_text(ready.config.read_text().replace(own, ""))
    text = ready.credentials.read_text()
    ready.credentials.write_text(text.replace("[default]\n", "[default]\n" + own, 1))
    ready.login()
    old = ready.alice.access_key
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    (new,) = list(ready.alice.keys)
    assert new != old
    assert f"aws_mfa_run_keyring_key_id = {new}" in ready.credentials.read_text()
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        assert ready.run(AWS_MFA_RUN, *mode).returncode == 0, mode
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_stale_keyring_record_is_mended_without_a_code(ready: Bed) -> None:
    """The record of the keyring's key id says another key than the keyring holds (an edit, a
    kill in --rotate-keys): the keyring decides, the session of its key is served without a
    code, and the record is mended."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    ready.login()
    line = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}"
    stale = "aws_mfa_run_keyring_key_id = AKIAIOSFODNN7EXAMPLE"
    ready.credentials.write_text(ready.credentials.read_text().replace(line, stale))
    done = ready.run(AWS_MFA_RUN, *PRINT_KEY)
    assert done.returncode == 0, done.stderr
    assert line in ready.credentials.read_text()
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_failed_login_does_not_write_the_keyring_record(ready: Bed) -> None:
    """A login whose keys come from the keyring and that fails (AWS unreachable) changes no
    file, not even to record the keyring key's id an earlier version did not record."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    line = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n"
    ready.credentials.write_text(ready.credentials.read_text().replace(line, ""))
    before = ready.snapshot()
    ready.fake.failing.add("GetSessionToken")
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 6, done.stderr
    assert ready.snapshot() == before


@pytest.mark.parametrize("place", ["file", "keyring"])
def test_a_login_waiting_for_aws_while_the_key_is_rotated_keeps_its_session(
    ready: Bed, place: str
) -> None:
    """`aws mfa --force` has read the old key when --rotate-keys replaces it (the same IAM
    user's) and deletes it; its GetSessionToken, already on its way, is served (IAM takes a
    moment to forget a deleted key). The session it stores afterwards is served from then on,
    without another code. The rotation runs from the login's mfa_process: between the login's
    reading of the keys and its call."""
    use_test_keyring(ready)
    if place == "keyring":
        assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    ready.login()
    old = ready.alice.access_key
    ready.fake.deleted_key_grace = 120
    code = ready.root / "code"
    rotated = ready.root / "rotated"
    process = (
        f"sh -c '{AWS_MFA_RUN} --rotate-keys >/dev/null 2>&1; echo $? > {rotated}; cat {code}'"
    )
    text = ready.config.read_text()
    ready.config.write_text(text.replace("[default]\n", f"[default]\nmfa_process = {process}\n", 1))
    code.write_text(ready.fresh_code())
    done = ready.run(AWS_MFA_RUN, "--login", "--force")
    assert done.returncode == 0, done.stderr
    assert rotated.read_text().strip() == "0" and old not in ready.alice.keys
    # From here a request for a code fails at once (not another rotation inside a run).
    ready.config.write_text(ready.config.read_text().replace(process, "sh -c 'exit 1'"))
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        run = ready.run(AWS_MFA_RUN, *mode)
        assert run.returncode == 0, (mode, run.stderr)
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_keyring_user_who_ran_aws_configure_with_other_keys_is_told_the_way_out(
    ready: Bed,
) -> None:
    """alice's keys are in the keyring; `aws configure` puts bob's into the files. Neither
    --store-keys nor --unstore-keys drops a key (either may be its only copy): both refuse,
    change nothing, and say how to choose; once the entry is deleted as they say, --store-keys
    stores bob's."""
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    bob = put_bobs_keys_into_default(ready)
    before = ready.snapshot()
    for mode in ("--store-keys", "--unstore-keys"):
        done = ready.run(AWS_MFA_RUN, mode)
        assert done.returncode == 3, (mode, done.stderr)
        assert "delete the keyring entry (service aws-mfa-run, user default;" in done.stderr
        assert "secret-tool clear service aws-mfa-run username default" in done.stderr
        assert ready.alice.access_key in done.stderr and len(done.stderr.splitlines()) == 1
        assert ready.snapshot() == before
    keyring = ready.home / "test-keyring.json"  # what secret-tool clear does to the entry
    entries = json.loads(keyring.read_text())
    del entries["aws-mfa-run\0default"]
    keyring.write_text(json.dumps(entries))
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0, done.stderr
    assert keyring_entry(ready)["AccessKeyId"] == bob.access_key  # type: ignore[index]


# ---- the keyring record against an emptied keyring, environment keys, a keyring that fails ------


def keyring_user_with_a_session(bed: Bed) -> None:
    """alice's keys in the keyring (--store-keys records their id) and her session stored."""
    use_test_keyring(bed)
    assert bed.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    bed.login()


def empty_the_keyring(bed: Bed) -> None:
    keyring = bed.home / "test-keyring.json"
    keyring.write_text("{}")


@pytest.mark.parametrize("process", ["ours", "none"])
def test_a_record_whose_entry_is_gone_never_beats_environment_keys(
    ready: Bed, process: str
) -> None:
    """The keyring entry was removed by hand; bob's long-term keys are exported. The full path
    signs with bob's keys, so alice's session (and the record of her key) is never served."""
    keyring_user_with_a_session(ready)
    empty_the_keyring(ready)
    if process == "none":
        own = "credential_process = aws-mfa-run --credential-process -p default\n"
        ready.config.write_text(ready.config.read_text().replace(own, ""))
    bob = ready.fake.add_user("bob")
    ready.env.update(AWS_ACCESS_KEY_ID=bob.access_key, AWS_SECRET_ACCESS_KEY=bob.secret_key)
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)


def test_an_empty_keyring_never_takes_a_typed_stores_record_away(ready: Bed) -> None:
    """A typed --store-keys of bob's keys has recorded their id and waits for the keyring (an
    unlock dialog): a run meanwhile finds the record at odds with alice's session, looks, finds
    the keyring empty, and leaves the record, so alice's session is served neither now nor
    once bob's keys land."""
    use_test_keyring(ready)
    ready.login()
    bob = ready.fake.add_user("bob")
    remove_key_lines(ready, ready.alice)
    text = ready.credentials.read_text()
    record = f"aws_mfa_run_keyring_key_id = {bob.access_key}\n"
    ready.credentials.write_text(text.replace("[default]\n", "[default]\n" + record, 1))
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode)  # no keys anywhere yet: exit 3, nothing served
        assert done.returncode == 3 and "ASIA" not in done.stdout, (mode, done.stderr)
    assert record in ready.credentials.read_text()
    keyring = ready.home / "test-keyring.json"
    entry = {"Version": 1, "AccessKeyId": bob.access_key, "SecretAccessKey": bob.secret_key}
    keyring.write_text(json.dumps({"aws-mfa-run\0default": json.dumps(entry)}))
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)


def test_typed_keys_whose_read_back_fails_keep_their_record(ready: Bed) -> None:
    """The keyring takes bob's typed keys, then refuses to read them back: --store-keys fails
    (exit 3), but the keys are in the keyring, so their record stays and alice's session is
    never served."""
    use_test_keyring(ready)
    ready.login()
    bob = ready.fake.add_user("bob")
    remove_key_lines(ready, ready.alice)
    refusing = {**ready.env, "FILEKEYRING_REFUSE_READ": "after-set"}
    child = type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys", env=refusing), bob)
    assert child.exitstatus == 3, child.before
    assert keyring_entry(ready)["AccessKeyId"] == bob.access_key  # type: ignore[index]
    assert f"aws_mfa_run_keyring_key_id = {bob.access_key}" in ready.credentials.read_text()
    assert_nothing_served(ready, ["--credential-process"], ["--env"], PRINT_KEY)


def test_a_keyring_refusing_the_record_after_the_code_was_spent_loses_no_session(
    ready: Bed,
) -> None:
    """Keys in the keyring, their id not recorded (an earlier version); the keyring answers the
    login's first read and refuses the second (a keychain whose second prompt was denied): the
    code is spent already, so the session is stored all the same, and served."""
    keyring_user_with_a_session(ready)
    line = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n"
    ready.credentials.write_text(ready.credentials.read_text().replace(line, ""))
    refusing = {**ready.env, "FILEKEYRING_REFUSE_READ": "2"}
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--force", env=refusing)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY).returncode == 0


def test_a_keyring_waiting_for_its_user_holds_up_no_other_login(ready: Bed) -> None:
    """A run mending a stale record waits for the keyring (an unlock dialog left open): another
    profile's login, whose keys are in a file, is not held up meanwhile (its code would be
    spent, then its session lost to a lock wait)."""
    keyring_user_with_a_session(ready)
    line = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}"
    stale = "aws_mfa_run_keyring_key_id = AKIAIOSFODNN7EXAMPLE"
    ready.credentials.write_text(ready.credentials.read_text().replace(line, stale))
    bob = ready.add_profile("work", "bob", region="eu-west-1")
    unlocked = ready.root / "unlocked"
    waiting = {**ready.env, "FILEKEYRING_READ_WAITS_FOR": str(unlocked)}
    mending = subprocess.Popen(
        [AWS_MFA_RUN, "--credential-process"],
        env=waiting,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        marker = ready.root / "unlocked.waiting"
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists() and mending.poll() is None
        done = ready.run(AWS_MFA_RUN, "--login", bob.devices[0].code(), "-p", "work", timeout=50)
        assert done.returncode == 0, done.stderr
        assert mending.poll() is None  # still waiting for the keyring: no lock was in the way
    finally:
        unlocked.touch()
        mending.wait(timeout=60)
    assert mending.returncode == 0


def test_typed_keys_refused_into_no_credentials_file_leave_none(ready: Bed) -> None:
    use_test_keyring(ready)
    ready.credentials.unlink()
    erin = ready.fake.add_user("erin")
    refusing = {**ready.env, "FILEKEYRING_REFUSE_SET": "1"}
    child = type_keys(ready.spawn(AWS_MFA_RUN, "--store-keys", "-p", "erin", env=refusing), erin)
    assert child.exitstatus == 3, child.before
    assert not ready.credentials.exists()


def test_a_rotation_of_one_profile_leaves_another_profile_of_the_same_key_its_sessions(
    ready: Bed,
) -> None:
    """[ci] holds the same key as [default]; --rotate-keys of default keeps the old key (ci
    still names it), and a later login of ci records its session as made with the key ci holds,
    not with default's new one: served from then on without another code."""
    alice = ready.alice
    old = alice.access_key
    add_profile_with_alices_key(ready)
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and "not deleted" in done.stderr, done.stderr
    # What is left to do, without a command to paste that would end ci's access.
    assert "stays in IAM until nothing uses it: give what uses it the new key" in done.stderr
    assert "delete-access-key" not in done.stderr
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "ci")
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "ci-mfa")[RECORDED] == old
    done = ready.run(AWS_MFA_RUN, "-p", "ci", *PRINT_KEY)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_profile_holding_its_old_key_again_keeps_the_sessions_it_makes(ready: Bed) -> None:
    """--rotate-keys of default kept the old key (ci names it) and noted old -> new. The user
    then restores the credentials file from a backup: default holds the old key again. A login
    of default records its session as made with the old key, the one default holds: served from
    then on without another code (not mapped to the new key by the stale note)."""
    old = ready.alice.access_key
    add_profile_with_alices_key(ready)
    backup = ready.credentials.read_text()
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and "not deleted" in done.stderr, done.stderr
    ready.credentials.write_text(backup)  # default holds the old key again, no session stored
    ready.login()
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == old
    for mode in (["--credential-process"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_profile_taking_its_old_key_from_the_environment_keeps_its_sessions(
    ready: Bed,
) -> None:
    """As above, but the user then takes default's keys out of the file and exports the old key
    instead: a login records its session as made with the key the environment gives default,
    served from then on without another code."""
    alice = ready.alice
    old = alice.access_key
    add_profile_with_alices_key(ready)
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and "not deleted" in done.stderr, done.stderr
    text = ready.credentials.read_text()
    start = text.index("[default]")
    end = text.find("\n[", start + 1)
    ready.credentials.write_text(text[:start] + (text[end + 1 :] if end >= 0 else ""))
    exported = {"AWS_ACCESS_KEY_ID": old, "AWS_SECRET_ACCESS_KEY": alice.secret_key}
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=exported)
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "mfa")[RECORDED] == old
    for mode in (["--credential-process"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode, env=exported)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 2


def test_exported_keys_of_another_tool_beside_a_keyring_profile_cost_a_keyring_read(
    ready: Bed,
) -> None:
    """alice's keys are in the keyring (our credential_process); bob's keys are exported for
    some other tool. Her valid session is served after a look at the keyring (which still holds
    her key), without a code; the look is what it costs."""
    keyring_user_with_a_session(ready)
    bob = ready.fake.add_user("bob")
    ready.env.update(AWS_ACCESS_KEY_ID=bob.access_key, AWS_SECRET_ACCESS_KEY=bob.secret_key)
    for mode in (["--credential-process"], ["--env"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode == 0, (mode, done.stderr)
    assert ready.fake.calls["GetSessionToken"] == 1


def test_exported_keys_of_another_tool_beside_a_keyring_profile_keep_its_roles(
    ready: Bed,
) -> None:
    """The same, for role profiles of the keyring profile: the role's cached credentials and
    its login target (`aws mfa -p admin`) are reused after a look at the keyring, with no new
    AssumeRole, and --status says they are reused, as they are."""
    with_roles(ready)
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    assert ready.fake.assumed == {"admin": 1}
    bob = ready.fake.add_user("bob")
    ready.env.update(AWS_ACCESS_KEY_ID=bob.access_key, AWS_SECRET_ACCESS_KEY=bob.secret_key)
    for _ in range(3):
        done = ready.run(AWS_MFA_RUN, "-p", "admin", *PRINT_KEY)
        assert done.returncode == 0, done.stderr
    done = ready.run(AWS_MFA_RUN, "--login", "-p", "admin")
    assert done.returncode == 0 and "already holds role credentials" in done.stderr, done.stderr
    assert ready.fake.assumed == {"admin": 1}
    assert ready.fake.calls["GetSessionToken"] == 1
    status = ready.run(AWS_MFA_RUN, "--status", "--json")
    profiles = {row["profile"]: row for row in json.loads(status.stdout)["profiles"]}
    admin = profiles["admin"]
    assert admin["not_reused"] is None and admin["role_caches"][0]["not_reused"] is None, admin
    assert admin["login_target"]["not_reused"] is None, admin


def test_a_keyring_entry_left_under_a_removed_profile_serves_nothing(ready: Bed) -> None:
    """alice's keys in the keyring for default, and role credentials of admin made with them.
    The user removes [default] from both files by hand (the entry stays) and exports bob's keys:
    default now gets its keys from the environment alone, so neither alice's session nor her
    role credentials are served to bob's shell, and the refusal writes nothing."""
    with_roles(ready)
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    for path in (ready.credentials, ready.config):
        text = path.read_text()
        start = text.index("[default]")
        end = text.find("\n[", start + 1)
        path.write_text(text[:start] + (text[end + 1 :] if end >= 0 else ""))
    assert keyring_entry(ready) is not None
    bob = ready.fake.add_user("bob")
    ready.env.update(AWS_ACCESS_KEY_ID=bob.access_key, AWS_SECRET_ACCESS_KEY=bob.secret_key)
    before = ready.snapshot()
    served = {session.access_key for session in ready.fake.sessions.values()}
    for mode in (["-p", "admin", *PRINT_KEY], ["-p", "admin", "--credential-process"], PRINT_KEY):
        done = ready.run(AWS_MFA_RUN, *mode)
        assert done.returncode != 0, (mode, done.stdout)
        assert not any(key in done.stdout for key in served), mode
    assert ready.snapshot() == before
    assert ready.fake.assumed == {"admin": 1}


def test_rotation_keeps_an_old_key_another_profiles_own_process_signs_with(ready: Bed) -> None:
    """Profile b gets alice's key from a credential_process of the user's (a password manager):
    only the record of b's session names that key in the files. --rotate-keys of default keeps
    it, and b goes on working."""
    alice = ready.alice
    old = alice.access_key
    script = ready.home / "keys.sh"
    answer = json.dumps({"Version": 1, "AccessKeyId": old, "SecretAccessKey": alice.secret_key})
    script.write_text(f"#!/bin/sh\necho '{answer}'\n")
    script.chmod(0o700)
    with ready.config.open("a") as handle:
        handle.write(
            f"[profile b]\ncredential_process = {script}\nregion = eu-west-1\n"
            f"mfa_serial = {ready.device.serial}\n"
        )
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "b")
    assert done.returncode == 0, done.stderr
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and f"old key {old} is not deleted" in done.stderr, done.stderr
    assert old in alice.keys
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "b", "--force")
    assert done.returncode == 0, done.stderr


def test_a_rotation_whose_note_cannot_be_written_still_ends_well(ready: Bed) -> None:
    """The note of which key replaced which is a convenience: when it cannot be written (its
    name taken by a directory), the rotation still stores the new key, deletes the old one and
    keeps the session."""
    ready.login()
    old = ready.alice.access_key
    (ready.aws_dir / "aws-mfa-run" / "rotated-keys").mkdir()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert old not in ready.alice.keys and len(ready.alice.keys) == 1
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY).returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_session_of_a_profile_no_file_names_keeps_the_old_key_until_it_is_removed(
    ready: Bed,
) -> None:
    """`aws mfa CODE -p admin` left [admin-mfa]; the user then removed [profile admin] (or it
    lives in another config file, where it may still sign with the key: the files cannot tell).
    --rotate-keys stores and uses the new key but keeps the old one, names the section and says
    how to end it (exit 3); once it is removed, the next run deletes the old key, and the
    rotation after is not stopped at IAM's two-key limit."""
    with_roles(ready)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    config = ready.config.read_text()
    start = config.index("[profile admin]")
    end = config.find("\n[", start + 1)
    ready.config.write_text(config[:start] + (config[end + 1 :] if end >= 0 else ""))
    old = ready.alice.access_key
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 3, done.stderr
    said = done.stderr.strip()
    assert len(said.splitlines()) == 1 and "[admin-mfa]" in said and "'admin'" in said, said
    assert "again to finish" in said
    assert old in ready.alice.keys and len(ready.alice.keys) == 2
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY).returncode == 0  # the new key works meanwhile
    text = ready.credentials.read_text()
    start = text.index("[admin-mfa]")
    end = text.find("\n[", start + 1)
    ready.credentials.write_text(text[:start] + (text[end + 1 :] if end >= 0 else ""))
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert len(ready.alice.keys) == 1 and old not in ready.alice.keys, done.stderr
    old = next(iter(ready.alice.keys))
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert len(ready.alice.keys) == 1 and old not in ready.alice.keys, done.stderr


def test_a_session_of_a_profile_no_file_names_hides_no_other_holder(ready: Bed) -> None:
    """As above, and [profile b] of the config file holds the old key too: the rotation names
    that holder, which is certain, and not the way out of an uncertain one ("delete it yourself"
    while b still signs with it)."""
    with_roles(ready)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    config = ready.config.read_text()
    start = config.index("[profile admin]")
    end = config.find("\n[", start + 1)
    alice = ready.alice
    ready.config.write_text(
        config[:start]
        + (config[end + 1 :] if end >= 0 else "")
        + f"[profile b]\naws_access_key_id = {alice.access_key}\n"
        + f"aws_secret_access_key = {alice.secret_key}\n"
    )
    old = alice.access_key
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and "not deleted" in done.stderr, done.stderr
    assert f"{ready.config} still names it" in done.stderr, done.stderr
    assert "delete it yourself" not in done.stderr and "again to finish" not in done.stderr
    assert old in ready.alice.keys and len(ready.alice.keys) == 2


def test_an_unreadable_keyring_entry_hides_no_other_holder(ready: Bed) -> None:
    """[profile a]'s keyring entry cannot be read (access denied to that item), and [profile
    b]'s entry holds the old key: the rotation reads every entry, names b's, which is certain,
    and keeps the key."""
    use_test_keyring(ready)
    add_profile_with_alices_key(ready, "b")
    assert ready.run(AWS_MFA_RUN, "--store-keys", "-p", "b").returncode == 0
    with ready.config.open("a") as handle:
        handle.write("[profile a]\nregion = eu-west-1\n")
    text = ready.config.read_text()
    assert text.index("[profile a]") > text.index("[profile b]")  # a is read after b...
    ready.credentials.write_text("[a]\n" + ready.credentials.read_text())  # ...and before it
    ready.login()
    old = ready.alice.access_key
    denied = {**ready.env, "FILEKEYRING_REFUSE_READ": "of:a"}
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", env=denied)
    assert done.returncode == 0, done.stderr
    assert "the keyring entry of profile 'b' still holds it" in done.stderr, done.stderr
    assert old in ready.alice.keys and len(ready.alice.keys) == 2


def test_a_session_of_default_from_exported_keys_keeps_the_old_key(ready: Bed) -> None:
    """No [default] in any file: `default` logs in with the long-term keys this shell exports,
    which are also [work]'s. --rotate-keys -p work stores work's new key, and keeps the old one:
    default's session records it, and the environment still signs with it."""
    alice = ready.alice
    old = alice.access_key
    text = ready.credentials.read_text().replace("[default]", "[work]", 1)
    ready.credentials.write_text(text)
    config = ready.config.read_text().replace("[default]", "[profile work]", 1)
    ready.config.write_text(config)
    exported = {**ready.env, "AWS_ACCESS_KEY_ID": old, "AWS_SECRET_ACCESS_KEY": alice.secret_key}
    done = ready.run(
        AWS_MFA_RUN, "--login", ready.fresh_code(), "--serial", ready.device.serial, env=exported
    )
    assert done.returncode == 0, done.stderr
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", "-p", "work", "--token-code", ready.fresh_code())
    assert done.returncode == 0 and "not deleted" in done.stderr, done.stderr
    assert old in ready.alice.keys and len(ready.alice.keys) == 2
    # The session default holds is still served to this shell.
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY, env=exported).returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 2  # default's login, and work's


@pytest.mark.parametrize("finish", ["again", "by hand"])
def test_a_keyring_unreadable_at_the_last_check_leaves_the_rotation_to_finish(
    ready: Bed, finish: str
) -> None:
    """The keyring cannot be read when --rotate-keys checks that nothing holds the old key: the
    key is kept, the run says to run it again (exit 3), and the next run deletes it."""
    use_test_keyring(ready)
    ready.login()
    old = ready.alice.access_key
    refusing = {**ready.env, "FILEKEYRING_REFUSE_READ": "1"}
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", env=refusing)
    assert done.returncode == 3 and "again to finish" in done.stderr, done.stderr
    # And the way out should the keyring keep refusing: the command, for this profile and key.
    by_hand = f"aws-mfa-run -p default aws iam delete-access-key --access-key-id {old}"
    assert by_hand in done.stderr, done.stderr
    if finish == "by hand":  # that way out itself, as written
        shell = ready.run("sh", "-c", f"{by_hand} --region us-east-1")
        assert shell.returncode == 0 and old not in ready.alice.keys, shell.stderr
        assert len(ready.alice.keys) == 1
        return
    assert old in ready.alice.keys and len(ready.alice.keys) == 2
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert old not in ready.alice.keys and len(ready.alice.keys) == 1
    assert ready.run(AWS_MFA_RUN, *PRINT_KEY).returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1
