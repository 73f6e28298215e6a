"""`aws-mfa-run --install-alias`: merges into ~/.aws/cli/alias, idempotent, never clobbers."""

from __future__ import annotations

import pytest

from conftest import AWS, AWS_MFA_RUN, REPO, Bed
from helpers import alias_file


def test_install_into_a_fresh_home_writes_the_shipped_alias(bed: Bed) -> None:
    done = bed.run(AWS_MFA_RUN, "--install-alias")
    assert done.returncode == 0, done.stderr
    assert alias_file(bed).read_text() == (REPO / "cli-alias" / "alias").read_text()


def test_install_merges_keeps_comments_and_is_idempotent(bed: Bed) -> None:
    path = alias_file(bed)
    path.parent.mkdir(parents=True)
    original = (
        "# my aliases\n[toplevel]\nwhoami = sts get-caller-identity\n\n[command s3]\nls2 = ls\n"
    )
    path.write_text(original)
    assert bed.run(AWS_MFA_RUN, "--install-alias").returncode == 0
    merged = path.read_text()
    assert merged == original.replace(
        "whoami = sts get-caller-identity\n",
        "whoami = sts get-caller-identity\nmfa = !aws-mfa-run --login\n",
    )
    again = bed.run(AWS_MFA_RUN, "--install-alias")
    assert again.returncode == 0 and "nothing changed" in again.stderr
    assert path.read_text() == merged


def test_a_different_mfa_alias_is_kept_without_force(bed: Bed) -> None:
    path = alias_file(bed)
    path.parent.mkdir(parents=True)
    original = "[toplevel]\nmfa = !my-own-script\n"
    path.write_text(original)
    refused = bed.run(AWS_MFA_RUN, "--install-alias")
    assert refused.returncode == 3 and "--force" in refused.stderr
    assert path.read_text() == original
    forced = bed.run(AWS_MFA_RUN, "--install-alias", "--force")
    assert forced.returncode == 0
    assert path.read_text() == "[toplevel]\nmfa = !aws-mfa-run --login\n"


@pytest.mark.parametrize(
    "option", [["--endpoint-url", "https://sts.example.invalid"], ["--no-verify-ssl"]]
)
def test_options_the_aws_cli_keeps_from_the_alias_are_refused(
    ready: Bed, option: list[str]
) -> None:
    """`aws --endpoint-url URL mfa CODE`: the AWS CLI does not pass the option on; a code must
    not go to the default endpoint instead of the one named (nor without certificate checks)."""
    ready.install_alias()
    before = ready.snapshot()
    done = ready.run(AWS, *option, "mfa", ready.fresh_code())
    assert done.returncode == 2, done.stderr
    assert (option[0] in done.stderr and "instead" in done.stderr) or "certificate" in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0 and ready.snapshot() == before


@pytest.mark.parametrize(
    "text",
    ["[toplevel]\nwhoami = sts get-caller-identity", "# mine\n[toplevel]\nls = s3 ls\n"],
    ids=["no final newline", "final newline"],
)
def test_install_then_uninstall_gives_the_alias_file_back_byte_for_byte(
    bed: Bed, text: str
) -> None:
    path = alias_file(bed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert bed.run(AWS_MFA_RUN, "--install-alias").returncode == 0
    assert "mfa = " in path.read_text()
    done = bed.run(AWS_MFA_RUN, "--uninstall-alias")
    assert done.returncode == 0, done.stderr
    assert path.read_bytes() == text.encode()


def test_an_old_note_of_an_unended_file_does_not_cut_the_users_newline(bed: Bed) -> None:
    """Installed on a file without a final newline; the user removes our line by hand (the file
    now ends with one); install and uninstall again: the user's final newline stays."""
    path = alias_file(bed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[toplevel]\nwhoami = sts get-caller-identity")
    assert bed.run(AWS_MFA_RUN, "--install-alias").returncode == 0
    mine = "[toplevel]\nwhoami = sts get-caller-identity\n"
    path.write_text(mine)
    assert bed.run(AWS_MFA_RUN, "--install-alias").returncode == 0
    assert bed.run(AWS_MFA_RUN, "--uninstall-alias").returncode == 0
    assert path.read_text() == mine
