"""Long-term keys: the OS keyring (--store-keys, --unstore-keys), the other sources (environment,
a credential_process of the user's), --rotate-keys, and kills in the middle of moving keys.

The keyring is driven through its real API: the tests' own backend (tests/keyrings/filekeyring.py,
a JSON file in the temporary HOME) is selected the way keyring selects any backend, through
PYTHON_KEYRING_BACKEND, and a real Secret Service (gnome-keyring) is used where it is installed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from conftest import AWS, AWS_MFA_RUN, FIGURES, REPO, Bed
from helpers import EXAMPLES, SERVICE, keyring_entry, kill_delays, type_keys, use_test_keyring

# SIGKILL trials of --store-keys and --rotate-keys: half of AWS_MFA_RUN_TRIALS (CI sets 200:
# 100 each); `make test` makes 40 each, enough for kills to land in every step.
KILL_TRIALS = max(40, int(os.environ.get("AWS_MFA_RUN_TRIALS", "50")) // 2)
# The --rotate-keys trials (the longest tests) are split into shards, tests of their own (a HOME
# and a stand-in each) that pytest-xdist workers run side by side; every shard still spreads its
# kills over the whole run, and has enough of them (20 in make test) for kills to land on each
# side of every step.
KILL_SHARDS = 2


def login(bed: Bed, *args: str) -> None:
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code(), *args)
    assert done.returncode == 0, done.stderr


def key_lines(bed: Bed) -> str:
    return (
        f"aws_access_key_id = {bed.alice.access_key}\n"
        f"aws_secret_access_key = {bed.alice.secret_key}\n"
    )


# ---- the keyring -----------------------------------------------------------------------------


def test_store_keys_moves_them_into_the_keyring_and_everything_keeps_working(ready: Bed) -> None:
    use_test_keyring(ready)
    credentials, config = ready.credentials.read_text(), ready.config.read_text()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0, done.stderr
    # Byte for byte: the two key lines are gone, one line is added to each file (the keys' id,
    # no secret, where they were; our credential_process), nothing else changed.
    recorded = f"aws_mfa_run_keyring_key_id = {ready.alice.access_key}\n"
    assert ready.credentials.read_text() == credentials.replace(key_lines(ready), recorded)
    own = "credential_process = aws-mfa-run --credential-process -p default\n"
    assert ready.config.read_text() == config + own
    assert keyring_entry(ready) == {
        "Version": 1,
        "AccessKeyId": ready.alice.access_key,
        "SecretAccessKey": ready.alice.secret_key,
    }
    assert "keyring" in done.stderr and ready.alice.access_key in done.stderr

    # A new session is fetched with the keys from the keyring, through the alias...
    assert ready.run(AWS, "mfa", ready.fresh_code()).returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1
    # ...and the profile that lost its keys serves its MFA session through credential_process.
    tables = ready.run(
        AWS, "dynamodb", "list-tables", "--query", "TableNames[0]", "--output", "text"
    )
    assert tables.returncode == 0 and tables.stdout.strip() == "orders", tables.stderr
    assert ready.run(AWS_MFA_RUN, "aws", "dynamodb", "list-tables").returncode == 0
    status = ready.run(AWS_MFA_RUN, "--status")
    assert status.stdout.splitlines()[1].split()[4] == "keyring"
    assert ready.fake.calls["GetSessionToken"] == 1

    back = ready.run(AWS_MFA_RUN, "--unstore-keys")
    assert back.returncode == 0, back.stderr
    assert ready.credentials.read_text().startswith(credentials)  # + the [mfa] session
    assert ready.config.read_text().startswith(config)
    assert own not in ready.config.read_text()
    assert keyring_entry(ready) is None
    login(ready, "--force")
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_named_profile_in_the_keyring_serves_aws_profile(ready: Bed) -> None:
    use_test_keyring(ready)
    bob = ready.add_profile("bob", "bob", region="eu-west-1")
    assert ready.run(AWS_MFA_RUN, "--store-keys", "-p", "bob").returncode == 0
    assert f"aws_access_key_id = {bob.access_key}" not in ready.credentials.read_text()
    assert bob.secret_key not in ready.credentials.read_text()
    assert "[profile bob]" in ready.config.read_text()
    code = bob.devices[0].code()
    assert ready.run(AWS_MFA_RUN, "--login", code, "-p", "bob").returncode == 0
    who = ready.run(AWS, "sts", "get-caller-identity", "--profile", "bob", "--query", "Arn")
    assert who.returncode == 0 and who.stdout.strip().strip('"').endswith("user/bob"), who.stderr
    # The keys of default are untouched and still used for default.
    assert ready.alice.access_key in ready.credentials.read_text()
    again = ready.run(AWS_MFA_RUN, "--store-keys", "-p", "bob")
    assert again.returncode == 0 and "already" in again.stderr


def test_warm_path_imports_no_keyring_for_a_keyring_profile(ready: Bed) -> None:
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    login(ready)
    done = ready.run(sys.executable, "-X", "importtime", "-m", "aws_mfa_run", "true")
    assert done.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "aws_mfa_run.cli" in imported
    assert not [n for n in imported if n.startswith(("keyring", "botocore", "filekeyring"))]
    # The same through credential_process, as `aws --profile default` runs it.
    process = ready.run(
        sys.executable, "-X", "importtime", "-m", "aws_mfa_run", "--credential-process"
    )
    assert process.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in process.stderr.splitlines()]
    assert not [n for n in imported if n.startswith(("keyring", "botocore"))]


def test_refusals_change_nothing(ready: Bed) -> None:
    use_test_keyring(ready)
    before = ready.snapshot()
    cases = {
        "no such profile": (["--store-keys", "-p", "nobody"], 3),
        "role profile": (["--store-keys", "-p", "admin"], 3),
    }
    with ready.config.open("a") as handle:
        handle.write("[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/x\n")
        handle.write("source_profile = default\n")
    before = ready.snapshot()
    for name, (args, code) in cases.items():
        done = ready.run(AWS_MFA_RUN, *args)
        assert done.returncode == code, (name, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, (name, done.stderr)
        assert ready.snapshot() == before, name
    # A secret that is no secret key (a space in it) is never moved anywhere.
    text = ready.credentials.read_text()
    ready.credentials.write_text(text.replace(ready.alice.secret_key, "not a key"))
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 3 and "secret access key" in done.stderr
    assert ready.snapshot() == before and keyring_entry(ready) is None


def test_a_second_store_or_unstore_has_nothing_to_do(ready: Bed) -> None:
    """The same rule for both: done already is exit 0, "nothing to do", nothing changed."""
    use_test_keyring(ready)
    for mode in ("--store-keys", "--unstore-keys"):
        assert ready.run(AWS_MFA_RUN, mode).returncode == 0
        before, entry = ready.snapshot(), keyring_entry(ready)
        again = ready.run(AWS_MFA_RUN, mode)
        assert again.returncode == 0 and "nothing to do" in again.stderr, (mode, again.stderr)
        assert ready.snapshot() == before and keyring_entry(ready) == entry
    # No keys anywhere: --unstore-keys has nothing to put back, and says so.
    ready.credentials.write_text("")
    done = ready.run(AWS_MFA_RUN, "--unstore-keys")
    assert done.returncode == 3 and "holds no keys" in done.stderr


def test_a_keyring_entry_nested_too_deep_is_a_sentence(ready: Bed) -> None:
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    path = ready.home / "test-keyring.json"
    path.write_text(json.dumps({f"{SERVICE}\0default": "[" * 100_000 + "]" * 100_000}))
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 3 and "keyring entry" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0


def test_keys_typed_at_the_terminal_go_only_into_the_keyring(bed: Bed) -> None:
    """`--store-keys -p NAME` for a profile without keys anywhere asks for them on the terminal
    without echoing them, and stores them in the keyring only, as aws-vault's `add` does."""
    use_test_keyring(bed)
    erin = bed.fake.add_user("erin")
    child = type_keys(bed.spawn(AWS_MFA_RUN, "--store-keys", "-p", "erin"), erin)
    assert child.exitstatus == 0, child.before
    shown = child.before or ""
    assert erin.secret_key not in shown and erin.access_key + "\r\n" not in shown
    assert keyring_entry(bed, "erin") == {
        "Version": 1,
        "AccessKeyId": erin.access_key,
        "SecretAccessKey": erin.secret_key,
    }
    assert not bed.credentials.exists() or erin.secret_key not in bed.credentials.read_text()
    config = bed.config.read_text()
    assert "credential_process = aws-mfa-run --credential-process -p erin" in config
    assert erin.secret_key not in config and erin.access_key not in config
    # The keys work from the keyring: a login, then the AWS CLI through credential_process.
    device = erin.devices[0]
    login = bed.run(AWS_MFA_RUN, "--login", device.code(), "-p", "erin", "--serial", device.serial)
    assert login.returncode == 0, login.stderr
    for profile in ("erin-mfa", "erin"):  # erin: through its credential_process
        who = bed.run(
            AWS, "sts", "get-caller-identity", "--profile", profile, "--region", "eu-west-1"
        )
        assert who.returncode == 0 and "user/erin" in who.stdout, who.stderr


