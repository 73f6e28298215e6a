"""The refresh side of `--server`: what the endpoint does as credentials and sessions end.

Real processes throughout: the installed aws-mfa-run serving a botocore loop (or the real `aws`),
real terminals (pexpect), the stand-in STS, whose credentials are made to last seconds or whose
calls are made to fail for a while. Times the loop records are epoch seconds (UTC), compared with
the expirations AWS handed out.
"""

from __future__ import annotations

import calendar
import datetime
import json
import os
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

import pexpect

from conftest import AWS, AWS_MFA_RUN, Bed

PYTHON = sys.executable
ENDED = "the MFA session has ended; run `aws mfa CODE`"
END_MARGIN = 5  # server.END_MARGIN: credentials are served until this much before they end
PROMPT = "MFA code for"

# A long-lived botocore client calling a protected API (DynamoDB ListTables: MFA sessions only)
# every INTERVAL seconds for SECONDS; prints every call as JSON: [time, "ok", key id, expiry] or
# [time, "fail", message].
EVENTS = """
import json, sys, time, botocore.session
seconds, interval = float(sys.argv[1]), float(sys.argv[2])
client, events, end = None, [], time.time() + seconds
while time.time() < end:
    try:
        # Made in the loop: making it already fetches credentials, which may be refused.
        client = client or botocore.session.get_session().create_client("dynamodb")
        client.list_tables()
        found = client._request_signer._credentials
        key = found.get_frozen_credentials().access_key
        events.append([time.time(), "ok", key, found._expiry_time.timestamp()])
    except Exception as error:
        events.append([time.time(), "fail", str(error)])
    time.sleep(interval)
print("EVENTS " + json.dumps(events), flush=True)
"""

# A code source that gives a fresh code each time (an authenticator pressed again).
CODES = """
import pathlib, sys, time, pyotp
totp = pyotp.TOTP(pathlib.Path(sys.argv[1]).read_text().strip())
given = pathlib.Path(sys.argv[2])
used = given.read_text().split() if given.exists() else []
now = time.time()
code = next(c for c in (totp.at(now), totp.at(now + 30), totp.at(now - 30)) if c not in used)
given.write_text(" ".join([*used, code]))
print(code)
"""


def events_script(bed: Bed) -> str:
    path = bed.root / "events.py"
    path.write_text(EVENTS)
    return str(path)


def code_program(bed: Bed) -> str:
    """A command line printing a fresh code of alice's device, for mfa_process or mfa_prompt."""
    script, secret = bed.root / "codes.py", bed.aws_dir / "mfa-secret"
    script.write_text(CODES)
    secret.write_text(bed.device.secret)
    return f"{PYTHON} {script} {secret} {bed.root / 'given'}"


def events(output: str) -> list[list[Any]]:
    lines = [line for line in output.splitlines() if line.startswith("EVENTS ")]
    assert lines, f"the command printed no events: {output!r}"
    line = lines[0]
    found: list[list[Any]] = json.loads(line.removeprefix("EVENTS "))
    return found


def failures(found: list[list[Any]]) -> list[list[Any]]:
    return [event for event in found if event[1] == "fail"]


def with_admin_role(bed: Bed) -> None:
    bed.fake.add_role("admin", bed.alice)
    with bed.config.open("a") as handle:
        handle.write(
            "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            f"source_profile = default\nmfa_serial = {bed.device.serial}\n"
        )


def set_in_default(bed: Bed, line: str) -> None:
    bed.config.write_text(bed.config.read_text().replace("[default]\n", f"[default]\n{line}\n", 1))


def stored_end(bed: Bed) -> float:
    stamp = bed.ini_section(bed.credentials, "mfa")["aws_mfa_run_expiration"]
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))


def later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def once(condition: Callable[[], object], action: Callable[[], object]) -> None:
    """Run `action` in a thread as soon as `condition()` holds (a state of the stand-in)."""

    def watch() -> None:
        for _ in range(1200):
            if condition():
                action()
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


def log_in(bed: Bed) -> str:
    """`aws mfa CODE` (its --login); the code is noted as given, so that the code program of
    code_program() does not give it again."""
    code = bed.fresh_code()
    done = bed.run(AWS_MFA_RUN, "--login", code)
    assert done.returncode == 0, done.stderr
    given = bed.root / "given"
    given.write_text(" ".join([*(given.read_text().split() if given.exists() else []), code]))
    return code


