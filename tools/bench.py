"""Benchmark: what aws-mfa-run costs in front of a command, measured against references in one run.

Run with `make bench` (or `.venv/bin/python tools/bench.py [--runs N] [--json FILE]`). It starts the
local MFA-enforcing stand-in, works in a throw-away HOME, and prints medians of whole-process wall
times; every ratio compares figures measured in the same run, interleaved round-robin, so a noisy
machine shifts both sides alike. Not part of the test suite's pass/fail.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# The stand-in, its keyring and the Makefile writer are the tests' own, shared with them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fakeaws import FakeAws, hermetic_environment
from makefiles import write_makefile

TESTS = Path(__file__).resolve().parent.parent / "tests"
BIN = Path(sys.executable).parent
# The interpreter aws-mfa-run's console script runs on (its shebang): this virtualenv's python,
# a link to the real binary, not a version manager's shim script.
PYTHON = sys.executable
AWS_MFA_RUN = str(BIN / "aws-mfa-run")
AWS = str(BIN / "aws")
TOTP = TESTS / "totp.py"


class World:
    """A HOME with a long-term profile, a role-free MFA setup, and N padding profiles."""

    def __init__(self, fake: FakeAws, padding: int = 0) -> None:
        self.fake = fake
        self.user = fake.add_user(f"bench{len(fake.users)}")
        self.device = self.user.devices[0]
        self.home = Path(tempfile.mkdtemp(prefix="aws-mfa-run-bench-"))
        aws = self.home / ".aws"
        aws.mkdir()
        (self.home / "secret").write_text(self.device.secret)
        # The code source of the cold make: a Python TOTP script (pyotp), about 3 times as slow
        # to start as python -c pass; oathtool or a hardware key's tool would take its place.
        self.mfa_process = [PYTHON, str(TOTP), str(self.home / "secret")]
        pad_credentials = "".join(
            f"[pad{n}]\naws_access_key_id = AKIAPAD{n:013d}\naws_secret_access_key = {'x' * 40}\n\n"
            for n in range(padding)
        )
        pad_config = "".join(
            f"[profile pad{n}]\nregion = us-east-1\noutput = json\n\n" for n in range(padding)
        )
        self.credentials = aws / "credentials"
        self.long_term = (
            pad_credentials + f"[default]\naws_access_key_id = {self.user.access_key}\n"
            f"aws_secret_access_key = {self.user.secret_key}\n"
        )
        self.credentials.write_text(self.long_term)
        self.credentials.chmod(0o600)
        (aws / "config").write_text(
            pad_config + f"[default]\nregion = eu-west-1\nmfa_serial = {self.device.serial}\n"
            f"mfa_process = {' '.join(self.mfa_process)}\n\n"
            "[profile cp]\ncredential_process = aws-mfa-run --credential-process\n"
            "region = eu-west-1\n"
        )
        self.env = hermetic_environment(os.environ, self.home, fake.url)
        self.env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        self.run([AWS_MFA_RUN, "--install-alias"])

    def run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, env=self.env, cwd=self.home, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"benchmark command failed: {' '.join(argv)}\n{done.stderr}")

    def forget_session(self) -> None:
        """Back to long-term keys only, and no memory of spent codes: the next run is cold."""
        self.credentials.write_text(self.long_term)
        shutil.rmtree(self.home / ".aws" / "aws-mfa-run", ignore_errors=True)

    def login(self) -> None:
        self.forget_session()
        self.run([AWS_MFA_RUN, "--login", self.device.code()])


def measure(
    world: World,
    commands: dict[str, Callable[[], list[str]]],
    runs: int,
    prepare: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median wall time in ms of each command, run round-robin `runs` times."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            if prepare is not None:
                prepare()
            command = argv()
            started = time.perf_counter()
            done = subprocess.run(command, env=world.env, cwd=world.home, capture_output=True)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.decode()[-500:]}")
            times[name].append(elapsed * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per command (default 20)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    arguments = parser.parse_args()
    runs = max(arguments.runs, 1)

    fake = FakeAws()
    fake.accept_reused_codes = True  # a cold login is repeated many times within one code window
    fake.start()
    world = World(fake)
    rows: list[tuple[str, float, str, float, str]] = []

    def row(name: str, value: float, reference: str, base: float, target: str) -> None:
        rows.append((name, value, reference, value / base, target))

    # 1. Warm: a valid session in the store.
    world.login()
    warm = measure(
        world,
        {
            "python -c pass": lambda: [PYTHON, "-c", "pass"],
            "/bin/true": lambda: ["/bin/true"],
            "aws-mfa-run true": lambda: [AWS_MFA_RUN, "true"],
            "aws-mfa-run --credential-process": lambda: [AWS_MFA_RUN, "--credential-process"],
        },
        runs,
    )
    python = warm["python -c pass"]
    rows.append(("python -c pass", python, "", 1.0, ""))
    rows.append(("/bin/true", warm["/bin/true"], "python -c pass", warm["/bin/true"] / python, ""))
    for name in ("aws-mfa-run true", "aws-mfa-run --credential-process"):
        row(f"warm {name}", warm[name], "python -c pass", python, "<= 1.5")

    # 2. The AWS CLI through a credential_process profile, against a plain profile with the keys.
    through = measure(
        world,
        {
            "plain": lambda: [AWS, "sts", "get-caller-identity", "--profile", "mfa"],
            "cp": lambda: [AWS, "sts", "get-caller-identity", "--profile", "cp"],
        },
        runs,
    )
    rows.append(("aws sts get-caller-identity, plain profile", through["plain"], "", 1.0, ""))
    row(
        "same through credential_process",
        through["cp"],
        "plain profile",
        through["plain"],
        "<= 1.1",
    )

    # 2b. --server: the AWS CLI asking the endpoint, against the same under the plain wrapper;
    # and what starting a command under --server adds to the warm wrapper's start.
    served = measure(
        world,
        {
            "wrapped": lambda: [AWS_MFA_RUN, AWS, "sts", "get-caller-identity"],
            "server": lambda: [AWS_MFA_RUN, "--server", AWS, "sts", "get-caller-identity"],
            "true": lambda: [AWS_MFA_RUN, "true"],
            "server true": lambda: [AWS_MFA_RUN, "--server", "true"],
        },
        runs,
    )
    rows.append(("aws sts get-caller-identity under aws-mfa-run", served["wrapped"], "", 1.0, ""))
    row(
        "same under aws-mfa-run --server",
        served["server"],
        "plain wrapper",
        served["wrapped"],
        "<= 1.1",
    )
    rows.append(("warm aws-mfa-run true (same round)", served["true"], "", 1.0, ""))
    added = served["server true"] - served["true"]
    row(
        f"warm aws-mfa-run --server true ({added:+.1f} ms)",
        served["server true"],
        "warm true",
        served["true"],
        "<= +25 ms",
    )

    # 3. Cold login (calls STS) against the manual first step.
    serial = world.device.serial
    cold = measure(
        world,
        {
            "manual": lambda: [
                AWS,
                "sts",
                "get-session-token",
                "--serial-number",
                serial,
                "--token-code",
                world.device.code(),
            ],
            "direct": lambda: [AWS_MFA_RUN, "--login", world.device.code()],
            "alias": lambda: [AWS, "mfa", world.device.code()],
        },
        runs,
        prepare=world.forget_session,
    )
    rows.append(("aws sts get-session-token (manual step 1)", cold["manual"], "", 1.0, ""))
    row("cold aws-mfa-run --login CODE", cold["direct"], "manual step", cold["manual"], "<= 0.7")
    row("cold aws mfa CODE (alias)", cold["alias"], "manual step", cold["manual"], "<= 1.5")

    # 4. make -j16 of sixteen wrapped targets, warm and cold (code from mfa_process).
    write_makefile(world.home, {f"t{n}": f"@{AWS_MFA_RUN} true" for n in range(16)})
    world.login()
    make_warm = measure(world, {"warm": lambda: ["make", "-s", "-j16"]}, runs)["warm"]
    calls_before = fake.calls["GetSessionToken"]
    make_cold = measure(
        world, {"cold": lambda: ["make", "-s", "-j16"]}, runs, prepare=world.forget_session
    )["cold"]
    sts_per_cold_run = (fake.calls["GetSessionToken"] - calls_before) / runs
    code_source = measure(world, {"mfa_process": lambda: world.mfa_process}, runs)["mfa_process"]
    rows.append(("make -j16, 16 x aws-mfa-run true, warm", make_warm, "", 1.0, ""))
    row(
        f"same, cold ({sts_per_cold_run:g} STS call per run)",
        make_cold,
        "warm make",
        make_warm,
        "<= 2.5",
    )
    row("the mfa_process alone (tests/totp.py)", code_source, "warm make", make_warm, "")

    # 5. Growth with the size of the files.
    for padding in (10, 1000, 10000):
        big = World(fake, padding)
        big.login()
        sized = measure(
            big,
            {
                "python": lambda: [PYTHON, "-c", "pass"],
                "true": lambda: [AWS_MFA_RUN, "true"],
                "cp": lambda: [AWS_MFA_RUN, "--credential-process"],
            },
            runs,
        )
        target = "<= 3.0" if padding == 10000 else ""
        row(
            f"warm aws-mfa-run true, {padding} profiles",
            sized["true"],
            "python -c pass",
            sized["python"],
            target,
        )
        row(
            f"warm --credential-process, {padding} profiles",
            sized["cp"],
            "python -c pass",
            sized["python"],
            target,
        )
    fake.stop()

    header = (
        f"aws-mfa-run benchmark: {runs} runs each, medians of whole-process wall time\n"
        f"interpreter {PYTHON} (Python {platform.python_version()}), {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}"
    )
    print(header)
    print(f"{'command':<52} {'median ms':>10}  {'ratio':>6}  {'to':<16} target")
    for name, value, reference, ratio, target in rows:
        ratio_text = f"{ratio:6.2f}" if reference else "      "
        print(f"{name:<52} {value:10.1f}  {ratio_text}  {reference:<16} {target}")
    if arguments.json:
        Path(arguments.json).write_text(
            json.dumps(
                {
                    "runs": runs,
                    "python": platform.python_version(),
                    "interpreter": PYTHON,
                    "rows": [
                        {
                            "command": n,
                            "median_ms": round(v, 2),
                            "ratio": round(r, 3),
                            "to": ref,
                            "target": t,
                        }
                        for n, v, ref, r, t in rows
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
