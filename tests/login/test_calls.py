"""How aws-mfa-run calls AWS: a code is sent once, every client checks its TLS settings, the
region is the AWS CLI's, and nothing is spent before a refusal that could be known."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import assert_refused_as_malformed

WHOAMI = ("sts", "get-caller-identity", "--query", "Arn", "--output", "text")


# ---- a call that carries a code gets one attempt ------------------------------------------------


@pytest.mark.parametrize("failure", ["error", "throttle", "hang"])
def test_a_call_carrying_a_code_is_made_once_and_the_code_is_spent(
    ready: Bed, failure: str
) -> None:
    """botocore would retry a 503, a throttle or a timeout, sending the single-use code again.
    The stand-in fails once, then would answer: the one attempt must not reach it twice."""
    ready.fake.upcoming["GetSessionToken"] = [failure]
    ready.env["TZ"] = "Pacific/Chatham"  # +12:45/+13:45: the spent-code memory is in UTC
    before = ready.snapshot()
    code = ready.fresh_code()
    done = ready.run(AWS_MFA_RUN, "--login", code)
    assert done.returncode == 6, done.stderr
    assert "AWS" in done.stderr and "counts as used" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.snapshot() == before
    # The same code is not sent again; the next one is.
    again = ready.run(AWS_MFA_RUN, "--login", code)
    assert again.returncode == 5 and "already used" in again.stderr, again.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.snapshot() == before
    ready.device.used.add(code)  # fresh_code: give the next code, not this one
    fresh = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert fresh.returncode == 0, fresh.stderr
    assert ready.fake.calls["GetSessionToken"] == 2


def test_a_code_that_never_left_is_not_spent(ready: Bed, closed_port: int) -> None:
    """No connection: the code was never sent, so it is not counted as used."""
    code = ready.fresh_code()
    down = ready.run(
        AWS_MFA_RUN, "--login", code, env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"}
    )
    assert down.returncode == 6 and "Cannot reach AWS" in down.stderr, down.stderr
    assert "counts as used" not in down.stderr
    done = ready.run(AWS_MFA_RUN, "--login", code)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


def test_calls_without_a_code_keep_botocores_retries(ready: Bed) -> None:
    """ListMFADevices (no code) and AssumeRole (with the MFA session) are retried on a 503."""
    ready.write_profiles(serial=False)
    ready.fake.add_role("admin", ready.alice)
    with ready.config.open("a") as handle:
        handle.write(
            "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            "source_profile = default\n"
        )
    ready.fake.upcoming["ListMFADevices"] = ["error"]
    ready.fake.upcoming["AssumeRole"] = ["error"]
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--login", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["ListMFADevices"] == 2
    assert ready.fake.calls["AssumeRole"] == 2
    assert ready.fake.calls["GetSessionToken"] == 1


# ---- answers are bounded before anything is written ---------------------------------------------


def _in_hours(hours: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + hours * 3600))


# Answers within what AWS documents, but for its bounds: GetSessionToken lasts at most 36 hours,
# AssumeRole 12; a session token is typically under 4,096 bytes (aws-mfa-run takes up to 65,536).
OUT_OF_BOUNDS = {
    "ends in 37 hours": ("GetSessionToken", {"Expiration": _in_hours(37)}),
    "ends in 9999": ("GetSessionToken", {"Expiration": "9999-12-31T23:59:59Z"}),
    "token of 200 KB": ("GetSessionToken", {"SessionToken": "A" * 200_000}),
    "token of 65,537": ("GetSessionToken", {"SessionToken": "A" * 65_537}),
    "role ends in 13 hours": ("AssumeRole", {"Expiration": _in_hours(13)}),
    "role token of 200 KB": ("AssumeRole", {"SessionToken": "A" * 200_000}),
}


@pytest.mark.parametrize("answer", OUT_OF_BOUNDS)
def test_an_answer_beyond_what_aws_gives_is_malformed(ready: Bed, answer: str) -> None:
    call, tamper = OUT_OF_BOUNDS[answer]
    assert_refused_as_malformed(ready, call, tamper)


def test_answers_at_aws_bounds_are_kept(ready: Bed) -> None:
    """The longest session AWS gives, as ended by a clock 10 minutes ahead of ours (AWS takes
    requests up to 15 minutes off), and a token of the longest length aws-mfa-run takes."""
    ready.fake.session_lifetime = 129_600 + 600
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--duration", "129600")
    assert done.returncode == 0, done.stderr
    assert "(36h 09m left)" in done.stderr or "(36h 10m left)" in done.stderr, done.stderr
    ready.fake.session_lifetime = None
    ready.fake.tamper = {"SessionToken": "A" * 65_536}
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--force")
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "mfa")["aws_session_token"] == "A" * 65_536


# ---- every client refuses a blank CA bundle ----------------------------------------------------


def _mfa_process(bed: Bed) -> str:
    """An mfa_process line in [default] that leaves a mark when it is run."""
    marker = bed.root / "code-was-asked"
    text = bed.config.read_text()
    bed.config.write_text(
        text.replace("[default]\n", f"[default]\nmfa_process = touch {marker}; echo 123456\n")
    )
    return str(marker)


@pytest.mark.parametrize("where", ["role", "source", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_a_blank_ca_bundle_anywhere_is_refused_before_any_code(ready: Bed, where: str) -> None:
    ready.fake.add_role("admin", ready.alice)
    marker = _mfa_process(ready)
    role = "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
    role += "source_profile = default\n" + ("ca_bundle =\n" if where == "role" else "")
    text = ready.config.read_text() + role
    if where == "source":
        text = text.replace("[default]\n", "[default]\nca_bundle =  \n")
    ready.config.write_text(text)
    env = {where: ""} if where.endswith("_CA_BUNDLE") else {}
    before = ready.snapshot()
    for args in (("--login",), ("aws", "sts", "get-caller-identity"), ("--env",)):
        done = ready.run(AWS_MFA_RUN, "-p", "admin", *args, env=env)
        assert done.returncode == 3, done.stderr
        assert "verify" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        named = "ca_bundle of profile 'admin'" if where == "role" else "ca_bundle"
        assert (where if where.endswith("_CA_BUNDLE") else named) in done.stderr, done.stderr
    assert not os.path.exists(marker)
    assert sum(ready.fake.calls.values()) == 0
    assert ready.snapshot() == before


def test_rotate_keys_sends_no_key_to_an_unverified_endpoint(ready: Bed) -> None:
    """A blank ca_bundle in the profile: --rotate-keys is refused before the code, so neither
    the new secret key nor the MFA session ever travel without certificate checks."""
    marker = _mfa_process(ready)
    ready.config.write_text(ready.config.read_text() + "ca_bundle =\n")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--rotate-keys")
    assert done.returncode == 3 and "ca_bundle" in done.stderr, done.stderr
    assert not os.path.exists(marker)
    assert sum(ready.fake.calls.values()) == 0
    assert ready.snapshot() == before


def test_the_client_factory_itself_refuses_a_blank_bundle_of_its_profile(ready: Bed) -> None:
    """Whatever checked the files before, the one function that builds botocore clients reads
    the bundle as botocore does and refuses a blank one (the files may change in between)."""
    from aws_mfa_run.aws import iam
    from aws_mfa_run.errors import ConfigError

    ready.config.write_text(ready.config.read_text() + "[profile ops]\nca_bundle = \n")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(ready.env)
    try:
        with pytest.raises(ConfigError, match="ca_bundle of profile 'ops'"):
            iam.list_mfa_devices(
                keys=(ready.alice.access_key, ready.alice.secret_key),
                profile="ops",
                region="eu-west-1",
                env=ready.env,
            )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert ready.fake.calls["ListMFADevices"] == 0


# ---- names, the environment of code programs, --status ----------------------------------------


@pytest.mark.parametrize("option", ["-p", "--target-profile"])
def test_default_is_no_profile_name(ready: Bed, option: str) -> None:
    """configparser (so botocore and the AWS CLI) read [DEFAULT] as every section's defaults."""
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), option, "DEFAULT")
    assert done.returncode == 2, done.stderr
    assert "'DEFAULT'" in done.stderr and "defaults" in done.stderr
    assert sum(ready.fake.calls.values()) == 0
    assert ready.snapshot() == before


