"""Which profiles, device, duration, margins and files to use: pure, from a Request (what the
command line asked for) + environment + the parsed INI files (profiles are looked up in
profiles.py). Nothing here reads a file or calls AWS.
"""

from __future__ import annotations

import os

from aws_mfa_run.errors import ConfigError, UsageError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.paths import Paths
from aws_mfa_run.profiles import check_profile_name, config_values, profile_values, shell_words
from aws_mfa_run.warm import CREDENTIAL_PROCESS_MIN_REMAINING as CREDENTIAL_PROCESS_MIN_REMAINING
from aws_mfa_run.warm import DEFAULT_MIN_REMAINING as DEFAULT_MIN_REMAINING
from aws_mfa_run.warm import FOREIGN_CREDENTIAL_KEYS as FOREIGN_CREDENTIAL_KEYS
from aws_mfa_run.warm import KEY_MIN_REMAINING as KEY_MIN_REMAINING
from aws_mfa_run.warm import KEY_SOURCE as KEY_SOURCE
from aws_mfa_run.warm import MARKER_VARIABLE as MARKER_VARIABLE
from aws_mfa_run.warm import REGION_MARKER_VARIABLE as REGION_MARKER_VARIABLE
from aws_mfa_run.warm import SERIAL_CHARACTERS as SERIAL_CHARACTERS
from aws_mfa_run.warm import default_target as default_target
from aws_mfa_run.warm import is_region, is_serial

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_mfa_run.options import Options

MIN_DURATION = 900  # STS GetSessionToken limits for IAM users
MAX_DURATION = 129600
# AWS treats AssumeRole called with session credentials as role chaining, which it caps at one
# hour whatever the role's MaxSessionDuration.
ROLE_MAX_DURATION = 3600
ROLE_MIN_DURATION = 900
# The source session only has to outlive the AssumeRole call; asking for a new code earlier than
# this would be a needless prompt.
ROLE_SOURCE_MIN_REMAINING = 2 * 60

# Keys of ours in the files. The AWS CLI and SDKs ignore keys they don't know.
KEY_DURATION = "mfa_session_duration"
KEY_PROCESS = "mfa_process"
KEY_SERVER = "mfa_server"  # true: the wrapper runs commands as --server does
# A dialog program asked for the code when there is no terminal (prompt_program.py).
KEY_PROMPT = "mfa_prompt"
# In the target's credentials section: the config keys we copied into its config section from
# the profile (ours to keep in step).
KEY_COPIED = "aws_mfa_run_copied"
COPIED_KEYS = ("region", "output")


def check_serial(value: str, what: str, error: type[UsageError] | type[ConfigError]) -> str:
    """STS's own rule for SerialNumber (warm.is_serial), or our error."""
    if is_serial(value):
        return value
    raise error(
        f"{what} must be an MFA device ARN or serial number "
        "(9 to 256 letters, digits and +=/:,.@_-)."
    )


CA_BUNDLE_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


def check_ca_bundle(value: str | None, where: str) -> None:
    """Older botocore versions (ones `botocore>=1.31` allows) take a blank CA bundle (the
    profile's ca_bundle, AWS_CA_BUNDLE or REQUESTS_CA_BUNDLE) as "do not verify TLS
    certificates": credentials would go to whoever answers. Refused wherever botocore reads one."""
    if value is not None and not value.strip():
        raise ConfigError(
            f"{where} is set but empty, which some botocore versions take as 'do not verify "
            "TLS certificates'; remove it or name a CA bundle file."
        )


def check_ca_bundle_variables(env: Mapping[str, str]) -> None:
    for name in CA_BUNDLE_VARIABLES:
        check_ca_bundle(env.get(name), name)


def _number(value: str, what: str, low: int, high: int, error: type[Exception]) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise error(f"{what} must be a whole number, not {value[:40]!r}.") from None
    if not low <= number <= high:
        raise error(f"{what} must be between {low} and {high}, not {number}.")
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


# ---- roles ------------------------------------------------------------------------------------


# STS's own rules for AssumeRole's parameters (the API reference), \w being ASCII.
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
SESSION_NAME_CHARACTERS = _WORD | frozenset("+=,.@-")
EXTERNAL_ID_CHARACTERS = SESSION_NAME_CHARACTERS | frozenset(":/")
# botocore's rule for a region name (botocore.utils.validate_region_name).


def _shown(value: str) -> str:
    return repr(value[:80] + ("..." if len(value) > 80 else ""))