@pytest.mark.parametrize(
    "typed",
    [("ASIATEMPORARYKEY0001", "secret"), ("AKIA short", "secret"), ("AKIAGOODKEYID0000001", "")],
)
def test_typed_keys_are_checked_before_anything_is_stored(bed: Bed, typed: tuple[str, str]) -> None:
    """A key id that cannot be one is refused before the secret is asked (typed for nothing)."""
    use_test_keyring(bed)
    child = bed.spawn(AWS_MFA_RUN, "--store-keys", "-p", "erin")
    child.expect("Access key ID: ")
    child.sendline(typed[0])
    if typed[0] == "AKIAGOODKEYID0000001":
        child.expect("Secret access key: ")
        child.sendline(typed[1])
    child.expect(pexpect.EOF)
    assert "Secret access key" not in (child.before or "")
    child.close()
    assert child.exitstatus == 3, child.before
    # One sentence about what was typed, and that nothing was stored.
    said = (child.before or "").split("aws-mfa-run: ")[-1]
    assert "typed" in said and "nothing was stored" in said.lower(), said
    assert keyring_entry(bed, "erin") is None
    assert not bed.config.exists() and not bed.credentials.exists()


def test_without_any_keyring_store_keys_changes_nothing(ready: Bed) -> None:
    ready.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 3 and "no OS keyring" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    # It points to README's section on starting one, which is there.
    assert '"Setting up the keyring"' in done.stderr
    readme = (REPO / "README.md").read_text()
    assert "\n### Setting up the keyring\n" in readme
    assert ready.snapshot() == before
    # And --unstore-keys, with the keys in the file already: nothing to do, as a second run.
    done = ready.run(AWS_MFA_RUN, "--unstore-keys")
    assert done.returncode == 0 and "nothing to do" in done.stderr, done.stderr
    assert ready.snapshot() == before
    login(ready)  # the keys are where they were