def test_the_end_is_announced_ahead_and_the_session_served_until_it_ends(ready: Bed) -> None:
    """No code source, a session of 30 s: said once ahead on stderr, in local time ('ends at
    HH:MM'), served until END_MARGIN before its end (today: until half its lifetime as counted
    from the start of --server), then the SDK's call fails with our sentence, said once."""
    ready.fake.session_lifetime = 30
    log_in(ready)
    end = stored_end(ready)
    zone = "Australia/Sydney"  # any zone but UTC: the time shown is the user's
    done = ready.run(
        AWS_MFA_RUN, "--server", PYTHON, events_script(ready), str(end - time.time() + 3), "0.3",
        env={"TZ": zone}, timeout=90,
    )  # fmt: skip
    assert "EVENTS " in done.stdout, (done.returncode, done.stderr)
    found = events(done.stdout)
    failed = failures(found)
    assert failed, found
    served = [event[0] for event in found if event[1] == "ok"]
    # Every call worked until the session was about to end, and failed once it had.
    assert max(served) >= end - END_MARGIN - 1.5, (end, found)
    assert failed[0][0] >= end - END_MARGIN - 0.5, (end, found)
    assert all(event[0] >= end - END_MARGIN - 0.5 for event in failed)
    assert ENDED in failed[0][2]
    local = datetime.datetime.fromtimestamp(end, zoneinfo.ZoneInfo(zone)).strftime("%H:%M")
    lines = done.stderr.splitlines()
    assert lines[0] == (
        f"aws-mfa-run: the MFA session of 'default' ends at {local}; run `aws mfa CODE` in any "
        "terminal to continue without a break"
    ), done.stderr
    assert len(lines) == 2 and ENDED in lines[1], done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


def test_aws_mfa_in_another_terminal_extends_the_run_without_a_failed_call(ready: Bed) -> None:
    """After the announcement, `aws mfa CODE` (the real alias) in another terminal: the endpoint
    picks up the newly stored session before the old one ends; no call fails."""
    ready.fake.session_lifetime = 20
    log_in(ready)
    end = stored_end(ready)
    ready.fake.session_lifetime = None
    code = ready.fresh_code()
    later(4, lambda: ready.run(AWS, "mfa", code))
    done = ready.run(
        AWS_MFA_RUN, "--server", PYTHON, events_script(ready), str(end - time.time() + 6), "0.3",
        timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = events(done.stdout)
    assert failures(found) == [], found
    keys = [event[2] for event in found]
    assert len(set(keys)) == 2 and keys[-1] != keys[0]  # switched to the new session
    assert found[-1][0] > end  # ... and went on past the old one's end
    assert ready.fake.calls["GetSessionToken"] == 2
    assert code in ready.device.used
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "ends at" in lines[0], done.stderr


STS_ACTIONS = {"AssumeRole", "GetSessionToken", "GetCallerIdentity"}


def test_sts_down_while_credentials_are_valid_fails_no_call(ready: Bed) -> None:
    """STS answers 503 from 2 s into the run until 8 s after the role credentials end: they are
    served until END_MARGIN before their end (today: an error from the first failed renewal, at
    half their lifetime), renewal is retried with backoff, and calls work again once STS does."""
    with_admin_role(ready)
    log_in(ready)
    ready.fake.role_lifetime = 24
    recovered: list[float] = []

    def outage() -> None:
        """From --server's first AssumeRole until 2 s after those credentials end; when nothing
        valid is left the backoff starts again from its first step, 3 s."""
        ready.fake.failing.update(STS_ACTIONS)
        role_end = max(s.expiration for s in ready.fake.sessions.values() if s.role is not None)
        recovered.append(role_end + 2)
        later(role_end + 2 - time.time(), ready.fake.failing.clear)

    once(lambda: ready.fake.assumed["admin"] >= 1, outage)
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, events_script(ready), "34", "0.3",
        timeout=120,
    )  # fmt: skip
    assert "EVENTS " in done.stdout, (done.returncode, done.stderr)
    found = events(done.stdout)
    first_end = next(event[3] for event in found if event[1] == "ok")
    failed = failures(found)
    assert failed, found  # nothing valid was left for a while
    assert failed[0][0] >= first_end - END_MARGIN - 0.5, (first_end, found)
    assert failed[-1][0] <= recovered[0] + 7, found  # once STS answers, calls work again soon
    assert found[-1][1] == "ok" and found[-1][2] != found[0][2]
    # Renewal was tried with backoff, not at every request: about one try per step.
    # (botocore makes two attempts of a call answered 503: aws/client.Bounds.)
    refused = ready.fake.calls["AssumeRole"] - ready.fake.assumed["admin"]
    assert 2 * 2 <= refused <= 2 * 5, refused
    assert ready.fake.calls["GetSessionToken"] == 1


