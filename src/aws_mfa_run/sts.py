"""The only module that imports botocore, and only when AWS is really called.

Calls are bounded: a few seconds to connect or read and two attempts, so a dead or silent endpoint
fails within 15 seconds instead of botocore's default minutes. botocore's errors become ours, with
a sentence that says what to do and no request data.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run.credentials.session import MALFORMED, SessionCredentials, checked
from aws_mfa_run.errors import AwsRefusedError, AwsUnreachableError, ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONNECT_TIMEOUT = 4
READ_TIMEOUT = 5
TOTAL_ATTEMPTS = 2  # worst case about 2 x (4 + 5) seconds plus a short back-off
DEFAULT_REGION = "us-east-1"  # STS and IAM answer everywhere; botocore needs one to sign


def _client(
    service: str,
    keys: tuple[str, str],
    profile: str,
    region: str | None,
    token: str | None = None,
) -> Any:
    import botocore.config
    import botocore.session
    from botocore.exceptions import ConfigParseError, ProfileNotFound

    def new_session(named: str | None) -> Any:
        # A profile that lives only in the credentials file has no settings for botocore: then
        # use none, and keep AWS_PROFILE (which may name anything) out of it too.
        overrides = None if named else {"profile": (None, None, None, None)}
        session = botocore.session.Session(session_vars=overrides)
        # We hand botocore the keys, so it need not read the credentials file (nor fail on a
        # quirk of it that our own reader accepts, such as a byte-order mark).
        session.set_config_variable("credentials_file", os.devnull)
        if named:
            # The profile's settings in the config file (endpoint_url, ca_bundle, ...).
            session.set_config_variable("profile", named)
        session.get_scoped_config()
        return session

    try:
        try:
            session = new_session(profile)
        except ProfileNotFound:
            session = new_session(None)
    except ConfigParseError as error:
        where = error.kwargs.get("path", "the AWS config file")
        raise ConfigError(
            f"botocore cannot parse {where}, so neither can the AWS CLI; fix that file."
        ) from None
    config = botocore.config.Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
    )
    try:
        return session.create_client(
            service,
            region_name=region or DEFAULT_REGION,
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=token,
            config=config,
        )
    except Exception as error:  # botocore raises many kinds for a bad local setting
        raise ConfigError(
            f"Cannot set up the AWS {service.upper()} client: {type(error).__name__}."
        ) from None


def _refusal(
    code: str,
    message: str,
    status: int,
    profile: str,
    serial: str | None,
    role_arn: str | None = None,
) -> Exception:
    """Our error for an error answer of AWS."""
    if "MultiFactorAuthentication failed" in message:
        return AwsRefusedError(
            f"AWS rejected the MFA code for {serial}: it is wrong, too old, or was already "
            "used. Wait for the next code and try again."
        )
    if "session credentials" in message:
        return ConfigError(
            f"Profile '{profile}' holds temporary session credentials, not long-term keys; "
            "name the profile that holds your access keys with -p."
        )
    if code in ("InvalidClientTokenId", "UnrecognizedClientException"):
        return AwsRefusedError(
            f"AWS does not know the access key of profile '{profile}': it was deleted, "
            "deactivated, or mistyped."
        )
    if code in ("RequestTimeTooSkewed", "InvalidSignatureException") or (
        code == "SignatureDoesNotMatch" and "expired" in message.lower()
    ):
        return AwsRefusedError(
            "AWS says this computer's clock is wrong by more than 5 minutes; "
            "set the time right (turn on network time) and try again."
        )
    if code == "SignatureDoesNotMatch":
        return AwsRefusedError(
            f"AWS rejected the secret access key of profile '{profile}': it does not belong "
            "to its access key id."
        )
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded") or status >= 500:
        return AwsUnreachableError(
            f"AWS is busy or failing ({code or status}); try again in a minute."
        )
    if code == "ValidationError":
        return AwsRefusedError(f"AWS rejected the request: {message}")
    if role_arn is not None and code == "AccessDenied":
        return AwsRefusedError(
            f"AWS denied assuming role {role_arn} for profile '{profile}': check the role's "
            "trust policy, its MFA condition and external_id."
        )
    said = f": {message}" if message else "."
    if code == "AccessDenied" or status == 403:
        return AwsRefusedError(
            f"AWS denied the call for profile '{profile}' ({code or status}){said}"
        )
    return AwsRefusedError(f"AWS answered {code or status}{said}")


NOT_IN_TIME = "AWS did not answer in time; check the network (or a proxy) and try again."
NOT_REACHED = "Cannot reach AWS; check the network (or a proxy, or AWS_ENDPOINT_URL) and try again."


def _failed(name: str) -> Exception:
    return AwsUnreachableError(f"The call to AWS failed ({name}); check the network and try again.")


def _translate(
    error: Exception, profile: str, serial: str | None, role_arn: str | None = None
) -> Exception:
    """Our error for one of botocore's."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        return _refusal(
            error.response.get("Error", {}).get("Code", ""),
            error.response.get("Error", {}).get("Message", "") or "",
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
            profile,
            serial,
            role_arn,
        )
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return AwsUnreachableError(NOT_IN_TIME)
    if isinstance(error, EndpointConnectionError):
        return AwsUnreachableError(NOT_REACHED)
    return _failed(type(error).__name__)


def _call(
    operation: Any, profile: str, serial: str | None, role_arn: str | None = None, **arguments: Any
) -> Any:
    try:
        return operation(**arguments)
    except Exception as error:
        # Our message replaces botocore's: its text may quote the request.
        raise _translate(error, profile, serial, role_arn) from None


