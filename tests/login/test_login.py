"""`aws mfa CODE` and `aws-mfa-run --login`: through the real aws executable and alias file."""

from __future__ import annotations

import calendar
import re
import stat
import subprocess
import time

from conftest import AWS, AWS_MFA_RUN, FIGURES, Bed


def session_keys(bed: Bed, profile: str = "mfa") -> dict[str, str]:
    return bed.ini_section(bed.credentials, profile)


def test_protected_call_denied_then_allowed_after_aws_mfa(ready: Bed) -> None:
    denied = ready.run(AWS, "dynamodb", "list-tables")
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr

    done = ready.run(AWS, "mfa", ready.fresh_code())
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'default'" in lines[0] and "'mfa'" in lines[0] and "left)" in lines[0]

    allowed = ready.run(AWS, "dynamodb", "list-tables", "--profile", "mfa")
    assert allowed.returncode == 0, allowed.stderr
    assert "orders" in allowed.stdout
    assert ready.fake.calls["GetSessionToken"] == 1


def test_written_profile_holds_session_expiration_source_and_region(ready: Bed) -> None:
    before = time.time()
    ready.login()
    keys = session_keys(ready)
    (session,) = ready.fake.sessions.values()
    assert keys["aws_access_key_id"] == session.access_key
    assert keys["aws_secret_access_key"] == session.secret_key
    assert keys["aws_session_token"] == session.token
    assert keys["aws_mfa_run_source_profile"] == "default"
    stored = calendar.timegm(time.strptime(keys["aws_mfa_run_expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(stored - (before + 43200)) < 60
    assert ready.ini_section(ready.config, "profile mfa") == {"region": "eu-west-1"}
    assert stat.S_IMODE(ready.credentials.stat().st_mode) == 0o600


def test_every_other_byte_of_both_files_is_kept(ready: Bed) -> None:
    credentials = (
        "; keys for work\r\n[default]\r\naws_access_key_id = "
        f"{ready.alice.access_key}\r\naws_secret_access_key = {ready.alice.secret_key}\r\n"
        "\r\n# old session, replaced in place\r\n[mfa]\r\naws_access_key_id=ASIAOLD\r\n"
        "aws_secret_access_key=old\r\naws_session_token=old\r\n"
        "aws_mfa_run_expiration = 2020-01-01T00:00:00Z\r\n"
        "aws_mfa_run_source_profile = default\r\n  \r\n[other]\r\nregion=x\r\n# tail"
    )
    ready.credentials.write_bytes(credentials.encode())
    config = ready.config.read_bytes() + b"\n[profile mfa]\n# mine\noutput = table\n"
    ready.config.write_bytes(config)
    ready.login()
    (session,) = ready.fake.sessions.values()
    expected_start = credentials.split("[mfa]")[0] + "[mfa]\r\n"
    written = ready.credentials.read_bytes().decode()
    assert written.startswith(expected_start)
    assert written.endswith("\r\n  \r\n[other]\r\nregion=x\r\n# tail")
    assert f"aws_access_key_id= {session.access_key}\r\n" in written
    assert "ASIAOLD" not in written and "2020-01-01" not in written
    assert ready.config.read_bytes() == config + b"region = eu-west-1\n"


def test_code_with_a_space_is_the_same_code(ready: Bed) -> None:
    code = ready.fresh_code()
    done = ready.run(AWS, "mfa", code[:3], code[3:])
    assert done.returncode == 0, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    # Quoted with its space, as README shows it; five digits and a space are refused unsent.
    code = ready.fresh_code()
    done = ready.run(AWS, "mfa", f"{code[:3]} {code[3:]}", "--force")
    assert done.returncode == 0, done.stderr
    done = ready.run(AWS, "mfa", "123", "45", "--force")
    assert done.returncode == 2 and "6 digits" in done.stderr, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 2


def test_valid_session_is_reused_without_code_or_call(ready: Bed) -> None:
    ready.login()
    before = ready.snapshot()
    again = ready.run(AWS_MFA_RUN, "--login")
    assert again.returncode == 0, again.stderr
    assert "already holds" in again.stderr and "--force" in again.stderr
    assert ready.fake.calls["GetSessionToken"] == 1
    assert ready.snapshot() == before


def test_force_always_calls_sts(ready: Bed) -> None:
    ready.login()
    first = session_keys(ready)["aws_access_key_id"]
    forced = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--force")
    assert forced.returncode == 0, forced.stderr
    assert ready.fake.calls["GetSessionToken"] == 2
    assert session_keys(ready)["aws_access_key_id"] != first


def test_reused_code_is_recognised_before_the_call(ready: Bed) -> None:
    code = ready.fresh_code()
    assert ready.run(AWS_MFA_RUN, "--login", code).returncode == 0
    again = ready.run(AWS_MFA_RUN, "--login", code, "--force")
    assert again.returncode == 5
    assert "already used" in again.stderr
    assert re.search(r"wait \d+ seconds? for the next code", again.stderr), again.stderr
    assert ready.fake.calls["GetSessionToken"] == 1


def test_wrong_code_fails_and_changes_nothing(ready: Bed) -> None:
    before = ready.snapshot()
    wrong = "000000" if ready.fresh_code() != "000000" else "111111"
    done = ready.run(AWS, "mfa", wrong)
    assert done.returncode == 5
    assert "rejected the MFA code" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert ready.snapshot() == before


def test_code_that_is_not_six_digits_is_refused_before_any_call(ready: Bed) -> None:
    for bad in ("12345", "1234567", "abcdef", "12a456"):
        done = ready.run(AWS_MFA_RUN, "--login", bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert "6 digits" in done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0


def test_duration_range_and_config_setting(ready: Bed) -> None:
    for bad in ("899", "129601", "12h"):
        done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--duration", bad)
        assert done.returncode == 2, done.stderr
    assert ready.fake.calls["GetSessionToken"] == 0
    with ready.config.open("a") as handle:
        handle.write("mfa_session_duration = 3600\n")
    before = time.time()
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    (session,) = ready.fake.sessions.values()
    assert abs(session.expiration - before - 3600) < 30


def test_alias_profile_option_is_not_lost(ready: Bed) -> None:
    """`aws mfa CODE --profile dev`: the AWS CLI keeps --profile; we must still act on dev."""
    bob = ready.add_profile("dev", "bob", region="us-west-2")
    done = ready.run(AWS, "mfa", ready.fresh_code(bob.devices[0]), "--profile", "dev")
    assert done.returncode == 0, done.stderr
    assert "'dev' -> 'dev-mfa'" in done.stderr
    assert session_keys(ready, "dev-mfa")["aws_mfa_run_source_profile"] == "dev"
    assert session_keys(ready, "mfa") == {}
    prefix = ready.run(AWS, "mfa", ready.fresh_code(bob.devices[0]), "--prof", "dev", "--force")
    assert prefix.returncode == 0 and "'dev' -> 'dev-mfa'" in prefix.stderr
    # Named the other ways, the stored dev session is found (no code needed, no STS call).
    short = ready.run(AWS, "mfa", "-p", "dev")
    assert short.returncode == 0 and "session of 'dev'" in short.stderr, short.stderr
    by_env = ready.run(AWS, "mfa", env={"AWS_PROFILE": "dev"})
    assert by_env.returncode == 0 and "session of 'dev'" in by_env.stderr, by_env.stderr
    assert ready.fake.calls["GetSessionToken"] == 2
    clash = ready.run(AWS, "mfa", ready.fresh_code(), "--profile", "dev", "-p", "default")
    assert clash.returncode == 2 and "once" in clash.stderr
    allowed = ready.run(AWS, "dynamodb", "list-tables", "--profile", "dev-mfa")
    assert allowed.returncode == 0, allowed.stderr


def test_target_profile_rules(ready: Bed) -> None:
    same = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "default")
    assert same.returncode == 2 and "long-term keys" in same.stderr
    with ready.credentials.open("a") as handle:
        handle.write("[mfa]\naws_access_key_id = AKIAMINE\naws_secret_access_key = mine\n")
    before = ready.snapshot()
    foreign = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert foreign.returncode == 3 and "did not write" in foreign.stderr
    assert ready.snapshot() == before
    other = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), "--target-profile", "work")
    assert other.returncode == 0, other.stderr
    assert session_keys(ready, "work")["aws_mfa_run_source_profile"] == "default"


def test_serial_is_discovered_and_saved(bed: Bed) -> None:
    bed.write_profiles(serial=False)
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 0, done.stderr
    assert bed.device.serial in done.stderr and "saved" in done.stderr
    assert bed.ini_section(bed.config, "default")["mfa_serial"] == bed.device.serial
    assert bed.fake.calls["ListMFADevices"] == 1


def test_several_devices_without_terminal_fail_with_the_list(bed: Bed) -> None:
    second = bed.alice.add_device("alice-backup")
    bed.write_profiles(serial=False)
    before = bed.snapshot()
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code())
    assert done.returncode == 3
    assert bed.device.serial in done.stderr and second.serial in done.stderr
    assert bed.snapshot() == before


