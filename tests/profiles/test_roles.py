"""Role profiles behind MFA: one code for every role of a source, AssumeRole once per role."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pexpect
import pytest

from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import EXAMPLES, WHOAMI, with_roles
from makefiles import write_makefile


def test_one_code_for_every_role_of_a_source(ready: Bed) -> None:
    with_roles(ready)
    child = ready.spawn(AWS_MFA_RUN, "-p", "admin", *WHOAMI, timeout=60)
    child.expect_exact(f"MFA code for {ready.device.serial}: ")
    child.sendline(ready.fresh_code())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "assumed-role/admin/" in (child.before or "")

    readonly = ready.run(AWS_MFA_RUN, "-p", "readonly", *WHOAMI)  # no terminal: no code needed
    assert readonly.returncode == 0, readonly.stderr
    assert "assumed-role/readonly/" in readonly.stdout
    again = ready.run(AWS_MFA_RUN, "-p", "admin", *WHOAMI)
    assert again.returncode == 0 and "assumed-role/admin/" in again.stdout
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.fake.assumed == {"admin": 1, "readonly": 1}


def test_aws_mfa_writes_the_role_to_its_target_profile(ready: Bed) -> None:
    with_roles(ready)
    done = ready.run(AWS, "mfa", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    assert "'admin' (role arn:aws:iam::123456789012:role/admin via 'default') -> 'admin-mfa'" in (
        done.stderr
    )
    whoami = ready.run(AWS, *WHOAMI[1:], "--profile", "admin-mfa")
    assert whoami.returncode == 0 and "assumed-role/admin/" in whoami.stdout
    tables = ready.run(AWS, "dynamodb", "list-tables", "--profile", "admin-mfa")
    assert tables.returncode == 0, tables.stderr
    # The source's MFA session is stored where `aws mfa` keeps it: one store.
    assert ready.ini_section(ready.credentials, "mfa")["aws_mfa_run_source_profile"] == "default"
    through_alias = ready.run(AWS, "mfa", "--profile", "readonly")
    assert through_alias.returncode == 0, through_alias.stderr
    assert "-> 'readonly-mfa'" in through_alias.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


def test_credential_process_serves_the_role(ready: Bed) -> None:
    with_roles(ready)
    ready.login()
    with ready.config.open("a") as handle:
        handle.write(
            "\n[profile admin-sdk]\ncredential_process = aws-mfa-run --credential-process "
            "-p admin\nregion = eu-west-1\n"
        )
    done = ready.run(AWS, *WHOAMI[1:], "--profile", "admin-sdk")
    assert done.returncode == 0, done.stderr
    assert "assumed-role/admin/" in done.stdout


def test_make_j8_across_two_roles_asks_once(ready: Bed) -> None:
    with_roles(ready)
    targets = [f"{role}{number}" for role in ("admin", "readonly") for number in range(4)]
    write_makefile(
        ready.root,
        {
            target: f"{AWS_MFA_RUN} -p {target.rstrip('0123456789')} "
            f"aws sts get-caller-identity --query Arn --output text > {target}.out"
            for target in targets
        },
    )
    child = ready.spawn("make", "-j8", timeout=90)
    child.expect_exact("MFA code for ")
    child.sendline(ready.fresh_code())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "MFA code for" not in (child.before or "")
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.fake.assumed == {"admin": 1, "readonly": 1}
    for target in targets:
        role = target.rstrip("0123456789")
        assert f"assumed-role/{role}/" in (ready.root / f"{target}.out").read_text()


def test_role_cache_is_private(ready: Bed) -> None:
    with_roles(ready)
    done = ready.run(
        "sh",
        "-c",
        f'umask 000; exec "{AWS_MFA_RUN}" -p admin --token-code {ready.fresh_code()} true',
    )
    assert done.returncode == 0, done.stderr
    directory = ready.aws_dir / "aws-mfa-run" / "roles"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (cache,) = directory.glob("*.ini")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600


def test_role_duration_is_capped_to_what_aws_allows(ready: Bed) -> None:
    with_roles(ready)
    with ready.config.open("a") as handle:
        handle.write("duration_seconds = 43200\n")  # on [profile readonly], the last section
    done = ready.run(AWS_MFA_RUN, "-p", "readonly", "--token-code", ready.fresh_code(), *WHOAMI)
    assert done.returncode == 0, done.stderr
    assert ready.fake.assumed == {"readonly": 1}


def test_source_profile_loop_and_unsupported_roles(ready: Bed) -> None:
    with ready.config.open("a") as handle:
        handle.write(
            "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n"
            "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n"
            "[profile ec2]\nrole_arn = arn:aws:iam::123456789012:role/c\n"
            "credential_source = Ec2InstanceMetadata\n"
        )
    before = ready.snapshot()
    loop = ready.run(AWS_MFA_RUN, "-p", "a", "true")
    assert loop.returncode == 3 and "a -> b -> a" in loop.stderr
    unsupported = ready.run(AWS_MFA_RUN, "-p", "ec2", "true")
    assert unsupported.returncode == 3 and "credential_source" in unsupported.stderr
    assert ready.snapshot() == before


def test_denied_role_is_one_sentence_naming_it(ready: Bed) -> None:
    stranger = ready.fake.add_user("mallory")
    ready.fake.add_role("admin", stranger)  # trusts someone else
    ready.fake.add_role("readonly", ready.alice, external_id="expected")
    ready.config.write_text(EXAMPLES["roles"])
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 5
    assert done.stderr.strip().splitlines() == [
        "aws-mfa-run: AWS denied assuming role arn:aws:iam::123456789012:role/admin for profile "
        "'admin': check the role's trust policy, its MFA condition and external_id."
    ]
    # README: the MFA session the code bought is kept (the one file a failure changes), so the
    # next try needs no code: readonly's is refused by AWS too, without a code asked for.
    assert ready.ini_section(ready.credentials, "mfa")["aws_mfa_run_source_profile"] == "default"
    wrong_id = ready.run(AWS_MFA_RUN, "-p", "readonly", "true")
    assert wrong_id.returncode == 5 and "role/readonly" in wrong_id.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


def test_role_chain(ready: Bed) -> None:
    with_roles(ready)
    ready.fake.add_role("deploy", ready.alice)
    with ready.config.open("a") as handle:
        handle.write(
            "\n[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
            "source_profile = admin\n"
        )
    done = ready.run(AWS_MFA_RUN, "-p", "deploy", "--token-code", ready.fresh_code(), *WHOAMI)
    assert done.returncode == 0, done.stderr
    assert "assumed-role/deploy/" in done.stdout
    assert ready.fake.assumed == {"admin": 1, "deploy": 1}


def test_status_lists_roles_with_source_and_time_left(ready: Bed) -> None:
    with_roles(ready)
    assert (
        ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true").returncode
        == 0
    )
    done = ready.run(AWS_MFA_RUN, "--status")
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert rows["admin"].split()[1] == "default" and "left" in rows["admin"]
    assert rows["readonly"].endswith("none")


def test_short_role_sessions_are_reused_too(ready: Bed) -> None:
    with_roles(ready)
    with ready.config.open("a") as handle:
        handle.write("duration_seconds = 900\n")  # on [profile readonly]: shorter than the margin
    code = ready.fresh_code()
    for _ in range(2):
        done = ready.run(AWS_MFA_RUN, "-p", "readonly", "--token-code", code, *WHOAMI)
        assert done.returncode == 0, done.stderr
    assert ready.fake.assumed == {"readonly": 1}


OPS_ROLE = "role_arn = arn:aws:iam::123456789012:role/ops"


def _chain_with(ready: Bed, link: str) -> Path:
    """admin -> ops -> default, `link` in ops (replacing its own role_arn or source_profile).
    Returns the file an mfa_process touches when it runs (never, when the chain is refused)."""
    with_roles(ready)
    ready.fake.add_role("ops", ready.alice)
    marker = ready.root / "code-was-asked"
    ops = [OPS_ROLE, "source_profile = default"]
    ops = [link if line.split()[0] == link.split()[0] else line for line in ops]
    if link not in ops:
        ops.append(link)
    text = ready.config.read_text()
    text = text.replace("source_profile = default", "source_profile = ops", 1)
    text = text.replace("[default]\n", f"[default]\nmfa_process = touch {marker}; echo 123456\n")
    ready.config.write_text(text + "\n[profile ops]\n" + "\n".join(ops) + "\n")
    return marker


@pytest.mark.parametrize(
    ("link", "named"),
    [
        ("role_arn = not-an-arn", "'not-an-arn'"),
        ("role_arn = arn:aws:iam::12345:role/ops", "'arn:aws:iam::12345:role/ops'"),
        ("role_arn = arn:aws:iam::123456789012:user/ops", "'arn:aws:iam::123456789012:user/ops'"),
        ("role_session_name = a b", "'a b'"),
        ("external_id = x", "'x'"),
        ("mfa_serial = short", "mfa_serial of profile 'ops'"),
        ("region = eu west 1", "'eu west 1'"),
        ("duration_seconds = ten", "'ten'"),
        ("ca_bundle =", "ca_bundle of profile 'ops'"),
        ("source_profile = DEFAULT", "'DEFAULT'"),
    ],
)
def test_a_malformed_link_anywhere_in_the_chain_is_refused_before_any_code(
    ready: Bed, link: str, named: str
) -> None:
    marker = _chain_with(ready, link)
    before = ready.snapshot()
    for args in (("--login",), ("--env",), ("aws", "sts", "get-caller-identity")):
        done = ready.run(AWS_MFA_RUN, "-p", "admin", *args)
        assert done.returncode == 3, done.stderr
        assert "'ops'" in done.stderr and named in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not marker.exists()
    assert ready.fake.calls["GetSessionToken"] == 0 and ready.fake.calls["AssumeRole"] == 0
    assert ready.snapshot() == before
    status = ready.run(AWS_MFA_RUN, "--status")
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith("admin "))
    assert "'ops'" in line and named in line, status.stdout


def test_a_bad_role_arn_is_refused_at_a_terminal_before_the_code_is_asked(ready: Bed) -> None:
    with_roles(ready)
    ready.config.write_text(
        ready.config.read_text().replace(
            "role_arn = arn:aws:iam::123456789012:role/admin", "role_arn = not-an-arn"
        )
    )
    before = ready.snapshot()
    child = ready.spawn(AWS_MFA_RUN, "-p", "admin", "--login")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert "MFA code" not in (child.before or "")
    assert "role_arn of profile 'admin' is 'not-an-arn'" in (child.before or "")
    assert ready.fake.calls["GetSessionToken"] == 0
    assert ready.snapshot() == before
    json_status = ready.run(AWS_MFA_RUN, "--status", "--json")
    assert json_status.returncode == 0
    assert "not-an-arn" in json_status.stdout


def test_a_blank_ca_bundle_in_the_environment_stops_a_role_call_with_a_stored_session(
    ready: Bed,
) -> None:
    """No code is needed (the source's MFA session is stored): the AssumeRole client itself
    refuses a blank AWS_CA_BUNDLE."""
    with_roles(ready)
    ready.login()
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--login", env={"AWS_CA_BUNDLE": " "})
    assert done.returncode == 3 and "AWS_CA_BUNDLE" in done.stderr, done.stderr
    assert ready.fake.calls["AssumeRole"] == 0
    assert ready.snapshot() == before


def test_role_logins_at_once_store_one_session_in_the_target(ready: Bed) -> None:
    """Four `aws mfa -p admin` at once with the source's session stored: one assumes the role and
    writes admin-mfa; the others wait for it and say the target already holds that session."""
    with_roles(ready)
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    argv = [AWS_MFA_RUN, "--login", "-p", "admin"]
    runs = [
        subprocess.Popen(argv, env=ready.env, cwd=ready.root, stdin=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
        for _ in range(4)
    ]  # fmt: skip
    outcomes = [(run.wait(timeout=60), run.communicate()[1]) for run in runs]
    assert all(status == 0 for status, _ in outcomes), outcomes
    # Named as what they are: the role's credentials, not an MFA session.
    wrote = [text for _, text in outcomes if "-> 'admin-mfa': role credentials valid" in text]
    kept = [text for _, text in outcomes if "already holds role credentials of 'admin'" in text]
    assert (len(wrote), len(kept)) == (1, 3), outcomes
    assert ready.fake.assumed == {"admin": 1}
    held = ready.ini_section(ready.credentials, "admin-mfa")
    assert held["aws_mfa_run_source_profile"] == "admin"
