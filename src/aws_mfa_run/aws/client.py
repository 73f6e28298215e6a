"""The one place botocore clients are made and called: every safety check on a client's settings,
the bounds of a call, and botocore's errors turned into ours.

botocore makes every call, exactly as the AWS CLI would for the same profile: its endpoint rules,
proxies, CA bundles and retries. Calls are bounded (a few seconds to connect or read, two
attempts, one for a call that carries an MFA code), so a dead or silent endpoint fails in seconds
instead of botocore's default minutes. botocore's errors become ours, with a sentence that says
what to do and no request data. botocore itself is imported only when AWS is really called.
"""

from __future__ import annotations

import os

from aws_mfa_run.errors import (
    AwsRefusedError,
    AwsUnreachableError,
    ConfigError,
    RoleDeniedError,
    SessionExpiredError,
)
from aws_mfa_run.settings import check_ca_bundle, check_ca_bundle_variables, check_region

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_REGION = "us-east-1"  # STS and IAM answer everywhere; botocore needs one to sign
# botocore's own list of throttling error codes (botocore.retries.standard): AWS is busy, not
# refusing; the user should try again.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class Bounds:
    """How long one call may take: connect and read timeouts (seconds), attempts, and a deadline
    for the whole call. The read timeout is per read: an endpoint that drips its answer a byte
    at a time never trips it, so the deadline ends the call whatever the endpoint does."""

    def __init__(
        self, connect: float = 4, read: float = 5, attempts: int = 2, total: float = 15
    ) -> None:
        self.connect, self.read, self.attempts, self.total = connect, read, attempts, total


DEFAULT_BOUNDS = Bounds()


def check_environment(
    env: Mapping[str, str], profile_config: Mapping[str, str] | None = None
) -> None:
    """Refuse settings botocore would read dangerously, before a code is asked for: a blank
    AWS_CA_BUNDLE or REQUESTS_CA_BUNDLE, or ca_bundle in the profile (see settings)."""
    check_ca_bundle_variables(env)
    check_ca_bundle((profile_config or {}).get("ca_bundle"), "ca_bundle in the profile")