def test_user_without_mfa_device(bed: Bed) -> None:
    bed.alice.devices.clear()
    bed.write_profiles(serial=False)
    done = bed.run(AWS_MFA_RUN, "--login", "123456")
    assert done.returncode == 3 and "no MFA device" in done.stderr


def test_source_profile_problems_are_one_sentence(ready: Bed) -> None:
    # profile given with -p: what the one sentence must say about it
    cases = {
        "nope": "is in neither",
        "sess": "temporary session credentials",
        "empty": "no long-term keys",
    }
    with ready.credentials.open("a") as handle:
        handle.write(
            "[sess]\naws_access_key_id = ASIAX\naws_secret_access_key = s\n"
            "aws_session_token = t\n[empty]\nregion = x\n"
        )
    before = ready.snapshot()
    for profile, problem in cases.items():
        done = ready.run(AWS_MFA_RUN, "--login", "123456", "-p", profile)
        assert done.returncode == 3, (profile, done.stderr)
        (sentence,) = done.stderr.strip().splitlines()
        assert f"Profile '{profile}'" in sentence and problem in sentence, sentence
        assert "-p" in sentence  # and how to name another profile
    assert ready.snapshot() == before
    assert ready.fake.calls["GetSessionToken"] == 0


def test_invalid_long_term_keys(ready: Bed) -> None:
    text = ready.credentials.read_text()
    ready.credentials.write_text(text.replace(ready.alice.access_key, "AKIADELETEDKEY000000"))
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 5 and "access key" in done.stderr
    ready.credentials.write_text(text.replace(ready.alice.secret_key, "wrong" * 8))
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 5 and "secret access key" in done.stderr


