"""The command line, in-process: our options, and the AWS CLI's own command line as the alias
reaches us (global options, prefixes, how `aws` was started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_mfa_run.arguments import parse_arguments
from aws_mfa_run.errors import UsageError
from aws_mfa_run.parent_aws import (
    Process,
    aws_cli_arguments,
    find_alias_globals,
    parse_aws_command_line,
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