# Config headers botocore reads back as each name (it splits them like a shell). `aws configure
# set` writes `[profile a'b]`, which botocore itself cannot read: the keys go in the credentials
# file (written by the real `aws configure set`), the rest in a header botocore reads. README's
# `ünï`: test_profiles.py, where `aws configure set` writes both files.
UNUSUAL = {
    "a=b": "profile a=b",
    "a'b": 'profile "a\'b"',
    "a$b": "profile a$b",
}


@pytest.mark.parametrize("name", list(UNUSUAL))
def test_unusual_profile_names_work_through_the_real_aws(bed: Bed, name: str) -> None:
    user = bed.fake.add_user("carol")
    for key, value in (
        ("aws_access_key_id", user.access_key),
        ("aws_secret_access_key", user.secret_key),
    ):
        done = bed.run(AWS, "configure", "set", key, value, "--profile", name)
        assert done.returncode == 0, done.stderr
    bed.config.write_text(
        f"[{UNUSUAL[name]}]\nregion = eu-west-1\nmfa_serial = {user.devices[0].serial}\n",
        encoding="utf-8",
    )
    login = bed.run(AWS_MFA_RUN, "-p", name, "--login", bed.fresh_code(user.devices[0]))
    assert login.returncode == 0, login.stderr
    assert f"-> '{name}-mfa'" in login.stderr
    whoami = bed.run(AWS, *WHOAMI, "--profile", f"{name}-mfa")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == user.arn
    tables = bed.run(AWS, "dynamodb", "list-tables", "--profile", f"{name}-mfa")
    assert tables.returncode == 0, tables.stderr
    wrapped = bed.run(AWS_MFA_RUN, "-p", name, "aws", "dynamodb", "list-tables")
    assert wrapped.returncode == 0, wrapped.stderr
    assert bed.fake.calls["GetSessionToken"] == 1