def test_endpoint_faults_fail_in_bounded_time(ready: Bed, closed_port: int) -> None:
    before = ready.snapshot()
    token = ready.fresh_code()
    started = time.monotonic()
    down = ready.run(
        AWS_MFA_RUN,
        "--login",
        token,
        env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port}"},
    )
    assert down.returncode == 6 and "Cannot reach AWS" in down.stderr
    times = {"refused connection": time.monotonic() - started}
    for mode, code, words in (
        ("throttle", 6, "busy"),
        ("error", 6, "busy"),
        ("malformed", 6, "malformed"),
        ("expired", 6, "malformed"),
        ("hang", 6, "in time"),
    ):
        ready.fake.mode = mode
        token = ready.fresh_code()  # may wait for the next step: not part of the time measured
        started = time.monotonic()
        done = ready.run(AWS_MFA_RUN, "--login", token)
        elapsed = time.monotonic() - started
        ready.device.used.add(token)  # AWS may have received it: aws-mfa-run counts it as used
        assert done.returncode == code, (mode, done.stderr)
        assert words in done.stderr, (mode, done.stderr)
        times[mode] = elapsed
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, (mode, done.stderr)
        assert ready.snapshot() == before
    assert max(times.values()) < 15, times
    FIGURES["endpoint faults"] = ", ".join(
        f"{mode} {took:.1f} s" for mode, took in times.items()
    ) + (" (bound 15 s; nothing written)")


def test_wrong_code_and_clock_skew(ready: Bed) -> None:
    done = ready.run(AWS_MFA_RUN, "--login", "000000")
    assert done.returncode == 5 and "rejected the MFA code" in done.stderr
    ready.fake.skew = 3600
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code())
    assert done.returncode == 5 and "clock" in done.stderr


def test_corrupt_or_misplaced_files(ready: Bed) -> None:
    ready.config.write_text("[default]\nregion = x\nthis line is junk\n")
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--login", "123456")
    assert done.returncode == 3 and "line 3" in done.stderr
    assert ready.snapshot() == before
    ready.config.unlink()
    ready.config.mkdir()
    done = ready.run(AWS_MFA_RUN, "--login", "123456")
    assert done.returncode == 3 and "directory" in done.stderr


def test_no_terminal_and_no_code_fails_at_once(ready: Bed) -> None:
    started = time.monotonic()
    done = ready.run(AWS, "mfa")
    assert done.returncode == 4
    assert "--token-code" in done.stderr and "mfa_process" in done.stderr
    assert time.monotonic() - started < 10
    assert ready.fake.calls["GetSessionToken"] == 0