def is_role_arn(value: str) -> bool:
    """`arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, as IAM forms a role's ARN."""
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] != "":
        return False
    partition, account, resource = parts[1], parts[4], parts[5]
    partition_ok = partition == "aws" or (
        partition.startswith("aws-") and set(partition) <= frozenset("abcdefghijklmnopqrstuvwxyz-")
    )
    name = resource.rpartition("/")[2]
    return (
        partition_ok
        and len(account) == 12
        and account.isascii()
        and account.isdigit()
        and resource.startswith("role/")
        and len(value) <= 2048
        and all("\x21" <= ch <= "\x7e" for ch in resource)
        and 1 <= len(name) <= 64
        and SESSION_NAME_CHARACTERS.issuperset(name)
    )


def check_region(value: str, where: str, error: type[UsageError] | type[ConfigError]) -> str:
    """A region name botocore accepts (it refuses others only when a client is made)."""
    if is_region(value):
        return value
    raise error(
        f"The region {_shown(value)} ({where}) is not a region name such as eu-west-1 "
        "(letters, digits and inner hyphens); fix it."
    )


class Role:
    """One role profile of a chain, as the config file describes it: every value checked here,
    so that a malformed link anywhere in the chain is refused before a code is asked for."""

    def __init__(self, profile: str, values: Mapping[str, str]) -> None:
        self.profile = profile
        self.role_arn = values["role_arn"].strip()
        if not is_role_arn(self.role_arn):
            raise ConfigError(
                f"role_arn of profile '{profile}' is {_shown(values['role_arn'])}, not a role ARN "
                "(arn:aws:iam::ACCOUNT-ID:role/NAME); fix the profile."
            )
        self.session_name = values.get("role_session_name") or None
        if self.session_name is not None and not (
            2 <= len(self.session_name) <= 64
            and SESSION_NAME_CHARACTERS.issuperset(self.session_name)
        ):
            raise ConfigError(
                f"role_session_name of profile '{profile}' is {_shown(self.session_name)}: AWS "
                "takes 2 to 64 letters, digits and _+=,.@- there; fix the profile."
            )
        self.external_id = values.get("external_id") or None
        if self.external_id is not None and not (
            2 <= len(self.external_id) <= 1224
            and EXTERNAL_ID_CHARACTERS.issuperset(self.external_id)
        ):
            raise ConfigError(
                f"external_id of profile '{profile}' is {_shown(self.external_id)}: AWS takes "
                "2 to 1224 letters, digits and _+=,.@:/- there; fix the profile."
            )
        self.mfa_serial = values.get("mfa_serial") or None
        if self.mfa_serial is not None:
            check_serial(self.mfa_serial, f"mfa_serial of profile '{profile}'", ConfigError)
        self.region = values.get("region") or None
        if self.region is not None:
            check_region(self.region, f"region of profile '{profile}'", ConfigError)
        # A blank ca_bundle turns certificate checks off in some botocore versions we allow.
        check_ca_bundle(values.get("ca_bundle"), f"ca_bundle of profile '{profile}'")
        self.duration = ROLE_MAX_DURATION
        if values.get("duration_seconds"):
            what = f"duration_seconds of profile '{profile}'"
            asked = _number(values["duration_seconds"], what, ROLE_MIN_DURATION, 43200, ConfigError)
            self.duration = min(asked, ROLE_MAX_DURATION)


def role_chain(
    profile: str, config: IniText, credentials: IniText, env: Mapping[str, str] | None = None
) -> tuple[list[Role], str]:
    """The roles to assume, the profile's own first, and the profile holding the keys."""
    chain: list[Role] = []
    visited = [profile]
    current = profile
    while True:
        values = profile_values(current, config, credentials, env)
        if "role_arn" not in values:
            return chain, current
        for unsupported in ("credential_source", "web_identity_token_file"):
            if values.get(unsupported):
                raise ConfigError(
                    f"Profile '{current}' takes its role credentials from {unsupported}, which "
                    "aws-mfa-run does not support; use source_profile with long-term keys."
                )
        source = values.get("source_profile")
        if not source:
            raise ConfigError(
                f"Role profile '{current}' has no source_profile naming the profile with the keys."
            )
        check_profile_name(source, f"source_profile (in profile '{current}')", ConfigError)
        chain.append(Role(current, values))
        if source in visited:
            loop = " -> ".join([*visited, source])
            raise ConfigError(f"The source_profile settings form a loop ({loop}); break it.")
        visited.append(source)
        current = source


# ---- resolved settings ------------------------------------------------------------------------


