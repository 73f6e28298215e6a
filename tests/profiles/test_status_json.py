"""--status --json: the rows of --status as one documented JSON document, without secrets."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import AWS, AWS_MFA_RUN, Bed
from helpers import EXAMPLES, WHOAMI, with_roles

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def epoch(text: str) -> float:
    import calendar

    return calendar.timegm(time.strptime(text, ISO_UTC))


def status(bed: Bed, *args: str) -> dict[str, Any]:
    done = bed.run("sh", "-c", EXAMPLES["status-json"].strip() + " " + " ".join(args))
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def test_before_any_session(ready: Bed) -> None:
    document = status(ready)
    assert document["version"] == 1
    assert abs(epoch(document["now"]) - time.time()) < 60
    (only,) = document["profiles"]
    assert only == {
        "profile": "default",
        "kind": "session",
        "source": "default",
        "target": "mfa",
        "device": ready.device.serial,
        "keys": "file",
        "expiration": None,
        "seconds_left": None,
        "refresh_margin_seconds": 16 * 60,
        "role_caches": [],
        "login_target": None,
        "not_reused": None,
        "error": None,
    }


def test_sessions_and_role_caches_with_their_times(ready: Bed) -> None:
    with_roles(ready)
    assert ready.run(AWS, "mfa", ready.fresh_code(), "--duration", "3600").returncode == 0
    assert ready.run(AWS_MFA_RUN, "-p", "admin", *WHOAMI).returncode == 0
    calls = sum(ready.fake.calls.values())
    document = status(ready)
    assert sum(ready.fake.calls.values()) == calls  # no AWS call
    profiles = {entry["profile"]: entry for entry in document["profiles"]}
    assert set(profiles) == {"default", "admin", "readonly"}
    stored = ready.fake.sessions
    mfa_session = next(s for s in stored.values() if s.role is None)
    admin_session = next(s for s in stored.values() if s.role and s.role.name == "admin")

    default = profiles["default"]
    assert default["kind"] == "session" and default["target"] == "mfa"
    assert epoch(default["expiration"]) == int(mfa_session.expiration)
    assert 3500 < default["seconds_left"] <= 3600
    assert default["refresh_margin_seconds"] == 16 * 60  # README: 16 minutes by default

    admin = profiles["admin"]
    assert admin["kind"] == "role"
    assert (admin["source"], admin["target"]) == ("default", "mfa")
    assert admin["device"] == ready.device.serial
    assert admin["expiration"] == default["expiration"]
    (cache,) = admin["role_caches"]
    assert cache["profile"] == "admin"
    assert cache["role_arn"] == "arn:aws:iam::123456789012:role/admin"
    assert epoch(cache["expiration"]) == int(admin_session.expiration)
    assert 3500 < cache["seconds_left"] <= 3600

    readonly = profiles["readonly"]
    assert readonly["role_caches"][0]["expiration"] is None
    assert readonly["role_caches"][0]["seconds_left"] is None
    assert admin["login_target"] is None and readonly["login_target"] is None


def test_a_role_logged_in_shows_its_login_target(ready: Bed) -> None:
    """`aws mfa CODE -p admin` writes the role's credentials to admin-mfa, for other tools:
    --status shows that profile and when its credentials end, in the table and in JSON."""
    with_roles(ready)
    done = ready.run(AWS, "mfa", ready.fresh_code(), "-p", "admin")
    assert done.returncode == 0, done.stderr
    held = ready.ini_section(ready.credentials, "admin-mfa")
    admin_session = next(s for s in ready.fake.sessions.values() if s.role is not None)
    assert held["aws_access_key_id"] == admin_session.access_key
    (admin,) = [p for p in status(ready)["profiles"] if p["profile"] == "admin"]
    target = admin["login_target"]
    assert target["profile"] == "admin-mfa" and target["not_reused"] is None
    assert epoch(target["expiration"]) == int(admin_session.expiration)
    assert 3500 < target["seconds_left"] <= 3600
    table = ready.run(AWS_MFA_RUN, "--status")
    (line,) = [row for row in table.stdout.splitlines() if "admin-mfa" in row]
    assert line.split()[:3] == ["admin", "default", "admin-mfa"], table.stdout
    assert "role credentials valid until" in line, line


def test_no_secret_in_it(ready: Bed) -> None:
    with_roles(ready)
    assert ready.run(AWS_MFA_RUN, "--login", ready.fresh_code()).returncode == 0
    assert ready.run(AWS_MFA_RUN, "-p", "admin", *WHOAMI).returncode == 0
    done = ready.run(AWS_MFA_RUN, "--status", "--json")
    assert done.returncode == 0
    for secret in ready.secrets():
        assert secret not in done.stdout
    for session in ready.fake.sessions.values():
        assert session.access_key not in done.stdout


def test_expired_session_has_zero_seconds_left(ready: Bed) -> None:
    past = time.strftime(ISO_UTC, time.gmtime(time.time() - 60))
    with ready.credentials.open("a") as handle:
        handle.write(
            "[mfa]\naws_access_key_id = ASIAEXAMPLEEXAMPLE00\n"
            "aws_secret_access_key = x\naws_session_token = y\n"
            f"aws_mfa_run_expiration = {past}\naws_mfa_run_source_profile = default\n"
        )
    (entry,) = [p for p in status(ready)["profiles"] if p["profile"] == "default"]
    assert entry["expiration"] == past and entry["seconds_left"] == 0


def test_one_profile_and_a_broken_one(ready: Bed) -> None:
    with ready.config.open("a") as handle:
        handle.write("[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/x\n")
    document = status(ready)
    broken = next(p for p in document["profiles"] if p["profile"] == "broken")
    assert "source_profile" in broken["error"]
    assert set(broken) == set(document["profiles"][0])  # the same fields, as the README says
    assert [name for name, value in broken.items() if value is not None] == ["profile", "error"]
    only = status(ready, "-p", "default")["profiles"]
    assert [entry["profile"] for entry in only] == ["default"]


def test_text_form_stays(ready: Bed) -> None:
    done = ready.run(AWS_MFA_RUN, "--status")
    assert done.returncode == 0
    assert done.stdout.startswith("PROFILE")
    assert "default  -       mfa     " in done.stdout


def test_json_without_status_is_a_usage_error(ready: Bed) -> None:
    done = ready.run(AWS_MFA_RUN, "--json")
    assert done.returncode == 2 and "--json goes with --status" in done.stderr


def test_a_target_holding_foreign_keys_is_an_error(ready: Bed) -> None:
    """After `aws configure set` put other keys into the target, --status --json says that
    profile cannot be used (a login would be refused), instead of showing a session."""
    ready.login()
    carol = ready.fake.add_user("carol")
    for name, value in (
        ("aws_access_key_id", carol.access_key),
        ("aws_secret_access_key", carol.secret_key),
    ):
        assert ready.run(AWS, "configure", "set", name, value, "--profile", "mfa").returncode == 0
    (row,) = status(ready)["profiles"]
    assert row["profile"] == "default" and row["expiration"] is None
    assert "did not write" in row["error"] and "'mfa'" in row["error"]
    text = ready.run(AWS_MFA_RUN, "--status")
    assert "did not write" in text.stdout


def test_a_profile_without_any_keys_is_an_error(ready: Bed) -> None:
    """No keys in any file, the keyring or the environment: --status says what every other mode
    says, in text and in JSON."""
    with ready.config.open("a") as handle:
        handle.write(f"[profile nokeys]\nmfa_serial = {ready.device.serial}\n")
    ready.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    refused = ready.run(AWS_MFA_RUN, "-p", "nokeys", "--env")
    assert refused.returncode == 3 and "has no long-term keys" in refused.stderr
    sentence = refused.stderr.removeprefix("aws-mfa-run: ").strip()
    row = next(row for row in status(ready)["profiles"] if row["profile"] == "nokeys")
    assert row["error"] == sentence and row["keys"] is None
    text = ready.run(AWS_MFA_RUN, "--status", "-p", "nokeys")
    assert text.returncode == 0 and sentence in text.stdout


def test_status_refuses_a_lone_target_profile_and_a_bad_margin(ready: Bed) -> None:
    """`--status --target-profile X` without a profile would be ignored (each profile has its
    own target), and a malformed --min-remaining is refused as in every other mode: exit 2, one
    sentence, nothing written."""
    ready.login()
    before = ready.snapshot()
    for words in (
        ["--target-profile", "ci"],
        ["--min-remaining", "abc"],
        ["--json", "--min-remaining", "-1"],
    ):
        done = ready.run(AWS_MFA_RUN, "--status", *words)
        assert done.returncode == 2 and done.stdout == "", (words, done.stdout)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ready.snapshot() == before
    done = ready.run(AWS_MFA_RUN, "--status", "-p", "default", "--target-profile", "mfa")
    assert done.returncode == 0 and "mfa" in done.stdout, done.stderr
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a profile named as botocore reads
        named = {variable: "default"}
        done = ready.run(AWS_MFA_RUN, "--status", "--target-profile", "mfa", env=named)
        assert done.returncode == 0 and "mfa" in done.stdout, (variable, done.stderr)