def test_sts_hanging_holds_no_request_while_credentials_are_valid(ready: Bed) -> None:
    """AssumeRole never answers from the first renewal on: each renewal ends at its bound (15 s)
    in a thread of its own, and no request waits for it while the credentials at hand are valid
    (today every request waited on the renewal's lock, longer than an SDK waits)."""
    with_admin_role(ready)
    log_in(ready)
    ready.fake.role_lifetime = 20
    once(lambda: ready.fake.assumed["admin"] >= 1, lambda: ready.fake.hanging.add("AssumeRole"))
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, events_script(ready), "17", "0.3",
        timeout=60,
    )  # fmt: skip
    assert "EVENTS " in done.stdout, (done.returncode, done.stderr)
    found = events(done.stdout)
    first_end = found[0][3]
    # Nothing valid is left END_MARGIN before the end: from then on calls may fail.
    valid = [event for event in found if event[0] < first_end - END_MARGIN - 0.5]
    assert failures(valid) == [], found
    renewing = [event for event in valid if event[0] > first_end - 10 + 1]  # margin: 10 s
    assert len(renewing) >= 5, found  # calls went on while the renewal hung
    assert ready.fake.calls["AssumeRole"] >= 2
    gaps = [after[0] - before[0] for before, after in zip(valid, valid[1:])]
    assert max(gaps) < 0.3 + 2, gaps  # no call waited for the renewal


def test_a_config_file_broken_between_two_renewals_fails_no_call(ready: Bed) -> None:
    """The user saves a half-edited config file mid-run: renewing fails (said once), the valid
    credentials are served meanwhile, and once the file is whole again (a change: tried at
    once) renewing works."""
    with_admin_role(ready)
    log_in(ready)
    ready.fake.role_lifetime = 24  # renewed from 12 s on, served until 19 s
    whole = ready.config.read_text()

    def save(text: str) -> None:
        # As an editor saves: whole, so that no renewal reads a half-written file in between.
        saved = ready.config.with_name("config.saving")
        saved.write_text(text)
        os.replace(saved, ready.config)

    def break_then_mend() -> None:
        save(whole + "[profile broken\n")
        later(7, lambda: save(whole))

    # Broken from 9 s to 16 s: over the renewals at 12 and 15 s.
    once(lambda: ready.fake.assumed["admin"] >= 1, lambda: later(9, break_then_mend))
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, events_script(ready), "21", "0.3",
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = events(done.stdout)
    assert failures(found) == [], found
    assert len({event[2] for event in found}) >= 2  # renewed once the file was whole
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "renewing the credentials failed" in lines[0], done.stderr


def test_an_expired_session_reported_by_assume_role_is_renewed_silently(ready: Bed) -> None:
    """AWS calls the stored MFA session expired (ExpiredToken) although the file says it has
    hours left: with mfa_process a new session comes at once, as for a session known to have
    ended, and no call fails."""
    with_admin_role(ready)
    set_in_default(ready, f"mfa_process = {code_program(ready)}")
    log_in(ready)
    ready.fake.role_lifetime = 3

    def end_sessions_at_aws() -> None:
        with ready.fake.lock:
            for session in ready.fake.sessions.values():
                if session.role is None:
                    session.expiration = ready.fake.now() - 1

    once(lambda: ready.fake.assumed["admin"] >= 1, end_sessions_at_aws)
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, events_script(ready), "8", "0.2",
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = events(done.stdout)
    assert failures(found) == [], found
    assert len({event[2] for event in found}) >= 3  # three role lifetimes
    assert ready.fake.calls["GetSessionToken"] == 2  # the login's, and one renewal
    assert done.stderr == ""


