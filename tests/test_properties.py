"""Generated bad input (hypothesis): a clear sentence and a documented exit code, or success;
never a traceback, never a changed byte on failure. Runs the package's entry point in-process
(the same code the console script runs) so that hundreds of inputs stay within seconds."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aws_mfa_run import cli
from conftest import FIGURES, Bed

EXAMPLES = 150
DOCUMENTED = {0, 2, 3, 4, 5, 6}
TRIED: dict[str, int] = {}
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def environment(bed: Bed) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(bed.env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def call(bed: Bed, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with environment(bed), redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check(bed: Bed, what: str, argv: list[str], allowed: set[int]) -> int:
    TRIED[what] = TRIED.get(what, 0) + 1
    before = bed.snapshot()
    code, out, err = call(bed, *argv)
    assert code in allowed and code in DOCUMENTED, (argv, code, err)
    assert "Traceback" not in err and out == ""
    if code:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("aws-mfa-run: "), err
        assert bed.snapshot() == before, argv
    return code


@SETTINGS
@given(name=st.text(max_size=300))
def test_any_profile_name(ready: Bed, name: str) -> None:
    expected = {5} if name == "default" else {2, 3}
    check(ready, "profile names", ["--login", "--token-code", "000000", "-p", name], expected)


@SETTINGS
@given(code=st.text(max_size=20))
def test_any_code(ready: Bed, code: str) -> None:
    digits = "".join(code.split())
    six = len(digits) == 6 and digits.isascii() and digits.isdigit()
    check(ready, "codes", ["--login", "--force", "--token-code", code], {0, 5} if six else {2})


@SETTINGS
@given(duration=st.one_of(st.text(max_size=12), st.integers(-(10**6), 10**7).map(str)))
def test_any_duration(ready: Bed, duration: str) -> None:
    try:
        valid = 900 <= int(duration.strip()) <= 129600
    except ValueError:
        valid = False
    argv = ["--login", "--force", "--token-code", "000000", "--duration", duration]
    check(ready, "durations", argv, {5} if valid else {2})


@SETTINGS
@given(serial=st.text(max_size=300))
def test_any_serial(ready: Bed, serial: str) -> None:
    argv = ["--login", "--force", "--token-code", "000000", "--serial", serial]
    plausible = 9 <= len(serial) <= 256 and all(
        ch.isascii() and (ch.isalnum() or ch in "_+=/:,.@-") for ch in serial
    )
    check(ready, "serials", argv, {5} if plausible else {2})


ini_line = st.one_of(
    st.builds(lambda name: f"[{name}]", st.text(max_size=20)),
    st.builds(lambda k, v: f"{k} = {v}", st.text(max_size=15), st.text(max_size=30)),
    st.sampled_from(
        [
            "",
            "# comment",
            "; comment",
            "  indented",
            "[default]",
            "[profile x]",
            "aws_access_key_id = AKIAX",
            "\ufeff[default]",
            "\t= x",
        ]
    ),
)


@SETTINGS
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(ini_line, max_size=30).map("\n".join),
        st.lists(ini_line, max_size=30).map("\r\n".join),
    )
)
def test_any_credentials_file(ready: Bed, content: bytes | str) -> None:
    data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    ready.credentials.write_bytes(data)
    check(ready, "credentials files", ["--login", "--token-code", "000000"], {3, 5})
    assert ready.credentials.read_bytes() == data


def test_zz_record_figures() -> None:
    """Runs after the generated tests of this module (alphabetical order within the module)."""
    FIGURES["generated bad inputs"] = (
        ", ".join(f"{count} {what}" for what, count in TRIED.items())
        + "; each a documented exit code with one sentence, no traceback, no change"
    )


# The console script runs the same entry point: make sure these tests exercise that one.
assert Path(cli.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
