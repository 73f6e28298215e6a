"""Role profiles behind MFA: one code for every role of a source, AssumeRole once per role."""

from __future__ import annotations

import re
import stat

import pexpect

from conftest import AWS, AWS_MFA_RUN, REPO, Bed
from makefiles import write_makefile

ROLES_EXAMPLE = re.search(
    r"<!-- test: roles -->\n```ini\n(.*?)```", (REPO / "README.md").read_text(), re.S
).group(1)  # type: ignore[union-attr]
WHOAMI = ("aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text")


def with_roles(bed: Bed) -> Bed:
    """The README's role configuration, with roles that require MFA and trust alice."""
    bed.fake.add_role("admin", bed.alice)
    bed.fake.add_role("readonly", bed.alice)
    bed.config.write_text(ROLES_EXAMPLE.replace("mfa/alice", f"mfa/{bed.alice.name}"))
    return bed


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
            "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
            "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n"
            "[profile ec2]\nrole_arn = arn:aws:iam::1:role/c\n"
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
    ready.config.write_text(ROLES_EXAMPLE)
    done = ready.run(AWS_MFA_RUN, "-p", "admin", "--token-code", ready.fresh_code(), "true")
    assert done.returncode == 5
    assert done.stderr.strip().splitlines() == [
        "aws-mfa-run: AWS denied assuming role arn:aws:iam::123456789012:role/admin for profile "
        "'admin': check the role's trust policy, its MFA condition and external_id."
    ]
    wrong_id = ready.run(AWS_MFA_RUN, "-p", "readonly", "true")
    assert wrong_id.returncode == 5 and "role/readonly" in wrong_id.stderr


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