class Settings:
    """Everything resolved that the rest of the run needs. Built by `resolve`, never changed."""

    def __init__(
        self,
        *,
        profile: str,
        source_profile: str,
        session_target: str,
        login_target: str,
        roles: list[Role],
        serial: str | None,
        duration: int | None,
        min_remaining: int,
        floor: int,
        region: str | None,
        output: str | None,
        mfa_process: str | None,
        mfa_prompt: str | None,
        server: bool,
        paths: Paths,
        session_copies: Mapping[str, str | None],
        login_copies: Mapping[str, str | None],
        followed_from: str | None = None,
    ) -> None:
        self.profile = profile  # the profile asked for: a role profile, or the source itself
        self.source_profile = source_profile  # the profile with the long-term keys
        self.session_target = session_target  # holds the MFA session of source_profile
        self.login_target = login_target  # what --login writes (role credentials for a role)
        self.roles = roles  # the role chain, the profile's own role first; [] for a plain profile
        self.serial = serial
        self.duration = duration
        self.min_remaining = min_remaining  # reuse margin asked for, seconds
        self.floor = floor  # least time left any credentials we hand out must have
        self.region = region
        self.output = output
        self.mfa_process = mfa_process
        self.mfa_prompt = mfa_prompt
        self.server = server  # mfa_server: the wrapper serves credentials as --server does
        self.paths = paths
        # What the targets' config sections get from their profiles (region, output).
        self.session_copies = session_copies
        self.login_copies = login_copies
        self.followed_from = followed_from  # the name given, when it led to another profile


class Request:
    """What `resolve` is asked for: the few things of the command line it reads, and the global
    options of the `aws` that ran us as an alias. Made once from the command line
    (`from_command_line`), never changed: a caller that needs another profile makes another."""

    __slots__ = (
        "_frozen",
        "alias_profile",
        "alias_region",
        "credential_process",
        "duration",
        "min_remaining",
        "profile",
        "serial",
        "target_profile",
    )

    def __init__(
        self,
        *,
        profile: str | None = None,
        target_profile: str | None = None,
        serial: str | None = None,
        duration: str | None = None,
        min_remaining: str | None = None,
        credential_process: bool = False,
        alias_profile: str | None = None,
        alias_region: str | None = None,
    ) -> None:
        # As given (checked by resolve): strings of the command line.
        self.profile = profile  # -p
        self.target_profile = target_profile
        self.serial = serial
        self.duration = duration
        self.min_remaining = min_remaining
        # --credential-process: botocore refreshes what has less than its floor left.
        self.credential_process = credential_process
        self.alias_profile = alias_profile  # --profile and --region given to the `aws` alias
        self.alias_region = alias_region
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"a Request is not changed ({name}): make another")
        object.__setattr__(self, name, value)

    @classmethod
    def from_command_line(cls, options: Options, aws_globals: Mapping[str, str]) -> Request:
        return cls(
            profile=options.profile,
            target_profile=options.target_profile,
            serial=options.serial,
            duration=options.duration,
            min_remaining=options.min_remaining,
            credential_process=options.mode == "credential-process",
            alias_profile=aws_globals.get("profile"),
            alias_region=aws_globals.get("region"),
        )


def requested_profile(request: Request, env: Mapping[str, str]) -> str:
    """-p, else the profile the `aws` alias was given, else AWS_PROFILE, else the one we run in."""
    alias_profile = request.alias_profile
    if request.profile and alias_profile and request.profile != alias_profile:
        raise UsageError(
            f"Both --profile {alias_profile} (to aws) and -p {request.profile} were given; "
            "name the profile once."
        )
    if request.profile is not None:
        return check_profile_name(request.profile)
    name = (
        alias_profile
        or env.get("AWS_PROFILE")
        or env.get("AWS_DEFAULT_PROFILE")
        or env.get(MARKER_VARIABLE)
        or "default"
    )
    return check_profile_name(name)


def followed_profile(profile: str, config: IniText, credentials: IniText) -> str | None:
    """The source aws-mfa-run serves `profile` from, when `profile` is one of ours: a target we
    wrote (it records its source), or a profile whose credential_process runs aws-mfa-run."""
    stored = (credentials.get(profile) or {}).get(KEY_SOURCE)
    if stored:
        return stored
    command = (config_values(profile, config) or {}).get("credential_process", "")
    words = shell_words(command) or []
    if not any(os.path.basename(word) == "aws-mfa-run" for word in words[:1]):
        return None
    if "--credential-process" not in words:
        return None
    for index, word in enumerate(words):
        if word in ("-p", "--profile") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--profile="):
            return word.partition("=")[2]
    return "default"


def wanted_min_remaining(request: Request, configured: str | None, profile: str = "") -> int:
    """Seconds a stored session should still have left to be reused: --min-remaining, else the
    setting (minutes) of `profile`, else the default. The credentials' own lifetime caps it (see
    SessionCredentials.margin)."""
    if request.min_remaining is not None:
        return _number(request.min_remaining, "--min-remaining (minutes)", 0, 1440, UsageError) * 60
    if configured is not None:
        what = f"{KEY_MIN_REMAINING} of profile '{profile}' (minutes)"
        return _number(configured, what, 0, 1440, ConfigError) * 60
    return DEFAULT_MIN_REMAINING


