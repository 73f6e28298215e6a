"""`aws-mfa-run --server COMMAND`: credentials from a loopback endpoint, fresh for a long run.

Real SDKs (botocore in a long-lived loop, the `aws` executable, the JavaScript SDK v3 from npm)
against the stand-in, whose credentials really expire after a few seconds here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pexpect
import pytest

from conftest import AWS, AWS_MFA_RUN, REPO, Bed

PYTHON = sys.executable
ENDED = "the MFA session has ended; run `aws mfa CODE`"

# A long-lived SDK client: one botocore client calling the whole time, as a job would.
LOOP = """
import sys, time, botocore.session
seconds, interval, what = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
stop_on_failure = "--stop" in sys.argv
session = botocore.session.get_session()
client = None
start = time.time()
ok = failed = 0
keys = set()
while time.time() < start + seconds:
    try:
        # Made in the loop: making it already fetches credentials, which may be refused.
        client = client or session.create_client("sts" if what == "sts" else "dynamodb")
        if what == "sts":
            client.get_caller_identity()
        else:
            client.list_tables()
        ok += 1
        keys.add(client._request_signer._credentials.get_frozen_credentials().access_key)
    except Exception as error:
        failed += 1
        print(f"FAIL at {time.time() - start:.1f}s: {type(error).__name__}: {error}", flush=True)
        if stop_on_failure:
            break
    time.sleep(interval)
