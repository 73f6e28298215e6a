"""macOS (and the BSDs) by simulation: what aws-mfa-run does differently there, run here.

There is no /proc there: the command line of the `aws` that ran the alias comes from `ps`. Here
AWS_MFA_RUN_PROC_ROOT names an empty directory, so the installed command cannot see /proc, and
tests/macos/ps answers as macOS's ps does (Python shown as the framework build's `Python`).
tests/macos/osascript answers the two AppleScript forms used there: README's `mfa_prompt` dialog
line and `open location` (how a browser is opened on macOS). The real `aws` runs the alias.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import AWS, AWS_MFA_RUN, BIN, REPO, Bed
from helpers import console_bed, signed_in_as

STAND_INS = REPO / "tests" / "macos"


def macos(bed: Bed) -> dict[str, str]:
    """The environment of a Mac: no /proc for aws-mfa-run, macOS's ps and osascript on PATH."""
    hidden = bed.root / "no-proc"
    hidden.mkdir(exist_ok=True)
    return {
        "AWS_MFA_RUN_PROC_ROOT": str(hidden),
        "PATH": f"{STAND_INS}{os.pathsep}{bed.env['PATH']}",
        "PS_LOG": str(bed.root / "ps.log"),
        "OSASCRIPT_LOG": str(bed.root / "osascript.log"),
        "OSASCRIPT_ANSWER": str(bed.root / "osascript.answer"),
    }


def osascript_calls(env: dict[str, str]) -> list[dict[str, str]]:
    path = Path(env["OSASCRIPT_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("aws", ["aws", "python -m awscli"])
def test_the_alias_reads_the_profile_with_ps(ready: Bed, aws: str) -> None:
    """`aws --profile dev mfa CODE`: --profile, which the AWS CLI keeps, read back through ps."""
    env = macos(ready)
    dev = ready.add_profile("dev", "bob", region="us-west-2")
    command = [AWS] if aws == "aws" else [str(BIN / "python"), "-m", "awscli"]
    done = ready.run(*command, "--profile", "dev", "mfa", ready.fresh_code(dev.devices[0]), env=env)
    assert done.returncode == 0, done.stderr
    assert "'dev' -> 'dev-mfa'" in done.stderr
    assert ready.ini_section(ready.credentials, "dev-mfa")["aws_session_token"]
    assert ready.ini_section(ready.credentials, "mfa") == {}  # default untouched
    # The answers came from ps, in macOS's form: the shell that ran the alias (its script split
    # at spaces), and the AWS CLI under the framework's Python.
    answers = Path(env["PS_LOG"]).read_text()
    assert re.search(r"^ *\d+ /bin/sh -c aws-mfa-run --login \d{6}$", answers, re.M)
    assert re.search(r"^ *\d+ /Library/.*/MacOS/Python .*--profile dev mfa \d{6}$", answers, re.M)


def test_the_console_opens_through_osascript(ready: Bed) -> None:
    """As Python's webbrowser does on macOS: `open location "file://..."` on osascript's stdin,
    so the page's path is on no command line; the page signs in as the role."""
    env = {**console_bed(ready), **macos(ready)}
    del env["BROWSER"]
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "admin", env=env)
    assert done.returncode == 0, done.stderr
    (call,) = osascript_calls(env)
    assert call["open"].startswith("file://") and call["page_mode"] == "0o600"
    (token,) = ready.fake.signin_tokens
    assert token not in call["open"] and token in call["page"]
    found = re.search(r'url=([^"]+)"', call["page"])
    assert found, call["page"]
    url = found.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(url).query)["SigninToken"] == [token]
    assert "assumed-role/admin/" in signed_in_as(url)
    deadline = time.time() + 15  # removed after AWS_MFA_RUN_CONSOLE_PAGE_SECONDS (2 s)
    path = urlsplit(call["open"]).path
    while os.path.exists(path) and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(path)


def test_the_console_says_so_when_osascript_fails(ready: Bed) -> None:
    env = {**console_bed(ready), **macos(ready)}
    del env["BROWSER"]
    broken = ready.root / "bin"
    broken.mkdir()
    (broken / "osascript").write_text("#!/bin/sh\ncat >/dev/null; exit 1\n")
    (broken / "osascript").chmod(0o755)
    env.update(PATH=f"{broken}{os.pathsep}{env['PATH']}", TMPDIR=str(ready.root))
    done = ready.run(AWS_MFA_RUN, "--console", "-p", "admin", env=env)
    assert done.returncode == 3 and "--print" in done.stderr
    assert not list(ready.root.glob("aws-mfa-run-console-*"))


def readme_line(program: str) -> str:
    """README's `mfa_prompt = PROGRAM ...` line, as a user copies it."""
    readme = (REPO / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith(f"mfa_prompt = {program}")]
    return line


def test_readmes_macos_dialog_line_asks_and_cancels(ready: Bed) -> None:
    env = macos(ready)
    with ready.config.open("a") as handle:
        handle.write(readme_line("osascript") + "\n")
    Path(env["OSASCRIPT_ANSWER"]).write_text(ready.fresh_code() + "\n")
    done = ready.run(AWS_MFA_RUN, "sh", "-c", "echo ran", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ran\n"
    (call,) = osascript_calls(env)
    assert call["dialog"] == f"MFA code for {ready.device.serial}:"
    assert call["title"] == "aws-mfa-run"
    # Cancel: exit 4, nothing written.
    ready.run(AWS_MFA_RUN, "--logout").check_returncode()
    before = ready.snapshot()
    Path(env["OSASCRIPT_ANSWER"]).write_text("CANCEL\n")
    cancelled = ready.run(AWS_MFA_RUN, "true", env=env)
    assert cancelled.returncode == 4
    assert "cancelled" in cancelled.stderr
    assert ready.snapshot() == before
