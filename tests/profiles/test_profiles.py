"""Profiles exactly as the AWS CLI sees them: names, regions, sources, sessions and messages.

Where the alias is involved, through the real `aws` and the real alias file."""

from __future__ import annotations

import sys

import pytest

from conftest import AWS, AWS_MFA_RUN, BIN, Bed
from helpers import WHOAMI

PRINT_REGION = ["sh", "-c", 'echo "$AWS_REGION $AWS_DEFAULT_REGION"']


def add_spaced_profile(bed: Bed, name: str) -> None:
    """A long-term profile named with a space, set up the way a user would: `aws configure`."""
    user = bed.fake.add_user("spaced")
    for key, value in (
        ("aws_access_key_id", user.access_key),
        ("aws_secret_access_key", user.secret_key),
        ("region", "us-east-2"),
        ("mfa_serial", user.devices[0].serial),
    ):
        done = bed.run(AWS, "configure", "set", key, value, "--profile", name)
        assert done.returncode == 0, done.stderr
    assert f"[profile '{name}']" in bed.config.read_text()  # as the AWS CLI writes it


# ---- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("quote", ["'", '"'])
def test_a_profile_name_with_a_space_works_through_the_alias(ready: Bed, quote: str) -> None:
    add_spaced_profile(ready, "my dev")
    if quote == '"':
        ready.config.write_text(ready.config.read_text().replace("'my dev'", '"my dev"'))
    device = next(u for u in ready.fake.users.values() if u.name == "spaced").devices[0]
    done = ready.run(AWS, "mfa", ready.fresh_code(device), "--profile", "my dev")
    assert done.returncode == 0, done.stderr
    assert "'my dev' -> 'my dev-mfa'" in done.stderr
    assert "[profile 'my dev-mfa']" in ready.config.read_text()
    listed = ready.run(AWS, "dynamodb", "list-tables", "--profile", "my dev-mfa")
    assert listed.returncode == 0, listed.stderr  # region found: botocore reads our section
    status = ready.run(AWS_MFA_RUN, "--status")
    assert "my dev " in status.stdout and "my dev-mfa" in status.stdout, status.stdout
    assert "'my dev" not in status.stdout  # the name a user types, not the section header


def test_profile_given_to_python_m_awscli_reaches_the_alias(ready: Bed) -> None:
    user = ready.add_profile("dev", "bob", region="us-west-2")
    python = str(BIN / "python")
    done = ready.run(
        python, "-m", "awscli", "--profile", "dev", "mfa", ready.fresh_code(user.devices[0])
    )
    assert done.returncode == 0, done.stderr
    assert "'dev' -> 'dev-mfa'" in done.stderr
    assert ready.ini_section(ready.credentials, "dev-mfa")["aws_session_token"]
    assert "mfa" not in ready.ini_section(ready.credentials, "mfa")  # default untouched


def test_profile_given_to_a_renamed_aws_reaches_the_alias(ready: Bed) -> None:
    user = ready.add_profile("dev", "bob")
    renamed = ready.root / "bin" / "my-aws"
    renamed.parent.mkdir()
    renamed.symlink_to(AWS)
    done = ready.run(str(renamed), "--prof", "dev", "mfa", ready.fresh_code(user.devices[0]))
    assert done.returncode == 0, done.stderr
    assert "'dev' -> 'dev-mfa'" in done.stderr


def test_an_unknown_program_running_the_alias_with_profile_is_stopped(ready: Bed) -> None:
    """A program that ran our alias command and has --profile on its command line, but that we
    cannot tell for the AWS CLI: stop, never log in another profile."""
    ready.add_profile("dev", "bob")
    before = ready.snapshot()
    runner = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1], shell=True))"
    done = ready.run(
        sys.executable,
        "-c",
        runner,
        f"aws-mfa-run --login {ready.fresh_code()}",
        "--profile",
        "dev",
    )
    assert done.returncode == 2, done.stderr
    assert "-p NAME" in done.stderr and "cannot tell" in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before


@pytest.mark.parametrize("via", ["target", "credential_process"])
def test_aws_profile_naming_one_of_ours_follows_its_source(ready: Bed, via: str) -> None:
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    name = "mfa"
    if via == "credential_process":
        name = "work"
        with ready.config.open("a") as handle:
            handle.write(
                "[profile work]\ncredential_process = aws-mfa-run --credential-process -p default\n"
            )
    done = ready.run(AWS, "mfa", env={"AWS_PROFILE": name})
    assert done.returncode == 0, done.stderr
    assert f"Profile '{name}' is served by aws-mfa-run from profile 'default'" in done.stderr
    wrapped = ready.run(AWS_MFA_RUN, "aws", "dynamodb", "list-tables", env={"AWS_PROFILE": name})
    assert wrapped.returncode == 0, wrapped.stderr
    assert "orders" in wrapped.stdout
    assert ready.fake.calls["GetSessionToken"] == 1


