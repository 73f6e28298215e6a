"""Trust: botocore makes every AWS call, every value AWS returns is checked before it is kept,
and everything that could refuse a write is checked before a code is spent."""

from __future__ import annotations

import configparser
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from aws_mfa_run import inifile
from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import assert_refused_as_malformed

ROLE_CONFIG = """
[profile admin]
role_arn = {arn}
source_profile = default
"""


def test_every_call_is_made_by_botocore(ready: Bed) -> None:
    ready.fake.add_role("admin", ready.alice)
    with ready.config.open("a") as handle:
        handle.write(ROLE_CONFIG.format(arn="arn:aws:iam::123456789012:role/admin"))
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 0, done.stderr
    calls = [action for action, _ in ready.fake.agents]
    assert calls == ["GetSessionToken", "AssumeRole"]
    assert all(agent.startswith("Botocore/") for _, agent in ready.fake.agents), ready.fake.agents


# Values a hostile or broken endpoint could answer. U+2028 is legal in XML and a line break to
# str.splitlines: once it planted a section only aws-mfa-run would see. (Its program would
# touch a file in the working directory, the test's own, not in a /tmp that others share.)
PLANTED = "\u2028[profile evil]\u2028mfa_process = touch aws-mfa-run-pwned\u2028x = "
MALFORMED_ANSWERS = {
    "token with U+2028": {"SessionToken": "FwoGZXIvYXdzE" + PLANTED + "y"},
    "token with a space": {"SessionToken": "FwoGZXIvYXdzE abc"},
    "secret with a tab": {"SecretAccessKey": "abc\tdef"},
    "key id too short": {"AccessKeyId": "ASIA123"},
    "key id with a dash": {"AccessKeyId": "ASIA-1234567890123456"},
    "expired": {"Expiration": "2020-01-01T00:00:00Z"},
    "no expiration": {"Expiration": "soon"},
}


@pytest.mark.parametrize("answer", MALFORMED_ANSWERS)
@pytest.mark.parametrize("call", ["GetSessionToken", "AssumeRole"])
def test_malformed_credentials_are_refused_and_nothing_is_written(
    ready: Bed, answer: str, call: str
) -> None:
    assert_refused_as_malformed(ready, call, MALFORMED_ANSWERS[answer])
    # Nothing planted for the next run either: the stored files parse as botocore parses them.
    assert "evil" not in ready.credentials.read_text()
    assert not (ready.root / "aws-mfa-run-pwned").exists()


SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("separator", [*SEPARATORS, "\r", "\r\n", "\n"], ids=repr)
def test_our_reader_sees_the_sections_botocore_sees(tmp_path: Path, separator: str) -> None:
    text = f"[a]\nkey = x{separator}[evil]{separator}mfa_process = y\n[b]\nk = v\n"
    path = tmp_path / "config"
    path.write_bytes(text.encode())
    parser = configparser.RawConfigParser()
    parser.read(path, encoding="utf-8")  # as botocore reads a file: universal newlines
    ours = inifile.parse(path.read_bytes().decode(), str(path))
    assert list(ours.sections) == parser.sections()
    for name in parser.sections():
        assert ours.get(name) == dict(parser[name])


def test_a_target_holding_foreign_keys_is_refused_before_any_code(ready: Bed) -> None:
    with ready.credentials.open("a") as handle:
        handle.write("[mfa]\naws_access_key_id = AKIAOTHERKEY00000000\naws_secret_access_key = x\n")
    before = ready.snapshot()
    (ready.root / "Makefile").write_text(
        "all: a b c d\na b c d:\n\t" + f"{AWS_MFA_RUN} --token-code 123456 true\n"
    )
    done = ready.run("make", "-j4", "-k")
    assert done.returncode != 0
    assert done.stderr.count("holds keys that aws-mfa-run did not write") == 4
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before


@pytest.mark.parametrize(
    "kind",
    [
        "role_arn = arn:aws:iam::1:role/x\nsource_profile = default",
        "credential_process = /bin/true",
        "sso_session = corp",
    ],
)
def test_a_target_whose_credentials_come_from_elsewhere_is_refused(ready: Bed, kind: str) -> None:
    with ready.config.open("a") as handle:
        handle.write(f"[profile other]\n{kind}\n")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "other")
    assert done.returncode == 3 and "will not write session keys" in done.stderr, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before


@pytest.mark.parametrize("which", ["credentials", "config"])
def test_a_read_only_file_is_refused_before_any_code(ready: Bed, which: str) -> None:
    path = ready.credentials if which == "credentials" else ready.config
    path.chmod(0o400)
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 3 and "read-only" in done.stderr, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before
    assert path.stat().st_mode & 0o777 == 0o400