def _credentials(fields: Any, clock: Any) -> SessionCredentials:
    """The session in an answer's Credentials, every value checked (see credentials.session)."""
    try:
        expiration = fields["Expiration"]
        epoch = expiration.timestamp()  # botocore parses timestamps into aware datetimes
        values = (fields["AccessKeyId"], fields["SecretAccessKey"], fields["SessionToken"])
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError, OSError):
        raise AwsUnreachableError(MALFORMED) from None
    if not all(isinstance(value, str) for value in values):
        raise AwsUnreachableError(MALFORMED)
    return checked(SessionCredentials(*values, float(epoch)), clock())


class BotocoreCall:
    """GetSessionToken through a botocore client built in a background thread while the code is
    being obtained.

    Importing botocore and building a client takes ~170 ms; a person typing a code or an
    mfa_process such as ykman takes longer, so both overlap.
    """

    def __init__(self, keys: tuple[str, str], profile: str, region: str | None):
        import threading

        self._client: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._build, args=(keys, profile, region), daemon=True
        )
        self._thread.start()

    def _build(self, keys: tuple[str, str], profile: str, region: str | None) -> None:
        try:
            self._client = _client("sts", keys, profile, region)
        except BaseException as error:  # handed to the caller's thread by get_session_token()
            self._error = error

    def get_session_token(
        self, profile: str, serial: str, code: str, duration: int | None, clock: Any
    ) -> Any:
        """The answer's Credentials (None when it has none)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        arguments: dict[str, Any] = {"SerialNumber": serial, "TokenCode": code}
        if duration is not None:
            arguments["DurationSeconds"] = duration
        answer = _call(self._client.get_session_token, profile, serial, **arguments)
        return answer.get("Credentials") if isinstance(answer, dict) else None

    def close(self) -> None:
        """Wait for the thread: a daemon thread cut off inside an import at exit can crash."""
        self._thread.join()


def prepare_session_token_call(
    *, keys: tuple[str, str], profile: str, region: str | None
) -> BotocoreCall:
    """Start building the client for GetSessionToken; it is ready when the code is."""
    return BotocoreCall(keys, profile, region)


def get_session_token(
    *,
    client: BotocoreCall,
    profile: str,
    serial: str,
    code: str,
    duration: int | None,
    clock: Any = time.time,
) -> SessionCredentials:
    fields = client.get_session_token(profile, serial, code, duration, clock)
    return _credentials(fields, clock)


def assume_role(
    *,
    caller: SessionCredentials,
    profile: str,
    role_arn: str,
    session_name: str,
    external_id: str | None,
    duration: int,
    region: str | None,
    clock: Any = time.time,
) -> SessionCredentials:
    keys = (caller.access_key_id, caller.secret_access_key)
    client = _client("sts", keys, profile, region, caller.session_token)
    arguments: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "DurationSeconds": duration,
    }
    if external_id:
        arguments["ExternalId"] = external_id
    answer = _call(client.assume_role, profile, None, role_arn, **arguments)
    return _credentials(answer.get("Credentials"), clock)


def list_mfa_devices(*, keys: tuple[str, str], profile: str, region: str | None) -> list[str]:
    client = _client("iam", keys, profile, region)
    answer = _call(client.list_mfa_devices, profile, None)
    return [device["SerialNumber"] for device in answer.get("MFADevices", [])]


# ---- IAM access keys, for --rotate-keys: called with the MFA session (IAM policies usually demand
# it for these), except GetCallerIdentity, which checks a new key with that key itself.


def _iam(caller: SessionCredentials, profile: str, region: str | None) -> Any:
    keys = (caller.access_key_id, caller.secret_access_key)
    return _client("iam", keys, profile, region, caller.session_token)


def list_access_keys(
    *, caller: SessionCredentials, profile: str, region: str | None
) -> list[tuple[str, float]]:
    """The IAM user's access key ids and when each was created (epoch seconds)."""
    answer = _call(_iam(caller, profile, region).list_access_keys, profile, None)
    found = []
    for entry in answer.get("AccessKeyMetadata", []):
        created = entry.get("CreateDate")
        found.append((entry["AccessKeyId"], created.timestamp() if created else 0.0))
    return found


def create_access_key(
    *, caller: SessionCredentials, profile: str, region: str | None
) -> tuple[str, str]:
    """A new access key of the IAM user: its id and secret, both checked."""
    from aws_mfa_run.credentials.session import is_access_key_id, is_secret_text

    answer = _call(_iam(caller, profile, region).create_access_key, profile, None)
    try:
        key_id = answer["AccessKey"]["AccessKeyId"]
        secret = answer["AccessKey"]["SecretAccessKey"]
    except (KeyError, TypeError):
        raise AwsUnreachableError(MALFORMED) from None
    if not (isinstance(key_id, str) and isinstance(secret, str)):
        raise AwsUnreachableError(MALFORMED)
    if not (is_access_key_id(key_id) and is_secret_text(secret)):
        raise AwsUnreachableError(MALFORMED)
    return key_id, secret


def delete_access_key(
    *, caller: SessionCredentials, profile: str, region: str | None, key_id: str
) -> None:
    _call(_iam(caller, profile, region).delete_access_key, profile, None, AccessKeyId=key_id)


def caller_arn(*, keys: tuple[str, str], profile: str, region: str | None) -> str:
    """GetCallerIdentity with `keys`: the ARN they act as (our error when AWS refuses them)."""
    answer = _call(_client("sts", keys, profile, region).get_caller_identity, profile, None)
    return str(answer.get("Arn", ""))