@pytest.mark.parametrize("name", ["a]b", " lead", "tab\there", "x" * 513, ""])
def test_the_bad_name_sentence_says_what_is_accepted(ready: Bed, name: str) -> None:
    done = ready.run(AWS_MFA_RUN, "--status", "-p", name)
    assert done.returncode == 2, done.stderr
    assert "1 to 512 printable characters" in done.stderr
    assert "= ' $" in done.stderr and "except [ and ]" in done.stderr


def test_status_of_a_profile_that_does_not_exist_is_exit_3(ready: Bed) -> None:
    for args in (("--status",), ("--status", "--json")):
        done = ready.run(AWS_MFA_RUN, *args, "-p", "nosuch")
        assert done.returncode == 3, done.stderr
        assert "'nosuch'" in done.stderr and done.stdout == ""
    by_variable = ready.run(AWS_MFA_RUN, "--status", env={"AWS_PROFILE": "nosuch"})
    assert by_variable.returncode == 3, by_variable.stderr


SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAOUTERSESSION0001",
    "AWS_SECRET_ACCESS_KEY": "outer-secret-key",
    "AWS_SESSION_TOKEN": "outer-session-token",
    "AWS_SECURITY_TOKEN": "outer-security-token",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "outer-container-token",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds",
    "AWS_SECRET_KEY": "legacy-secret",
    "AWS_BEARER_TOKEN_BEDROCK": "bedrock-api-key",
}


CODE_PRINTER = "python -c 'import pyotp, sys; print(pyotp.TOTP(open(sys.argv[1]).read()).now())'"


def test_mfa_process_runs_without_aws_secrets(ready: Bed) -> None:
    dump = ready.root / "env-of-mfa-process"
    secret = ready.root / "totp-secret"
    secret.write_text(ready.device.secret)
    program = f"env > {dump}; {CODE_PRINTER} {secret}"
    text = ready.config.read_text()
    ready.config.write_text(text.replace("[default]\n", f"[default]\nmfa_process = {program}\n"))
    done = ready.run(AWS_MFA_RUN, "--login", env={**SECRETS, "KEEP_ME": "kept"})
    assert done.returncode == 0, done.stderr
    seen = dump.read_text()
    assert "KEEP_ME=kept" in seen and "HOME=" in seen
    for name, value in SECRETS.items():
        assert name not in seen and value not in seen, name


