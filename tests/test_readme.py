"""README.md's copy-paste examples, run as they are written."""

from __future__ import annotations

import re

from conftest import AWS, REPO, Bed

BLOCK = re.compile(r"<!-- test: ([\w-]+) -->\n```\w*\n(.*?)```", re.S)
EXAMPLES = dict(BLOCK.findall((REPO / "README.md").read_text()))
STAND_IN_BIN = REPO / "tests" / "bin"  # oathtool's stand-in


def login(bed: Bed) -> None:
    assert bed.run(AWS, "mfa", bed.fresh_code()).returncode == 0


def test_readme_has_every_example() -> None:
    assert set(EXAMPLES) == {
        "wrapper",
        "makefile",
        "env",
        "credential-process",
        "mfa-process",
        "roles",
        "long-runs",
    }  # roles: test_roles.py


def test_wrapper_example(ready: Bed) -> None:
    login(ready)
    done = ready.run("sh", "-c", EXAMPLES["wrapper"])
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_env_example(ready: Bed) -> None:
    login(ready)
    done = ready.run("sh", "-c", EXAMPLES["env"])
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_credential_process_example(ready: Bed) -> None:
    login(ready)
    with ready.config.open("a") as handle:
        handle.write("\n" + EXAMPLES["credential-process"])
    done = ready.run(AWS, "dynamodb", "list-tables", "--profile", "work")
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_mfa_process_and_makefile_examples(ready: Bed) -> None:
    """make -j8 over the README Makefile, codes from the README mfa_process, no terminal."""
    (ready.aws_dir / "mfa-secret").write_text(ready.device.secret + "\n")
    example = EXAMPLES["mfa-process"].replace(
        "arn:aws:iam::123456789012:mfa/alice", ready.device.serial
    )
    ready.config.write_text(example + "region = eu-west-1\n")
    (ready.root / "Makefile").write_text(EXAMPLES["makefile"])
    env = {"PATH": f"{STAND_IN_BIN}:{ready.env['PATH']}"}
    done = ready.run("make", "-j8", env=env)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert "orders" in (ready.root / "customers.txt").read_text()


def test_long_runs_example(ready: Bed) -> None:
    """`aws-mfa-run --server $SHELL`: the shell's commands get credentials from the endpoint."""
    login(ready)
    done = ready.run(
        "sh",
        "-c",
        EXAMPLES["long-runs"],
        env={"SHELL": "/bin/sh"},
        input="aws dynamodb list-tables --output text\necho $AWS_CONTAINER_CREDENTIALS_FULL_URI\n",
    )
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout and "http://127.0.0.1:" in done.stdout
