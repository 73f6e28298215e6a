"""Sentences that count time say `1 minute` and `2 minutes`: through the installed command where
a test can reach the number in seconds, and the one rule they all use (timefmt.quantity)."""

from __future__ import annotations

from aws_mfa_run.timefmt import quantity
from conftest import AWS_MFA_RUN, Bed


def test_one_minute_left_is_singular(ready: Bed) -> None:
    ready.login()
    ready.age_stored_session(90)  # a minute and a half left: under the 16-minute margin
    done = ready.run(AWS_MFA_RUN, "true")
    assert done.returncode == 4
    assert (
        "The stored session has 1 minute left, under the 16-minute margin, and no MFA code for"
        in done.stderr
    )


def test_a_forced_login_without_a_code_says_it_was_forced_in_one_sentence(ready: Bed) -> None:
    """`aws mfa --force` with no terminal and no code: the stored session is not too short (the
    old words said it was under the margin with 719 minutes left)."""
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--login", "--force")
    assert done.returncode == 4, done.stderr
    assert "A new session was asked for (--force), though the stored one has" in done.stderr
    assert "margin" not in done.stderr
    assert done.stderr.count(". ") == 0 and done.stderr.count("\n") == 1, done.stderr


def test_the_rule() -> None:
    assert [quantity(n, "minute") for n in (0, 1, 2, 1.5)] == [
        "0 minutes",
        "1 minute",
        "2 minutes",
        "1.5 minutes",
    ]
