"""Every SDK family, for real: boto3, the AWS CLI v1 and v2 (Debian's 2.9 and a current build), the
JavaScript SDK v3 and the Go SDK v2, each as a long job uses it, through `aws-mfa-run --server`
and through a `credential_process` profile, over three lifetimes of role credentials.

The SDKs are other people's code, installed by .ci/run (Debian's packages) and `make test` (npm,
the Go program's build, the CLI v2 unpacked). Where one is not installed its tests are skipped
with the reason (`pytest -ra` lists them), never counted as passing.

Role credentials are asked for 900 s (the shortest AWS allows) and the stand-in makes them last
LIFETIME seconds of real time instead. Shifting the stand-in's clock would not do: the SDKs and
aws-mfa-run judge expiry by this machine's clock, so only credentials that really run out make
each of them renew, and a stand-in clock more than 15 minutes off refuses every signature.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import AWS_MFA_RUN, BIN, FIGURES, REPO, Bed

PYTHON = sys.executable
SDK_DIR = REPO / "tests" / "sdk"
NODE_MODULES = REPO / "tests" / "js" / "node_modules"
GO_SDK = Path("/usr/share/gocode/src/github.com/aws/aws-sdk-go-v2")
GO_PROGRAM = SDK_DIR / "loop-go"  # built by `make test` from loop.go
DEBIAN_AWS = Path("/usr/bin/aws")  # Debian's awscli: never on the tests' PATH before the venv's
AWSCLI_V2 = SDK_DIR / "awscli-v2"  # `make test` unpacks the npm build's layer.zip

LIFETIME = 3  # seconds that role credentials really last here
LIFETIMES = 3
# A loop goes on past LIFETIMES lifetimes until it has used LIFETIMES role sessions (a process
# per call and a loaded machine can make that take longer), but never beyond this.
LIMIT = 60
ROLE = "arn:aws:iam::123456789012:role/admin"


class Sdk:
    """How to run one SDK's loop (`command` SECONDS INTERVAL SESSIONS LIMIT, see tests/sdk/) and
    which version it is."""

    def __init__(
        self, command: list[str], version: str, interval: float, env: dict[str, str] | None = None
    ) -> None:
        self.command = command
        self.version = version
        self.interval = interval
        self.env = env or {}


def _cli_version(aws: Path) -> str:
    done = subprocess.run([str(aws), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return (done.stdout or done.stderr).split()[0].removeprefix("aws-cli/")


def _cli(aws: Path) -> Sdk:
    # Each run of a CLI takes a second or more: no pause between them.
    return Sdk([PYTHON, str(SDK_DIR / "loop_cli.py"), str(aws)], _cli_version(aws), 0)


def boto3() -> Sdk:
    version = subprocess.run(
        [PYTHON, "-c", "import boto3; print(boto3.__version__)"], capture_output=True, text=True
    )
    if version.returncode != 0:
        pytest.skip("boto3 is not installed in this virtualenv (pip install '.[test]')")
    return Sdk([PYTHON, str(SDK_DIR / "loop_boto3.py")], version.stdout.strip(), 0.2)


def awscli_v1() -> Sdk:
    aws = shutil.which("aws", path=str(BIN))
    assert aws, f"the test extras' awscli is missing from {BIN}"
    return _cli(Path(aws))


def awscli_v2_debian() -> Sdk:
    if not DEBIAN_AWS.exists():
        pytest.skip(f"Debian's awscli is not installed ({DEBIAN_AWS}; .ci/run installs it)")
    return _cli(DEBIAN_AWS)


def awscli_v2_current() -> Sdk:
    found = sorted(AWSCLI_V2.glob("awscli/v2/2.*/dist/aws"))
    if not found:
        if shutil.which("node") is None or shutil.which("npm") is None:
            pytest.skip("node or npm is not installed: the npm build of the AWS CLI v2 needs them")
        if shutil.which("unzip") is None:
            pytest.skip("unzip is not installed: the npm build of the AWS CLI v2 comes as a zip")
        raise AssertionError(f"no AWS CLI v2 under {AWSCLI_V2}: run `make test` (.ci/run does)")
    return _cli(found[-1])


def javascript_v3() -> Sdk:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript SDK v3 needs it")
    package = NODE_MODULES / "@aws-sdk" / "client-sts" / "package.json"
    if not package.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: the JavaScript SDK v3 comes from npm")
        raise AssertionError("run `npm ci` in tests/js (`make test` and .ci/run do)")
    version = json.loads(package.read_text())["version"]
    command = [node, "--no-warnings", str(SDK_DIR / "loop.js")]
    return Sdk(command, version, 0.2, env={"NODE_PATH": str(NODE_MODULES)})


def go_v2() -> Sdk:
    if shutil.which("go") is None:
        pytest.skip("Debian's golang-go is not installed (.ci/run installs it)")
    metadata = GO_SDK / "aws" / "go_module_metadata.go"
    if not metadata.exists():
        pytest.skip(f"Debian's golang-github-aws-aws-sdk-go-v2-dev is not installed ({GO_SDK})")
    assert GO_PROGRAM.exists(), f"{GO_PROGRAM} is not built: run `make test` (.ci/run does)"
    version = re.search(r'goModuleVersion = "([^"]+)"', metadata.read_text())
    assert version, metadata
    return Sdk([str(GO_PROGRAM)], version.group(1), 0.2)


SDKS = {
    "boto3": boto3,
    "AWS CLI v1": awscli_v1,
    "AWS CLI v2 (Debian)": awscli_v2_debian,
    "AWS CLI v2 (npm)": awscli_v2_current,
    "JavaScript SDK v3": javascript_v3,
    "Go SDK v2": go_v2,
}


def with_role(bed: Bed) -> None:
    """A role profile `admin` behind alice's MFA session, asking for 900-second credentials, and
    the MFA session stored (one GetSessionToken)."""
    bed.write_profiles()
    bed.fake.add_role("admin", bed.alice)
    with bed.config.open("a") as handle:
        handle.write(
            f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = default\n"
            f"mfa_serial = {bed.device.serial}\nduration_seconds = 900\n"
        )
    bed.login()
    bed.fake.role_lifetime = LIFETIME


def with_credential_process_profile(bed: Bed) -> None:
    """A profile `sdk` whose credentials come from `aws-mfa-run --credential-process -p admin`."""
    with bed.config.open("a") as handle:
        handle.write(
            "[profile sdk]\ncredential_process = aws-mfa-run --credential-process -p admin\n"
            "region = eu-west-1\n"
        )


_LOST_ANSWER = "StatusCode: 200"


class Outcome:
    """What one SDK's loop printed: calls that worked (with the caller's Arn), calls that failed,
    how long it ran."""

    def __init__(self, stdout: str) -> None:
        lines = stdout.splitlines()
        self.arns = [line.split(" ", 1)[1] for line in lines if line.startswith("ok ")]
        failed = [line for line in lines if line.startswith("FAIL")]
        # The stand-in answered 200 (the credentials were taken) and the Go SDK then lost the
        # body on its kept-alive connection ("use of closed network connection"): seen about once
        # a run under the whole suite's load, never alone; the stand-in's HTTP, not credentials.
        self.lost_answers = [line for line in failed if _LOST_ANSWER in line]
        self.failures = [line for line in failed if _LOST_ANSWER not in line]
        ended = [line for line in lines if line.startswith("done seconds=")]
        assert ended, stdout
        self.seconds = float(ended[-1].split("=", 1)[1])

    @property
    def role_sessions(self) -> int:
        """How many role credentials the SDK used (AssumeRole names each session by its time)."""
        return len(set(self.arns))


def _run(bed: Bed, sdk: Sdk, via: str) -> Outcome:
    seconds = str(LIFETIME * LIFETIMES + 1)
    loop = [*sdk.command, seconds, str(sdk.interval), str(LIFETIMES), str(LIMIT)]
    if via == "server":
        done = bed.run(AWS_MFA_RUN, "--server", "-p", "admin", *loop, env=sdk.env, timeout=120)
    else:
        with_credential_process_profile(bed)
        done = bed.run(*loop, env={**sdk.env, "AWS_PROFILE": "sdk"}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return Outcome(done.stdout)


@pytest.mark.parametrize("via", ["server", "credential_process"])
@pytest.mark.parametrize("name", list(SDKS))
def test_sdk_survives_three_role_lifetimes(bed: Bed, name: str, via: str) -> None:
    """A long job with one client (a script of CLI runs for the CLIs) calls STS for three role
    lifetimes and more: no call fails, the SDK goes through new role credentials as each set runs
    out, and the MFA session stored by the one login serves every AssumeRole."""
    sdk = SDKS[name]()
    with_role(bed)
    outcome = _run(bed, sdk, via)
    assert outcome.failures == [], "\n".join(outcome.failures)
    assert len(outcome.lost_answers) <= 2, "\n".join(outcome.lost_answers)
    assert outcome.arns and all(
        arn.startswith("arn:aws:sts::123456789012:assumed-role/admin/") for arn in outcome.arns
    ), outcome.arns
    assert outcome.seconds >= LIFETIME * LIFETIMES
    assert outcome.role_sessions >= LIFETIMES, outcome.arns
    assert bed.fake.calls["GetSessionToken"] == 1  # the login's
    assert bed.fake.assumed["admin"] >= LIFETIMES
    FIGURES[f"{name} {sdk.version} via {via}"] = (
        f"{outcome.seconds / LIFETIME:.1f} lifetimes, {outcome.role_sessions} role credentials "
        f"used, GetSessionToken {bed.fake.calls['GetSessionToken']}, AssumeRole "
        f"{bed.fake.assumed['admin']}, {len(outcome.arns)} calls, {len(outcome.failures)} failed"
        + (
            f", {len(outcome.lost_answers)} answered but lost in transport"
            * bool(outcome.lost_answers)
        )
    )


def test_ruby_sdk_does_not_follow_the_full_uri(bed: Bed) -> None:
    """README: Debian's Ruby SDK (aws-sdk-core 3.168) reads only the relative container URI, so
    under --server it finds no credentials; through credential_process it works."""
    ruby = shutil.which("ruby")
    require = [str(ruby), "-e", "require 'aws-sdk-core'"]
    if ruby is None or subprocess.run(require, capture_output=True).returncode != 0:
        pytest.skip("Debian's ruby-aws-sdk-core is not installed (.ci/run installs it)")
    script = SDK_DIR / "whoami.rb"
    with_role(bed)
    version = bed.run(ruby, "-e", "require 'aws-sdk-core'; puts Aws::CORE_GEM_VERSION")
    served = bed.run(AWS_MFA_RUN, "--server", "-p", "admin", ruby, str(script))
    with_credential_process_profile(bed)
    processed = bed.run(ruby, str(script), env={"AWS_PROFILE": "sdk"})
    assert processed.returncode == 0, processed.stdout + processed.stderr
    assert processed.stdout.startswith("arn:aws:sts::123456789012:assumed-role/admin/")
    if not version.stdout.startswith("3.168."):
        pytest.skip(f"aws-sdk-core {version.stdout.strip()}: README speaks of 3.168")
    assert served.returncode != 0 and "assumed-role" not in served.stdout, served.stdout
    assert "MissingCredentialsError" in served.stdout, served.stdout
