"""--console: role credentials -> the federation endpoint's sign-in token -> the login URL.

The stand-in implements /federation (getSigninToken and login) and checks the Session JSON
against the role credentials it handed out; AWS_MFA_RUN_SIGNIN_URL points aws-mfa-run at it.
A stand-in browser (BROWSER, which Python's webbrowser honours) records what it was given.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from conftest import AWS_MFA_RUN, Bed
from helpers import EXAMPLES, console_bed, signed_in_as


def test_readme_example_opens_the_browser_and_prints_the_url(ready: Bed) -> None:
    env = console_bed(ready)
    done = ready.run("sh", "-c", EXAMPLES["console"], env=env)
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    parts = urlsplit(url)
    query = {key: value[0] for key, value in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == env["AWS_MFA_RUN_SIGNIN_URL"]
    assert query["Action"] == "login"
    assert query["Destination"] == (
        "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
    )
    assert query["SigninToken"] in ready.fake.signin_tokens
    assert "assumed-role/admin/" in signed_in_as(url)
    # One code (at login) covered both; the role was assumed once and reused.
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.fake.assumed == {"admin": 1}
    assert ready.fake.calls["federation:getSigninToken"] == 2
    assert "Opened the AWS console as arn:aws:iam::123456789012:role/admin" in done.stderr


def test_the_browser_gets_a_private_page_never_the_token(ready: Bed) -> None:
    env = console_bed(ready)
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "admin", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    record = json.loads(Path(env["BROWSER_RECORD"]).read_text())
    (token,) = ready.fake.signin_tokens
    (argument,) = record["argv"]
    assert argument.startswith("file://") and token not in argument
    assert (record["page_mode"], record["directory_mode"]) == ("0o600", "0o700")
    assert token in record["page"] and 'http-equiv="refresh"' in record["page"]
    # The page goes away by itself (here after 2 seconds; a minute for real).
    deadline = time.time() + 15
    while os.path.exists(record["path"]) and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(os.path.dirname(record["path"]))


def test_no_browser_is_exit_3_pointing_at_print(ready: Bed) -> None:
    env = console_bed(ready)
    env.update(BROWSER="/bin/false", PATH=str(Path(sys.executable).parent), TMPDIR=str(ready.root))
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "admin", env=env)
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "--print" in done.stderr
    assert done.stdout == ""
    assert not list(ready.root.glob("aws-mfa-run-console-*"))  # the page is gone at once


def test_a_plain_profile_is_refused_with_the_reason_before_any_code(ready: Bed) -> None:
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--console", "--print")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert "role" in done.stderr and "GetSessionToken" in done.stderr
    assert done.stdout == ""
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before


def test_a_role_the_endpoint_refuses_is_one_sentence(ready: Bed) -> None:
    """A role with duration_seconds below an hour is assumed with DurationSeconds, which the
    federation endpoint refuses for chained credentials (IAM User Guide)."""
    env = console_bed(ready)
    with ready.config.open("a") as handle:
        handle.write(
            "\n[profile short]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            "source_profile = default\nduration_seconds = 1800\n"
        )
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "short", "--print", env=env)
    assert done.returncode == 5
    assert done.stderr.count("\n") == 1 and "refused the role's credentials" in done.stderr
    assert done.stdout == ""


def test_an_unreachable_endpoint_is_exit_6(ready: Bed, closed_port: int) -> None:
    env = console_bed(ready)
    env["AWS_MFA_RUN_SIGNIN_URL"] = f"http://127.0.0.1:{closed_port}/federation"
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "admin", "--print", env=env)
    assert done.returncode == 6
    assert done.stderr.count("\n") == 1 and "Cannot reach" in done.stderr


def test_print_without_console_is_a_usage_error(ready: Bed) -> None:
    done = ready.run(AWS_MFA_RUN, "--print")
    assert done.returncode == 2 and "--print goes with --console" in done.stderr
