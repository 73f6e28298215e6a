"""Pure pieces, called directly: INI editing, code handling, environment building, times."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_mfa_run import codes, environ, inifile
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.credentials import store
from aws_mfa_run.errors import AwsRefusedError, ConfigError, UsageError
from aws_mfa_run.timefmt import format_utc, parse_utc


def edit(text: str, section: str, values: dict[str, str | None]) -> str:
    return inifile.edit_section(inifile.parse(text, "f"), section, values)


def test_edit_replaces_only_owned_lines() -> None:
    text = "# c\n[a]\nx = 1\n  ; note\ny: 2\n\n[b]\nz=3"
    assert (
        edit(text, "a", {"y": "new", "w": "4"})
        == "# c\n[a]\nx = 1\n  ; note\ny: new\nw = 4\n\n[b]\nz=3"
    )
    assert edit(text, "b", {"z": None}) == "# c\n[a]\nx = 1\n  ; note\ny: 2\n\n[b]\n"
    assert edit(text, "c", {"k": "v"}) == text + "\n\n[c]\nk = v\n"


def test_edit_keeps_crlf_and_continuations() -> None:
    text = "[a]\r\ns3 =\r\n  max = 1\r\nk = v\r\n"
    assert inifile.parse(text, "f").get("a") == {"s3": "\nmax = 1", "k": "v"}
    assert edit(text, "a", {"s3": "x"}) == "[a]\r\ns3 = x\r\nk = v\r\n"
    assert edit(text, "b", {"k": "v"}) == text + "\r\n[b]\r\nk = v\r\n"


def test_edit_of_empty_text_and_text_without_final_newline() -> None:
    assert edit("", "a", {"k": "v"}) == "[a]\nk = v\n"
    assert edit("[a]\nk = v", "a", {"j": "w"}) == "[a]\nk = v\nj = w\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("k = v\n", 1),
        ("[a]\njunk\n", 2),
        ("[a]\n[a]\n", 2),
        ("[a]\nk=1\nK=2\n", 3),
        ("[]\n", 1),
        ("[a]\nk=\x00\n", 2),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError, match=f"f line {line}:"):
        inifile.parse(text, "f").sections  # noqa: B018


def test_one_section_is_read_without_parsing_the_rest() -> None:
    text = "# c\n[a]\nx = 1\n[b]\ny = 2\n  z\n[c]\njunk\n"
    ini = inifile.parse(text, "f")
    assert ini.get("a") == {"x": "1"}
    assert ini.get("b") == {"y": "2\nz"}
    assert ini.get("nope") is None
    with pytest.raises(ConfigError, match="f line 8:"):
        ini.get("c")
    with pytest.raises(ConfigError, match="f line 8:"):
        ini.sections  # noqa: B018
    # A '[' elsewhere than at a line start means a full parse; the answers are the same.
    odd = "[a]\nv = [x]\n  [b]\n[c] ; note\nk = 1\n"
    full = inifile.parse(odd, "f")
    assert full.get("a") == {"v": "[x]\n[b]"} and full.get("c") == {"k": "1"}
    with pytest.raises(ConfigError, match="appears a second time"):
        inifile.parse("[a]\nk=1\n[a]\n", "f").get("a")


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


def test_shell_scripts_quote_everything() -> None:
    session = SessionCredentials("ASIA1", "se'cret/+", "to$ken", 0)
    variables = environ.session_variables(session, "dev", "eu-west-1", {})
    posix = environ.shell_script(variables, "sh", {})
    assert "export AWS_SECRET_ACCESS_KEY='se'\"'\"'cret/+'" in posix
    assert "export AWS_SESSION_TOKEN='to$ken'" in posix
    assert posix.startswith("unset AWS_PROFILE AWS_DEFAULT_PROFILE\n")
    fish = environ.shell_script(variables, "fish", {})
    assert "set -gx AWS_SECRET_ACCESS_KEY 'se\\'cret/+';" in fish


def test_times_round_trip() -> None:
    for epoch in (0, 951782400, 1795611600, 4107542400):  # includes 29 Feb 2000
        assert parse_utc(format_utc(epoch)) == epoch
    assert parse_utc("2026-11-25T13:00:00+01:00") == 1795608000
    assert parse_utc("2026-11-25T13:00:00") is None
    assert parse_utc("garbage") is None


@pytest.mark.parametrize("fraction", [0.0, 0.4, 0.6, 0.99])
def test_a_rotation_is_found_by_a_login_reading_it_a_moment_later(
    tmp_path: Path, fraction: float
) -> None:
    """A login that read the old key stores its session as the new key's when --rotate-keys
    replaced it meanwhile, however soon after the rotation the login ends (CI found a login
    0.3 s after a rotation at x.6 s storing a session that was never reused)."""
    old, new = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW1"
    rotated_at = 1_800_000_000 + fraction
    store.note_rotation(str(tmp_path), "default", old, new, rotated_at)
    for later in (0.001, 0.3, 60.0):
        assert store.rotated_to(str(tmp_path), "default", old, rotated_at + later) == new
    assert store.rotated_to(str(tmp_path), "other", old, rotated_at + 1) == old
