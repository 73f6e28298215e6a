"""The test bed: a temporary HOME, the local AWS stand-in, and the installed commands.

Every test runs the installed `aws-mfa-run` and the real `aws` of this virtualenv as separate
processes, with HOME pointing at a fresh temporary directory, AWS_ENDPOINT_URL at the stand-in on
127.0.0.1 and AWS_EC2_METADATA_DISABLED=true, so nothing reaches beyond loopback and the real
~/.aws is never read.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fakeaws import Device, FakeAws, User, hermetic_environment

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent

# Started from `nohup` or as a background job of a script (`make test &`), the suite would hand
# HUP, INT and QUIT ignored to every process it starts (ignored stays ignored across exec), and
# the tests of what those signals do would fail for the way the suite was started: undo it.
for _ignored in (signal.SIGHUP, signal.SIGQUIT):
    if signal.getsignal(_ignored) == signal.SIG_IGN:
        signal.signal(_ignored, signal.SIG_DFL)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _installed(name: str) -> str:
    found = shutil.which(name, path=str(BIN))
    if not found:
        raise RuntimeError(
            f"{name} is not installed in {BIN}: run `make test` (pip install '.[test]')."
        )
    return found


AWS_MFA_RUN = _installed("aws-mfa-run")
# AWS_MFA_RUN_TEST_AWS runs the suite against another aws, such as an AWS CLI v2 build.
AWS = os.environ.get("AWS_MFA_RUN_TEST_AWS") or _installed("aws")


class Bed:
    """One test's world: HOME, files, the stand-in, and a way to run commands in it."""

    def __init__(self, root: Path, fake: FakeAws) -> None:
        self.root = root
        self.home = root / "home"
        self.aws_dir = self.home / ".aws"
        self.aws_dir.mkdir(parents=True)
        self.credentials = self.aws_dir / "credentials"
        self.config = self.aws_dir / "config"
        self.fake = fake
        self.outputs: list[subprocess.CompletedProcess[str]] = []
        self.alice: User = fake.add_user("alice")
        self.device = self.alice.devices[0]
        self.env = hermetic_environment(os.environ, self.home, fake.url)
        self.env.update(
            PATH=f"{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin", LC_ALL="C.UTF-8", TZ="UTC"
        )

    def write_profiles(self, region: str = "eu-west-1", serial: bool = True) -> None:
        self.credentials.write_text(
            "# my keys\n[default]\n"
            f"aws_access_key_id = {self.alice.access_key}\n"
            f"aws_secret_access_key = {self.alice.secret_key}\n"
        )
        lines = ["[default]", f"region = {region}"]
        if serial:
            lines.append(f"mfa_serial = {self.device.serial}")
        self.config.write_text("\n".join(lines) + "\n")
        self.credentials.chmod(0o600)  # as `aws configure` leaves it

    def add_profile(self, name: str, user_name: str, region: str | None = None) -> User:
        """A long-term profile NAME for a new IAM user, with its device as mfa_serial."""
        user = self.fake.add_user(user_name)
        with self.credentials.open("a") as handle:
            handle.write(
                f"[{name}]\naws_access_key_id = {user.access_key}\n"
                f"aws_secret_access_key = {user.secret_key}\n"
            )
        with self.config.open("a") as handle:
            handle.write(f"[profile {name}]\nmfa_serial = {user.devices[0].serial}\n")
            if region:
                handle.write(f"region = {region}\n")
        return user

    def fresh_code(self, device: Device | None = None) -> str:
        """A code AWS accepts now that has not been used: this step's, else a neighbour's."""
        import time

        device = device or self.device
        for _ in range(3):
            now = time.time()
            # Codes aws-mfa-run sent, even those AWS refused unseen (wrong keys, throttling), are
            # spent for it: it never sends them again.
            spent_file = self.aws_dir / "aws-mfa-run" / "used-codes"
            lines = spent_file.read_text().splitlines() if spent_file.exists() else []
            sent = {line.split()[1] for line in lines if line.startswith(device.serial + " ")}
            # The previous step's code only while it cannot age out before the call reaches AWS.
            offsets = (0, 30, -30) if now % 30 < 25 else (0, 30)
            for offset in offsets:
                code = device.code(now + offset)
                if code not in device.used and code not in sent:
                    return code
            time.sleep(30 - now % 30 + 0.1)  # the next step brings two unused codes
        raise AssertionError("no unused code")

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        stdin: int | None = subprocess.DEVNULL,
        input: str | None = None,
        new_session: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command without a controlling terminal (like CI, cron or a pipe)."""
        done = subprocess.run(
            list(args),
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else stdin,
            input=input,
            cwd=self.root,
            start_new_session=new_session,
        )
        self.outputs.append(done)
        return done

    def spawn(
        self, command: str, *args: str, timeout: float = 30, env: dict[str, str] | None = None
    ) -> pexpect.spawn:
        """Run a command on a pseudo-terminal of its own, as a user at a terminal would."""
        return pexpect.spawn(
            command,
            list(args),
            env=self.env if env is None else env,
            cwd=str(self.root),
            encoding="utf-8",
            timeout=timeout,
            preexec_fn=_interruptible,
        )

    def secrets(self) -> list[str]:
        """Every secret key and session token the stand-in has handed out or knows."""
        found = [secret for user in self.fake.everyone for secret in user.all_secrets]
        for session in self.fake.sessions.values():
            found += [session.secret_key, session.token]
        return found + list(self.fake.signin_tokens)

    def login(self, *options: str, device: Device | None = None) -> None:
        """Set-up: store a session as `aws mfa` would, without the AWS CLI's start-up (0.4 s)."""
        done = self.run(AWS_MFA_RUN, "--login", self.fresh_code(device), *options)
        assert done.returncode == 0, done.stderr

    def install_alias(self) -> None:
        done = self.run(AWS_MFA_RUN, "--install-alias")
        assert done.returncode == 0, done.stderr

    def snapshot(self) -> dict[str, bytes]:
        """Every file under ~/.aws except our own state, byte for byte."""
        return {
            str(path.relative_to(self.aws_dir)): path.read_bytes()
            for path in sorted(self.aws_dir.rglob("*"))
            if path.is_file() and "aws-mfa-run" not in path.parts
        }

    def age_stored_session(self, seconds_left: float, target: str = "mfa") -> None:
        """Make the stored session as old as one that ends in `seconds_left`: its expiration and
        the time it was issued move together, as time passing would move them."""
        import calendar
        import time

        stamp = "%Y-%m-%dT%H:%M:%SZ"
        stored = self.ini_section(self.credentials, target)
        old_end, old_start = stored["aws_mfa_run_expiration"], stored["aws_mfa_run_issued"]
        new_end = time.time() + seconds_left
        shift = new_end - calendar.timegm(time.strptime(old_end, stamp))
        new_start = calendar.timegm(time.strptime(old_start, stamp)) + shift
        text = self.credentials.read_text()
        text = text.replace(old_end, time.strftime(stamp, time.gmtime(new_end)))
        text = text.replace(old_start, time.strftime(stamp, time.gmtime(new_start)))
        self.credentials.write_text(text)

    def ini_section(self, path: Path, section: str) -> dict[str, str]:
        import configparser

        parser = configparser.RawConfigParser()
        parser.read_string(path.read_text())
        return dict(parser[section]) if parser.has_section(section) else {}


