"""No core file of aws-mfa-run: while it fetches it holds the long-term secret key (Ctrl-\\ at
its prompt, or a crash, would write it to disk). The command it runs keeps its own core files."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import AWS_MFA_RUN, Bed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")


@pytest.fixture
def cores_allowed() -> None:
    if resource.getrlimit(resource.RLIMIT_CORE)[1] != resource.RLIM_INFINITY:
        pytest.skip("this user cannot raise the core size limit (hard limit set)")


def _quit_and_wait(bed: Bed, args: list[str], ready_mark: Path | None, workdir: Path) -> int:
    """Run aws-mfa-run ARGS with no core size limit, send it SIGQUIT once it is waiting for
    `ready_mark` to appear (None: let it end by itself); its raw wait status."""
    process = subprocess.Popen(
        ["sh", "-c", 'ulimit -c unlimited && exec "$@"', "sh", AWS_MFA_RUN, *args],
        env=bed.env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if ready_mark is not None:
            deadline = time.monotonic() + 30
            while not ready_mark.exists():
                assert time.monotonic() < deadline, "mfa_process never started"
                time.sleep(0.05)
            process.send_signal(signal.SIGQUIT)
        _, status = os.waitpid(process.pid, 0)
        process.returncode = 0  # reaped here: Popen must not wait for it again
        return status
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # its mfa_process, still sleeping
        except ProcessLookupError:
            pass


@pytest.mark.usefixtures("cores_allowed")
@pytest.mark.parametrize(
    "mode", [["--login"], ["--credential-process"], ["sh", "-c", "true"], ["--server", "true"]]
)
def test_no_core_file_while_the_long_term_keys_are_in_memory(
    ready: Bed, tmp_path: Path, mode: list[str]
) -> None:
    mark = tmp_path / "asked"
    with ready.config.open("a") as handle:
        handle.write(f"mfa_process = touch {mark}; sleep 30; echo 123456\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    status = _quit_and_wait(ready, mode, mark, workdir)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGQUIT
    assert not os.WCOREDUMP(status)
    assert list(workdir.iterdir()) == []


@pytest.mark.usefixtures("cores_allowed")
def test_the_command_it_runs_keeps_its_core_files(ready: Bed, tmp_path: Path) -> None:
    """The full path (a code, a fetch) and then exec: the command may dump core as ever. This
    also shows that this machine writes core files, so the test above can fail."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    command = ["--token-code", ready.fresh_code(), "sh", "-c", "kill -QUIT $$"]
    status = _quit_and_wait(ready, command, None, workdir)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGQUIT
    assert os.WCOREDUMP(status)
    for core in workdir.iterdir():  # where the kernel writes core files into the working directory
        assert ready.alice.secret_key.encode() not in core.read_bytes()
