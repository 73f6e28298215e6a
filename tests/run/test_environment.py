"""The environment a command gets, and the shell scripts of --env, in-process."""

from __future__ import annotations

from aws_mfa_run import environ
from aws_mfa_run.aws.answers import SessionCredentials

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


def test_shell_scripts_quote_everything() -> None:
    session = SessionCredentials("ASIA1", "se'cret/+", "to$ken", 0)
    variables = environ.session_variables(session, "dev", "eu-west-1", {})
    posix = environ.shell_script(variables, "sh", {})
    assert "export AWS_SECRET_ACCESS_KEY='se'\"'\"'cret/+'" in posix
    assert "export AWS_SESSION_TOKEN='to$ken'" in posix
    assert posix.startswith("unset AWS_PROFILE AWS_DEFAULT_PROFILE\n")
    fish = environ.shell_script(variables, "fish", {})
    assert "set -gx AWS_SECRET_ACCESS_KEY 'se\\'cret/+';" in fish
