"""MFA codes, in-process: how they are normalised, and a spent one never sent again."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_mfa_run import codes
from aws_mfa_run.errors import AwsRefusedError, UsageError


def test_codes_are_normalised() -> None:
    assert codes.normalize("123 456") == "123456"
    assert codes.normalize(" 123456\n") == "123456"
    for bad in ("12345", "1234567", "12345a", "١٢٣٤٥٦", ""):
        with pytest.raises(UsageError):
            codes.normalize(bad)


def test_spent_mfa_process_code_waits_for_the_next_one(tmp_path: Path) -> None:
    spent = codes.SpentCodes(str(tmp_path / "used-codes"))
    now = [1000.0]
    assert spent.claim("dev", "111111", now[0]) is None  # recorded as sent by an earlier run
    answers = iter(["111111", "222222"])
    slept: list[float] = []
    said: list[str] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    code = codes.obtain_code(
        serial="dev",
        profile="p",
        given=None,
        mfa_process="x",
        spent=spent,
        open_terminal=lambda: pytest.fail("no terminal needed"),
        run_process=lambda command, profile: next(answers),
        clock=lambda: now[0],
        sleep=sleep,
        say=said.append,
    )
    assert code == "222222"
    assert slept == [21]  # 1000 % 30 == 10: 20 seconds to the next code, plus one
    assert "waiting 21 seconds" in said[0]
    with pytest.raises(AwsRefusedError, match="wait"):
        codes.obtain_code(
            serial="dev",
            profile="p",
            given="111111",
            mfa_process=None,
            spent=spent,
            open_terminal=lambda: pytest.fail("no terminal needed"),
            clock=lambda: 1001.0,
            sleep=sleep,
            say=said.append,
        )
    # Long after, an equal code is a new code that happens to repeat.
    assert spent.was_spent("dev", "111111", 1000.0 + codes.SPENT_CODE_MEMORY) is False
