"""The pure parts of --server: the credentials cache, the HTTP answers, the command's environment.

Fakes are passed in where the code takes them (fetch, clock, say); nothing is patched.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from aws_mfa_run import inifile
from aws_mfa_run.commands.server import describe_error, server_environment
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.errors import AwsUnreachableError, NoCodeError
from aws_mfa_run.server import (
    PATH,
    REUSE_MARGIN,
    CredentialsCache,
    CredentialsServer,
    FetchFailed,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def credentials(number: int, expiration: float) -> SessionCredentials:
    return SessionCredentials(f"ASIA{number:016d}", "secret/+" * 5, "token" * 20, expiration)


def test_credentials_are_reused_until_half_their_lifetime_or_the_margin() -> None:
    clock, fetched = Clock(), []

    def fetch() -> SessionCredentials:
        fetched.append(clock.now)
        return credentials(len(fetched), clock.now + 20)  # lasts 20 seconds

    said: list[str] = []
    cache = CredentialsCache(
        fetch, describe_error=describe_error("default"), say=said.append, clock=clock
    )
    first = cache.get()
    clock.now += 9.5
    assert cache.get() is first  # more than half of 20 seconds left
    clock.now += 1
    assert cache.get() is not first and len(fetched) == 2
    # An hour-long credential is reused until REUSE_MARGIN is left.
    long = CredentialsCache(
        lambda: credentials(9, clock.now + 3600),
        describe_error=describe_error("x"),
        say=said.append,
        clock=clock,
    )
    kept = long.get()
    clock.now += 3600 - REUSE_MARGIN - 1
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
        fetch, describe_error=describe_error("dev"), say=said.append, clock=clock, retry_after=3
    )
    for _ in range(50):  # clients retrying as hard as they like: no busy loop upstream
        with pytest.raises(FetchFailed) as failure:
            cache.get()
    assert len(calls) == 1
    assert failure.value.code == "MfaSessionEnded"
    assert "the MFA session has ended; run `aws mfa CODE`" in failure.value.message
    assert "'dev'" in failure.value.message and "aws mfa CODE -p dev" in failure.value.message
    clock.now += 3.5
    with pytest.raises(FetchFailed):
        cache.get()
    assert len(calls) == 2
    assert len(said) == 1  # the same failure again is not said again


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
        version=lambda: state[0],
    )
    with pytest.raises(FetchFailed):
        cache.get()
    with pytest.raises(FetchFailed):
        cache.get()
    assert len(calls) == 1
    state[0] = "v2"  # `aws mfa CODE` stored a session
    assert cache.get().access_key_id == "ASIA0000000000000002"
    assert len(calls) == 2


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

    cache = CredentialsCache(fetch, describe_error=describe_error("default"), say=print)
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
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MFA_RUN_CREDENTIALS_FILE": "/h/.aws/credentials",
    }
    no_default = inifile.parse("[dev]\naws_access_key_id = AKIA\n", "/h/.aws/credentials")
    role = inifile.parse("[default]\nrole_arn = arn:aws:iam::1:role/r\n", "/h/.aws/config")
    child = server_environment(
        {"AWS_REGION": "us-west-2"}, url="u", token="t", profile="dev", region="eu-west-1",
        config=role, credentials=no_default,
    )  # fmt: skip
    assert "AWS_SHARED_CREDENTIALS_FILE" not in child
    assert child["AWS_CONFIG_FILE"] == os.devnull
    assert child["AWS_MFA_RUN_CONFIG_FILE"] == "/h/.aws/config"
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "us-west-2"
