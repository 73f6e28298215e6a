"""Unit tests of the pure parts: argument parsing, the AWS CLI's command line, settings and
margins, role chains, profile names as botocore reads them, environments. In-process, no files."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from botocore.configloader import _parse_section
from hypothesis import given
from hypothesis import strategies as st

from aws_mfa_run import environ, inifile
from aws_mfa_run.arguments import parse_arguments
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.errors import ConfigError, UsageError
from aws_mfa_run.parent_aws import (
    Process,
    aws_cli_arguments,
    find_alias_globals,
    parse_aws_command_line,
)
from aws_mfa_run.paths import Paths
from aws_mfa_run.profiles import config_section_name, profile_of_section, shell_words
from aws_mfa_run.settings import (
    DEFAULT_MIN_REMAINING,
    Request,
    Settings,
    resolve,
    role_chain,
    wanted_min_remaining,
)

# ---- arguments ---------------------------------------------------------------------------------


def test_options_end_at_the_command() -> None:
    options = parse_arguments(["-p", "dev", "aws", "s3", "ls", "-p", "x", "--help"])
    assert (options.mode, options.profile) == ("run", "dev")
    assert options.command == ["aws", "s3", "ls", "-p", "x", "--help"]
    assert parse_arguments(["--", "-weird"]).command == ["-weird"]


def test_login_takes_a_code_in_words_and_help_anywhere() -> None:
    assert parse_arguments(["--login", "123", "456"]).token_code == "123 456"
    assert parse_arguments(["--login", "help"]).mode == "help"
    assert parse_arguments(["--login", "123456", "--help"]).mode == "help"
    assert parse_arguments(["--login", "--logout"]).mode == "logout"  # `aws mfa --logout`
    with pytest.raises(UsageError, match="once"):
        parse_arguments(["--login", "123456", "--token-code", "654321"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "cmd"], "powershell"),
        (["--status", "true"], "runs no command"),
        (["--json"], "--json goes with --status"),
        (["--profile"], "needs a value"),
        (["--bogus"], "Unknown option"),
        (["--completion", "tcsh"], "bash, zsh, fish"),
        (["--status", "--login"], "cannot be combined"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_arguments(argv)


# ---- the AWS CLI's command line ----------------------------------------------------------------


def test_global_options_and_their_prefixes() -> None:
    found, command = parse_aws_command_line(
        ["--prof", "dev", "--region=eu-west-1", "--debug", "mfa", "123456", "--out", "json"]
    )
    assert found == {"profile": "dev", "region": "eu-west-1", "output": "json"}
    assert command == "mfa"
    # --c is ambiguous (--color, --ca-bundle, --cli-...): the AWS CLI refuses it, we ignore it.
    assert parse_aws_command_line(["--c", "x", "mfa"])[0] == {}


@pytest.mark.parametrize(
    ("argv", "exe", "expected"),
    [
        (["aws", "--profile", "d", "mfa"], None, ["--profile", "d", "mfa"]),
        (["/opt/x/my-aws", "mfa"], "/usr/local/aws-cli/v2/dist/aws", ["mfa"]),
        (["python3", "-m", "awscli", "mfa"], None, ["mfa"]),
        (["python3.11", "-X", "utf8", "/venv/bin/aws", "mfa"], None, ["mfa"]),
        (["python3", "-c", "print(1)", "--profile", "d"], None, None),
        (["bash", "-c", "aws mfa"], "/bin/bash", None),
    ],
)
def test_the_aws_cli_is_recognised_however_it_is_started(
    argv: list[str], exe: str | None, expected: list[str] | None
) -> None:
    assert aws_cli_arguments(Process(10, argv, 1, exe)) == expected


def test_alias_globals_through_the_shell(tmp_path: Path) -> None:
    alias_file = tmp_path / "alias"
    alias_file.write_text("[toplevel]\nmfa = !aws-mfa-run --login\n")
    processes = {
        20: Process(20, ["/bin/sh", "-c", "aws-mfa-run --login 123456"], 10, "/bin/dash"),
        10: Process(10, ["aws", "--profile", "dev", "mfa", "123456"], 1, None),
        30: Process(30, ["/bin/sh", "-c", "aws-mfa-run true"], 10, "/bin/dash"),  # not an alias
        40: Process(40, ["/bin/sh", "-c", "aws-mfa-run --login 1"], 41, "/bin/dash"),
        41: Process(41, ["weird", "--profile", "dev"], 1, "/usr/bin/weird"),
    }
    reader = processes.get
    assert find_alias_globals(str(alias_file), reader, 20) == {"profile": "dev"}
    assert find_alias_globals(str(alias_file), reader, 30) == {}
    with pytest.raises(UsageError, match="cannot tell"):
        find_alias_globals(str(alias_file), reader, 40)
    # `aws --profile work ...` running us as a credential_process: not through an alias.
    processes[50] = Process(50, ["aws", "--profile", "work", "s3", "ls"], 1, None)
    assert find_alias_globals(str(alias_file), reader, 50) == {}


# ---- profile names as botocore reads them --------------------------------------------------------


@given(st.text(alphabet=st.sampled_from(list("ab '\"\\\t-_")), max_size=14))
def test_shell_words_split_as_shlex_does(text: str) -> None:
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    assert shell_words(text) == expected


@given(st.text(alphabet=st.sampled_from(list("pqrofile '\"\\-_")), max_size=20))
def test_section_headers_name_the_profiles_botocore_finds(header: str) -> None:
    botocore = _parse_section(header, {})
    expected = next(iter(botocore)) if header.startswith("profile") and botocore else None
    if header == "default":
        expected = "default"
    assert profile_of_section(header) == expected


@pytest.mark.parametrize("name", ["dev", "my dev", "o'brien", 'say "hi"', "a\\b"])
def test_written_sections_read_back_as_the_same_profile(name: str) -> None:
    header = config_section_name(name)
    assert next(iter(_parse_section(header, {}))) == name
    assert profile_of_section(header) == name


# ---- settings, margins, role chains ------------------------------------------------------------


def ini(text: str, path: str = "f") -> inifile.IniText:
    return inifile.parse(text, path)


def test_reuse_margin_sources_and_the_lifetime_cap() -> None:
    assert wanted_min_remaining(Request(), None) == DEFAULT_MIN_REMAINING
    assert wanted_min_remaining(Request(), "5") == 300
    assert wanted_min_remaining(Request(min_remaining="30"), "5") == 1800
    with pytest.raises(ConfigError, match=r"^mfa_min_remaining of profile 'dev' \(minutes\)"):
        wanted_min_remaining(Request(), "soon", "dev")
    # A 15-minute session: the margin is at most half of it.
    short = SessionCredentials("ASIA" + "A" * 16, "s", "t", 1000 + 900, issued=1000)
    assert short.margin(DEFAULT_MIN_REMAINING) == 450
    assert short.usable(1000 + 400, DEFAULT_MIN_REMAINING)
    assert not short.usable(1000 + 460, DEFAULT_MIN_REMAINING)
    assert short.margin(DEFAULT_MIN_REMAINING, floor=660) == 660  # credential_process's floor
    unknown = SessionCredentials("ASIA" + "A" * 16, "s", "t", 2000)
    assert unknown.margin(DEFAULT_MIN_REMAINING) == DEFAULT_MIN_REMAINING


CONFIG = """[default]
region = eu-west-1
mfa_serial = arn:aws:iam::123456789012:mfa/alice
[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = middle
[profile middle]
role_arn = arn:aws:iam::123456789012:role/middle
source_profile = default
region = us-east-2
[profile 'my dev']
region = ap-south-1
"""
CREDENTIALS = "[default]\naws_access_key_id = AKIA\n[my dev]\naws_access_key_id = AKIB\n"


def settings_for(profile: str, target_profile: str | None = None) -> Settings:
    request = Request(profile=profile, target_profile=target_profile)
    return resolve(request, {"HOME": "/h"}, ini(CONFIG), ini(CREDENTIALS), Paths({"HOME": "/h"}))


def test_role_chains_from_the_profile_to_the_keys() -> None:
    chain, base = role_chain("admin", ini(CONFIG), ini(CREDENTIALS))
    assert [role.profile for role in chain] == ["admin", "middle"] and base == "default"
    looped = CONFIG.replace("source_profile = default", "source_profile = admin")
    with pytest.raises(ConfigError, match="loop"):
        role_chain("admin", ini(looped), ini(CREDENTIALS))


def test_resolved_settings_of_a_role_and_a_plain_profile() -> None:
    role = settings_for("admin")
    assert (role.profile, role.source_profile) == ("admin", "default")
    assert (role.session_target, role.login_target) == ("mfa", "admin-mfa")
    assert role.serial == "arn:aws:iam::123456789012:mfa/alice"
    spaced = settings_for("my dev")
    assert (spaced.region, spaced.session_target) == ("ap-south-1", "my dev-mfa")
    with pytest.raises(UsageError, match="long-term keys"):
        settings_for("default", target_profile="default")


def test_a_request_is_made_not_changed() -> None:
    """Settings for another profile come from another Request: one is never changed in place."""
    request = Request(profile="admin", min_remaining="30")
    with pytest.raises(AttributeError, match="make another"):
        request.profile = "default"
    assert request.profile == "admin"
    other = Request(profile="default", min_remaining=request.min_remaining)
    settings = resolve(other, {}, ini(CONFIG), ini(CREDENTIALS), Paths({"HOME": "/h"}))
    assert settings.min_remaining == 30 * 60


def test_a_target_of_ours_leads_to_its_source() -> None:
    credentials = CREDENTIALS + "[mfa]\naws_mfa_run_source_profile = default\n"
    request = Request(profile="mfa")
    settings = resolve(request, {}, ini(CONFIG), ini(credentials), Paths({"HOME": "/h"}))
    assert (settings.profile, settings.followed_from) == ("default", "mfa")


# ---- environments ------------------------------------------------------------------------------


def session() -> SessionCredentials:
    return SessionCredentials("ASIA" + "A" * 16, "secret", "token", 4102444800)


def test_a_region_we_injected_is_replaced_one_the_user_set_is_kept() -> None:
    ours = environ.child_environment({}, session(), "default", "eu-west-1")
    assert ours["AWS_REGION"] == ours["AWS_DEFAULT_REGION"] == ours["AWS_MFA_RUN_REGION"]
    nested = environ.child_environment(ours, session(), "dev", "us-west-2")
    assert (nested["AWS_REGION"], nested["AWS_DEFAULT_REGION"]) == ("us-west-2", "us-west-2")
    users = environ.child_environment({"AWS_DEFAULT_REGION": "ap-south-1"}, session(), "dev", "x")
    assert (users["AWS_REGION"], users["AWS_DEFAULT_REGION"]) == ("ap-south-1", "ap-south-1")
    assert "AWS_MFA_RUN_REGION" not in users


def test_powershell_quotes_everything() -> None:
    variables = environ.session_variables(
        SessionCredentials("ASIA" + "A" * 16, "it's", "t", 0), "dev", None, {}
    )
    text = environ.shell_script(variables, "powershell", {})
    assert "$Env:AWS_SECRET_ACCESS_KEY = 'it''s'" in text
