"""The STS calls: GetSessionToken (with a code), AssumeRole, GetCallerIdentity."""

from __future__ import annotations

import time

from aws_mfa_run.aws.answers import (
    ASSUME_ROLE_LONGEST,
    GET_SESSION_TOKEN_LONGEST,
    MALFORMED,
    SessionCredentials,
    checked,
)
from aws_mfa_run.aws.client import DEFAULT_BOUNDS, Bounds, call, check_environment, make_client
from aws_mfa_run.errors import AwsUnreachableError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

ASSUME_ROLE_DEFAULT_DURATION = 3600  # what AssumeRole gives without DurationSeconds


def _credentials(answer: Any, clock: Callable[[], float], longest: float) -> SessionCredentials:
    """The session in an answer's Credentials, every value checked (see aws.answers), ending
    within `longest` seconds (the longest session the call gives)."""
    try:
        fields = answer["Credentials"]
        epoch = fields["Expiration"].timestamp()  # botocore parses it into an aware datetime
        values = (fields["AccessKeyId"], fields["SecretAccessKey"], fields["SessionToken"])
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError, OSError):
        raise AwsUnreachableError(MALFORMED) from None
    if not all(isinstance(value, str) for value in values):
        raise AwsUnreachableError(MALFORMED)
    return checked(SessionCredentials(*values, float(epoch)), clock(), longest)


class SessionTokenCall:
    """GetSessionToken through a botocore client built in a background thread while the code is
    being obtained: importing botocore and building a client takes ~170 ms, a person typing a code
    or an mfa_process such as ykman takes longer, so both overlap."""

    def __init__(
        self,
        keys: tuple[str, str],
        profile: str,
        region: str | None,
        env: Mapping[str, str],
        bounds: Bounds,
    ) -> None:
        import threading

        check_environment(env)
        # The call carries the code: one attempt only (see client.call).
        bounds = Bounds(bounds.connect, bounds.read, 1, bounds.total)
        self._profile = profile
        self._bounds = bounds
        self._client: Any = None
        self._error: BaseException | None = None

        def build() -> None:
            try:
                self._client = make_client("sts", keys, profile, region, env, bounds=bounds)
            except BaseException as error:  # handed to the caller's thread by get_session_token()
                self._error = error

        self._thread = threading.Thread(target=build, daemon=True)
        self._thread.start()

    def ready(self) -> None:
        """Wait for the client; its builder's error, if any, is raised here, before the code
        is sent."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def get_session_token(
        self,
        *,
        serial: str,
        code: str,
        duration: int | None,
        clock: Callable[[], float] = time.time,
    ) -> SessionCredentials:
        self.ready()
        arguments: dict[str, Any] = {"SerialNumber": serial, "TokenCode": code}
        if duration is not None:
            arguments["DurationSeconds"] = duration
        answer = call(
            self._client.get_session_token, self._profile, serial, bounds=self._bounds, **arguments
        )
        return _credentials(answer, clock, GET_SESSION_TOKEN_LONGEST)

    def close(self) -> None:
        """Wait for the thread: a daemon thread cut off inside an import at exit can crash."""
        self._thread.join()


def prepare_session_token_call(
    *,
    keys: tuple[str, str],
    profile: str,
    region: str | None,
    env: Mapping[str, str],
    bounds: Bounds = DEFAULT_BOUNDS,
) -> SessionTokenCall:
    """Start building the client for GetSessionToken; it is ready when the code is."""
    return SessionTokenCall(keys, profile, region, env, bounds)


def assume_role(
    *,
    caller: SessionCredentials,
    profile: str,
    role_arn: str,
    session_name: str,
    external_id: str | None,
    duration: int,
    region: str | None,
    env: Mapping[str, str],
    clock: Callable[[], float] = time.time,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> SessionCredentials:
    keys = (caller.access_key_id, caller.secret_access_key)
    client = make_client("sts", keys, profile, region, env, caller.session_token, bounds)
    arguments: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    # Only a duration other than AWS's default is sent: the IAM User Guide says the console's
    # federation endpoint refuses credentials of an AssumeRole called with DurationSeconds by
    # anything but long-term keys, and ours is called with the MFA session (--console).
    if duration != ASSUME_ROLE_DEFAULT_DURATION:
        arguments["DurationSeconds"] = duration
    if external_id:
        arguments["ExternalId"] = external_id
    answer = call(client.assume_role, profile, None, role_arn, bounds=bounds, **arguments)
    return _credentials(answer, clock, ASSUME_ROLE_LONGEST)


def caller_arn(
    *, keys: tuple[str, str], profile: str, region: str | None, env: Mapping[str, str]
) -> str:
    """GetCallerIdentity with `keys`: the ARN they act as (our error when AWS refuses them)."""
    client = make_client("sts", keys, profile, region, env)
    answer = call(client.get_caller_identity, profile, None)
    return str(answer.get("Arn", ""))
