"""Generated bad input (hypothesis): a clear sentence and a documented exit code, or success;
never a traceback, never a changed byte on failure. Runs the package's entry point in-process
(the same code the console script runs) so that hundreds of inputs stay within seconds."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aws_mfa_run import cli
from conftest import FIGURES, Bed

EXAMPLES = 150
DOCUMENTED = {0, 2, 3, 4, 5, 6}
TRIED: dict[str, int] = {}
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,  # nothing written outside the test's own directories
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


def generated(what: str, test: Callable[[], None]) -> None:
    """Run TEST's generated examples, then record how many there were (CONTRIBUTING.md)."""
    TRIED[what] = 0
    test()
    FIGURES[f"generated bad input: {what}"] = (
        f"{TRIED[what]} tried, each a documented exit code with one sentence, "
        "no traceback, no change on failure"
    )


def test_any_profile_name(ready: Bed) -> None:
    @SETTINGS
    @given(name=st.text(max_size=300))
    def one(name: str) -> None:
        expected = {5} if name == "default" else {2, 3}
        argv = ["--login", "--token-code", "000000", "-p", name]
        check(ready, "profile names", argv, expected)

    generated("profile names", one)


def test_any_code(ready: Bed) -> None:
    @SETTINGS
    @given(code=st.text(max_size=20))
    def one(code: str) -> None:
        digits = "".join(code.split())
        six = len(digits) == 6 and digits.isascii() and digits.isdigit()
        # A code the device shows around now would be accepted: the others must be refused.
        now = time.time()
        assume(digits not in {ready.device.code(now + 30 * step) for step in range(-2, 3)})
        check(ready, "codes", ["--login", "--force", "--token-code", code], {5} if six else {2})

    generated("codes", one)


def test_any_duration(ready: Bed) -> None:
    @SETTINGS
    @given(duration=st.one_of(st.text(max_size=12), st.integers(-(10**6), 10**7).map(str)))
    def one(duration: str) -> None:
        try:
            valid = 900 <= int(duration.strip()) <= 129600
        except ValueError:
            valid = False
        argv = ["--login", "--force", "--token-code", "000000", "--duration", duration]
        check(ready, "durations", argv, {5} if valid else {2})

    generated("durations", one)


def test_any_serial(ready: Bed) -> None:
    @SETTINGS
    @given(serial=st.text(max_size=300))
    def one(serial: str) -> None:
        argv = ["--login", "--force", "--token-code", "000000", "--serial", serial]
        plausible = 9 <= len(serial) <= 256 and all(
            ch.isascii() and (ch.isalnum() or ch in "_+=/:,.@-") for ch in serial
        )
        check(ready, "serials", argv, {5} if plausible else {2})

    generated("serials", one)


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


def test_any_credentials_file(ready: Bed) -> None:
    @SETTINGS
    @given(
        content=st.one_of(
            st.binary(max_size=400),
            st.lists(ini_line, max_size=30).map("\n".join),
            st.lists(ini_line, max_size=30).map("\r\n".join),
        )
    )
    def one(content: bytes | str) -> None:
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        ready.credentials.write_bytes(data)
        check(ready, "credentials files", ["--login", "--token-code", "000000"], {3, 5})
        assert ready.credentials.read_bytes() == data

    generated("credentials files", one)


def test_in_process_calls_run_the_installed_package() -> None:
    """cli.main called here must be the code the console script runs, not a source tree."""
    script = "import aws_mfa_run.cli as cli; print(cli.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd="/", check=True
    )
    assert Path(cli.__file__).resolve() == Path(done.stdout.strip()).resolve()
    assert Path(cli.__file__).resolve().is_relative_to(Path(sys.prefix).resolve())