def test_a_denied_assume_role_is_tried_once_per_backoff_step(ready: Bed) -> None:
    """The role stops trusting alice mid-run: AssumeRole is not retried at every request (today
    every 3 s: 14 times in 75 s), and the sentence names the stored session as a possible cause,
    not only the trust policy."""
    with_admin_role(ready)
    log_in(ready)
    ready.fake.role_lifetime = 3
    mallory = ready.fake.add_user("mallory")
    role = ready.fake.roles["arn:aws:iam::123456789012:role/admin"]
    # From the first renewal on (the first AssumeRole is --server's start).
    once(lambda: ready.fake.assumed["admin"] >= 1, lambda: setattr(role, "trusted", mallory))
    done = ready.run(
        AWS_MFA_RUN, "--server", "-p", "admin", PYTHON, events_script(ready), "24", "0.2",
        timeout=60,
    )  # fmt: skip
    assert "EVENTS " in done.stdout, (done.returncode, done.stderr)
    found = events(done.stdout)
    assert failures(found), found
    # Denied from about 2 s in: tries at 0, 3, 9 and 21 s of backoff at most (old: 8 or more).
    denied = ready.fake.calls["AssumeRole"] - ready.fake.assumed["admin"]
    assert 1 <= denied <= 4, denied
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "stored MFA session of 'default'" in lines[0] and "revoked" in lines[0]
    assert "trust policy" in lines[0]


COMMAND_READS = """
import json, sys, time, botocore.session
client = None
while True:  # call until the session ends
    try:
        # Made in the loop: making it fetches credentials, which a loaded machine may reach late.
        client = client or botocore.session.get_session().create_client("dynamodb")
        client.list_tables()
    except Exception as error:
        print("FAILED:", error, flush=True)
        break
    time.sleep(0.2)
print("type something:", flush=True)
print("command got:", input(), flush=True)
for _ in range(100):  # and again, once a session is stored
    try:
        client = client or botocore.session.get_session().create_client("dynamodb")
        client.list_tables()
        print("OK again", flush=True)
        break
    except Exception:
        time.sleep(0.3)
"""


def test_no_prompt_on_the_terminal_while_the_command_runs(ready: Bed) -> None:
    """The session ends mid-run with no code source: aws-mfa-run does not prompt on the terminal
    the command reads (a code typed there goes to the command, never to AWS); `aws mfa CODE` in
    another terminal mends the run."""
    ready.fake.session_lifetime = 4
    (ready.root / "reads.py").write_text(COMMAND_READS)
    child = ready.spawn(
        AWS_MFA_RUN, "--server", "--token-code", ready.fresh_code(), PYTHON, "reads.py",
        timeout=30,
    )  # fmt: skip
    seen = child.expect_exact([PROMPT, "FAILED:", pexpect.EOF])
    assert seen == 1, child.before
    child.expect_exact("type something:")
    ready.fake.session_lifetime = None
    typed = ready.fresh_code()
    child.sendline(typed)
    child.expect_exact(f"command got: {typed}")
    assert typed not in ready.device.used  # the command had it; AWS never saw it
    assert ready.fake.calls["GetSessionToken"] == 1
    ready.login()  # `aws mfa CODE` in another terminal
    child.expect_exact("OK again")
    child.expect(pexpect.EOF)
    output = child.before or ""
    child.close()
    assert child.exitstatus == 0
    assert PROMPT not in output


def test_mfa_prompt_is_asked_instead_of_the_terminal(ready: Bed) -> None:
    """With mfa_prompt (a dialog program), the session ending mid-run is renewed through it,
    even at a terminal: nothing is asked on the terminal the command holds."""
    set_in_default(ready, f"mfa_prompt = {code_program(ready)}")
    ready.fake.session_lifetime = 8
    log_in(ready)
    child = ready.spawn(
        AWS_MFA_RUN, "--server", PYTHON, events_script(ready), "9", "0.2", timeout=40
    )
    assert child.expect_exact([PROMPT, "EVENTS "]) == 1, child.before
    child.expect(r"\[.*\]\r?\n")
    found = json.loads(child.after)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert failures(found) == [], found
    assert ready.fake.calls["GetSessionToken"] >= 2
    assert (ready.root / "given").read_text().split()  # the dialog gave the codes