def test_a_damaged_keyring_entry_is_refused_clearly(ready: Bed) -> None:
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    path = ready.home / "test-keyring.json"
    entry = {"Version": 1, "AccessKeyId": "AKIA\nregion=x", "SecretAccessKey": "s"}
    path.write_text(json.dumps({f"{SERVICE}\0default": json.dumps(entry)}))
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 3 and "keyring entry" in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0


def test_own_credential_process_without_keyring_entry_names_the_fix(ready: Bed) -> None:
    use_test_keyring(ready)
    with ready.config.open("a") as handle:
        handle.write(
            "[profile loop]\ncredential_process = aws-mfa-run --credential-process -p loop\n"
        )
    done = ready.run(AWS_MFA_RUN, "--credential-process", "-p", "loop")
    assert done.returncode == 3
    assert "aws-mfa-run itself" in done.stderr and "--store-keys" in done.stderr


# ---- other sources -----------------------------------------------------------------------------


def test_keys_from_the_environment(bed: Bed) -> None:
    bed.config.write_text(f"[default]\nregion = eu-west-1\nmfa_serial = {bed.device.serial}\n")
    keys = {
        "AWS_ACCESS_KEY_ID": bed.alice.access_key,
        "AWS_SECRET_ACCESS_KEY": bed.alice.secret_key,
    }
    bed.env.update(keys)
    assert not bed.credentials.exists()
    status = bed.run(AWS_MFA_RUN, "--status")
    assert status.stdout.splitlines()[1].split()[4] == "environment"
    login(bed)
    assert bed.fake.calls["GetSessionToken"] == 1
    # aws-mfa-run cannot store keys back into the environment, so it does not rotate them.
    refused = bed.run(AWS_MFA_RUN, "--rotate-keys")
    assert refused.returncode == 3 and "environment" in refused.stderr
    assert bed.fake.calls["CreateAccessKey"] == 0
    # No config at all: the default profile is the environment's.
    bed.config.unlink()
    done = bed.run(
        AWS_MFA_RUN, "--login", bed.fresh_code(), "--force", "--serial", bed.device.serial
    )
    assert done.returncode == 0, done.stderr
    # With a session token they are session keys (a wrapped command's): never long-term keys.
    bed.env["AWS_SESSION_TOKEN"] = "FwoGZXIvYXdzEtoken"
    done = bed.run(
        AWS_MFA_RUN, "--login", bed.fresh_code(), "--force", "--serial", bed.device.serial
    )
    assert done.returncode == 3 and "neither" in done.stderr
    assert bed.fake.calls["GetSessionToken"] == 2