print(f"ok={ok} failed={failed} keys={len(keys)} seconds={time.time() - start:.1f}", flush=True)
"""


def loop_script(bed: Bed) -> str:
    path = bed.root / "loop.py"
    path.write_text(LOOP)
    return str(path)


def summary(output: str) -> dict[str, float]:
    found = re.findall(r"ok=(\d+) failed=(\d+) keys=(\d+) seconds=([\d.]+)", output)
    assert found, output
    ok, failed, keys, seconds = found[-1]
    return {"ok": int(ok), "failed": int(failed), "keys": int(keys), "seconds": float(seconds)}


def with_admin_role(bed: Bed) -> None:
    """A role profile `admin` behind alice's MFA session (as in README's roles example)."""
    bed.fake.add_role("admin", bed.alice)
    with bed.config.open("a") as handle:
        handle.write(
            "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            f"source_profile = default\nmfa_serial = {bed.device.serial}\n"
        )


def login(bed: Bed) -> None:
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 0, done.stderr


PRINT_ENV = [PYTHON, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


def test_the_command_gets_an_endpoint_and_no_keys(ready: Bed) -> None:
    login(ready)
    done = ready.run(AWS_MFA_RUN, "--server", *PRINT_ENV)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert name not in child
    assert re.fullmatch(
        r"http://127\.0\.0\.1:\d+/\S+", child["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    ), child
    token = child["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert len(token) >= 32 and len(set(token)) > 8  # at least 128 random bits, hex
    assert child["AWS_MFA_RUN_PROFILE"] == "default"
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "eu-west-1"
    # The default profile's long-term keys would come before the endpoint in every SDK's chain.
    hidden = child["AWS_SHARED_CREDENTIALS_FILE"]
    assert hidden != str(ready.credentials) and not os.path.exists(hidden)
    # ... and no command line of ours carried the token.
    assert token not in " ".join(str(arg) for arg in done.args)
    # The endpoint ended with the command.
    port = int(child["AWS_CONTAINER_CREDENTIALS_FULL_URI"].split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_aws_calls_a_protected_api_through_the_endpoint(ready: Bed) -> None:
    """ListTables denies long-term keys: it works only with the session from the endpoint."""
    done = ready.run(
        AWS_MFA_RUN,
        "--server",
        "--token-code",
        ready.fresh_code(),
        "sh",
        "-c",
        f"{AWS} dynamodb list-tables --output text && aws-mfa-run {AWS} sts get-caller-identity",
    )
    assert done.returncode == 0, done.stderr
    assert "orders" in done.stdout and "user/alice" in done.stdout
    assert ready.fake.calls["GetSessionToken"] == 1
    # The stored session is shared with every other mode.
    plain = ready.run(AWS_MFA_RUN, AWS, "dynamodb", "list-tables", "--output", "text")
    assert plain.returncode == 0 and "orders" in plain.stdout
    assert ready.fake.calls["GetSessionToken"] == 1


def test_role_credentials_stay_fresh_for_three_lifetimes(ready: Bed) -> None:
    """A botocore loop and a sequence of `aws` commands outlive three role lifetimes: every call
    works, one GetSessionToken, AssumeRole again each time the role credentials run out."""
    with_admin_role(ready)
    login(ready)
    lifetime = 3
    ready.fake.role_lifetime = lifetime
    seconds = 3 * lifetime + 1
    loop = loop_script(ready)
    script = (
        f"{PYTHON} {loop} {seconds} 0.2 sts > loop.out & "
        f"end=$(( $(date +%s) + {seconds} )); runs=0; "
        # Three runs at least, however slow a loaded machine makes the AWS CLI's start.
        f'while [ "$(date +%s)" -lt "$end" ] || [ "$runs" -lt 3 ]; do '
        f"{AWS} sts get-caller-identity --query Arn --output text || echo AWS-FAILED; "
        "runs=$((runs + 1)); done; echo runs=$runs; wait"
    )
    started = time.time()
    done = ready.run(AWS_MFA_RUN, "--server", "-p", "admin", "sh", "-c", script, timeout=60)
    took = time.time() - started
    assert done.returncode == 0, done.stderr
    assert "AWS-FAILED" not in done.stdout, done.stderr
    assert done.stdout.count("assumed-role/admin/") >= 3
    looped = summary((ready.root / "loop.out").read_text())
    assert looped["failed"] == 0 and looped["ok"] >= 10, looped
    assert looped["seconds"] >= 3 * lifetime
    assert looped["keys"] >= 3  # the one client went through three sets of role credentials
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.fake.assumed["admin"] >= 3
    assert took < 3 * lifetime + 15
    assert done.stderr == ""


def test_without_server_the_same_loop_fails_after_one_lifetime(ready: Bed) -> None:
    """Why --server exists: static keys in the environment never refresh."""
    with_admin_role(ready)
    login(ready)
    lifetime = 3
    ready.fake.role_lifetime = lifetime
    done = ready.run(
        AWS_MFA_RUN, "-p", "admin", PYTHON, loop_script(ready), str(3 * lifetime), "0.2", "sts",
        "--stop",
    )  # fmt: skip
    looped = summary(done.stdout)
    # botocore sees AWS_CREDENTIAL_EXPIRATION pass and refuses the keys ("still expired").
    assert looped["failed"] == 1 and "expired" in done.stdout.lower(), done.stdout
    assert looped["seconds"] <= lifetime + 1  # the first lifetime, less start-up


ROTATING_CODES = """
import pathlib, sys, time, pyotp
totp = pyotp.TOTP(pathlib.Path(sys.argv[1]).read_text().strip())
given = pathlib.Path(sys.argv[2])
used = given.read_text().split() if given.exists() else []
# A fresh code each time, as a hardware token pressed again gives: this step's, else a
# neighbour's (AWS accepts one step either side).
now = time.time()
code = next(c for c in (totp.at(now), totp.at(now + 30), totp.at(now - 30)) if c not in used)
given.write_text(" ".join([*used, code]))
print(code)
"""


def test_mfa_process_renews_the_session_mid_run(ready: Bed) -> None:
    script, secret = ready.root / "codes.py", ready.aws_dir / "mfa-secret"
    script.write_text(ROTATING_CODES)
    secret.write_text(ready.device.secret)
    with ready.config.open("a") as handle:
        handle.write(f"mfa_process = {PYTHON} {script} {secret} {ready.root / 'given'}\n")
    # Renewed at half its lifetime: 10 s asks for three codes in a run that a loaded machine
    # stretches by seconds; AWS accepts only three codes (one step either side) in 30 s.
    lifetime = 10
    ready.fake.session_lifetime = lifetime
    done = ready.run(
        AWS_MFA_RUN, "--server", PYTHON, loop_script(ready), str(lifetime + 1), "0.2", "dynamodb",
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    looped = summary(done.stdout)
    assert looped["failed"] == 0 and looped["seconds"] > lifetime, done.stdout
    # Renewed at about half its lifetime: two or three times within the run, not at every call.
    assert 2 <= ready.fake.calls["GetSessionToken"] <= 5
    assert ready.fake.calls["ListTables"] == looped["ok"]


def test_without_a_code_source_the_sdk_shows_that_the_session_ended(ready: Bed) -> None:
    """The end is said ahead; the SDK's next call after it fails with our sentence (and we say
    it once); then `aws mfa CODE` (here its --login) inside the command mends the running endpoint
    at once: it reads the real files again (hidden from the command's SDKs) when they change.
    (No prompt on the terminal the command holds: tests/server/test_refresh.py.)"""
    import threading

    lifetime = 8  # long enough for a loaded machine to start the loop while it is valid
    ready.fake.session_lifetime = lifetime
    first = ready.fresh_code()
    second = next(
        code for offset in (30, -30) if (code := ready.device.code(time.time() + offset)) != first
    )
    script = (
        f"{PYTHON} {loop_script(ready)} 30 0.2 dynamodb --stop; "
        f"aws-mfa-run --login {second} 2>/dev/null && {AWS} dynamodb list-tables --output text"
    )
    # Sessions after the first one last as long as STS makes them.
    threading.Timer(lifetime + 1, lambda: setattr(ready.fake, "session_lifetime", None)).start()
    done = ready.run(AWS_MFA_RUN, "--server", "--token-code", first, "sh", "-c", script, timeout=60)
    looped = summary(done.stdout)
    assert looped["failed"] == 1
    assert ENDED in done.stdout  # what botocore shows of our error answer
    # Calls worked until the session ended, and failed soon after: botocore's retries, no hang.
    assert looped["ok"] >= 1 and looped["seconds"] <= lifetime + 10
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and "the MFA session of 'default' ends at" in lines[0], done.stderr
    assert ENDED in lines[1] and "'default'" in lines[1], done.stderr
    # Mended: the last command worked with the new session.
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("customers"), done.stdout
    assert ready.fake.calls["GetSessionToken"] == 2


def test_javascript_sdk_v3_gets_role_credentials_from_the_endpoint(ready: Bed) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript SDK v3 test needs it")
    script = REPO / "tests" / "js" / "whoami.js"
    assert (REPO / "tests" / "js" / "node_modules" / "@aws-sdk" / "client-sts").is_dir(), (
        "run `npm ci` in tests/js (.ci/run does)"
    )
    with_admin_role(ready)
    login(ready)
    ready.fake.role_lifetime = 3
    command = f"{node} --no-warnings {script}"
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", "sh", "-c", f"{command}; sleep 2; {command}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = done.stdout.split()
    assert first.startswith("arn:aws:sts::123456789012:assumed-role/admin/"), done.stdout
    assert second.startswith("arn:aws:sts::123456789012:assumed-role/admin/")
    assert first != second  # the second run got renewed role credentials (another session)
    assert ready.fake.calls["GetSessionToken"] == 1  # login's


CLIENTS = """
import json, os, subprocess, sys, time
one = (
    "import http.client, os, sys, urllib.parse\\n"
    "url = urllib.parse.urlsplit(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'])\\n"
    "headers = {'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}\\n"
    "os.read(int(sys.argv[1]), 1)  # wait for the start: the end of the pipe\\n"
    "connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)\\n"
    "connection.request('GET', url.path, headers=headers)\\n"
    "answer = connection.getresponse()\\n"
    "print(answer.status, answer.read().decode(), flush=True)\\n"
)
began = time.time()
start, go = os.pipe()
clients = [
    subprocess.Popen(
        [sys.executable, "-c", one, str(start)], stdout=subprocess.PIPE, text=True,
        pass_fds=(start,),
    )
    for _ in range(64)
]
os.close(start)
# Once the credentials have less than half their lifetime left, all ask at once.
time.sleep(max(0, began + float(sys.argv[1]) - time.time()))
os.close(go)
for client in clients:
    print(client.communicate()[0].strip())
"""


def test_64_clients_at_once_get_credentials_with_one_refresh(ready: Bed) -> None:
    with_admin_role(ready)
    login(ready)
    # Long enough that the renewed credentials outlast all 64 answers on a loaded machine.
    lifetime = 10
    ready.fake.role_lifetime = lifetime
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, "-c", CLIENTS, str(lifetime / 2 + 0.5),
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = [line.split(" ", 1) for line in done.stdout.splitlines()]
    assert len(answers) == 64 and all(status == "200" for status, _ in answers), done.stdout
    keys = {json.loads(body)["AccessKeyId"] for _, body in answers}
    assert len(keys) == 1  # all 64 got the same, renewed credentials
    assert ready.fake.assumed["admin"] == 2  # the first, and one refresh for all 64


PROBE = """
import http.client, json, os, socket, sys, urllib.parse
url = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
token = os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

def ask(method, path, headers, host="127.0.0.1"):
    connection = http.client.HTTPConnection(host, url.port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
    except OSError as error:
        return [type(error).__name__, ""]
    answer = connection.getresponse()
    return [answer.status, answer.read().decode()]

print(json.dumps({
    "none": ask("GET", url.path, {}),
    "wrong": ask("GET", url.path, {"Authorization": "0" * len(token)}),
    "shorter": ask("GET", url.path, {"Authorization": token[:-1]}),
    "bearer": ask("GET", url.path, {"Authorization": "Bearer " + token}),
    "path": ask("GET", "/", {"Authorization": token}),
    "query": ask("GET", url.path + "?x=1", {"Authorization": token}),
    "post": ask("POST", url.path, {"Authorization": token}),
    "other-loopback": ask("GET", url.path, {"Authorization": token}, "127.0.0.2"),
    "elsewhere": [ask("GET", url.path, {"Authorization": token}, host) for host in sys.argv[1:]],
    "right": ask("GET", url.path, {"Authorization": token}),
}))
"""


def _other_addresses() -> list[str]:
    """This machine's addresses other than loopback (the route it would use to reach afar)."""
    found = set()
    for destination in ("192.0.2.1", "10.255.255.255", "198.51.100.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((destination, 9))  # UDP: chooses a route, sends nothing
            except OSError:
                continue
            address = probe.getsockname()[0]
            if not address.startswith("127."):
                found.add(address)
    return sorted(found)


def test_requests_without_the_token_or_elsewhere_are_refused(ready: Bed) -> None:
    login(ready)
    others = _other_addresses()
    done = ready.run(AWS_MFA_RUN, "--server", PYTHON, "-c", PROBE, *others)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert answers["none"][0] == 401
    for name in ("wrong", "shorter", "bearer", "path", "query", "post"):
        assert answers[name][0] == 403, (name, answers[name])
    for name in ("none", "wrong", "path", "post"):
        assert "Secret" not in answers[name][1] and "ASIA" not in answers[name][1]
    assert answers["other-loopback"][0] == "ConnectionRefusedError"
    assert all(status == "ConnectionRefusedError" for status, _ in answers["elsewhere"])
    assert answers["right"][0] == 200
    credentials = json.loads(answers["right"][1])
    assert set(credentials) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", credentials["Expiration"])
    if not others:
        pytest.skip("no address but loopback on this machine: only 127.0.0.2 was tried")


def test_exit_status_and_signal_death_come_through(ready: Bed) -> None:
    login(ready)
    assert ready.run(AWS_MFA_RUN, "--server", "sh", "-c", "exit 7").returncode == 7
    assert ready.run(AWS_MFA_RUN, "--server", "sh", "-c", "kill -KILL $$").returncode == 128 + 9
    missing = ready.run(AWS_MFA_RUN, "--server", "no-such-command-here")
    assert missing.returncode == 127
    assert missing.stderr == "aws-mfa-run: Command not found: no-such-command-here\n"
    (ready.root / "plain.txt").write_text("echo hi\n")
    refused = ready.run(AWS_MFA_RUN, "--server", "./plain.txt")
    assert refused.returncode == 126
    assert refused.stderr == "aws-mfa-run: Command is not executable: ./plain.txt\n"


TRAPS = """
import os, signal, sys
seen = []
for name in ("SIGINT", "SIGQUIT", "SIGTERM", "SIGHUP", "SIGWINCH", "SIGCONT"):
    signal.signal(getattr(signal, name), lambda number, _frame: seen.append(number))
print("ready", os.getppid(), flush=True)
while True:
    line = sys.stdin.readline()  # stdin is the terminal: the command's, not the server's
    names = [signal.Signals(number).name for number in seen]
    print("seen", " ".join(names) or "-", "line", line.strip(), flush=True)
    seen.clear()
    if line.strip() == "exit":
        sys.exit(42)
"""


def test_signals_from_the_terminal_and_from_programs_reach_the_command_once(ready: Bed) -> None:
    """In a job-control shell, as a user runs it: what the terminal sends reaches the command
    once, TERM and HUP sent to aws-mfa-run are passed on, Ctrl-Z and fg work, the status comes
    back."""
    login(ready)
    (ready.root / "traps.py").write_text(TRAPS)
    shell = pexpect.spawn(
        "bash",
        ["--norc", "--noprofile", "-i"],
        env={**ready.env, "PS1": "$ "},
        cwd=str(ready.root),
        encoding="utf-8",
        timeout=20,
    )
    shell.expect_exact("$ ")
    shell.sendline(f"aws-mfa-run --server {PYTHON} traps.py")
    shell.expect(r"ready (\d+)")
    # The command's parent is its reaper, whose parent is the endpoint's process, whose parent
    # is the aws-mfa-run that the shell started and waits for.
    server = _parent(_parent(int(shell.match.group(1))))

    def check(expected: str) -> None:
        """`expected` arrived, once, and nothing else (asked until it shows: a loaded machine
        may take a while to schedule the process that passes a signal on)."""
        seen: list[str] = []
        for _ in range(20):
            time.sleep(0.2)
            shell.sendline("x")
            shell.expect(r"seen (.*) line x\r\n")
            seen += [name for name in shell.match.group(1).split() if name != "-"]
            if expected in seen:
                break
        time.sleep(0.5)  # a second delivery would show now
        shell.sendline("x")
        shell.expect(r"seen (.*) line x\r\n")
        seen += [name for name in shell.match.group(1).split() if name != "-"]
        assert seen == [expected]

    shell.sendintr()  # Ctrl-C: the terminal signals the job's whole process group
    check("SIGINT")
    shell.sendcontrol("\\")  # Ctrl-\\
    check("SIGQUIT")
    shell.setwinsize(30, 100)
    check("SIGWINCH")
    os.kill(server, signal.SIGTERM)  # to aws-mfa-run, by a program: passed on
    check("SIGTERM")
    os.kill(server, signal.SIGHUP)
    check("SIGHUP")
    shell.sendcontrol("z")  # Ctrl-Z stops the job, aws-mfa-run included; fg resumes it
    shell.expect_exact("$ ")
    assert _state(server) == "T"
    shell.sendline("fg")
    check("SIGCONT")
    shell.sendline("exit")
    shell.expect_exact("$ ")
    shell.sendline("echo status=$?")
    shell.expect(r"status=(\d+)")
    assert shell.match.group(1) == "42"
    shell.sendline("exit")
    shell.expect(pexpect.EOF)
    shell.close()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_the_profile_setting_makes_server_the_default(ready: Bed) -> None:
    login(ready)
    ready.config.write_text(
        ready.config.read_text().replace("[default]\n", "[default]\nmfa_server = true\n")
    )
    done = ready.run(AWS_MFA_RUN, *PRINT_ENV)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout)
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in child and "AWS_ACCESS_KEY_ID" not in child
    # Nested, for the same profile: the inner command uses the same endpoint.
    show = "echo $AWS_CONTAINER_CREDENTIALS_FULL_URI $AWS_ACCESS_KEY_ID"
    nested = ready.run(AWS_MFA_RUN, "sh", "-c", f"{show}; aws-mfa-run sh -c '{show}'")
    outer, inner = nested.stdout.splitlines()
    assert outer == inner and outer.startswith("http://127.0.0.1:"), nested.stdout

    ready.config.write_text(ready.config.read_text().replace("= true", "= maybe"))
    before = ready.snapshot()
    bad = ready.run(AWS_MFA_RUN, "true")
    assert bad.returncode == 3
    assert bad.stderr == (
        "aws-mfa-run: mfa_server of profile 'default' must be true or false, not 'maybe'.\n"
    )
    assert ready.snapshot() == before


def test_aws_configure_inside_says_it_cannot_write(ready: Bed) -> None:
    """The hidden credentials file is one nothing can write: `aws configure set` inside fails
    and says so, instead of writing a secret key (shown once by IAM) into nothing."""
    login(ready)
    before = ready.credentials.read_bytes()
    script = f"{AWS} configure set aws_secret_access_key ShownOnlyOnce --profile ci"
    done = ready.run(AWS_MFA_RUN, "--server", "sh", "-c", script)
    assert done.returncode != 0 and done.stderr.strip(), done
    assert ready.credentials.read_bytes() == before
    # Every SDK still reads the hidden file as absent: the endpoint serves the call.
    whoami = f"{AWS} sts get-caller-identity --query Arn --output text"
    served = ready.run(AWS_MFA_RUN, "--server", "sh", "-c", whoami)
    assert served.returncode == 0 and "user/alice" in served.stdout, served.stderr
