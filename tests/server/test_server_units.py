"""The pure parts of --server: the credentials cache, the HTTP answers, the command's environment.

Fakes are passed in where the code takes them (fetch, clock, say); nothing is patched.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from aws_mfa_run import inifile
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.commands.server import (
    ANNOUNCE_AHEAD,
    EndWatcher,
    describe_error,
    server_environment,
)
from aws_mfa_run.endpoint import (
    BACKOFF_MAX,
    END_MARGIN,
    PATH,
    CredentialsCache,
    CredentialsServer,
    FetchFailedError,
)
from aws_mfa_run.errors import AwsUnreachableError, NoCodeError

MARGIN = 16 * 60  # the default reuse margin (settings.DEFAULT_MIN_REMAINING)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def credentials(number: int, expiration: float, issued: float | None = None) -> SessionCredentials:
    return SessionCredentials(
        f"ASIA{number:016d}", "secret/+" * 5, "token" * 20, expiration, issued
    )


def test_credentials_are_reused_until_half_their_lifetime_or_the_margin() -> None:
    clock, fetched = Clock(), []

    def fetch() -> SessionCredentials:
        fetched.append(clock.now)
        return credentials(len(fetched), clock.now + 20)  # lasts 20 seconds

    said: list[str] = []
    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=said.append, clock=clock, margin=MARGIN
    )
    first = cache.get()
    clock.now += 9.5
    assert cache.get() is first  # more than half of 20 seconds left
    clock.now += 1
    assert cache.get() is not first and len(fetched) == 2
    # An hour-long credential is reused until the margin is left.
    long = CredentialsCache(
        lambda: credentials(9, clock.now + 3600),
        describe_error=describe_error("x"),
        say=said.append,
        clock=clock,
        margin=MARGIN,
    )
    kept = long.get()
    clock.now += 3600 - MARGIN - 1
    assert long.get() is kept
    clock.now += 2
    assert long.get() is not kept
    assert said == []


def test_a_failed_fetch_is_answered_again_without_fetching_and_said_once() -> None:
    clock, calls, said = Clock(), [], list[str]()

    def fetch() -> SessionCredentials:
        calls.append(clock.now)
        raise NoCodeError("No MFA code for arn:aws:iam::1:mfa/x and no terminal to ask on.")

    cache = CredentialsCache(
        fetch, describe_error=describe_error("dev"), say=said.append, clock=clock, margin=MARGIN,
        retry_after=3,
    )  # fmt: skip
    for _ in range(50):  # clients retrying as hard as they like: no busy loop upstream
        with pytest.raises(FetchFailedError) as failure:
            cache.get()
    assert len(calls) == 1
    assert failure.value.code == "MfaSessionEnded"
    assert "the MFA session has ended; run `aws mfa CODE`" in failure.value.message
    assert "'dev'" in failure.value.message and "aws mfa CODE -p dev" in failure.value.message
    # Backoff: the next try after 3 s, then 6, 12, ... up to BACKOFF_MAX between tries.
    for step in (3, 6, 12, 24, 48, BACKOFF_MAX, BACKOFF_MAX):
        clock.now += step - 0.5
        with pytest.raises(FetchFailedError):
            cache.get()
        tried = len(calls)
        clock.now += 0.5
        with pytest.raises(FetchFailedError):
            cache.get()
        assert len(calls) == tried + 1, step
    assert len(said) == 1  # the same failure again is not said again


def test_valid_credentials_are_served_through_failures_until_their_end() -> None:
    """STS down (or an MFA session that cannot be renewed) while the credentials at hand are
    still valid: they are served until END_MARGIN before they end, renewal is retried, and
    the error is answered (and said) only when nothing valid is left."""
    clock, calls, said = Clock(), [], list[str]()
    end = clock.now + 3600

    def fetch() -> SessionCredentials:
        calls.append(clock.now)
        if len(calls) == 1:
            return credentials(1, end)
        raise AwsUnreachableError("AWS is busy or failing (ServiceUnavailable).")

    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=said.append, clock=clock,
        margin=MARGIN,
    )  # fmt: skip
    first = cache.get()
    clock.now = end - MARGIN + 1  # time to renew: renewing fails, the current ones are served
    assert cache.get() is first and len(calls) == 2
    assert len(said) == 1 and "renewing the credentials failed" in said[0], said
    while clock.now + 7 < end - END_MARGIN:
        clock.now += 7
        assert cache.get() is first
    assert len(calls) < 2 + 60  # tried again with backoff, not at every request
    assert len(said) == 1
    clock.now = end - END_MARGIN + 0.5  # nothing valid left: one more try, then the error
    tried = len(calls)
    with pytest.raises(FetchFailedError) as failure:
        cache.get()
    assert len(calls) == tried + 1
    assert failure.value.code == "CredentialsUnavailable"
    assert said[1:] == ["aws-mfa-run: AWS is busy or failing (ServiceUnavailable)."]


def test_a_stored_session_counts_its_lifetime_from_when_it_was_issued() -> None:
    """A session stored 15 minutes before and ending in 3 is renewed at once (its margin is half
    of 900 s), and without a code source served until it truly ends, without a word before."""
    clock, said = Clock(), list[str]()
    end = clock.now + 180
    stored = credentials(1, end, issued=end - 900)

    def fetch() -> SessionCredentials:
        raise NoCodeError("No MFA code for arn:aws:iam::1:mfa/x and no terminal to ask on.")

    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=said.append, clock=clock,
        margin=MARGIN,
    )  # fmt: skip
    cache.prime(stored)
    while clock.now < end - END_MARGIN - 1:
        assert cache.get() is stored
        clock.now += 1
    assert said == []  # the end was announced ahead (EndWatcher), not as an error
    clock.now = end - END_MARGIN + 0.5
    with pytest.raises(FetchFailedError) as failure:
        cache.get()
    assert failure.value.code == "MfaSessionEnded"
    assert said == [failure.value.message]


def test_a_failure_is_retried_at_once_when_the_files_change() -> None:
    clock, calls, state = Clock(), [], ["v1"]

    def fetch() -> SessionCredentials:
        calls.append(clock.now)
        if state[0] == "v1":
            raise NoCodeError("no code")
        return credentials(2, clock.now + 3600)

    cache = CredentialsCache(
        fetch,
        describe_error=describe_error("default"),
        say=lambda _: None,
        clock=clock,
        margin=MARGIN,
        version=lambda: state[0],
    )
    with pytest.raises(FetchFailedError):
        cache.get()
    with pytest.raises(FetchFailedError):
        cache.get()
    assert len(calls) == 1
    state[0] = "v2"  # `aws mfa CODE` stored a session
    assert cache.get().access_key_id == "ASIA0000000000000002"
    assert len(calls) == 2


def test_a_slow_renewal_does_not_hold_requests() -> None:
    """A renewal that takes long (STS hanging, a person at mfa_prompt's dialog) holds no
    request: valid credentials are served meanwhile, else a short 'on their way' answer."""
    clock, release = Clock(), threading.Event()
    end = clock.now + 3600

    def fetch() -> SessionCredentials:
        release.wait(30)
        return credentials(2, clock.now + 3600)

    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=print, clock=clock, margin=MARGIN,
        pending_wait=1,
    )  # fmt: skip
    cache.prime(credentials(1, end))
    clock.now = end - MARGIN + 1
    began = time.monotonic()
    assert cache.get().access_key_id == "ASIA0000000000000001"
    assert time.monotonic() - began < 2
    clock.now = end  # nothing valid left, the renewal still running
    with pytest.raises(FetchFailedError) as failure:
        cache.get()
    assert failure.value.code == "CredentialsPending"
    release.set()
    for _ in range(100):
        time.sleep(0.05)
        try:
            if cache.get().access_key_id == "ASIA0000000000000002":
                break
        except FetchFailedError:
            pass
    else:
        raise AssertionError("the renewal never landed")


def test_the_end_of_a_session_is_said_once_ten_minutes_ahead() -> None:
    clock, said = Clock(), list[str]()
    end = [clock.now + 3600]
    watcher = EndWatcher(lambda: (end[0], "dev"), said.append, clock=clock)
    announced, wait = watcher.check(None)
    assert said == [] and 0 < wait <= 30
    clock.now = end[0] - ANNOUNCE_AHEAD + 1
    announced, wait = watcher.check(announced)
    at = time.strftime("%H:%M", time.localtime(end[0]))
    assert said == [
        f"the MFA session of 'dev' ends at {at}; run `aws mfa CODE -p dev` in any terminal to "
        "continue without a break"
    ]
    clock.now += 60
    announced, wait = watcher.check(announced)
    assert len(said) == 1  # once
    end[0] = clock.now + 120  # `aws mfa CODE` stored a session that ends soon as well
    watcher.check(announced)
    assert len(said) == 2
    clock.now = end[0] + 1  # ended: nothing more to say ahead
    end[0] -= 1
    watcher.check(announced)
    assert len(said) == 2


def test_other_failures_carry_our_sentence() -> None:
    failure = describe_error("default")(AwsUnreachableError("AWS did not answer."))
    assert failure.code == "CredentialsUnavailable"
    assert failure.message == "aws-mfa-run: AWS did not answer."


def test_clients_asking_at_once_share_one_fetch() -> None:
    started, calls = threading.Event(), []

    def fetch() -> SessionCredentials:
        calls.append(1)
        started.wait(2)
        time.sleep(0.2)
        return credentials(1, time.time() + 3600)

    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=print, margin=MARGIN
    )
    results: list[SessionCredentials] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(16)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 16 and len({id(r) for r in results}) == 1


def test_http_answers() -> None:
    clock = Clock()
    cache = CredentialsCache(
        lambda: credentials(1, clock.now + 3600),
        describe_error=describe_error("default"),
        say=print,
        clock=clock,
        margin=MARGIN,
    )
    server = CredentialsServer(cache)
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith(PATH)
        assert len(server.token) >= 32
        token = server.token

        def ask(line: str, *headers: str) -> tuple[str, bytes]:
            head = "\r\n".join([line, "Host: x", *headers]) + "\r\n\r\n"
            answer = server.answer(head.encode())
            status_line, _, rest = answer.partition(b"\r\n")
            return status_line.decode(), rest.split(b"\r\n\r\n", 1)[1]

        assert ask(f"GET {PATH} HTTP/1.1")[0] == "HTTP/1.1 401 Unauthorized"
        assert ask(f"GET {PATH} HTTP/1.1", "Authorization: nope")[0].endswith("403 Forbidden")
        assert ask("GET /other HTTP/1.1", f"Authorization: {token}")[0].endswith("403 Forbidden")
        assert ask(f"PUT {PATH} HTTP/1.1", f"Authorization: {token}")[0].endswith("403 Forbidden")
        status, body = ask(f"GET {PATH} HTTP/1.1", f"authorization:  {token}")
        assert status == "HTTP/1.1 200 OK"
        answer = json.loads(body)
        assert answer["AccessKeyId"] == "ASIA0000000000000001"
        assert answer["Expiration"] == "2027-01-15T09:00:00Z"  # `date -u -d @1800003600`
    finally:
        server.close()


def test_the_command_environment_hides_default_keys_only() -> None:
    keys = inifile.parse(
        "[default]\naws_access_key_id = AKIA\n[dev]\nx = 1\n", "/h/.aws/credentials"
    )
    plain = inifile.parse("[default]\nregion = eu-west-1\n", "/h/.aws/config")
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAOLD",
        "AWS_SECRET_ACCESS_KEY": "old",
        "AWS_SESSION_TOKEN": "old",
        "AWS_PROFILE": "dev",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/t",
        "HOME": "/h",
    }
    child = server_environment(
        env, url="http://127.0.0.1:1/credentials", token="t" * 64, profile="dev",
        region="eu-west-1", config=plain, credentials=keys,
    )  # fmt: skip
    assert child == {
        "HOME": "/h",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/credentials",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "t" * 64,
        "AWS_MFA_RUN_PROFILE": "dev",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_MFA_RUN_REGION": "eu-west-1",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null/hidden-by-aws-mfa-run",
        "AWS_MFA_RUN_CREDENTIALS_FILE": "/h/.aws/credentials",
    }
    no_default = inifile.parse("[dev]\naws_access_key_id = AKIA\n", "/h/.aws/credentials")
    role = inifile.parse("[default]\nrole_arn = arn:aws:iam::1:role/r\n", "/h/.aws/config")
    child = server_environment(
        {"AWS_REGION": "us-west-2"}, url="u", token="t", profile="dev", region="eu-west-1",
        config=role, credentials=no_default,
    )  # fmt: skip
    assert "AWS_SHARED_CREDENTIALS_FILE" not in child
    assert child["AWS_CONFIG_FILE"] == "/dev/null/hidden-by-aws-mfa-run"
    assert child["AWS_MFA_RUN_CONFIG_FILE"] == "/h/.aws/config"
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "us-west-2"