def test_a_credential_process_of_the_users_as_source(ready: Bed) -> None:
    carol = ready.fake.add_user("carol")
    plugin = ready.root / "vault-plugin"
    answer = {"Version": 1, "AccessKeyId": carol.access_key, "SecretAccessKey": carol.secret_key}
    plugin.write_text(f"#!/bin/sh\ntouch \"$HOME/ran\"\necho '{json.dumps(answer)}'\n")
    plugin.chmod(0o700)
    with ready.config.open("a") as handle:
        handle.write(
            f"[profile vault]\ncredential_process = {plugin}\n"
            f"mfa_serial = {carol.devices[0].serial}\nregion = eu-west-1\n"
        )
    status = ready.run(AWS_MFA_RUN, "--status", "-p", "vault")
    assert status.stdout.splitlines()[1].split()[4] == "credential_process"
    assert not (ready.home / "ran").exists()  # --status runs no process
    done = ready.run(AWS_MFA_RUN, "--login", carol.devices[0].code(), "-p", "vault")
    assert done.returncode == 0, done.stderr
    who = ready.run(AWS, "sts", "get-caller-identity", "--profile", "vault-mfa", "--query", "Arn")
    assert who.stdout.strip().strip('"').endswith("user/carol")
    # A process that answers temporary credentials is no source of long-term keys.
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps({**answer, 'SessionToken': 'x'})}'\n")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", "123456", "-p", "vault", "--force")
    assert done.returncode == 3 and "temporary credentials" in done.stderr
    assert ready.snapshot() == before


# ---- rotation ----------------------------------------------------------------------------------


def test_stand_in_demands_mfa_for_access_keys(ready: Bed) -> None:
    plain = ready.run(AWS, "iam", "list-access-keys")
    assert plain.returncode != 0 and "AccessDenied" in plain.stderr
    login(ready)
    listed = ready.run(AWS, "iam", "list-access-keys", "--profile", "mfa")
    assert listed.returncode == 0 and ready.alice.access_key in listed.stdout


@pytest.mark.parametrize("place", ["file", "keyring"])
def test_rotate_keys(ready: Bed, place: str) -> None:
    use_test_keyring(ready)
    if place == "keyring":
        assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    old_key, old_secret = ready.alice.access_key, ready.alice.secret_key
    login(ready)
    credentials = ready.credentials.read_text()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert list(ready.alice.keys) != [old_key] and len(ready.alice.keys) == 1
    ((new_key, (new_secret, _)),) = ready.alice.keys.items()
    if place == "file":
        expected = credentials.replace(old_key, new_key).replace(old_secret, new_secret)
        assert ready.credentials.read_text() == expected
    else:
        # The file holds the old key id only where the session records it: now the new one's.
        assert ready.credentials.read_text() == credentials.replace(old_key, new_key)
        assert keyring_entry(ready) == {
            "Version": 1,
            "AccessKeyId": new_key,
            "SecretAccessKey": new_secret,
        }
    assert old_key in done.stderr and new_key in done.stderr
    assert ready.fake.calls["GetCallerIdentity"] == 1
    # The old key is gone from AWS: it no longer signs anything.
    old_keys = {"AWS_ACCESS_KEY_ID": old_key, "AWS_SECRET_ACCESS_KEY": old_secret}
    refused = ready.run(AWS, "sts", "get-caller-identity", env=old_keys)
    assert refused.returncode != 0 and "InvalidClientTokenId" in refused.stderr
    # The new key is the one in use: a new session is fetched with it.
    login(ready, "--force")
    assert ready.fake.calls["GetSessionToken"] == 2


def test_rotate_keys_refused_at_two_keys(ready: Bed) -> None:
    login(ready)
    other = "AKIAOTHERKEYOFALICE1"
    ready.alice.keys[other] = ("secret/other", time.time() - 86400)
    ready.fake.users[other] = ready.alice
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 5 and "two access keys" in done.stderr
    assert other in done.stderr
    assert ready.snapshot() == before and ready.fake.calls["CreateAccessKey"] == 0


def test_rotate_keys_without_a_session_or_code_fails_before_any_change(ready: Bed) -> None:
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 4
    assert ready.snapshot() == before and ready.fake.calls["CreateAccessKey"] == 0


def notes(bed: Bed) -> list[str]:
    return [p.name for p in (bed.aws_dir / "aws-mfa-run" / "rotations").glob("*.ini")]


