"""`--logout`: everything aws-mfa-run stored for a source goes, every other byte stays."""

from __future__ import annotations

from conftest import AWS, AWS_MFA_RUN, Bed

ROLE = """
[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = default
"""


def state_files(bed: Bed) -> list[str]:
    state = bed.aws_dir / "aws-mfa-run"
    return sorted(str(path.relative_to(state)) for path in state.rglob("*") if path.is_file())


def test_logout_restores_every_file_byte_for_byte(ready: Bed) -> None:
    ready.fake.add_role("admin", ready.alice)
    with ready.config.open("a") as handle:
        handle.write(ROLE)
    before = ready.snapshot()
    assert ready.run(AWS, "mfa", ready.fresh_code()).returncode == 0
    assert ready.run(AWS, "mfa", "-p", "admin").returncode == 0  # role keys to admin-mfa
    assert (
        ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "team").returncode
        == 0
    )
    assert ready.snapshot() != before and state_files(ready)
    done = ready.run(AWS, "mfa", "--logout")  # through the alias
    assert done.returncode == 0, done.stderr
    assert "Logged out profile 'default'" in done.stderr
    assert ready.snapshot() == before
    assert [name for name in state_files(ready) if not name.startswith("locks/")] == []
    # Twice is fine, and says there was nothing.
    again = ready.run(AWS_MFA_RUN, "--logout")
    assert again.returncode == 0 and "nothing changed" in again.stderr
    # The next use needs a code again (none can be had here: no terminal).
    assert ready.run(AWS_MFA_RUN, "true").returncode == 4


def test_logout_of_one_profile_keeps_the_others(ready: Bed) -> None:
    bob = ready.add_profile("dev", "bob")
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    assert (
        ready.run(AWS_MFA_RUN, "-p", "dev", "--login", ready.fresh_code(bob.devices[0])).returncode
        == 0
    )
    kept = ready.ini_section(ready.credentials, "mfa")
    done = ready.run(AWS_MFA_RUN, "--logout", "-p", "dev")
    assert done.returncode == 0, done.stderr
    assert ready.ini_section(ready.credentials, "dev-mfa") == {}
    assert ready.ini_section(ready.credentials, "mfa") == kept
    assert ready.run(AWS_MFA_RUN, "true").returncode == 0  # default's session still works


def test_logout_all(ready: Bed) -> None:
    bob = ready.add_profile("dev", "bob")
    before = ready.snapshot()
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    assert (
        ready.run(AWS_MFA_RUN, "-p", "dev", "--login", ready.fresh_code(bob.devices[0])).returncode
        == 0
    )
    done = ready.run(AWS_MFA_RUN, "--logout", "--all")
    assert done.returncode == 0, done.stderr
    assert ready.snapshot() == before
    assert state_files(ready) == []
