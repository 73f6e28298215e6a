"""--uninstall-alias: our `mfa` line goes, every other byte of the alias file stays."""

from __future__ import annotations

from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import EXAMPLES, alias_file


def test_readme_example_removes_only_our_line(bed: Bed) -> None:
    path = alias_file(bed)
    path.parent.mkdir(parents=True)
    original = (
        "# my aliases\r\n[toplevel]\r\nwhoami = sts get-caller-identity\r\n\r\n"
        "[command s3]\r\nls2 = ls\r\n"
    )
    path.write_bytes(original.encode())
    assert bed.run(AWS_MFA_RUN, "--install-alias").returncode == 0
    assert path.read_bytes() != original.encode()
    done = bed.run("sh", "-c", EXAMPLES["uninstall-alias"])
    assert done.returncode == 0, done.stderr
    assert "Removed aws mfa" in done.stderr
    assert path.read_bytes() == original.encode()
    again = bed.run(AWS_MFA_RUN, "--uninstall-alias")
    assert again.returncode == 0 and "nothing changed" in again.stderr
    assert path.read_bytes() == original.encode()


def test_after_uninstall_aws_mfa_is_gone(ready: Bed) -> None:
    assert ready.run(AWS, "mfa", ready.fresh_code()).returncode == 0
    assert ready.run(AWS_MFA_RUN, "--uninstall-alias").returncode == 0
    done = ready.run(AWS, "mfa", ready.fresh_code())
    assert done.returncode != 0
    assert "Invalid choice" in done.stderr or "invalid choice" in done.stderr


def test_a_different_mfa_alias_is_left_with_a_message(bed: Bed) -> None:
    path = alias_file(bed)
    path.parent.mkdir(parents=True)
    original = "[toplevel]\nmfa = !my-own-script\n"
    path.write_text(original)
    done = bed.run(AWS_MFA_RUN, "--uninstall-alias")
    assert done.returncode == 0
    assert "not ours" in done.stderr and "my-own-script" in done.stderr
    assert path.read_text() == original


def test_no_alias_file_is_fine_and_creates_nothing(bed: Bed) -> None:
    done = bed.run(AWS_MFA_RUN, "--uninstall-alias")
    assert done.returncode == 0 and "nothing changed" in done.stderr
    assert not alias_file(bed).exists()
