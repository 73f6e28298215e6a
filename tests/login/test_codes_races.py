"""A code is sent once, whatever happens while it is on its way and whoever else holds it: it is
recorded as sent before the request leaves, in the same step that checks it was not sent yet."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import AWS_MFA_RUN, Bed
from makefiles import write_makefile


def start(bed: Bed, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [AWS_MFA_RUN, *args],
        env=bed.env,
        cwd=bed.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_until_aws_took(bed: Bed, code: str) -> None:
    deadline = time.monotonic() + 30
    while code not in bed.device.used:
        assert time.monotonic() < deadline, "the code never reached AWS"
        time.sleep(0.02)


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_a_run_stopped_while_aws_answers_leaves_its_code_spent(ready: Bed, stop: str) -> None:
    """Ctrl-C, a kill or a hang-up after AWS took the code, before its answer arrived: the code
    was recorded before it left, so the next run with it says so instead of sending it again."""
    before = ready.snapshot()
    code = ready.fresh_code()
    ready.fake.mode = "drip"  # AWS takes the code, then answers a byte every half second
    login = start(ready, "--login", code)
    wait_until_aws_took(ready, code)
    login.send_signal(getattr(signal, stop))
    _, stderr = login.communicate(timeout=30)
    if stop == "SIGINT":
        assert login.returncode == 130, stderr
        # Our own memory of spent codes was written: "nothing was written" would be untrue.
        assert "nothing was written" not in stderr, stderr
        assert "your AWS files are unchanged" in stderr and "counts as used" in stderr, stderr
    else:
        assert login.returncode == -getattr(signal, stop), stderr
    assert ready.snapshot() == before
    ready.fake.mode = "normal"
    again = ready.run(AWS_MFA_RUN, "--login", code)
    assert again.returncode == 5 and "already sent" in again.stderr, again.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.snapshot() == before
    fresh = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert fresh.returncode == 0, fresh.stderr


def _second_profile(bed: Bed, name: str, region: str, mfa_process: str = "") -> None:
    """Another profile with the same keys and MFA device as `default`, in another region."""
    with bed.credentials.open("a") as handle:
        handle.write(
            f"[{name}]\naws_access_key_id = {bed.alice.access_key}\n"
            f"aws_secret_access_key = {bed.alice.secret_key}\n"
        )
    with bed.config.open("a") as handle:
        handle.write(f"[profile {name}]\nregion = {region}\nmfa_serial = {bed.device.serial}\n")
        if mfa_process:
            handle.write(f"mfa_process = {mfa_process}\n")


def test_a_code_another_profile_of_the_device_has_on_its_way_is_not_sent(ready: Bed) -> None:
    """Two profiles of one device hold different locks; the code one of them sent, still
    unanswered, is spent for the other, which says so instead of sending it too."""
    _second_profile(ready, "devus", "us-east-1")
    code = ready.fresh_code()
    ready.fake.mode = "drip"
    first = start(ready, "--login", code)
    try:
        wait_until_aws_took(ready, code)
        ready.fake.mode = "normal"
        second = ready.run(AWS_MFA_RUN, "-p", "devus", "--token-code", code, "true")
        # The first gives up after its 15 s bound: a machine loaded enough to start the second
        # later sees the code settled as used by then, which is said in other words.
        said = ["already sent"] if first.poll() is None else ["already sent", "already used"]
        assert second.returncode == 5, second.stderr
        assert any(words in second.stderr for words in said), second.stderr
        assert ready.fake.calls["GetSessionToken"] == 1
    finally:
        first.kill()
        first.communicate()


BOTH_AT_THE_BARRIER = """\
import os, sys, time
import pyotp
barrier = sys.argv[2]
open(os.path.join(barrier, str(os.getpid())), "w").close()
deadline = time.monotonic() + 20
while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
    time.sleep(0.005)
with open(sys.argv[1], encoding="ascii") as handle:
    print(pyotp.TOTP(handle.read().strip()).now())
"""


def test_two_profiles_of_one_device_under_make_j_send_different_codes(
    bed: Bed, tmp_path: Path
) -> None:
    """make -j runs both at once, their mfa_process prints the same code to both: one sends it,
    the other waits for the next code instead of sending it too (and failing)."""
    secret = tmp_path / "totp-secret"
    secret.write_text(bed.device.secret)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    program = tmp_path / "both-at-once.py"
    program.write_text(BOTH_AT_THE_BARRIER)
    mfa_process = f"{sys.executable} {program} {secret} {barrier}"
    bed.credentials.write_text("")
    bed.config.write_text("")
    bed.credentials.chmod(0o600)
    _second_profile(bed, "dev", "eu-west-1", mfa_process)
    _second_profile(bed, "devus", "us-east-1", mfa_process)
    write_makefile(bed.root, {p: f"{AWS_MFA_RUN} -p {p} true" for p in ("dev", "devus")})
    while time.time() % 30 > 20:  # both codes printed within one 30-second step
        time.sleep(0.5)
    done = bed.run("make", "-j2", timeout=90)
    assert done.returncode == 0, done.stderr
    assert "was just used; waiting" in done.stderr, done.stderr
    assert bed.fake.calls["GetSessionToken"] == 2
    spent = (bed.aws_dir / "aws-mfa-run" / "used-codes").read_text().split("\n")
    sent = [line.split() for line in spent if line]
    assert len(sent) == 2 and sent[0][1] != sent[1][1], sent
    assert all(len(fields) == 3 for fields in sent), sent  # both accepted
