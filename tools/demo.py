"""`make demo`: the whole flow against the local AWS stand-in, in a throw-away HOME.

Nothing here touches your real ~/.aws or reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# The stand-in, its keyring and the Makefile writer are the tests' own, shared with them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fakeaws import FakeAws, hermetic_environment

TESTS = Path(__file__).resolve().parent.parent / "tests"
BIN = Path(sys.executable).parent


def main() -> int:
    fake = FakeAws()
    alice = fake.add_user("alice")
    device = alice.devices[0]
    url = fake.start()
    home = Path(tempfile.mkdtemp(prefix="aws-mfa-run-demo-"))
    aws_dir = home / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        f"[default]\naws_access_key_id = {alice.access_key}\n"
        f"aws_secret_access_key = {alice.secret_key}\n"
    )
    (aws_dir / "credentials").chmod(0o600)
    (aws_dir / "config").write_text(
        f"[default]\nregion = eu-west-1\nmfa_serial = {device.serial}\n"
    )
    env = hermetic_environment(os.environ, home, url)
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"

    def show(title: str, command: str) -> None:
        print(f"\n# {title}\n$ {command}", flush=True)
        subprocess.run(command, shell=True, env=env, cwd=home, check=False)

    print(f"A stand-in for AWS that enforces MFA runs at {url}; HOME is {home}.")
    print(
        f"IAM user alice has long-term keys in ~/.aws/credentials and MFA device {device.serial}."
    )
    show("Long-term keys are known to AWS...", "aws sts get-caller-identity")
    show("...but the account's policy denies everything without MFA", "aws dynamodb list-tables")
    show("Install the `aws mfa` alias", "aws-mfa-run --install-alias")
    show(
        "Log in with the code your authenticator shows (computed here from the device's secret)",
        f"aws mfa {device.code()}",
    )
    show("The session profile works", "aws dynamodb list-tables --profile mfa")
    show("Status, without any AWS call", "aws-mfa-run --status")
    show("The same for scripts: one JSON document, no secret in it", "aws-mfa-run --status --json")
    show(
        "Run any command with the session: no new code while it is valid",
        "aws-mfa-run aws dynamodb list-tables --query 'TableNames[0]' --output text",
    )
    show(
        "Or put it into this shell",
        'eval "$(aws-mfa-run --env)" && aws sts get-caller-identity --query Arn --output text',
    )
    with (aws_dir / "config").open("a") as handle:
        handle.write(
            "\n[profile work]\ncredential_process = aws-mfa-run --credential-process\n"
            "region = eu-west-1\n"
        )
    show(
        "Every SDK gets the same session through credential_process (see ~/.aws/config)",
        "aws dynamodb list-tables --profile work --query 'TableNames' --output text",
    )
    # The OS keyring of the demo: the tests' own backend (a file in the throw-away HOME), chosen
    # the way keyring chooses any backend.
    env["PYTHON_KEYRING_BACKEND"] = "filekeyring.FileKeyring"
    env["PYTHONPATH"] = str(TESTS / "keyrings")
    show(
        "Move the long-term keys out of ~/.aws/credentials into the OS keyring "
        "(here the tests' stand-in keyring)",
        "aws-mfa-run --store-keys",
    )
    show(
        "The default profile now gets its MFA session through credential_process",
        "cat ~/.aws/config",
    )
    show("aws keeps working", "aws dynamodb list-tables --query 'TableNames' --output text")
    show("Rotate the access key, with the MFA session", "aws-mfa-run --rotate-keys")
    show("Where the keys live", "aws-mfa-run --status")
    show(
        "Log out: everything aws-mfa-run stored for the profile goes, every other byte stays",
        "aws mfa --logout && aws-mfa-run --status",
    )
    keys = ", ".join(alice.keys)
    print(f"\nIAM now knows one access key of alice: {keys}.")
    print(f"STS GetSessionToken was called {fake.calls['GetSessionToken']} time(s).")
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