def environment_region(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, region) the user set in the environment, as the AWS CLI reads it: v2 and most
    SDKs read AWS_REGION first, v1 (botocore) only AWS_DEFAULT_REGION; we fill in both for the
    programs we run (environ.region_variables), so AWS_REGION wins here too. A value an outer
    aws-mfa-run put there (it says so in REGION_MARKER_VARIABLE) is not the user's."""
    ours = env.get(REGION_MARKER_VARIABLE)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = env.get(name)
        if value and value != ours:
            return name, value
    return None


def resolve(
    request: Request,
    env: Mapping[str, str],
    config: IniText,
    credentials: IniText,
    paths: Paths,
) -> Settings:
    asked = requested_profile(request, env)
    profile, followed_from = asked, None
    source = followed_profile(asked, config, credentials)
    if source is not None and source != asked:
        profile, followed_from = check_profile_name(source), asked
    roles, source_profile = role_chain(profile, config, credentials, env)
    values = profile_values(profile, config, credentials, env)
    source_values = profile_values(source_profile, config, credentials, env) if roles else values

    if request.target_profile is not None:
        login_target = request.target_profile
    else:
        login_target = default_target(profile)
    check_profile_name(login_target, "target profile")
    session_target = default_target(source_profile) if roles else login_target
    for target in {login_target, session_target}:
        if target in (profile, source_profile):
            raise UsageError(
                f"The target profile cannot be the profile '{target}' itself: "
                "writing the session there would destroy its long-term keys."
            )

    if request.duration is not None:
        what = "--duration (seconds)"
        duration: int | None = _number(
            request.duration, what, MIN_DURATION, MAX_DURATION, UsageError
        )
    elif KEY_DURATION in source_values:
        what = f"{KEY_DURATION} of profile '{source_profile}' (seconds)"
        raw = source_values[KEY_DURATION]
        duration = _number(raw, what, MIN_DURATION, MAX_DURATION, ConfigError)
    else:
        duration = None

    min_remaining = wanted_min_remaining(request, values.get(KEY_MIN_REMAINING), profile)
    floor = CREDENTIAL_PROCESS_MIN_REMAINING if request.credential_process else 0

    serial_value = request.serial
    if serial_value is None:
        serial_value = next((role.mfa_serial for role in roles if role.mfa_serial), None)
    serial: str | None
    if serial_value is not None:
        if request.serial is not None:
            serial = check_serial(serial_value, "--serial", UsageError)
        else:
            serial = check_serial(serial_value, f"mfa_serial of profile '{profile}'", ConfigError)
    elif source_values.get("mfa_serial"):
        what = f"mfa_serial of profile '{source_profile}'"
        serial = check_serial(source_values["mfa_serial"], what, ConfigError)
    else:
        serial = None

    # The region the AWS CLI would use: its --region (given to the alias), else the environment's,
    # else the profile's (a role's own region for each role of the chain).
    chosen_region, from_environment = None, environment_region(env)
    if request.alias_region:
        chosen_region = check_region(request.alias_region, "--region", UsageError)
    elif from_environment is not None:
        chosen_region = check_region(from_environment[1], from_environment[0], ConfigError)
    for role in roles:
        role.region = chosen_region or role.region
    for name, found in ((profile, values), (source_profile, source_values)):
        if found.get("region"):
            check_region(found["region"], f"region of profile '{name}'", ConfigError)
        check_ca_bundle(found.get("ca_bundle"), f"ca_bundle of profile '{name}'")
    region = chosen_region or values.get("region") or source_values.get("region")
    return Settings(
        profile=profile,
        source_profile=source_profile,
        session_target=session_target,
        login_target=login_target,
        roles=roles,
        serial=serial,
        duration=duration,
        min_remaining=min_remaining,
        floor=floor,
        region=region or None,
        output=source_values.get("output") or None,
        mfa_process=values.get(KEY_PROCESS) or source_values.get(KEY_PROCESS) or None,
        mfa_prompt=values.get(KEY_PROMPT) or source_values.get(KEY_PROMPT) or None,
        server=_flag(values.get(KEY_SERVER), f"{KEY_SERVER} of profile '{profile}'"),
        paths=paths,
        session_copies={key: source_values.get(key) for key in COPIED_KEYS},
        login_copies={
            "region": values.get("region") or source_values.get("region"),
            "output": values.get("output") or source_values.get("output"),
        },
        followed_from=followed_from,
    )