def test_a_role_profile_name_of_300_characters_works(ready: Bed) -> None:
    name = "r" * 300
    ready.fake.add_role("admin", ready.alice)
    with ready.config.open("a") as handle:
        handle.write(
            f"[profile {name}]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            "source_profile = default\n"
        )
    for _ in range(2):
        done = ready.run(AWS_MFA_RUN, "-p", name, "--token-code", ready.fresh_code(), "true")
        assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1 and ready.fake.assumed == {"admin": 1}


@pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root (CI runs as root)")
def test_a_bind_mounted_credentials_file_is_rewritten_in_place(ready: Bed) -> None:
    """A single file bind-mounted into a container cannot be renamed over (EBUSY)."""
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode()[-200:]!r}")
    outside = ready.root / "outside-credentials"
    outside.write_bytes(ready.credentials.read_bytes())
    outside.chmod(0o600)
    script = (
        f'mount --bind "{outside}" "{ready.credentials}" && '
        f'exec "{AWS_MFA_RUN}" --login "{ready.fresh_code()}"'
    )
    done = ready.run("unshare", "-m", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    assert "rewritten in place" in done.stderr
    written = configparser.RawConfigParser()
    written.read(outside)
    assert written["mfa"]["aws_session_token"]
    assert written["default"]["aws_access_key_id"] == ready.alice.access_key


def test_a_file_rewritten_in_place_by_another_tool_never_loses_the_keys(ready: Bed) -> None:
    """`aws configure set` truncates the file, then writes it, without a lock: a login reading it
    in that moment must not write back a file without the long-term keys."""
    ready.fake.accept_reused_codes = True
    original = ready.credentials.read_bytes()
    stop = threading.Event()

    def rewrite_in_place() -> None:
        while not stop.is_set():
            with open(ready.credentials, "r+b") as handle:
                current = handle.read()
                handle.seek(0)
                handle.truncate()
                handle.flush()
                time.sleep(0.004)
                handle.write(current)
            time.sleep(0.02)  # the file whole most of the time, as between two real edits

    writer = threading.Thread(target=rewrite_in_place, daemon=True)
    writer.start()
    results = []
    try:
        for _ in range(12):
            # The stand-in takes a code again; our own memory of spent codes must forget it.
            (ready.aws_dir / "aws-mfa-run" / "used-codes").unlink(missing_ok=True)
            done = ready.run(AWS_MFA_RUN, "--login", "--force", ready.device.code())
            results.append(done.returncode)
            # Exit 3 when a read landed in the other tool's window: a clear refusal, no write.
            assert done.returncode in (0, 3), done.stderr
    finally:
        stop.set()
        writer.join()
    text = ready.credentials.read_text()
    assert text.startswith(original.decode()), text[:200]
    assert results.count(0) >= 1
    # The AWS CLI itself still finds the keys and the session.
    done = ready.run(AWS, "dynamodb", "list-tables", "--profile", "mfa")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
@pytest.mark.parametrize("value", ["", "  "])
def test_a_blank_ca_bundle_is_refused_before_any_code(
    ready: Bed, variable: str, value: str
) -> None:
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env={variable: value})
    assert done.returncode == 3 and variable in done.stderr, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before


def test_a_profile_only_in_the_credentials_file_gets_no_settings_of_default(ready: Bed) -> None:
    """The AWS CLI would not use [default]'s config for it; botocore's session must not either.
    [default]'s sdk_ua_app_id shows in the User-Agent when its settings leak."""
    user = ready.fake.add_user("solo")
    with ready.credentials.open("a") as handle:
        handle.write(
            f"[solo]\naws_access_key_id = {user.access_key}\n"
            f"aws_secret_access_key = {user.secret_key}\n"
            f"mfa_serial = {user.devices[0].serial}\n"
        )
    with ready.config.open("a") as handle:
        handle.write("sdk_ua_app_id = from-default\n")
    # (AWS_STS_REGIONAL_ENDPOINTS, harmless here, made earlier versions call through botocore.)
    done = ready.run(
        AWS_MFA_RUN,
        "-p",
        "solo",
        "--login",
        ready.fresh_code(user.devices[0]),
        env={"AWS_STS_REGIONAL_ENDPOINTS": "regional"},
    )
    assert done.returncode == 0, done.stderr
    agents = [agent for action, agent in ready.fake.agents if action == "GetSessionToken"]
    assert agents and "from-default" not in agents[-1], agents
    # ...while the default profile does get its own setting (the check can tell).
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    agents = [agent for action, agent in ready.fake.agents if action == "GetSessionToken"]
    assert "from-default" in agents[-1], agents