def test_other_file_locations_are_honoured(bed: Bed) -> None:
    elsewhere = bed.root / "elsewhere"
    elsewhere.mkdir()
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(elsewhere / "creds"),
        "AWS_CONFIG_FILE": str(elsewhere / "conf"),
    }
    (elsewhere / "creds").write_text(
        f"[default]\naws_access_key_id = {bed.alice.access_key}\n"
        f"aws_secret_access_key = {bed.alice.secret_key}\n"
    )
    (elsewhere / "conf").write_text(
        f"[default]\nregion = us-east-2\nmfa_serial = {bed.device.serial}\n"
    )
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code(), env=env)
    assert done.returncode == 0, done.stderr
    assert "aws_session_token" in (elsewhere / "creds").read_text()
    assert "[profile mfa]\nregion = us-east-2\n" in (elsewhere / "conf").read_text()
    assert not bed.credentials.exists() and not bed.config.exists()


def test_a_home_without_dot_aws_gets_private_directory_and_files(bed: Bed) -> None:
    bed.aws_dir.rmdir()
    config = bed.root / "config-with-keys"
    config.write_text(
        f"[default]\naws_access_key_id = {bed.alice.access_key}\n"
        f"aws_secret_access_key = {bed.alice.secret_key}\nmfa_serial = {bed.device.serial}\n"
    )
    done = bed.run(AWS_MFA_RUN, "--login", bed.fresh_code(), env={"AWS_CONFIG_FILE": str(config)})
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(bed.aws_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(bed.credentials.stat().st_mode) == 0o600
    assert bed.ini_section(bed.credentials, "mfa")["aws_mfa_run_source_profile"] == "default"


def test_concurrent_logins_never_lose_each_others_profiles(bed: Bed) -> None:
    users = [bed.fake.add_user(f"user{number}") for number in range(8)]
    credentials = "# team\n" + "".join(
        f"[p{number}]\naws_access_key_id = {user.access_key}\n"
        f"aws_secret_access_key = {user.secret_key}\n"
        for number, user in enumerate(users)
    )
    bed.credentials.write_text(credentials)
    bed.credentials.chmod(0o600)
    bed.config.write_text(
        "".join(
            f"[profile p{number}]\nmfa_serial = {user.devices[0].serial}\n"
            for number, user in enumerate(users)
        )
    )
    processes = [
        subprocess.Popen(
            [AWS_MFA_RUN, "--login", bed.fresh_code(user.devices[0]), "-p", f"p{number}"],
            env=bed.env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for number, user in enumerate(users)
    ]
    assert [process.wait(60) for process in processes] == [0] * len(users)
    written = bed.credentials.read_text()
    assert written.startswith(credentials)
    for number in range(len(users)):
        assert bed.ini_section(bed.credentials, f"p{number}-mfa")["aws_mfa_run_source_profile"] == (
            f"p{number}"
        )
    assert bed.fake.calls["GetSessionToken"] == len(users)


def test_new_files_are_private_whatever_the_umask(bed: Bed) -> None:
    shared = bed.root / "shared"
    shared.mkdir()
    keys = shared / "creds"
    keys.write_text(
        f"[default]\naws_access_key_id = {bed.alice.access_key}\n"
        f"aws_secret_access_key = {bed.alice.secret_key}\n"
    )
    keys.chmod(0o644)
    done = bed.run(
        "sh",
        "-c",
        f'umask 000; exec "{AWS_MFA_RUN}" --login {bed.fresh_code()} --serial {bed.device.serial}',
        env={"AWS_SHARED_CREDENTIALS_FILE": str(keys)},
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "private" in done.stderr
    state = bed.aws_dir / "aws-mfa-run"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_symlinked_credentials_file_stays_a_symlink(ready: Bed) -> None:
    real = ready.root / "dotfiles" / "credentials"
    real.parent.mkdir()
    ready.credentials.rename(real)
    ready.credentials.symlink_to(real)
    ready.login()
    assert ready.credentials.is_symlink()
    assert "aws_session_token" in real.read_text()


def test_status_without_aws_call(ready: Bed) -> None:
    empty = ready.run(AWS_MFA_RUN, "--status")
    assert empty.returncode == 0 and "none" in empty.stdout
    ready.login()
    calls = sum(ready.fake.calls.values())
    done = ready.run(AWS_MFA_RUN, "--status")
    assert done.returncode == 0
    row = done.stdout.splitlines()[1].split()
    assert row[:4] == ["default", "-", "mfa", ready.device.serial]
    assert "valid" in done.stdout and "left" in done.stdout
    one = ready.run(AWS_MFA_RUN, "--status", "-p", "default")
    assert one.stdout == done.stdout
    assert sum(ready.fake.calls.values()) == calls


def test_secrets_stay_out_of_output(ready: Bed) -> None:
    done = ready.run(AWS, "mfa", ready.fresh_code())
    (session,) = ready.fake.sessions.values()
    for secret in (session.secret_key, session.token, ready.alice.secret_key):
        assert secret not in done.stdout + done.stderr


def test_python_dash_m_works(ready: Bed) -> None:
    import sys

    done = ready.run(sys.executable, "-m", "aws_mfa_run", "--version")
    assert done.returncode == 0 and done.stdout.startswith("aws-mfa-run ")


def _zone_in_daylight_saving_now() -> str:
    """A zone whose clocks are in daylight-saving time now: Berlin in the northern summer,
    Sydney in the southern one (together they cover every day of the year)."""
    import datetime
    from zoneinfo import ZoneInfo

    for zone in ("Europe/Berlin", "Australia/Sydney"):
        if datetime.datetime.now(ZoneInfo(zone)).dst():
            return zone
    raise AssertionError("neither Berlin nor Sydney is in daylight-saving time")


def test_times_are_right_on_a_machine_in_daylight_saving_time(ready: Bed) -> None:
    import datetime
    from zoneinfo import ZoneInfo

    zone = _zone_in_daylight_saving_now()
    local = {"TZ": zone}
    before = time.time()
    done = ready.run(AWS_MFA_RUN, "--login", ready.fresh_code(), env=local)
    assert done.returncode == 0, done.stderr
    stored = calendar.timegm(
        time.strptime(session_keys(ready)["aws_mfa_run_expiration"], "%Y-%m-%dT%H:%M:%SZ")
    )
    assert abs(stored - (before + 43200)) < 60  # UTC in the file, not the local clock

    # People see the local time of that instant, with the zone's summer abbreviation.
    shown = datetime.datetime.fromtimestamp(stored, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    status = ready.run(AWS_MFA_RUN, "--status", env=local)
    assert f"until {shown} (" in status.stdout, status.stdout

    # The wrapper reads the stored time as UTC: the session is reused, and handed on unchanged.
    expiration = ready.run(AWS_MFA_RUN, "sh", "-c", 'echo "$AWS_CREDENTIAL_EXPIRATION"', env=local)
    assert expiration.stdout.strip() == session_keys(ready)["aws_mfa_run_expiration"]
    assert ready.fake.calls["GetSessionToken"] == 1


def test_a_code_aws_never_judged_stays_usable(ready: Bed) -> None:
    """AWS refused the keys or the signature (an unknown key id, a wrong secret, a clock off by
    more than 15 minutes) before it looked at the code: the same code works once that is fixed.
    A code AWS did judge (wrong) stays spent."""
    text = ready.credentials.read_text()
    spent = ready.aws_dir / "aws-mfa-run" / "used-codes"
    code = ready.fresh_code()
    unknown = text.replace(ready.alice.access_key, "AKIADELETEDKEY000000")
    for broken, skew, said in (
        (unknown, 0, "does not know the access key"),
        (text.replace(ready.alice.secret_key, "wrong" * 8), 0, "secret access key"),
        (text, 3600, "clock"),
    ):
        ready.credentials.write_text(broken)
        ready.fake.skew = skew
        done = ready.run(AWS_MFA_RUN, "--login", code)
        assert done.returncode == 5 and said in done.stderr, done.stderr
        assert code not in (spent.read_text() if spent.exists() else "")
    ready.credentials.write_text(text)
    ready.fake.skew = 0
    assert ready.fake.calls["GetSessionToken"] == 3
    done = ready.run(AWS_MFA_RUN, "--login", code)
    assert done.returncode == 0, done.stderr
    # A code AWS judged and rejected is not sent again.
    assert ready.run(AWS_MFA_RUN, "--login", "000000").returncode == 5
    again = ready.run(AWS_MFA_RUN, "--login", "000000")
    assert again.returncode == 5 and "already sent" in again.stderr
    assert ready.fake.calls["GetSessionToken"] == 5