def _interruptible() -> None:
    """Ctrl-C must reach the command even when the suite was started with SIGINT ignored (by
    nohup, or `&` in a script), which every child would otherwise inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def fake() -> Iterator[FakeAws]:
    server = FakeAws()
    server.start()
    yield server
    server.stop()


# Commands whose stdout may carry secrets because the user asked for them (or prints them itself).
_MAY_PRINT_SECRETS = (
    "--env",
    "--credential-process",
    "get-session-token",
    "python",
    "sh",
    "--print",  # --console --print: the sign-in URL
)


@pytest.fixture
def bed(tmp_path: Path, fake: FakeAws) -> Iterator[Bed]:
    world = Bed(tmp_path, fake)
    yield world
    check_no_secret_shown(world)


def check_no_secret_shown(world: Bed) -> None:
    """After every test: no secret in any stderr, nor on stdout where nobody asked for one."""
    secrets = world.secrets()
    for done in world.outputs:
        asked = any(word in str(arg) for arg in done.args for word in _MAY_PRINT_SECRETS)
        wrapped = len(done.args) > 1 and not str(done.args[1]).startswith("-")
        for secret in secrets:
            assert secret not in done.stderr, f"a secret on stderr of {done.args}"
            if not asked and not wrapped:
                assert secret not in done.stdout, f"a secret on stdout of {done.args}"


@pytest.fixture
def ready(bed: Bed) -> Bed:
    """A bed with a long-term default profile (region, mfa_serial) and the alias installed."""
    bed.write_profiles()
    bed.install_alias()
    return bed


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound for the whole test but not listening, so that no
    stand-in of a test running beside this one can be given it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# Figures from the adversarial tests, printed at the end of the run (CONTRIBUTING.md quotes them).
# A test sets FIGURES[name] = text. The figure travels in that test's report: under pytest-xdist
# the tests run in worker processes and only the controller prints the summary.
FIGURES: dict[str, str] = {}
CI = os.environ.get("CI") == "true"
_FIGURE = "aws-mfa-run figure"
_RECEIVED: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and CI and not hasattr(report, "wasxfail"):
        # Where CI runs, every test must run: a skip there would pass for a green test.
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every selected test must run: {reason}"
    if call.when == "call" and FIGURES:
        report.user_properties.extend((_FIGURE, [name, text]) for name, text in FIGURES.items())
        FIGURES.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for key, value in report.user_properties:
        if key == _FIGURE and isinstance(value, list):
            name, text = value
            _RECEIVED[name] = text


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RECEIVED:
        terminalreporter.section("reliability figures")
        for name, text in sorted(_RECEIVED.items()):
            terminalreporter.write_line(f"{name}: {text}")