def create_key_with_aws(bed: Bed) -> str:
    """`aws iam create-access-key`, run by the user through the real AWS CLI (MFA session)."""
    made = bed.run(
        AWS, "iam", "create-access-key", "--profile", "mfa", "--query", "AccessKey.AccessKeyId"
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().strip('"')


@pytest.mark.parametrize("failure", ["503", "AccessDenied"])
def test_a_failed_create_never_makes_a_later_rotation_delete_another_key(
    ready: Bed, failure: str
) -> None:
    """CreateAccessKey fails; the user then makes a key for CI with the AWS CLI. The next
    --rotate-keys never deletes it: only a key AWS answered us with is ever ours."""
    login(ready)
    old = ready.alice.access_key
    (ready.fake.failing if failure == "503" else ready.fake.denied).add("CreateAccessKey")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == (6 if failure == "503" else 5), done.stderr
    assert f"old key {old} is kept" in done.stderr
    assert ready.snapshot() == before and notes(ready) == []
    ready.fake.failing.clear()
    ready.fake.denied.clear()
    ci_key = create_key_with_aws(ready)
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    # Two keys: refused with both named; the CI key is never deleted.
    assert done.returncode == 5 and ci_key in done.stderr and "Deleted" not in done.stderr
    assert set(ready.alice.keys) == {old, ci_key}
    assert ready.fake.calls["DeleteAccessKey"] == 0


def test_a_create_whose_answer_is_lost_is_not_sent_again(ready: Bed) -> None:
    """CreateAccessKey is done but its answer lost (the connection drops): a second attempt
    would make a second key whose secret nobody ever sees. One attempt: the user is told, the
    old key stays in use, and the one key AWS made is named by the next run, never deleted."""
    login(ready)
    old = ready.alice.access_key
    ready.fake.upcoming["CreateAccessKey"] = ["lost"]
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 6, done.stderr
    assert f"old key {old} is kept" in done.stderr and "list-access-keys" in done.stderr
    assert ready.fake.calls["CreateAccessKey"] == 1
    (made,) = set(ready.alice.keys) - {old}
    assert ready.ini_section(ready.credentials, "default")["aws_access_key_id"] == old
    again = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert again.returncode == 5 and made in again.stderr, again.stderr
    assert set(ready.alice.keys) == {old, made}
    assert ready.fake.calls["DeleteAccessKey"] == 0


def test_a_manual_rotation_after_a_failed_one_keeps_both_keys(ready: Bed) -> None:
    """After a failed --rotate-keys the user rotates by hand, keeping the old key for a while
    (still used by a CI job): no later --rotate-keys deletes the old key as "left over"."""
    login(ready)
    old = ready.alice.access_key
    ready.fake.failing.add("CreateAccessKey")
    assert ready.run(AWS_MFA_RUN, "--rotate-keys").returncode == 6
    ready.fake.failing.clear()
    manual = ready.run(
        AWS, "iam", "create-access-key", "--profile", "mfa", "--query",
        "AccessKey.[AccessKeyId,SecretAccessKey]", "--output", "text",
    )  # fmt: skip
    assert manual.returncode == 0, manual.stderr
    new_id, new_secret = manual.stdout.split()
    for name, value in (("aws_access_key_id", new_id), ("aws_secret_access_key", new_secret)):
        assert ready.run(AWS, "configure", "set", name, value).returncode == 0
    # The stored session was made with the old key: a session of the new one takes a code.
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", "--token-code", ready.fresh_code())
    assert done.returncode == 5 and "two access keys" in done.stderr, done.stderr
    assert set(ready.alice.keys) == {old, new_id} and ready.fake.calls["DeleteAccessKey"] == 0


def test_rotate_keys_says_when_it_waits_for_iam(ready: Bed) -> None:
    login(ready)
    ready.fake.new_key_delay = 4
    started = time.monotonic()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    waits = [line for line in done.stderr.splitlines() if "waiting up to 30 seconds" in line]
    assert len(waits) == 1, done.stderr
    accepted = [line for line in done.stderr.splitlines() if "accepted the new key after" in line]
    assert len(accepted) == 1, done.stderr
    seconds = int(accepted[0].split("after ")[1].split()[0])
    assert 3 <= seconds <= elapsed + 1, (seconds, elapsed)
    assert len(ready.alice.keys) == 1 and ready.alice.access_key not in ready.alice.keys


def test_rotate_keys_gives_up_after_the_time_it_says(ready: Bed) -> None:
    login(ready)
    old = ready.alice.access_key
    ready.fake.new_key_delay = 1000
    started = time.monotonic()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys", timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 5, done.stderr
    assert done.stderr.count("waiting up to 30 seconds") == 1
    seconds = int(done.stderr.split("did not accept the new key ")[1].split(" in ")[1].split()[0])
    assert 30 <= seconds <= elapsed + 1, (seconds, elapsed, done.stderr)
    assert list(ready.alice.keys) == [old] and notes(ready) == []


def test_a_check_of_the_new_key_that_fails_is_undone_by_the_next_run(ready: Bed) -> None:
    """GetCallerIdentity answers 503: the new key (ours, never stored) is named, and the next
    run deletes it before rotating; a failing DeleteAccessKey of it only postpones that."""
    login(ready)
    old = ready.alice.access_key
    ready.fake.failing.add("GetCallerIdentity")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 6 and "next --rotate-keys deletes the new one" in done.stderr
    assert ready.snapshot() == before and len(ready.alice.keys) == 2
    (new,) = set(ready.alice.keys) - {old}
    ready.fake.failing = {"GetCallerIdentity", "DeleteAccessKey"}
    assert ready.run(AWS_MFA_RUN, "--rotate-keys").returncode == 6
    assert new in ready.alice.keys and notes(ready)
    ready.fake.failing.clear()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert f"Deleted key {new}" in done.stderr
    assert new not in ready.alice.keys and old not in ready.alice.keys
    assert working_key(ready)[0] in ready.alice.keys and notes(ready) == []


def test_an_old_key_another_profile_uses_is_not_deleted(ready: Bed) -> None:
    login(ready)
    old = ready.alice.access_key
    with ready.credentials.open("a") as handle:
        handle.write(f"[copy]\n{key_lines(ready)}")
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0, done.stderr
    assert f"old key {old} is not deleted" in done.stderr
    assert old in ready.alice.keys and len(ready.alice.keys) == 2
    assert ready.ini_section(ready.credentials, "copy")["aws_access_key_id"] == old


def test_store_keys_never_replaces_a_keyring_entry(ready: Bed) -> None:
    use_test_keyring(ready)
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    entry = keyring_entry(ready)
    # The user takes our line out of the config and puts other keys into the file.
    config = ready.config.read_text()
    ready.config.write_text(config.replace(
        "credential_process = aws-mfa-run --credential-process -p default\n", ""))  # fmt: skip
    other = ready.fake.add_user("other")
    text = ready.credentials.read_text()
    ready.credentials.write_text(
        text.replace("[default]\n", f"[default]\naws_access_key_id = {other.access_key}\n"
                     f"aws_secret_access_key = {other.secret_key}\n")
    )  # fmt: skip
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 3 and "other keys" in done.stderr, done.stderr
    assert keyring_entry(ready) == entry and ready.snapshot() == before
    # Without keys in the file, the entry is kept and only our line comes back.
    ready.credentials.write_text(text)
    done = ready.run(AWS_MFA_RUN, "--store-keys")
    assert done.returncode == 0 and "already" in done.stderr, done.stderr
    assert keyring_entry(ready) == entry and ready.config.read_text() == config


# ---- kills -------------------------------------------------------------------------------------


def run_time(bed: Bed, *args: str) -> float:
    started = time.monotonic()
    done = bed.run(AWS_MFA_RUN, *args)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def kill_at(bed: Bed, delay: float, *args: str) -> int:
    process = subprocess.Popen(
        [AWS_MFA_RUN, *args],
        env=bed.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait()


def places_of_keys(bed: Bed) -> list[tuple[str, str, str]]:
    """(where, key id, secret) for every copy of long-term keys of alice's default profile; fails
    on a half-written one (a key id without its secret, a damaged keyring entry)."""
    found = []
    import configparser

    for path in (bed.credentials, bed.config):
        parser = configparser.RawConfigParser()
        parser.read_string(path.read_text())
        if not parser.has_section("default"):
            continue
        section = parser["default"]
        key_id, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
        assert (key_id is None) == (secret is None), f"half a key pair in {path.name}"
        if key_id and secret:
            found.append((path.name, key_id, secret))
    entry = keyring_entry(bed)
    if entry is not None:
        found.append(("keyring", entry["AccessKeyId"], entry["SecretAccessKey"]))
    return found


def test_sigkill_during_store_keys_never_loses_or_tears_a_key(ready: Bed) -> None:
    use_test_keyring(ready)
    credentials, config = ready.credentials.read_bytes(), ready.config.read_bytes()

    def timed_run() -> float:
        ready.credentials.write_bytes(credentials)
        ready.config.write_bytes(config)
        (ready.home / "test-keyring.json").unlink(missing_ok=True)
        return run_time(ready, "--store-keys")

    whole = max(timed_run() for _ in range(3))  # the slowest of three, as a loaded machine runs
    delays = kill_delays("store", whole * 1.2, KILL_TRIALS)
    outcomes: dict[str, int] = {}
    pair = (ready.alice.access_key, ready.alice.secret_key)

    def kill_once(delay: float) -> None:
        ready.credentials.write_bytes(credentials)
        ready.config.write_bytes(config)
        (ready.home / "test-keyring.json").unlink(missing_ok=True)
        kill_at(ready, delay, "--store-keys")
        places = places_of_keys(ready)
        assert places, "the keys are nowhere after a kill"
        assert all((key_id, secret) == pair for _, key_id, secret in places)
        outcome = "+".join(sorted(where for where, _, _ in places))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # Whatever the kill left, the profile still works: the next run finds its keys.
        process = ready.config.read_text()
        assert process.count("credential_process") <= 1

    for delay in delays:
        kill_once(delay)
    # A machine loaded more than when the runs were timed can stretch every run past the window:
    # time a run again and go on killing within it until kills landed on both sides of a step.
    more = random.Random("store more")
    added = 0
    while len(outcomes) < 2 and added < len(delays):
        whole = max(whole, timed_run())
        kill_once(more.uniform(0, whole * 1.2))
        added += 1
    # And --store-keys finishes from any of those states.
    assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    assert [where for where, _, _ in places_of_keys(ready)] == ["keyring"]
    login(ready)
    FIGURES["kill trials (--store-keys)"] = (
        f"{len(delays) + added} SIGKILLs in the first {whole * 1.2:.2f} s, the keys whole in: "
        + ", ".join(f"{where} {count}" for where, count in sorted(outcomes.items()))
    )
    assert len(outcomes) >= 2  # the kills landed on both sides of a step


def working_key(bed: Bed) -> tuple[str, str]:
    """The one stored key of alice; it must be one AWS accepts, with its own secret."""
    places = places_of_keys(bed)
    assert len(places) == 1, places
    _, key_id, secret = places[0]
    assert bed.alice.keys.get(key_id, ("",))[0] == secret, "the stored key does not work"
    return key_id, secret


@pytest.mark.parametrize("shard", range(KILL_SHARDS))
@pytest.mark.parametrize("place", ["file", "keyring"])
def test_sigkill_during_rotate_keys_always_leaves_a_working_key(
    ready: Bed, place: str, shard: int
) -> None:
    use_test_keyring(ready)
    if place == "keyring":
        assert ready.run(AWS_MFA_RUN, "--store-keys").returncode == 0
    login(ready)
    # The slowest of three runs: kills spread over a window a loaded machine's run fits into,
    # so that some land after the new key is stored.
    whole = max(run_time(ready, "--rotate-keys") for _ in range(3))
    delays = kill_delays(place, whole * 1.1, KILL_TRIALS, shard, KILL_SHARDS)
    rotated = leftover = 0

    def kill_once(delay: float) -> None:
        nonlocal rotated, leftover
        before = working_key(ready)[0]
        kill_at(ready, delay, "--rotate-keys")
        after = working_key(ready)[0]
        rotated += after != before
        assert len(ready.alice.keys) <= 2
        leftover += len(ready.alice.keys) == 2

    unproven = 0

    def rotate() -> float:
        """One whole --rotate-keys, timed. It finishes (or redoes) what a kill left: one key,
        stored, working, no note. A kill in the instant between CreateAccessKey's answer and the
        note leaves a key nothing proves is ours: it is never deleted, but named when the two-key
        limit refuses; the user deletes it (README says so)."""
        nonlocal unproven
        started = time.monotonic()
        done = ready.run(AWS_MFA_RUN, "--rotate-keys")
        if done.returncode == 5 and "two access keys" in done.stderr:
            (stray,) = set(ready.alice.keys) - {working_key(ready)[0]}
            assert stray in done.stderr
            assert ready.run(AWS, "iam", "delete-access-key", "--access-key-id", stray,
                             "--profile", "mfa").returncode == 0  # fmt: skip
            unproven += 1
            started = time.monotonic()
            done = ready.run(AWS_MFA_RUN, "--rotate-keys")
        assert done.returncode == 0, done.stderr
        return time.monotonic() - started

    for delay in delays:
        kill_once(delay)
    # A machine loaded more than when the runs were timed can stretch every run past the window,
    # and then no planned kill lands after the new key is stored: time a run again and go on
    # killing within it until kills have landed on both sides (at most as many again).
    more = random.Random(f"{place} {shard} more")
    added = 0
    while not (rotated and leftover) and added < len(delays):
        whole = max(whole, rotate())
        kill_once(more.uniform(0, whole * 1.1))
        added += 1
    rotate()
    key_id, _ = working_key(ready)
    assert list(ready.alice.keys) == [key_id]
    assert not list((ready.aws_dir / "aws-mfa-run" / "rotations").glob("*.ini"))
    login(ready, "--force")
    FIGURES[f"kill trials (--rotate-keys, {place}), shard {shard + 1} of {KILL_SHARDS}"] = (
        f"{len(delays) + added} SIGKILLs in the first {whole * 1.1:.2f} s: a working key stored "
        "after each "
        f"one; {rotated} after the new key was stored, {leftover} left a second key in IAM for "
        "the next run to delete"
        + (f", {unproven} unproven key(s) named for the user" if unproven else "")
    )
    assert rotated > 0 and leftover > 0


def test_interrupted_rotation_names_the_old_key(ready: Bed) -> None:
    """DeleteAccessKey fails after the new key is stored: the old key is named, by the error and
    by --status, and the next --rotate-keys deletes it."""
    login(ready)
    old = ready.alice.access_key
    ready.fake.failing.add("DeleteAccessKey")
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 6 and f"deleting the old key {old} failed" in done.stderr
    new, _ = working_key_allowing_two(ready)
    assert new != old and len(ready.alice.keys) == 2
    status = ready.run(AWS_MFA_RUN, "--status")
    assert f"old key {old} still to delete" in status.stdout
    ready.fake.failing.clear()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 0 and old in done.stderr, done.stderr
    assert list(ready.alice.keys) == [new]
    assert "still to delete" not in ready.run(AWS_MFA_RUN, "--status").stdout


def working_key_allowing_two(bed: Bed) -> tuple[str, str]:
    places = places_of_keys(bed)
    assert len(places) == 1, places
    _, key_id, secret = places[0]
    assert bed.alice.keys[key_id][0] == secret
    return key_id, secret


# ---- a real Secret Service ---------------------------------------------------------------------

SECRET_SERVICE_TOOLS = ("dbus-run-session", "gnome-keyring-daemon", "secret-tool")


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in SECRET_SERVICE_TOOLS),
    reason="no Secret Service here: install gnome-keyring, dbus-x11 and libsecret-tools "
    "(Debian packages; .ci/run does so where apt-get works)",
)
def test_store_keys_in_a_real_secret_service(ready: Bed) -> None:
    """gnome-keyring under its own D-Bus session: keyring picks the Secret Service itself."""
    script = ready.root / "session.sh"
    script.write_text(
        "set -e\n"
        "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n"
        f'"{AWS_MFA_RUN}" --store-keys\n'
        f'secret-tool lookup service {SERVICE} username default > "$HOME/looked-up"\n'
        f'"{AWS_MFA_RUN}" --login "$CODE"\n'
        f'"{AWS}" dynamodb list-tables --query "TableNames[0]" --output text\n'
        f'"{AWS_MFA_RUN}" --unstore-keys\n'
        f"secret-tool lookup service {SERVICE} username default || echo no-entry-left\n"
    )
    env = {k: v for k, v in ready.env.items() if not k.startswith(("DBUS", "XDG_RUNTIME"))}
    runtime = ready.root / "runtime"
    runtime.mkdir(mode=0o700)
    env.update(CODE=ready.fresh_code(), XDG_RUNTIME_DIR=str(runtime))
    credentials = ready.credentials.read_text()
    done = ready.run("dbus-run-session", "--", "sh", str(script), env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["orders", "no-entry-left"], done.stdout
    stored = json.loads((ready.home / "looked-up").read_text())
    assert stored["AccessKeyId"] == ready.alice.access_key
    assert stored["SecretAccessKey"] == ready.alice.secret_key
    assert "SecretService" in done.stderr
    assert ready.credentials.read_text().startswith(credentials)
    (ready.home / "looked-up").unlink()


# ---- README ------------------------------------------------------------------------------------


def test_readme_store_keys_and_rotate_keys_examples(ready: Bed) -> None:
    use_test_keyring(ready)
    done = ready.run("sh", "-c", EXAMPLES["store-keys"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].split()[4] == "keyring"
    assert f"aws_access_key_id = {ready.alice.access_key}" not in ready.credentials.read_text()
    assert ready.alice.secret_key not in ready.credentials.read_text()
    login(ready)
    done = ready.run("sh", "-c", EXAMPLES["rotate-keys"])
    assert done.returncode == 0, done.stderr
    assert ready.alice.access_key not in ready.alice.keys and len(ready.alice.keys) == 1
    assert (keyring_entry(ready) or {})["AccessKeyId"] == next(iter(ready.alice.keys))


def test_a_read_only_file_is_refused_before_the_keys_reach_the_keyring(ready: Bed) -> None:
    use_test_keyring(ready)
    for path in (ready.credentials, ready.config):
        path.chmod(0o400)
        before = ready.snapshot()
        done = ready.run(AWS_MFA_RUN, "--store-keys")
        assert done.returncode == 3 and "read-only" in done.stderr, done.stderr
        assert keyring_entry(ready) is None  # the secret went nowhere new
        assert ready.snapshot() == before
        path.chmod(0o600)


def test_a_keyring_backend_that_cannot_be_loaded_is_a_clear_refusal(ready: Bed) -> None:
    ready.env["PYTHON_KEYRING_BACKEND"] = "nonexistent.Backend"
    before = ready.snapshot()
    for mode in ("--store-keys", "--unstore-keys"):
        done = ready.run(AWS_MFA_RUN, mode)
        assert done.returncode == 3, done.stderr
        assert "PYTHON_KEYRING_BACKEND" in done.stderr and "internal error" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert ready.snapshot() == before


def test_a_read_only_config_is_refused_before_keys_are_typed(bed: Bed) -> None:
    use_test_keyring(bed)
    bed.config.write_text("[default]\nregion = eu-west-1\n")
    bed.config.chmod(0o400)
    child = bed.spawn(AWS_MFA_RUN, "--store-keys", "-p", "erin")
    index = child.expect(["Access key ID: ", pexpect.EOF])
    child.close()
    assert index == 1 and child.exitstatus == 3 and "read-only" in (child.before or "")
    assert keyring_entry(bed, "erin") is None
