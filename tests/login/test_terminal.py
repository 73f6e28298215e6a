"""Prompts, Ctrl-C and device choice through real pseudo-terminals (pexpect)."""

from __future__ import annotations

import pexpect

from conftest import AWS, AWS_MFA_RUN, Bed


def test_aws_mfa_asks_for_the_code_on_the_terminal(ready: Bed) -> None:
    child = ready.spawn(AWS, "mfa")
    child.expect_exact(f"MFA code for {ready.device.serial}: ")
    code = ready.fresh_code()
    child.sendline(f"{code[:3]} {code[3:]}")
    child.expect("'default' -> 'mfa'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_bad_answer_is_asked_again(ready: Bed) -> None:
    child = ready.spawn(AWS_MFA_RUN, "--login")
    child.expect_exact("MFA code for ")
    child.sendline("12")
    child.expect_exact("6 digits")
    child.expect_exact("MFA code for ")
    child.sendline(ready.fresh_code())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_at_the_prompt_exits_130_and_writes_nothing(ready: Bed) -> None:
    # botocore's client is being built in a thread during the prompt.
    before = ready.snapshot()
    child = ready.spawn(AWS_MFA_RUN, "--login")
    child.expect_exact("MFA code for ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert ready.snapshot() == before
    # No lock is left behind: the next run works at once.
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), timeout=20)
    assert done.returncode == 0, done.stderr


def test_several_devices_are_offered_on_the_terminal(bed: Bed) -> None:
    second = bed.alice.add_device("alice-backup")
    bed.write_profiles(serial=False)
    child = bed.spawn(AWS_MFA_RUN, "--login")
    child.expect_exact(second.serial)
    child.expect_exact("Which MFA device [1-2]: ")
    child.sendline("2")
    child.expect_exact(f"MFA code for {second.serial}: ")
    child.sendline(bed.fresh_code(second))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert bed.ini_section(bed.config, "default")["mfa_serial"] == second.serial