def test_long_term_keys_in_a_config_file_others_can_read_are_warned_about(bed: Bed) -> None:
    bed.config.write_text(
        f"[default]\nregion = eu-west-1\nmfa_serial = {bed.device.serial}\n"
        f"aws_access_key_id = {bed.alice.access_key}\n"
        f"aws_secret_access_key = {bed.alice.secret_key}\n"
    )
    bed.config.chmod(0o644)
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 0, done.stderr
    assert "readable by other users" in done.stderr and "chmod 600" in done.stderr


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestThrottledException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    ],
)
def test_every_throttling_code_means_unreachable(ready: Bed, code: str) -> None:
    ready.fake.mode = "throttle"
    ready.fake.throttle_code = code
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 6 and "busy" in done.stderr, done.stderr


@pytest.mark.parametrize("mode", ["hang", "drip"])
def test_the_deadline_ends_a_call_whatever_the_endpoint_does(ready: Bed, mode: str) -> None:
    """botocore's read timeout is per read: an answer dripping a byte at a time never trips it.
    The deadline (a parameter: here 1.5 s) ends the call all the same."""
    from aws_mfa_run.aws import client, sts
    from aws_mfa_run.errors import AwsUnreachableError

    ready.fake.mode = mode
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(ready.env)
    started = time.monotonic()
    try:
        call = sts.prepare_session_token_call(
            keys=(ready.alice.access_key, ready.alice.secret_key),
            profile="default",
            region="eu-west-1",
            env=ready.env,
            bounds=client.Bounds(connect=1, read=1, attempts=2, total=1.5),
        )
        try:
            with pytest.raises(AwsUnreachableError, match="in time"):
                call.get_session_token(serial=ready.device.serial, code="123456", duration=None)
        finally:
            call.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    # Without the deadline the dripped answer (a byte every 0.5 s) takes minutes; the bound
    # leaves a loaded machine its seconds.
    assert time.monotonic() - started < 10


def test_a_failed_login_saves_no_discovered_device(bed: Bed) -> None:
    bed.write_profiles(serial=False)
    before = bed.snapshot()
    done = bed.run(AWS_MFA_RUN, "--login", "000000")
    assert done.returncode == 5
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert bed.snapshot() == before
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 0 and "saved it as mfa_serial" in done.stderr
    assert bed.ini_section(bed.config, "default")["mfa_serial"] == bed.device.serial


def test_a_rejected_code_is_sent_once_under_make_j(ready: Bed) -> None:
    """Eight targets, an mfa_process that prints a wrong code: one STS call, and every target
    fails with AWS's answer instead of sending the code again."""
    from makefiles import write_makefile

    with ready.config.open("a") as handle:
        handle.write("mfa_process = echo 000000\n")
    recipes = {f"t{n}": f"{AWS_MFA_RUN} true" for n in range(8)}
    write_makefile(ready.root, recipes)
    done = ready.run("make", "-k", "-j8")
    assert done.returncode != 0
    assert ready.fake.calls["GetSessionToken"] == 1
    assert done.stderr.count("AWS rejected the MFA code") == 8, done.stderr


def test_a_role_arn_aws_cannot_take_is_a_profile_error(ready: Bed) -> None:
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    with ready.config.open("a") as handle:
        handle.write("[profile bad]\nrole_arn = not-an-arn\nsource_profile = default\n")
    done = ready.run(AWS_MFA_RUN, "-p", "bad", "true")
    assert done.returncode == 3 and "role_arn" in done.stderr, done.stderr


def test_an_empty_ca_bundle_in_the_profile_is_refused_before_any_code(ready: Bed) -> None:
    marker = ready.root / "asked"
    with ready.config.open("a") as handle:
        handle.write(f"ca_bundle =\nmfa_process = touch {marker}; echo 123456\n")
    done = ready.run(AWS_MFA_RUN, "--login")
    assert done.returncode == 3 and "ca_bundle" in done.stderr, done.stderr
    assert not marker.exists()
    assert ready.fake.calls["GetSessionToken"] == 0


def test_a_target_holding_another_profiles_session_is_refused(ready: Bed) -> None:
    bob = ready.add_profile("dev", "bob")
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    before = ready.snapshot()
    done = ready.run(
        AWS_MFA_RUN, "-p", "dev", "--target-profile", "mfa", "--login", bob.devices[0].code()
    )
    assert done.returncode == 3 and "holds the MFA session of profile 'default'" in done.stderr
    assert ready.snapshot() == before
    assert ready.fake.calls["GetSessionToken"] == 1