def test_mfa_prompt_runs_without_aws_secrets(ready: Bed) -> None:
    dump = ready.root / "env-of-mfa-prompt"
    secret = ready.root / "totp-secret"
    secret.write_text(ready.device.secret)
    program = f"env > {dump}; {CODE_PRINTER} {secret}"
    text = ready.config.read_text()
    ready.config.write_text(text.replace("[default]\n", f"[default]\nmfa_prompt = {program}\n"))
    done = ready.run(AWS_MFA_RUN, "true", env={**SECRETS, "KEEP_ME": "kept"})
    assert done.returncode == 0, done.stderr
    seen = dump.read_text()
    assert "KEEP_ME=kept" in seen and "AWS_MFA_RUN_PROMPT=MFA code for" in seen
    for name, value in SECRETS.items():
        assert name not in seen and value not in seen, name


# ---- the region is the AWS CLI's ----------------------------------------------------------------


def _signed_for(bed: Bed, action: str) -> list[str]:
    return [region for called, region in bed.fake.regions if called == action]


def test_the_region_is_the_one_the_aws_cli_uses(ready: Bed) -> None:
    """The profile says eu-west-1, AWS_DEFAULT_REGION says ap-south-1: the AWS CLI (v1 here,
    botocore's order) signs for the environment's; so must our GetSessionToken."""
    env = {"AWS_DEFAULT_REGION": "ap-south-1"}
    cli = ready.run(AWS, *WHOAMI, env=env)
    assert cli.returncode == 0, cli.stderr
    assert _signed_for(ready, "GetCallerIdentity") == ["ap-south-1"]
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=env)
    assert done.returncode == 0, done.stderr
    assert _signed_for(ready, "GetSessionToken") == ["ap-south-1"]


V2 = "/usr/bin/aws"


@pytest.mark.skipif(not os.path.exists(V2), reason="no AWS CLI v2 (Debian awscli) at /usr/bin/aws")
def test_aws_region_comes_first_as_in_the_aws_cli_v2(ready: Bed) -> None:
    """AWS CLI v2 (and most SDKs) read AWS_REGION before AWS_DEFAULT_REGION; botocore, and so
    the AWS CLI v1, ignores it. We follow v2, as the region we hand a command does."""
    env = {"AWS_REGION": "ca-central-1", "AWS_DEFAULT_REGION": "ap-south-1"}
    version = subprocess.run([V2, "--version"], capture_output=True, text=True, check=False)
    assert "aws-cli/2" in version.stdout + version.stderr
    cli = ready.run(V2, *WHOAMI, "--endpoint-url", ready.fake.url, env=env)
    assert cli.returncode == 0, cli.stderr
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=env)
    assert done.returncode == 0, done.stderr
    assert _signed_for(ready, "GetCallerIdentity") == _signed_for(ready, "GetSessionToken")
    assert _signed_for(ready, "GetSessionToken") == ["ca-central-1"]


@pytest.mark.parametrize(
    ("where", "value"),
    [("AWS_DEFAULT_REGION", "eu west 1"), ("AWS_REGION", "-eu-"), ("profile", "eu_west_1")],
)
def test_a_malformed_region_is_named_before_any_code(ready: Bed, where: str, value: str) -> None:
    marker = _mfa_process(ready)
    env = {where: value} if where != "profile" else {}
    if where == "profile":
        ready.config.write_text(ready.config.read_text().replace("eu-west-1", value))
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", env=env)
    assert done.returncode == 3, done.stderr
    assert repr(value) in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (where if where != "profile" else "region of profile 'default'") in done.stderr
    assert not os.path.exists(marker)
    assert sum(ready.fake.calls.values()) == 0
    assert ready.snapshot() == before
