"""`--env` through the real shells: the variables are set, and the script's own status is 0, so
`eval "$(aws-mfa-run --env)" && next` (fish: `aws-mfa-run --env fish | source; and next`) goes
on, whether or not the variables it removes were set."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import AWS_MFA_RUN, Bed

# Each shell: `--env` as README has it run, then `ok` only if its status was 0; then whether the
# AWS_PROFILE that --env removes is gone, and the session token it sets.
LINES = {
    "bash": f'eval "$("{AWS_MFA_RUN}" --env bash)" && echo "ok $AWS_MFA_RUN_PROFILE"',
    "zsh": f'eval "$("{AWS_MFA_RUN}" --env zsh)" && echo "ok $AWS_MFA_RUN_PROFILE"',
    "dash": f'eval "$("{AWS_MFA_RUN}" --env)" && echo "ok $AWS_MFA_RUN_PROFILE"',
    "fish": f"'{AWS_MFA_RUN}' --env fish | source; and echo ok $AWS_MFA_RUN_PROFILE",
}
POSIX_CHECK = '; [ -z "${AWS_PROFILE+set}" ] && echo profile-gone; echo "key=$AWS_SESSION_TOKEN"'
FISH_CHECK = "; set -q AWS_PROFILE; or echo profile-gone; echo key=$AWS_SESSION_TOKEN"


@pytest.mark.parametrize("shell", sorted(LINES))
@pytest.mark.parametrize("profile", [None, "default"], ids=["AWS_PROFILE-unset", "AWS_PROFILE-set"])
def test_env_sets_the_session_and_ends_with_status_0(
    ready: Bed, shell: str, profile: str | None
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    ready.login()
    line = LINES[shell] + (FISH_CHECK if shell == "fish" else POSIX_CHECK)
    done = ready.run(shell, "-c", line, env={"AWS_PROFILE": profile} if profile else {})
    assert done.returncode == 0, done.stderr
    token = ready.ini_section(ready.credentials, "mfa")["aws_session_token"]
    assert done.stdout.splitlines() == ["ok default", "profile-gone", f"key={token}"]


@pytest.mark.parametrize("shell", sorted(LINES))
def test_a_failed_env_stops_the_next_command(bed: Bed, shell: str) -> None:
    """No session, no terminal, no code: `--env` fails (exit 4), and `eval "$(...)" && next`
    must not go on with whatever keys the shell had."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    bed.write_profiles()
    done = bed.run(shell, "-c", LINES[shell].replace("ok", "went-on"))
    assert "went-on" not in done.stdout, done.stdout
    assert "aws-mfa-run:" in done.stderr and bed.fake.calls["GetSessionToken"] == 0


@pytest.mark.parametrize("shell", sorted(LINES))
@pytest.mark.parametrize("wrong", ["--force", "--all", "-p"])
def test_an_env_refused_as_written_stops_the_next_command(
    ready: Bed, shell: str, wrong: str
) -> None:
    """A valid session is stored, but the command line is refused (exit 2: an option --env does
    not use, a missing value): `eval "$(...)" && next` stops too, in every shell."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    ready.login()
    line = LINES[shell].replace("ok", "went-on").replace(" --env", f" --env {wrong}", 1)
    assert wrong in line, line
    done = ready.run(shell, "-c", line)
    assert "went-on" not in done.stdout, (line, done.stdout)
    assert "aws-mfa-run:" in done.stderr, done.stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_an_env_killed_while_it_waits_prints_its_failed_script(bed: Bed, name: str) -> None:
    """`timeout` or a closed terminal ends `--env` while it waits for a code: it still prints
    `false`, so `eval "$(...)" && next` does not go on with the shell's own keys."""
    bed.write_profiles()
    asked = bed.root / "asked"
    process = f"touch {asked}; sleep 60; echo 123456"
    text = bed.config.read_text()
    bed.config.write_text(text.replace("[default]\n", f"[default]\nmfa_process = {process}\n", 1))
    # stderr to a file: the mfa_process's own `sleep` keeps the stderr it inherited open.
    errors = (bed.root / "stderr").open("w")
    run = subprocess.Popen(
        [AWS_MFA_RUN, "--env"], env=bed.env, cwd=bed.root, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not asked.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert asked.exists(), run.communicate(timeout=30)
    run.send_signal(getattr(signal, name))
    out, _ = run.communicate(timeout=30)
    errors.close()
    err = (bed.root / "stderr").read_text()
    assert out == "false\n" and run.returncode != 0, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    os.killpg(run.pid, signal.SIGKILL)  # the mfa_process's own sleep, left by the interrupt


def test_a_wrapped_commands_own_env_option_gets_no_failed_script(bed: Bed) -> None:
    """`--env` after the command is the command's: a refused command line prints no `false`
    for it (stdout may be read by whatever runs us)."""
    for words in (["--json", "mytool", "--env"], ["--json", "--", "mytool", "--env"]):
        done = bed.run(AWS_MFA_RUN, *words)
        assert done.returncode == 2 and done.stdout == "", (words, done.stdout)
    done = bed.run(AWS_MFA_RUN, "-p", "dev", "--json", "--env")  # ours: refused, `false`
    assert done.returncode == 2 and done.stdout == "false\n", done.stdout
