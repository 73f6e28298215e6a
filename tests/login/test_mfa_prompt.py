"""mfa_prompt: a dialog program asked for the code when there is no terminal (IDE, GUI, launcher).

A stand-in dialog (a Python script) plays the user: it logs each time it is shown, with the
question it was given, and answers from a script of replies (a code, junk, or a cancel).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from conftest import AWS, AWS_MFA_RUN, REPO, Bed
from helpers import EXAMPLES

DIALOG = """\
import os, sys, time
import pyotp
log, secret_file, replies = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
with open(log, "a") as handle:
    handle.write(os.environ.get("AWS_MFA_RUN_PROMPT", "(no question)") + "\\n")
shown = len(open(log).read().splitlines())
reply = replies[min(shown, len(replies)) - 1]
time.sleep(float(os.environ.get("DIALOG_DELAY", "0")))
if reply == "cancel":
    sys.exit(1)
if reply == "code":
    print(pyotp.TOTP(open(secret_file).read().strip()).now())
else:
    print(reply)
"""


def with_dialog(bed: Bed, replies: str = "code", extra: str = "") -> Path:
    """mfa_prompt in the default profile; returns the dialog's log."""
    script = bed.root / "dialog.py"
    script.write_text(DIALOG)
    secret = bed.root / "secret"
    secret.write_text(bed.device.secret)
    log = bed.root / "dialog.log"
    setting = f"mfa_prompt = {sys.executable} {script} {log} {secret} {replies}\n{extra}"
    text = bed.config.read_text()
    assert "[default]\n" in text
    bed.config.write_text(text.replace("[default]\n", f"[default]\n{setting}", 1))
    return log


