"""`aws-mfa-run COMMAND`, `--env` and `--credential-process`: real processes, real aws."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from conftest import AWS, AWS_MFA_RUN, REPO, Bed

PRINT_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


def use_mfa_process(bed: Bed, profile_section: str = "default") -> None:
    secret = bed.root / "totp-secret"
    secret.write_text(bed.device.secret)
    process = f"{sys.executable} {REPO / 'tests' / 'totp.py'} {secret}"
    text = bed.config.read_text().replace(
        f"[{profile_section}]\n", f"[{profile_section}]\nmfa_process = {process}\n"
    )
    bed.config.write_text(text)


def set_stored_expiration(bed: Bed, seconds_from_now: float) -> None:
    bed.age_stored_session(seconds_from_now)


def test_wrapper_reuses_the_stored_session(ready: Bed) -> None:
    ready.login()
    done = ready.run(AWS_MFA_RUN, "aws", "dynamodb", "list-tables")
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout
    assert ready.fake.calls["GetSessionToken"] == 1


def test_child_environment_variable_by_variable(ready: Bed) -> None:
    ready.login()
    keys = ready.ini_section(ready.credentials, "mfa")
    stale = {
        "AWS_PROFILE": "default",
        "AWS_DEFAULT_PROFILE": "default",
        "AWS_ACCESS_KEY_ID": "AKIASTALE",
        "AWS_SECRET_ACCESS_KEY": "stale",
        "AWS_SECURITY_TOKEN": "stale",
        "KEEP_ME": "yes",
    }
    done = ready.run(AWS_MFA_RUN, *PRINT_ENV, env=stale)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout)
    assert child["AWS_ACCESS_KEY_ID"] == keys["aws_access_key_id"]
    assert child["AWS_SECRET_ACCESS_KEY"] == keys["aws_secret_access_key"]
    assert child["AWS_SESSION_TOKEN"] == keys["aws_session_token"]
    assert child["AWS_SECURITY_TOKEN"] == keys["aws_session_token"]
    assert child["AWS_CREDENTIAL_EXPIRATION"] == keys["aws_mfa_run_expiration"]
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert "AWS_PROFILE" not in child and "AWS_DEFAULT_PROFILE" not in child
    assert child["AWS_MFA_RUN_PROFILE"] == "default"
    assert child["KEEP_ME"] == "yes" and child["HOME"] == str(ready.home)

    own_region = ready.run(AWS_MFA_RUN, *PRINT_ENV, env={"AWS_REGION": "ap-south-1"})
    child = json.loads(own_region.stdout)
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "ap-south-1"


def test_exit_status_and_signals_are_the_commands_own(ready: Bed) -> None:
    ready.login()
    assert ready.run(AWS_MFA_RUN, "sh", "-c", "exit 7").returncode == 7
    assert ready.run(AWS_MFA_RUN, "sh", "-c", "exit 130").returncode == 130
    assert ready.run(AWS_MFA_RUN, "true").returncode == 0
    killed = ready.run(AWS_MFA_RUN, "sh", "-c", "kill -TERM $$")
    assert killed.returncode == -15
    missing = ready.run(AWS_MFA_RUN, "no-such-command-here")
    assert missing.returncode == 127
    assert missing.stderr.strip().splitlines() == [
        "aws-mfa-run: Command not found: no-such-command-here"
    ]
    script = ready.root / "not-executable"
    script.write_text("#!/bin/sh\n")
    denied = ready.run(AWS_MFA_RUN, str(script))
    assert denied.returncode == 126
    (sentence,) = denied.stderr.strip().splitlines()
    assert str(script) in sentence and "not executable" in sentence


def test_options_end_at_the_command(ready: Bed) -> None:
    ready.login()
    done = ready.run(
        AWS_MFA_RUN,
        "-p",
        "default",
        "sh",
        "-c",
        'printf "%s|" "$@"',
        "x",
        "--profile",
        "dev",
        "-p",
        "--",
        "--login",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "--profile|dev|-p|--|--login|"
    dashed = ready.run(AWS_MFA_RUN, "--", "sh", "-c", "echo ran")
    assert dashed.stdout == "ran\n"
    nothing = ready.run(AWS_MFA_RUN)
    assert nothing.returncode == 2
    unknown = ready.run(AWS_MFA_RUN, "--bogus", "true")
    assert unknown.returncode == 2 and "--bogus" in unknown.stderr


# Options a mode has no use for, each refused (exit 2, one sentence) before anything is read
# or written: ignored, they would mislead. Written out by hand from the help text.
NOT_FOR_THE_MODE = [
    ("--status", "--token-code", "123456"),
    ("--status", "--force"),
    ("--logout", "--target-profile", "ci"),
    ("--logout", "--duration", "900"),
    ("--env", "--force"),
    ("--credential-process", "--force"),
    ("--store-keys", "--duration", "900"),
    ("--unstore-keys", "--token-code", "123456"),
    ("--install-alias", "-p", "dev"),
    ("--uninstall-alias", "--force"),
    ("--completion", "bash", "-p", "dev"),
    ("--rotate-keys", "--force"),
    ("--force", "true"),
]


@pytest.mark.parametrize("words", NOT_FOR_THE_MODE, ids=" ".join)
def test_an_option_the_mode_does_not_use_is_refused(ready: Bed, words: tuple[str, ...]) -> None:
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, *words)
    assert done.returncode == 2, done.stderr
    option = (
        next(word for word in words[1:] if word.startswith("-"))
        if words[0] != "--force"
        else "--force"
    )
    said = done.stderr.strip()
    assert len(said.splitlines()) == 1 and f"{option} does not apply to" in said, said
    assert ready.snapshot() == before
    assert sum(ready.fake.calls.values()) == 0


def test_the_options_each_mode_uses_are_accepted(ready: Bed) -> None:
    """The counterpart: the options the help text gives each mode still work."""
    ready.login()
    for words in (
        ["--status", "-p", "default", "--target-profile", "mfa", "--min-remaining", "5"],
        ["--env", "-p", "default", "--min-remaining", "5"],
        ["--credential-process", "--target-profile", "mfa"],
        ["--login", "--force", "--token-code", ready.fresh_code(), "--duration", "900"],
        ["--logout", "-p", "default"],
    ):
        done = ready.run(AWS_MFA_RUN, *words)
        assert done.returncode == 0, (words, done.stderr)


def test_env_for_posix_shells_and_fish(ready: Bed) -> None:
    ready.login()
    done = ready.run(
        "sh",
        "-c",
        f'eval "$("{AWS_MFA_RUN}" --env)" && aws dynamodb list-tables',
        env={"AWS_PROFILE": "default"},
    )
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout
    fish = ready.run(AWS_MFA_RUN, "--env", "fish")
    keys = ready.ini_section(ready.credentials, "mfa")
    assert f"set -gx AWS_SESSION_TOKEN '{keys['aws_session_token']}';" in fish.stdout
    assert "set -e AWS_PROFILE;" in fish.stdout
    assert ready.run(AWS_MFA_RUN, "--env", "tcsh").returncode == 2


def test_credential_process_through_the_real_aws(ready: Bed) -> None:
    use_mfa_process(ready)
    with ready.config.open("a") as handle:
        handle.write(
            "[profile work]\ncredential_process = aws-mfa-run --credential-process -p default\n"
            "region = eu-west-1\n"
        )
    first = ready.run(AWS, "dynamodb", "list-tables", "--profile", "work")
    assert first.returncode == 0, first.stderr
    assert "orders" in first.stdout
    second = ready.run(AWS, "dynamodb", "list-tables", "--profile", "work")
    assert second.returncode == 0, second.stderr
    assert ready.fake.calls["GetSessionToken"] == 1

    answer = ready.run(AWS_MFA_RUN, "--credential-process")
    data = json.loads(answer.stdout)
    assert data["Version"] == 1
    assert set(data) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert data["Expiration"].endswith("Z")


def test_credential_process_that_points_at_itself_is_an_error(ready: Bed) -> None:
    with ready.config.open("a") as handle:
        handle.write(
            "[profile loop]\ncredential_process = aws-mfa-run --credential-process -p loop\n"
        )
    done = ready.run(AWS_MFA_RUN, "--credential-process", "-p", "loop", timeout=20)
    assert done.returncode == 3 and "aws-mfa-run itself" in done.stderr
    through_aws = ready.run(AWS, "sts", "get-caller-identity", "--profile", "loop", timeout=30)
    assert through_aws.returncode != 0 and "aws-mfa-run itself" in through_aws.stderr


def test_mfa_process_supplies_the_code_without_a_terminal(ready: Bed) -> None:
    use_mfa_process(ready)
    done = ready.run(AWS_MFA_RUN, "aws", "dynamodb", "list-tables")
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.ini_section(ready.credentials, "mfa")["aws_mfa_run_source_profile"] == "default"


def test_no_terminal_and_a_stdin_that_never_delivers_fails_fast(ready: Bed) -> None:
    read_end, write_end = os.pipe()
    try:
        started = time.monotonic()
        done = ready.run(AWS_MFA_RUN, "true", stdin=read_end, timeout=20)
        assert done.returncode == 4, done.stderr
        assert time.monotonic() - started < 10
    finally:
        os.close(read_end)
        os.close(write_end)


def test_reuse_margin(ready: Bed) -> None:
    ready.login()
    set_stored_expiration(ready, 10 * 60)  # inside the default margin: refresh first
    done = ready.run(AWS_MFA_RUN, "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2

    set_stored_expiration(ready, 10.5 * 60)
    relaxed = ready.run(AWS_MFA_RUN, "--min-remaining", "5", "true")
    assert relaxed.returncode == 0, relaxed.stderr
    assert ready.fake.calls["GetSessionToken"] == 2
    # Under credential_process, botocore would call 10.5 minutes "expired": refresh instead.
    strict = ready.run(
        AWS_MFA_RUN,
        "--credential-process",
        "--min-remaining",
        "5",
        "--token-code",
        ready.fresh_code(),
    )
    assert strict.returncode == 0, strict.stderr
    assert ready.fake.calls["GetSessionToken"] == 3


def test_nesting_reuses_the_given_session(ready: Bed) -> None:
    ready.login()
    # The inner run finds its session in the environment: it needs no file at all.
    inner = f'rm "{ready.credentials}" && "{AWS_MFA_RUN}" aws dynamodb list-tables'
    done = ready.run(AWS_MFA_RUN, "sh", "-c", inner)
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_nesting_for_another_profile_works_as_usual(ready: Bed) -> None:
    bob = ready.add_profile("dev", "bob")
    ready.login()
    inner = (
        f'"{AWS_MFA_RUN}" -p dev --token-code {ready.fresh_code(bob.devices[0])} '
        "aws sts get-caller-identity --query Arn --output text"
    )
    done = ready.run(AWS_MFA_RUN, "sh", "-c", inner)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("user/bob")


def test_warm_path_imports_no_botocore_nor_keyring(ready: Bed) -> None:
    ready.login()
    done = ready.run(sys.executable, "-X", "importtime", "-m", "aws_mfa_run", "true")
    assert done.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "aws_mfa_run.cli" in imported  # the guard sees our own imports...
    assert not [name for name in imported if name.startswith(("botocore", "boto3", "keyring"))]


@pytest.mark.parametrize("mode", [["true"], ["--credential-process"], ["-p", "default", "true"]])
def test_the_warm_path_is_one_module_of_ours(ready: Bed, mode: list[str]) -> None:
    """With a valid session stored, the entry point, the package and warm.py are all of ours
    that runs (nor `signal`, whose enum import alone costs a third of the warm path)."""
    ready.login()
    done = ready.run(sys.executable, "-X", "importtime", "-m", "aws_mfa_run", *mode)
    assert done.returncode == 0, done.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    ours = {name for name in imported if name.startswith("aws_mfa_run")} - {"aws_mfa_run.__main__"}
    assert ours == {"aws_mfa_run", "aws_mfa_run.cli", "aws_mfa_run.warm"}
    # Nor what Python itself does not load to run a module (3.9's runpy loads enum anyway).
    bare = ready.run(sys.executable, "-X", "importtime", "-m", "this")
    started = {line.rsplit("|", 1)[-1].strip() for line in bare.stderr.splitlines()}
    assert not {"signal", "enum"} & (set(imported) - started)


@pytest.mark.parametrize("mode", ["--env", "--credential-process"])
def test_printing_modes_without_session_or_terminal_fail_cleanly(ready: Bed, mode: str) -> None:
    done = ready.run(AWS_MFA_RUN, mode)
    # --env prints a script that fails (for `eval "$(...)" && next`), no credential.
    assert done.returncode == 4 and done.stdout == ("false\n" if mode == "--env" else "")


def test_nested_credential_process_keeps_botocores_floor(ready: Bed) -> None:
    ready.login()
    set_stored_expiration(ready, 10.5 * 60)  # fine for a command, too little for botocore
    inner = (
        f'"{AWS_MFA_RUN}" --credential-process --min-remaining 5 --token-code {ready.fresh_code()}'
    )
    done = ready.run(AWS_MFA_RUN, "--min-remaining", "5", "sh", "-c", inner)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert ready.fake.calls["GetSessionToken"] == 2  # the inner one refreshed, not reused
    assert answer["AccessKeyId"] == ready.ini_section(ready.credentials, "mfa")["aws_access_key_id"]


def test_a_make_recipe_takes_the_warm_path_with_the_alias_installed(ready: Bed) -> None:
    """`sh -c "aws-mfa-run ..."` (a make recipe) is no alias of the AWS CLI, even when the alias
    file holds `!aws-mfa-run --login`: the warm path serves it."""
    ready.login()
    ready.install_alias()
    recipe = f"{sys.executable} -X importtime -m aws_mfa_run true"
    done = ready.run("sh", "-c", recipe)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "aws_mfa_run.warm" in imported and "aws_mfa_run.entry" not in imported
