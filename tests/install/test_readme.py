"""README.md's copy-paste examples, run as they are written."""

from __future__ import annotations

from conftest import AWS, AWS_MFA_RUN, REPO, Bed
from helpers import EXAMPLES

STAND_IN_BIN = REPO / "tests" / "bin"  # oathtool's stand-in


def test_readme_has_every_example() -> None:
    assert set(EXAMPLES) == {
        "wrapper",
        "makefile",
        "env",
        "credential-process",
        "mfa-process",
        "roles",
        "status-json",
        "completion",
        "mfa-prompt",
        "uninstall-alias",
        "console",
        "logout",
        "store-keys",
        "rotate-keys",
        "long-runs",
    }  # Run by test_roles.py, test_status_json.py, test_completion.py, test_mfa_prompt.py,
    # test_uninstall_alias.py, test_console.py, test_logout.py, test_keys.py; long-runs below.


def test_wrapper_example(ready: Bed) -> None:
    ready.login()
    done = ready.run("sh", "-c", EXAMPLES["wrapper"])
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_env_example(ready: Bed) -> None:
    ready.login()
    done = ready.run("sh", "-c", EXAMPLES["env"])
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_credential_process_example(ready: Bed) -> None:
    ready.login()
    with ready.config.open("a") as handle:
        handle.write("\n" + EXAMPLES["credential-process"])
    done = ready.run(AWS, "dynamodb", "list-tables", "--profile", "work")
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout


def test_mfa_process_and_makefile_examples(ready: Bed) -> None:
    """make -j8 over the README Makefile, codes from the README mfa_process, no terminal; and
    the TOTP secret on no process's command line while it runs."""
    secret = ready.device.secret
    (ready.aws_dir / "mfa-secret").write_text(secret + "\n")
    example = EXAMPLES["mfa-process"].replace(
        "arn:aws:iam::123456789012:mfa/alice", ready.device.serial
    )
    ready.config.write_text(example + "region = eu-west-1\n")
    (ready.root / "Makefile").write_text(EXAMPLES["makefile"])
    env = {"PATH": f"{STAND_IN_BIN}:{ready.env['PATH']}"}
    with CommandLines() as seen:
        done = ready.run("make", "-j8", env=env)
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert "orders" in (ready.root / "customers.txt").read_text()
    assert any("oathtool" in line for line in seen), "the sampler saw the mfa_process run"
    assert [line for line in seen if secret in line] == []


class CommandLines:
    """Every process command line seen in /proc while the block runs (sampled every ~2 ms)."""

    def __enter__(self) -> set[str]:
        import threading

        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self.seen

    def _sample(self) -> None:
        import os
        import time

        while not self.stop.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/cmdline", "rb") as handle:
                            self.seen.add(
                                handle.read().replace(b"\0", b" ").decode(errors="replace")
                            )
                    except OSError:
                        pass
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_the_options_block_is_the_help(bed: Bed) -> None:
    """README's Options block is `aws-mfa-run --help`, word for word."""
    block = (REPO / "README.md").read_text().split("## Options\n\n```\n", 1)[1].split("```")[0]
    done = bed.run(AWS_MFA_RUN, "--help")
    assert done.returncode == 0
    shown = done.stdout.split("\nThrough the alias")[0].rstrip()
    usage, options = shown.split("\noptions:\n")
    # The usage lines lose the indentation that "usage: " gave them.
    usage = "\n".join(line[7:] for line in usage.splitlines())
    assert f"{usage}\n\noptions:\n{options}\n" == block


def test_install_alias_from_a_source_tree(bed: Bed) -> None:
    """An editable install (`pip install -e .`) imports the package from src/, where no built
    wheel put the alias file beside it: the alias comes from cli-alias/ of the checkout."""
    import sys

    script = "import sys; from aws_mfa_run.cli import main; sys.exit(main(['--install-alias']))"
    done = bed.run(sys.executable, "-c", script, env={"PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    assert (bed.aws_dir / "cli" / "alias").read_text() == (REPO / "cli-alias" / "alias").read_text()


def test_long_runs_example(ready: Bed) -> None:
    """`aws-mfa-run --server $SHELL`: the shell's commands get credentials from the endpoint."""
    ready.login()
    done = ready.run(
        "sh",
        "-c",
        EXAMPLES["long-runs"],
        env={"SHELL": "/bin/sh"},
        input="aws dynamodb list-tables --output text\necho $AWS_CONTAINER_CREDENTIALS_FULL_URI\n",
    )
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout and "http://127.0.0.1:" in done.stdout