def shown(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_without_a_terminal_the_dialog_asks_and_sdks_get_the_session(ready: Bed) -> None:
    """What an IDE does: the real aws, credential_process, no terminal anywhere."""
    log = with_dialog(ready)
    with ready.config.open("a") as handle:
        handle.write(
            "\n[profile work]\ncredential_process = aws-mfa-run --credential-process\n"
            "region = eu-west-1\n"
        )
    done = ready.run(AWS, "dynamodb", "list-tables", "--profile", "work")
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout
    assert shown(log) == [f"MFA code for {ready.device.serial}:"]
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_terminal_comes_first_and_the_dialog_stays_away(ready: Bed) -> None:
    log = with_dialog(ready)
    child = pexpect.spawn(
        AWS_MFA_RUN, ["--login"], env=ready.env, cwd=str(ready.root), encoding="utf-8"
    )
    child.expect_exact(f"MFA code for {ready.device.serial}: ")
    child.sendline(ready.fresh_code())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert shown(log) == []


def test_mfa_process_comes_before_the_dialog(ready: Bed) -> None:
    totp = REPO / "tests" / "totp.py"
    secret = ready.root / "secret-for-process"
    secret.write_text(ready.device.secret)
    log = with_dialog(ready, extra=f"mfa_process = {sys.executable} {totp} {secret}\n")
    done = ready.run(AWS_MFA_RUN, "--login")
    assert done.returncode == 0, done.stderr
    assert shown(log) == []


def test_a_code_on_the_command_line_comes_before_the_dialog(ready: Bed) -> None:
    log = with_dialog(ready)
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert shown(log) == []


@pytest.mark.parametrize("reply", ["cancel", ""], ids=["cancel", "no-output"])
def test_cancel_or_no_answer_is_exit_4_and_changes_nothing(ready: Bed, reply: str) -> None:
    with_dialog(ready, replies=reply or "''")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login")
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1 and "mfa_prompt of profile 'default'" in done.stderr
    assert "cancelled" in done.stderr
    assert ready.snapshot() == before
    assert ready.fake.calls["GetSessionToken"] == 0


def test_a_spent_code_is_asked_again_saying_so(ready: Bed) -> None:
    code = ready.fresh_code()
    assert ready.run(AWS_MFA_RUN, "--login", code).returncode == 0
    log = with_dialog(ready, replies=f"{code},{code},{code}")
    done = ready.run(AWS_MFA_RUN, "--login", "--force")
    assert done.returncode == 4 and "3 tries" in done.stderr, done.stderr
    questions = shown(log)
    assert len(questions) == 3
    assert questions[1].startswith("That code was already used")
    assert ready.fake.calls["GetSessionToken"] == 1  # the spent code was never sent again


def test_a_bad_answer_is_asked_again_saying_what_was_wrong(ready: Bed) -> None:
    log = with_dialog(ready, replies="12,code")
    done = ready.run(AWS_MFA_RUN, "--login")
    assert done.returncode == 0, done.stderr
    first, second = shown(log)
    assert first == f"MFA code for {ready.device.serial}:"
    assert second.startswith("The MFA code must be 6 digits") and second.endswith(first)


def test_three_bad_answers_give_up(ready: Bed) -> None:
    log = with_dialog(ready, replies="no,no,no,code")
    done = ready.run(AWS_MFA_RUN, "--login")
    assert done.returncode == 4 and "3 tries" in done.stderr, done.stderr
    assert len(shown(log)) == 3


def test_one_dialog_for_many_processes_at_once(ready: Bed) -> None:
    """Six wrappers start together without a terminal: one dialog, one STS call."""
    log = with_dialog(ready)
    env = {**ready.env, "DIALOG_DELAY": "1"}
    processes = [
        subprocess.Popen(
            [AWS_MFA_RUN, "aws", "dynamodb", "list-tables", "--output", "text"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(6)
    ]
    results = [process.communicate(timeout=60) for process in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0, err
        assert "orders" in out
    assert len(shown(log)) == 1
    assert ready.fake.calls["GetSessionToken"] == 1


def _missing(*programs: str) -> list[str]:
    return [program for program in programs if shutil.which(program) is None]


# zenity and Xvfb are Debian packages; xdotool types like a person; `import` (ImageMagick) takes
# the screenshot.
X_PROGRAMS = ("zenity", "Xvfb", "xdotool", "import")


@pytest.mark.skipif(
    bool(_missing(*X_PROGRAMS)),
    reason=f"needs {', '.join(X_PROGRAMS)}; missing: {', '.join(_missing(*X_PROGRAMS))}",
)
def test_readme_zenity_line_with_a_real_dialog_under_xvfb(ready: Bed) -> None:
    """README's zenity line, a real zenity on a virtual X display; xdotool types the code.
    A screenshot of the dialog goes to $AWS_MFA_RUN_SCREENSHOT (default: the test's directory).
    """
    ready.config.write_text(
        EXAMPLES["mfa-prompt"].replace("mfa/alice", f"mfa/{ready.alice.name}")
        + "region = eu-west-1\n"
    )
    # Xvfb picks a free display itself and writes its number once it accepts clients.
    numbers, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(numbers) as answer:
            display = f":{answer.readline().strip()}"
        assert display != ":", "Xvfb did not start"
        env = {**ready.env, "DISPLAY": display}
        login = subprocess.Popen(
            [AWS_MFA_RUN, "--login"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        # The dialog's window, once zenity shows it (seconds on a loaded machine); a login that
        # ended instead says why.
        deadline = time.monotonic() + 120
        windows: list[str] = []
        while not windows and login.poll() is None and time.monotonic() < deadline:
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "aws-mfa-run"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            windows = found.stdout.split()
            if not windows:
                time.sleep(0.2)
        ended = login.poll()
        why = login.stderr.read() if ended is not None and login.stderr else ""
        assert windows, f"no dialog within 120 s; the login ended with {ended}: {why}"
        window = windows[0]
        screenshot = os.environ.get("AWS_MFA_RUN_SCREENSHOT", str(ready.root / "zenity.png"))
        subprocess.run(
            ["import", "-window", "root", "-display", display, screenshot],
            check=True,
            timeout=30,
        )
        code = ready.fresh_code()
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, timeout=10)
        subprocess.run(["xdotool", "type", "--delay", "50", code], env=env, timeout=10)
        subprocess.run(["xdotool", "key", "Return"], env=env, timeout=10)
        _, err = login.communicate(timeout=30)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    assert login.returncode == 0, err
    assert "'default' -> 'mfa'" in err
    assert ready.fake.calls["GetSessionToken"] == 1
