"""`--logout`: everything aws-mfa-run stored for a source goes, every other byte stays."""

from __future__ import annotations

import sys
import time

import pytest

from conftest import AWS, AWS_MFA_RUN, REPO, Bed
from helpers import with_roles

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
    # The spent codes stay remembered (they are no secret): a code is never sent twice.
    assert [name for name in state_files(ready) if not name.startswith("locks/")] == ["used-codes"]
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
    assert state_files(ready) == ["used-codes"]


def test_logout_keeps_keys_someone_else_put_into_the_target(ready: Bed) -> None:
    """`aws configure set` puts another user's long-term keys into a target we logged in to:
    --logout leaves them byte for byte, a login into it is refused before any code, and the
    wrapper never serves them."""
    carol = ready.fake.add_user("carol")
    ready.login("--target-profile", "ci")
    for name, value in (
        ("aws_access_key_id", carol.access_key),
        ("aws_secret_access_key", carol.secret_key),
    ):
        done = ready.run(AWS, "configure", "set", name, value, "--profile", "ci")
        assert done.returncode == 0, done.stderr
    text = ready.credentials.read_text()
    calls = ready.fake.calls["GetSessionToken"]
    login = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "ci")
    assert login.returncode == 3 and "did not write" in login.stderr, login.stderr
    assert ready.fake.calls["GetSessionToken"] == calls and ready.credentials.read_text() == text
    served = ready.run(AWS_MFA_RUN, "--target-profile", "ci", "aws", "sts", "get-caller-identity")
    assert served.returncode == 3 and "carol" not in served.stdout, served.stderr
    done = ready.run(AWS_MFA_RUN, "--logout")
    assert done.returncode == 0, done.stderr
    assert "'ci' holds keys that aws-mfa-run did not write" in done.stderr
    # Only our own lines went (the session token we wrote too: with carol's keys it would
    # only make them fail); carol's keys are there as `aws configure set` left them.
    ours = ("aws_mfa_run_", "aws_session_token")
    expected = "".join(line for line in text.splitlines(True) if not line.startswith(ours))
    assert ready.credentials.read_text() == expected
    assert ready.ini_section(ready.credentials, "ci")["aws_access_key_id"] == carol.access_key


def test_logout_gives_back_files_without_a_final_newline(ready: Bed) -> None:
    for path in (ready.credentials, ready.config):
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
    before = ready.snapshot()
    ready.login()
    ready.login("--force")  # a second write keeps the record
    assert ready.snapshot() != before
    done = ready.run(AWS_MFA_RUN, "--logout")
    assert done.returncode == 0, done.stderr
    assert ready.snapshot() == before


def test_logout_gives_back_files_with_cr_line_endings(ready: Bed) -> None:
    """Line endings of a lone CR (old Mac editors; configparser reads them as line breaks): the
    session is written with the file's own ending, and logout gives every byte back."""
    for path in (ready.credentials, ready.config):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    before = ready.snapshot()
    ready.login()
    assert b"\n" not in ready.credentials.read_bytes()  # written as the file is written
    done = ready.run(AWS, "sts", "get-caller-identity", "--profile", "mfa")
    assert done.returncode == 0, done.stderr  # and the AWS CLI reads it
    assert ready.run(AWS_MFA_RUN, "--logout").returncode == 0
    assert ready.snapshot() == before


def test_a_code_stays_spent_after_logout(ready: Bed) -> None:
    """login, logout, login within one code window with an mfa_process: the second login waits
    for the next code instead of sending the spent one again (which AWS refuses)."""
    secret = ready.root / "mfa-secret"
    secret.write_text(ready.device.secret)
    with ready.config.open("a") as handle:
        handle.write(f"mfa_process = {sys.executable} {REPO / 'tests' / 'totp.py'} {secret}\n")
    if time.time() % 30 > 15:  # all three runs in one window, as a quick user's would be
        time.sleep(30.5 - time.time() % 30)
    first = ready.run(AWS_MFA_RUN, "--login")
    assert first.returncode == 0, first.stderr
    assert ready.run(AWS_MFA_RUN, "--logout").returncode == 0
    second = ready.run(AWS_MFA_RUN, "--login")
    assert second.returncode == 0, second.stderr
    assert "waiting" in second.stderr
    assert ready.fake.calls["GetSessionToken"] == 2  # no call with the spent code


