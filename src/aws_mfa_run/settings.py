"""Which profiles, device, duration and margins to use: pure, from options + environment + INI.

Nothing here reads a file or calls AWS; the caller hands in the parsed config and credentials.
"""

from __future__ import annotations

import os

from aws_mfa_run.errors import ConfigError, UsageError
from aws_mfa_run.inifile import IniText

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MIN_DURATION = 900  # STS GetSessionToken limits for IAM users
MAX_DURATION = 129600
# A stored session is reused only while it has more than this left. Above botocore's mandatory
# refresh window (10 minutes) and its advisory one (15), so SDKs never refresh a fresh session.
DEFAULT_MIN_REMAINING = 16 * 60
# botocore rejects a credential_process answer that is inside its mandatory refresh window.
CREDENTIAL_PROCESS_MIN_REMAINING = 11 * 60

# Keys of ours in the files. The AWS CLI and SDKs ignore keys they don't know.
KEY_DURATION = "mfa_session_duration"
KEY_MIN_REMAINING = "mfa_min_remaining"
KEY_PROCESS = "mfa_process"
KEY_SERVER = "mfa_server"  # true: the wrapper runs commands as --server does
KEY_EXPIRATION = "aws_mfa_run_expiration"
KEY_SOURCE = "aws_mfa_run_source_profile"
# Set in a wrapped command's environment: names the profile whose session it runs with.
MARKER_VARIABLE = "AWS_MFA_RUN_PROFILE"
# Under --server, a credentials or config file whose default profile holds credentials is hidden
# from the command (those would win over the endpoint); its real path is here, for us.
REAL_CREDENTIALS_FILE_VARIABLE = "AWS_MFA_RUN_CREDENTIALS_FILE"
REAL_CONFIG_FILE_VARIABLE = "AWS_MFA_RUN_CONFIG_FILE"


class Options:
    """What the command line asked for (filled by cli.parse_arguments)."""

    def __init__(self) -> None:
        self.mode = "run"  # run | login | status | install-alias | env | credential-process
        self.profile: str | None = None
        self.target_profile: str | None = None
        self.serial: str | None = None
        self.duration: str | None = None
        self.min_remaining: str | None = None
        self.token_code: str | None = None
        self.force = False
        self.server = False  # --server: run the command with a credentials endpoint
        self.shell = "sh"
        self.command: list[str] = []
        self.aws_globals: dict[str, str] = {}  # from the `aws` that ran us as an alias


class Settings:
    """Everything resolved that the rest of the run needs."""

    def __init__(
        self,
        *,
        source_profile: str,
        target_profile: str,
        serial: str | None,
        duration: int | None,
        min_remaining: int,
        region: str | None,
        output: str | None,
        mfa_process: str | None,
        server: bool = False,
        config_path: str,
        credentials_path: str,
        state_dir: str,
    ) -> None:
        self.source_profile = source_profile
        self.target_profile = target_profile
        self.serial = serial
        self.duration = duration
        self.min_remaining = min_remaining
        self.region = region
        self.output = output
        self.mfa_process = mfa_process
        self.server = server
        self.config_path = config_path
        self.credentials_path = credentials_path
        self.state_dir = state_dir


def file_paths(env: Mapping[str, str]) -> tuple[str, str, str]:
    """The config file, the credentials file and our own state directory."""
    home = os.path.expanduser("~")
    config = os.path.expanduser(
        env.get(REAL_CONFIG_FILE_VARIABLE)
        or env.get("AWS_CONFIG_FILE")
        or os.path.join(home, ".aws", "config")
    )
    credentials = os.path.expanduser(
        env.get(REAL_CREDENTIALS_FILE_VARIABLE)
        or env.get("AWS_SHARED_CREDENTIALS_FILE")
        or os.path.join(home, ".aws", "credentials")
    )
    return config, credentials, os.path.join(home, ".aws", "aws-mfa-run")


def config_section_name(profile: str) -> str:
    return "default" if profile == "default" else f"profile {profile}"


def check_profile_name(name: str, what: str = "profile") -> str:
    bad = [ch for ch in name if ch in "[]" or not ch.isprintable()]
    if not name or bad or name != name.strip() or len(name) > 512:
        raise UsageError(
            f"{name[:60]!r} is not a usable {what} name: use letters, digits and -_.@+ "
            "(no brackets, no line breaks, no leading or trailing spaces)."
        )
    return name


def source_profile_name(options: Options, env: Mapping[str, str]) -> str:
    """-p, else the profile the `aws` alias was given, else AWS_PROFILE, else the one we run in."""
    alias_profile = options.aws_globals.get("profile")
    if options.profile and alias_profile and options.profile != alias_profile:
        raise UsageError(
            f"Both --profile {alias_profile} (to aws) and -p {options.profile} were given; "
            "name the profile once."
        )
    if options.profile is not None:
        return check_profile_name(options.profile)
    name = (
        alias_profile
        or env.get("AWS_PROFILE")
        or env.get("AWS_DEFAULT_PROFILE")
        or env.get(MARKER_VARIABLE)
        or "default"
    )
    return check_profile_name(name)


def config_keys(profile: str, config: IniText) -> list[str]:
    """The keys of the profile's own section in the config file (none when it has no section)."""
    section = config.get(config_section_name(profile))
    if section is None and profile == "default":
        section = config.get("profile default")
    return list(section or {})