# ---- regions -----------------------------------------------------------------------------------


def test_a_region_we_injected_is_replaced_by_the_profiles(ready: Bed) -> None:
    ready.add_profile("dev", "bob", region="us-west-2")
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    dev_device = next(u for u in ready.fake.users.values() if u.name == "bob").devices[0]
    assert (
        ready.run(AWS_MFA_RUN, "-p", "dev", "--login", ready.fresh_code(dev_device)).returncode == 0
    )
    # An outer run for default (eu-west-1), an inner one for dev: dev's region wins.
    inner = f'"{AWS_MFA_RUN}" -p dev ' + " ".join(f"'{w}'" for w in PRINT_REGION)
    done = ready.run(AWS_MFA_RUN, "sh", "-c", inner)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["us-west-2", "us-west-2"]
    # The same after `eval "$(aws-mfa-run --env)"` in a shell.
    script = f'eval "$("{AWS_MFA_RUN}" --env)"; {inner}'
    done = ready.run("sh", "-c", script)
    assert done.stdout.split() == ["us-west-2", "us-west-2"], done.stderr
    # A region the user set stays.
    done = ready.run(AWS_MFA_RUN, "sh", "-c", inner, env={"AWS_REGION": "ap-south-1"})
    assert done.stdout.split() == ["ap-south-1", "ap-south-1"], done.stderr


def test_copied_region_and_output_follow_the_source_but_user_values_stay(ready: Bed) -> None:
    assert ready.run(AWS, "configure", "set", "output", "json").returncode == 0
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    assert ready.ini_section(ready.config, "profile mfa") == {
        "region": "eu-west-1",
        "output": "json",
    }
    assert ready.run(AWS, "configure", "set", "region", "us-east-2").returncode == 0
    assert ready.run(AWS, "configure", "set", "output", "table", "--profile", "mfa").returncode == 0
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    # region: ours, kept in step; output: now the user's, untouched.
    assert ready.ini_section(ready.config, "profile mfa") == {
        "region": "us-east-2",
        "output": "table",
    }
    wrapped = ready.run(AWS_MFA_RUN, *PRINT_REGION)
    assert wrapped.stdout.split() == ["us-east-2", "us-east-2"]


# ---- sessions ----------------------------------------------------------------------------------


def test_a_code_typed_for_a_login_replaces_a_valid_session(ready: Bed) -> None:
    assert ready.run(AWS, "mfa", ready.fresh_code()).returncode == 0
    first = ready.ini_section(ready.credentials, "mfa")["aws_session_token"]
    done = ready.run(AWS, "mfa", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2
    assert ready.ini_section(ready.credentials, "mfa")["aws_session_token"] != first
    # Without a code, a valid session is kept.
    done = ready.run(AWS, "mfa")
    assert done.returncode == 0 and "nothing to do" in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_short_session_is_reused_by_every_mode(ready: Bed) -> None:
    assert (
        ready.run(AWS_MFA_RUN, "--login", "--duration", "900", ready.fresh_code()).returncode == 0
    )
    assert ready.run(AWS_MFA_RUN, "true").returncode == 0
    assert ready.run(AWS_MFA_RUN, "--env").returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1


def test_the_role_cache_follows_a_changed_source_profile(ready: Bed) -> None:
    bob = ready.add_profile("other", "bob")
    ready.fake.add_role("admin", ready.alice)
    role_for_bob = ready.fake.add_role("admin", bob)  # the same ARN, now trusting bob
    arn = role_for_bob.arn
    with ready.config.open("a") as handle:
        handle.write(f"[profile admin]\nrole_arn = {arn}\nsource_profile = other\n")
    whoami = ["aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text"]
    done = ready.run(
        AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(bob.devices[0]), *whoami
    )
    assert done.returncode == 0, done.stderr
    assert ready.fake.assumed == {"admin": 1}
    text = ready.config.read_text().replace("source_profile = other", "source_profile = default")
    ready.config.write_text(text)
    ready.fake.add_role("admin", ready.alice)
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), *whoami)
    assert done.returncode == 0, done.stderr
    assert ready.fake.assumed == {"admin": 2}  # not served from the other source's cache


