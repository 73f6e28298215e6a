"""`make -j8` of eight wrapped targets with no valid session: one prompt, one STS call."""

from __future__ import annotations

import pexpect

from conftest import AWS_MFA_RUN, REPO, Bed
from makefiles import write_makefile

TARGETS = [f"t{number}" for number in range(8)]


def write_targets(bed: Bed) -> None:
    """Each target writes the access key its command was given to TARGET.out."""
    recipe = AWS_MFA_RUN + " sh -c 'echo $$AWS_ACCESS_KEY_ID > {}.out'"
    write_makefile(bed.root, {target: recipe.format(target) for target in TARGETS})


def outputs(bed: Bed) -> set[str]:
    return {(bed.root / f"{target}.out").read_text().strip() for target in TARGETS}


def test_make_j8_asks_once_on_the_terminal(ready: Bed) -> None:
    write_targets(ready)
    child = ready.spawn("make", "-j8", timeout=60)
    child.expect_exact(f"MFA code for {ready.device.serial}: ")
    child.sendline(ready.fresh_code())
    child.expect(pexpect.EOF)
    child.close()
    transcript = child.before or ""
    assert child.exitstatus == 0, transcript
    assert "MFA code for" not in transcript  # no second prompt after the first
    assert ready.fake.calls["GetSessionToken"] == 1
    (key,) = outputs(ready)
    assert key.startswith("ASIA")


def test_make_j8_with_mfa_process_and_no_terminal(ready: Bed) -> None:
    secret = ready.root / "totp-secret"
    secret.write_text(ready.device.secret)
    with ready.config.open("a") as handle:
        handle.write(
            f"mfa_process = {ready.env['PATH'].split(':')[0]}/python "
            f"{REPO / 'tests' / 'totp.py'} {secret}\n"
        )
    write_targets(ready)
    done = ready.run("make", "-j8", timeout=60)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert len(outputs(ready)) == 1