def test_a_rejected_code_is_never_sent_again(ready: Bed) -> None:
    now = time.time()
    valid = {ready.device.code(now + offset) for offset in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    results = [ready.run(AWS_MFA_RUN, "--login", wrong) for _ in range(5)]
    assert [done.returncode for done in results] == [5] * 5
    assert ready.fake.calls["GetSessionToken"] == 1
    for done in results[1:]:
        assert "already sent" in done.stderr and "rejected" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    # Logging out forgets no spent code either.
    assert ready.run(AWS_MFA_RUN, "--logout").returncode == 0
    assert ready.run(AWS_MFA_RUN, "--login", wrong).returncode == 5
    assert ready.fake.calls["GetSessionToken"] == 1


def test_logout_all_with_a_profile_is_a_usage_error(ready: Bed) -> None:
    ready.login()
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--logout", "--all", "-p", "dev")
    assert done.returncode == 2 and "--all" in done.stderr and "-p" in done.stderr
    assert ready.snapshot() == before
    done = ready.run(AWS, "mfa", "--logout", "--all", "-p", "dev")  # through the alias
    assert done.returncode == 2 and ready.snapshot() == before
    # The AWS CLI's own --profile (and its prefix) reaches us from the alias's command line.
    for given in ("--profile", "--prof"):
        done = ready.run(AWS, given, "default", "mfa", "--logout", "--all")
        assert done.returncode == 2 and "--all" in done.stderr, done.stderr
        assert ready.snapshot() == before


def test_logout_messages_say_what_happened(ready: Bed) -> None:
    ready.login()
    done = ready.run(AWS_MFA_RUN, "--logout", "--all")
    assert done.stderr.strip() == (
        "aws-mfa-run: Logged out every profile: removed everything aws-mfa-run had stored."
    )
    again = ready.run(AWS_MFA_RUN, "--logout", "--all")
    assert (
        again.stderr.strip()
        == "aws-mfa-run: Nothing to log out: aws-mfa-run had stored nothing for any profile; "
        "nothing changed."
    )
    one = ready.run(AWS_MFA_RUN, "--logout", "-p", "default")
    assert one.stderr.strip() == (
        "aws-mfa-run: Nothing to log out: aws-mfa-run had stored nothing for profile "
        "'default'; nothing changed."
    )


def test_the_users_own_empty_sections_stay(ready: Bed) -> None:
    """An empty `[profile mfa]` and `[mfa]` the user had are the user's: --login writes into
    them, --logout takes out only its own lines and leaves them, byte for byte."""
    with ready.config.open("a") as handle:
        handle.write("[profile mfa]\n\n[profile other]\nregion = us-east-2\n")
    with ready.credentials.open("a") as handle:
        handle.write("[mfa]\n")
    before = ready.snapshot()
    ready.login()
    assert ready.ini_section(ready.config, "profile mfa") == {"region": "eu-west-1"}
    ready.login("--force")  # a second session: the sections are still the user's
    done = ready.run(AWS_MFA_RUN, "--logout")
    assert done.returncode == 0, done.stderr
    assert ready.snapshot() == before
    # Sections aws-mfa-run added itself still go.
    ready.login("--target-profile", "team")
    assert "[team]" in ready.credentials.read_text()
    assert ready.run(AWS_MFA_RUN, "--logout").returncode == 0
    assert ready.snapshot() == before


@pytest.mark.parametrize(
    "replaced", [("aws_access_key_id",), ("aws_access_key_id", "aws_secret_access_key")]
)
def test_logout_removes_each_session_value_only_while_it_is_ours(
    ready: Bed, replaced: tuple[str, ...]
) -> None:
    """Someone replaced the key id of the target (or the key id and secret: a long-term pair)
    with `aws configure set`: what they put there stays, the session's own values still go."""
    ready.login()
    session = ready.ini_section(ready.credentials, "mfa")
    theirs = {"aws_access_key_id": "AKIATHEIRSKEY0000001", "aws_secret_access_key": "their/secret+"}
    for name in replaced:
        assert (
            ready.run(AWS, "configure", "set", name, theirs[name], "--profile", "mfa").returncode
            == 0
        )
    done = ready.run(AWS_MFA_RUN, "--logout")
    assert done.returncode == 0 and "did not write" in done.stderr, done.stderr
    left = ready.ini_section(ready.credentials, "mfa")
    assert left == {name: theirs[name] for name in replaced}
    text = ready.credentials.read_text()
    for name in ("aws_secret_access_key", "aws_session_token"):
        assert session[name] not in text


def test_a_refused_logout_removes_nothing_not_even_role_caches(ready: Bed) -> None:
    """A credentials file that cannot be written: exit 3, and every file is as it was, the role
    credentials cached in our state directory too (they were removed before the refusal)."""
    with_roles(ready)
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 0, done.stderr
    roles = ready.aws_dir / "aws-mfa-run" / "roles"
    cached = sorted(path.name for path in roles.iterdir())
    assert cached
    before = ready.snapshot()
    ready.credentials.chmod(0o400)  # read-only: refused even to root, as the user means it
    done = ready.run(AWS_MFA_RUN, "--logout")
    assert done.returncode == 3, done.stderr
    assert sorted(path.name for path in roles.iterdir()) == cached
    ready.credentials.chmod(0o600)
    assert ready.snapshot() == before
