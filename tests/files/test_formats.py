"""What we read and write, in-process: INI edits that keep every other byte, and the times we
store."""

from __future__ import annotations

import pytest

from aws_mfa_run import inifile
from aws_mfa_run.errors import ConfigError
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


def test_times_round_trip() -> None:
    for epoch in (0, 951782400, 1795611600, 4107542400):  # includes 29 Feb 2000
        assert parse_utc(format_utc(epoch)) == epoch
    assert parse_utc("2026-11-25T13:00:00+01:00") == 1795608000
    assert parse_utc("2026-11-25T13:00:00") is None
    assert parse_utc("garbage") is None