def profile_values(profile: str, config: IniText, credentials: IniText) -> dict[str, str]:
    """The profile's settings: config file first, credentials file filling what it lacks.

    Raises ConfigError when neither file has the profile.
    """
    in_config = config.get(config_section_name(profile))
    if in_config is None and profile == "default":
        in_config = config.get("profile default")
    in_credentials = credentials.get(profile)
    if in_config is None and in_credentials is None:
        raise ConfigError(
            f"Profile '{profile}' is in neither {config.path} nor {credentials.path}; "
            "name an existing profile with -p."
        )
    values = dict(in_credentials or {})
    values.update(in_config or {})
    return values


SERIAL_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=/:,.@-"
)


def check_serial(value: str, what: str, error: type[UsageError] | type[ConfigError]) -> str:
    """STS's own rule for SerialNumber: 9 to 256 of [\\w+=/:,.@-]."""
    if 9 <= len(value) <= 256 and SERIAL_CHARACTERS.issuperset(value):
        return value
    raise error(
        f"{what} must be an MFA device ARN or serial number "
        "(9 to 256 letters, digits and +=/:,.@_-)."
    )


def _seconds(value: str, what: str, low: int, high: int, source: str) -> int:
    error = UsageError if source == "option" else ConfigError
    try:
        number = int(value.strip())
    except ValueError:
        raise error(f"{what} must be a whole number of seconds, not {value[:40]!r}.") from None
    if not low <= number <= high:
        raise error(f"{what} must be between {low} and {high} seconds, not {number}.")
    return number


def _flag(value: str | None, what: str) -> bool:
    """A yes/no setting of ours, as botocore spells its own (`true`/`false`, any case)."""
    if value is None or value.strip() == "":
        return False
    word = value.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{what} must be true or false, not {value[:40]!r}.")


def reuse_margin(options: Options, configured: str | None, duration: int | None) -> int:
    """Seconds a stored session must still have left to be used: --min-remaining, else the
    profile's setting (minutes), else the default; at most half a known session duration, and
    never inside botocore's refresh window when answering as a credential_process."""
    if options.min_remaining is not None:
        margin = _seconds(options.min_remaining, "--min-remaining", 0, 1440, "option") * 60
    elif configured is not None:
        margin = _seconds(configured, f"{KEY_MIN_REMAINING} (minutes)", 0, 1440, "config") * 60
    else:
        margin = DEFAULT_MIN_REMAINING
    if duration is not None:
        # A margin as long as the session would make every new session stale at once.
        margin = min(margin, duration // 2)
    if options.mode == "credential-process":
        margin = max(margin, CREDENTIAL_PROCESS_MIN_REMAINING)
    return margin


def resolve(
    options: Options,
    env: Mapping[str, str],
    config: IniText,
    credentials: IniText,
    state_dir: str,
) -> Settings:
    source = source_profile_name(options, env)
    values = profile_values(source, config, credentials)
    target = options.target_profile
    if target is None:
        target = "mfa" if source == "default" else f"{source}-mfa"
    check_profile_name(target, "target profile")
    if target == source:
        raise UsageError(
            f"The target profile cannot be the source profile '{source}': "
            "writing the session there would destroy its long-term keys."
        )

    if options.duration is not None:
        duration: int | None = _seconds(
            options.duration, "--duration", MIN_DURATION, MAX_DURATION, "option"
        )
    elif KEY_DURATION in values:
        duration = _seconds(
            values[KEY_DURATION],
            f"{KEY_DURATION} of profile '{source}'",
            MIN_DURATION,
            MAX_DURATION,
            "config",
        )
    else:
        duration = None

    min_remaining = reuse_margin(options, values.get(KEY_MIN_REMAINING), duration)

    if options.serial is not None:
        serial: str | None = check_serial(options.serial, "--serial", UsageError)
    elif values.get("mfa_serial"):
        serial = check_serial(
            values["mfa_serial"], f"mfa_serial of profile '{source}'", ConfigError
        )
    else:
        serial = None
    config_path, credentials_path = config.path, credentials.path
    return Settings(
        source_profile=source,
        target_profile=target,
        serial=serial,
        duration=duration,
        min_remaining=min_remaining,
        region=options.aws_globals.get("region") or values.get("region") or None,
        output=values.get("output") or None,
        mfa_process=values.get(KEY_PROCESS) or None,
        server=_flag(values.get(KEY_SERVER), f"{KEY_SERVER} of profile '{source}'"),
        config_path=config_path,
        credentials_path=credentials_path,
        state_dir=state_dir,
    )


def long_term_keys(profile: str, config: IniText, credentials: IniText) -> tuple[str, str]:
    """The source profile's access key id and secret key, refusing anything else clearly."""
    values = profile_values(profile, config, credentials)
    key_id = values.get("aws_access_key_id", "")
    secret = values.get("aws_secret_access_key", "")
    if values.get("aws_session_token") or key_id.startswith("ASIA"):
        raise ConfigError(
            f"Profile '{profile}' holds temporary session credentials, not long-term keys; "
            "name the profile that holds your access keys with -p."
        )
    if key_id and secret:
        return key_id, secret
    if "aws-mfa-run" in values.get("credential_process", ""):
        raise ConfigError(
            f"Profile '{profile}' gets its credentials from aws-mfa-run itself; name the profile "
            "that holds your long-term access keys with -p."
        )
    missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
    raise ConfigError(
        f"Profile '{profile}' has no long-term keys ({missing} is missing); "
        "add them with `aws configure --profile NAME` or name another profile with -p."
    )