def test_a_custom_target_is_shown_and_found_again(ready: Bed) -> None:
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "team")
    assert done.returncode == 0, done.stderr
    status = ready.run(AWS_MFA_RUN, "--status")
    assert "team" in status.stdout, status.stdout
    assert ready.run(AWS_MFA_RUN, "--target-profile", "team", "true").returncode == 0
    assert ready.fake.calls["GetSessionToken"] == 1


# ---- messages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("asked", [["--help"], ["help"], ["-h"]])
def test_help_through_the_alias(ready: Bed, asked: list[str]) -> None:
    done = ready.run(AWS, "mfa", *asked)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: aws-mfa-run")


def test_env_for_powershell_and_a_clear_error_for_unknown_shells(ready: Bed) -> None:
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    done = ready.run(AWS_MFA_RUN, "--env", "powershell")
    assert done.returncode == 0, done.stderr
    assert "$Env:AWS_SESSION_TOKEN = '" in done.stdout
    assert "Remove-Item Env:AWS_PROFILE" in done.stdout
    wrong = ready.run(AWS_MFA_RUN, "--env", "cmd")
    assert wrong.returncode == 2
    assert "powershell" in wrong.stderr and "fish" in wrong.stderr and "'cmd'" in wrong.stderr


def test_a_stale_session_without_a_code_source_says_how_much_is_left(ready: Bed) -> None:
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    ready.age_stored_session(10 * 60 + 30)  # a 12-hour session with 10.5 minutes left
    done = ready.run(AWS_MFA_RUN, "true")
    assert done.returncode == 4
    assert (
        "The stored session has 10 minutes left, under the 16-minute margin, and no MFA code for"
        in done.stderr
    )


def test_a_device_of_another_user_is_named_as_a_possible_cause(ready: Bed) -> None:
    bob = ready.fake.add_user("bob")
    done = ready.run(
        AWS_MFA_RUN, "--login", bob.devices[0].code(), "--serial", bob.devices[0].serial
    )
    assert done.returncode == 5
    assert "not an MFA device of the IAM user" in done.stderr
    assert bob.devices[0].serial in done.stderr


def test_status_uses_one_time_format_and_shows_the_margin(ready: Bed) -> None:
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    status = ready.run(AWS_MFA_RUN, "--status")
    line = status.stdout.splitlines()[1]
    assert "valid until 20" in line and " UTC (" in line, line  # TZ=UTC in the bed
    assert "renewed under 16m left" in line, line


def test_a_profile_name_beyond_ascii_is_read_where_the_aws_cli_wrote_it(ready: Bed) -> None:
    """README's `ünï`, both files written by the real `aws configure set`; the other unusual
    names README lists: test_calls.py."""
    user = ready.fake.add_user("dev")
    for key, value in (
        ("aws_access_key_id", user.access_key),
        ("aws_secret_access_key", user.secret_key),
        ("region", "us-west-2"),
        ("mfa_serial", user.devices[0].serial),
    ):
        assert ready.run(AWS, "configure", "set", key, value, "--profile", "ünï").returncode == 0
    done = ready.run(AWS_MFA_RUN, "-p", "ünï", "--login", ready.fresh_code(user.devices[0]))
    assert done.returncode == 0, done.stderr
    assert "-> 'ünï-mfa'" in done.stderr
    assert "Found MFA device" not in done.stderr  # its mfa_serial was read
    config = ready.config.read_text()
    assert config.count("[profile ünï]") == 1 and config.count("[profile ünï-mfa]") == 1
    region = ready.run(AWS, "configure", "get", "region", "--profile", "ünï")
    assert region.stdout.strip() == "us-west-2"
    whoami = ready.run(AWS, *WHOAMI[1:], "--profile", "ünï-mfa")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == user.arn
    listed = ready.run(AWS, "dynamodb", "list-tables", "--profile", "ünï-mfa")
    assert listed.returncode == 0, listed.stderr
    wrapped = ready.run(AWS_MFA_RUN, "-p", "ünï", "aws", "dynamodb", "list-tables")
    assert wrapped.returncode == 0, wrapped.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


@pytest.mark.parametrize(
    ("argv", "message"), [(["--all"], "--all goes with --logout"), (["--target-profile", ""], "")]
)
def test_more_command_lines_that_are_refused(ready: Bed, argv: list[str], message: str) -> None:
    done = ready.run(AWS_MFA_RUN, *argv, "--login", "123456")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