def make_client(
    service: str,
    keys: tuple[str, str],
    profile: str,
    region: str | None,
    env: Mapping[str, str],
    token: str | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Any:
    """Every botocore client of ours is made here, with every check on the settings it will use:
    the ones the caller passes and the ones botocore reads itself (the profile's ca_bundle,
    AWS_CA_BUNDLE from the environment, REQUESTS_CA_BUNDLE from os.environ)."""
    check_environment(env)
    check_ca_bundle_variables(os.environ)
    if region is not None:
        check_region(region, f"the region of profile '{profile}'", ConfigError)
    import botocore.config
    import botocore.session
    from botocore.exceptions import ConfigParseError, ProfileNotFound

    def new_session(in_config: bool) -> Any:
        # AWS_PROFILE may name anything: the profile we name is the one used.
        session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        # We hand botocore the keys, so it need not read the credentials file (nor fail on a
        # quirk of it that our own reader accepts, such as a byte-order mark).
        session.set_config_variable("credentials_file", os.devnull)
        if in_config:
            # The profile's settings in the config file (endpoint_url, ca_bundle, ...).
            session.set_config_variable("profile", profile)
        else:
            # A profile that lives only in the credentials file has no settings; the AWS CLI
            # would not use [default]'s for it, so neither do we.
            session.set_config_variable("config_file", os.devnull)
        session.get_scoped_config()
        return session

    try:
        try:
            session = new_session(True)
        except ProfileNotFound:
            session = new_session(False)
    except ConfigParseError as error:
        where = error.kwargs.get("path", "the AWS config file")
        raise ConfigError(
            f"botocore cannot parse {where}, so neither can the AWS CLI; fix that file."
        ) from None
    # What botocore itself will verify against: the profile's ca_bundle or AWS_CA_BUNDLE.
    check_ca_bundle(session.get_config_variable("ca_bundle"), f"ca_bundle of profile '{profile}'")
    config = botocore.config.Config(
        connect_timeout=bounds.connect,
        read_timeout=bounds.read,
        retries={"total_max_attempts": bounds.attempts, "mode": "standard"},
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
        if "one time pass code" in message:
            return AwsRefusedError(
                f"AWS rejected the MFA code for {serial}: it is wrong, too old, or was already "
                "used. Wait for the next code and try again."
            )
        # AWS's answer cannot tell a wrong code from a device that is not this user's.
        return AwsRefusedError(
            f"AWS rejected the MFA code for {serial}: either the code is wrong or already used, "
            f"or {serial} is not an MFA device of the IAM user of profile '{profile}' "
            "(check mfa_serial)."
        )
    if "session credentials" in message:
        return ConfigError(
            f"Profile '{profile}' holds temporary session credentials, not long-term keys; "
            "name the profile that holds your access keys with -p."
        )
    if code in ("InvalidClientTokenId", "UnrecognizedClientException"):
        return NotJudgedError(
            f"AWS does not know the access key of profile '{profile}': it was deleted, "
            "deactivated, or mistyped."
        )
    if code in ("RequestTimeTooSkewed", "InvalidSignatureException") or (
        code == "SignatureDoesNotMatch" and "expired" in message.lower()
    ):
        return NotJudgedError(
            "AWS says this computer's clock is wrong by more than 15 minutes; "
            "set the time right (turn on network time) and try again."
        )
    if code == "SignatureDoesNotMatch":
        return NotJudgedError(
            f"AWS rejected the secret access key of profile '{profile}': it does not belong "
            "to its access key id."
        )
    if code in ("IncompleteSignature", "MissingAuthenticationToken", "AuthFailure"):
        return NotJudgedError(f"AWS refused the request's signature ({code}): {message}")
    if code in THROTTLING_CODES or status >= 500:
        return AwsUnreachableError(
            f"AWS is busy or failing ({code or status}); try again in a minute."
        )
    if code == "ExpiredToken":
        return SessionExpiredError(
            f"The session credentials used for profile '{profile}' have expired; "
            "run `aws mfa CODE` (or aws-mfa-run --login) for a new session."
        )
    if code == "ValidationError":
        return AwsRefusedError(f"AWS rejected the request: {message}")
    if role_arn is not None and code == "AccessDenied":
        return RoleDeniedError(
            f"AWS denied assuming role {role_arn} for profile '{profile}': check the role's "
            "trust policy, its MFA condition and external_id."
        )
    said = f": {message}" if message else "."
    if code == "AccessDenied" or status == 403:
        return AwsRefusedError(
            f"AWS denied the call for profile '{profile}' ({code or status}){said}"
        )
    return AwsRefusedError(f"AWS answered {code or status}{said}")


class NotJudgedError(AwsRefusedError):
    """AWS refused the request's signature (unknown key, wrong secret, clock skew): it judged
    nothing in it, so an MFA code in the request was not consumed and stays usable."""


class NotSentError(AwsUnreachableError):
    """AWS was not reached at all (no connection, a certificate refused): a code in the request
    never left this computer, so it is not spent."""


NOT_IN_TIME = "AWS did not answer in time; check the network (or a proxy) and try again."
NOT_REACHED = "Cannot reach AWS; check the network (or a proxy, or AWS_ENDPOINT_URL) and try again."
NOT_VERIFIED = (
    "Cannot verify the TLS certificate of the AWS endpoint; behind a TLS-inspecting proxy, "
    "name its CA certificate file in AWS_CA_BUNDLE."
)


def _translate(
    error: Exception, profile: str, serial: str | None, role_arn: str | None = None
) -> Exception:
    """Our error for one of botocore's."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ParamValidationError,
        ProxyConnectionError,
        ReadTimeoutError,
        SSLError,
    )
    from botocore.parsers import ResponseParserError

    if isinstance(error, ClientError):
        return _refusal(
            error.response.get("Error", {}).get("Code", ""),
            error.response.get("Error", {}).get("Message", "") or "",
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
            profile,
            serial,
            role_arn,
        )
    if isinstance(error, ParamValidationError):
        # A value of the profile AWS's API cannot take (a role_arn, serial, session name).
        return ConfigError(
            f"A setting of profile '{profile}' is not one AWS accepts (a role_arn, mfa_serial, "
            "external_id or role_session_name of the wrong form); check the profile."
        )
    # Failures before the request was sent are NotSentError; any other may come after AWS
    # received it (a read timeout, a connection closed mid-answer).
    if isinstance(error, ConnectTimeoutError):
        return NotSentError(NOT_IN_TIME)
    if isinstance(error, ReadTimeoutError):
        return AwsUnreachableError(NOT_IN_TIME)
    if isinstance(error, SSLError):
        refused = "CERTIFICATE_VERIFY_FAILED" in str(error)  # in the handshake, before sending
        return (NotSentError if refused else AwsUnreachableError)(NOT_VERIFIED)
    if isinstance(error, (EndpointConnectionError, ProxyConnectionError)):
        return NotSentError(NOT_REACHED)
    if isinstance(error, (ResponseParserError, ValueError)):  # ValueError: a bad timestamp
        return AwsUnreachableError(
            "AWS returned a malformed answer; nothing was written. Try again later."
        )
    return AwsUnreachableError(
        f"The call to AWS failed ({type(error).__name__}); check the network and try again."
    )


def call(
    operation: Any,
    profile: str,
    serial: str | None,
    role_arn: str | None = None,
    bounds: Bounds = DEFAULT_BOUNDS,
    **arguments: Any,
) -> Any:
    """One AWS call, ended at the bounds' deadline: it runs in a daemon thread, and a caller
    that gives up leaves it behind (the process exits, or the socket times out on its own)."""
    import threading

    if "TokenCode" in arguments:
        # A one-time code sent twice is refused the second time (and AWS may have answered the
        # first): a call that carries one is made once, by a client that never retries.
        retries = operation.__self__.meta.config.retries or {}
        if retries.get("total_max_attempts") != 1:
            raise RuntimeError("a call carrying an MFA code must not be retried")
    outcome: list[Any] = []

    def attempt() -> None:
        try:
            outcome.append((True, operation(**arguments)))
        except Exception as error:
            outcome.append((False, error))

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(bounds.total)
    if not outcome:
        raise AwsUnreachableError(NOT_IN_TIME)
    succeeded, value = outcome[0]
    if succeeded:
        return value
    # Our message replaces botocore's: its text may quote the request.
    raise _translate(value, profile, serial, role_arn) from None
