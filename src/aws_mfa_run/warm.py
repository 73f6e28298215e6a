"""The warm path: a valid MFA session is stored for the profile, so run the command with it.

This is what aws-mfa-run does most (every `aws-mfa-run COMMAND` of a Makefile, every
`credential_process` call of an SDK), so it must cost next to nothing: this module imports nothing
of ours, and nothing Python has not loaded at start-up. It reads one section of each file and
hands the command its environment. At the first thing it does not handle itself (a role profile,
an option, a malformed value, an unusual file, an expired session) it gives up and the entry point
runs the full path, which knows every rule and says what is wrong: so the warm path never refuses,
never writes and never asks; it only ever does what the full path would do, faster.

The rules both paths share are defined here, once, and the rest of the tree imports them: the
variables a command gets, the names of our keys in the files, the reuse margin, the checks of a
stored session, the time format.
"""

from __future__ import annotations

import os
import stat  # already loaded by os
import sys

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# ---- names and limits both paths use --------------------------------------------------------

# Set in a wrapped command's environment: names the profile whose session it runs with, and the
# region we put there (so a nested run can tell our region from the user's).
MARKER_VARIABLE = "AWS_MFA_RUN_PROFILE"
REGION_MARKER_VARIABLE = "AWS_MFA_RUN_REGION"
# Under --server, a credentials or config file whose default profile holds credentials is hidden
# from the command (those would win over the endpoint); its real path is here, for us.
REAL_CREDENTIALS_FILE_VARIABLE = "AWS_MFA_RUN_CREDENTIALS_FILE"
REAL_CONFIG_FILE_VARIABLE = "AWS_MFA_RUN_CONFIG_FILE"
# The container credentials provider's variable: set, we run inside `aws-mfa-run --server`.
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"

# A stored session is reused only while it has more than this left. Above botocore's mandatory
# refresh window (10 minutes) and its advisory one (15), so SDKs never refresh a fresh session.
DEFAULT_MIN_REMAINING = 16 * 60
# botocore rejects a credential_process answer that is inside its mandatory refresh window.
CREDENTIAL_PROCESS_MIN_REMAINING = 11 * 60

# Keys in the credentials file: the standard three, and ours.
KEY_ID, SECRET, TOKEN = "aws_access_key_id", "aws_secret_access_key", "aws_session_token"
KEY_EXPIRATION = "aws_mfa_run_expiration"
KEY_ISSUED = "aws_mfa_run_issued"
KEY_SOURCE = "aws_mfa_run_source_profile"
# The access key id we wrote into a target: the proof that the keys there are ours (a marker line
# anyone can copy is no proof).
KEY_WRITTEN = "aws_mfa_run_key_id"
# The long-term access key id of the source profile the session was made with (no secret): a
# session is reused only while the source still holds that key, not another IAM user's.
KEY_SOURCE_KEY = "aws_mfa_run_source_key_id"
# In the credentials file's section of a profile whose keys --store-keys put in the OS keyring
# (where their lines were; our credential_process is in its config section): their access key id
# (no secret), so that a session made with another key is told apart without loading the keyring
# (which takes far longer than a stored session saves).
KEY_KEYRING_KEY = "aws_mfa_run_keyring_key_id"
KEY_MIN_REMAINING = "mfa_min_remaining"

# STS's reference says a token's size is not fixed and "typically less than 4096 bytes", and asks
# clients to assume no maximum. We take 16 times that, but refuse what would break the programs
# we hand it to: Linux takes at most 128 KiB for one environment variable (a 200 KB token made
# every wrapped command fail with "Argument list too long").
SESSION_TOKEN_LONGEST = 65_536

# Everything that could make an SDK pick other credentials than the session we hand it.
REMOVED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)
# Also removed from a wrapped command's environment (not unset by `--env`): what switches on a
# source that some SDK's default chain asks before the container provider (`--server`), or that
# would describe our keys wrongly. From the chains of botocore, the JavaScript SDK v3, the Go SDK
# v2 and the Ruby SDK.
OTHER_SOURCES = (
    "AWS_WEB_IDENTITY_TOKEN_FILE",  # web identity (EKS, CI): all of them, before the container
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ACCESS_KEY",  # the Go SDK's (and Java's) other names of the keys
    "AWS_SECRET_KEY",
    "AMAZON_ACCESS_KEY_ID",  # the Ruby SDK's
    "AMAZON_SECRET_ACCESS_KEY",
    "AMAZON_SESSION_TOKEN",
    "AWS_CREDENTIAL_FILE",  # botocore's OriginalEC2Provider, before the container provider
    "AWS_ACCOUNT_ID",  # botocore and JS v3 take it as the keys' account (endpoint routing)
    "AWS_CREDENTIAL_SCOPE",  # JS v3: the keys' scope
)
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")

# Profile kinds whose credentials come from elsewhere: never a target for our session keys.
FOREIGN_CREDENTIAL_KEYS = (
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
)
# What a profile holds that the warm path leaves to the full path: its credentials come from
# elsewhere (a role, SSO, a process), it is one of our targets or served from another profile,
# or it runs commands under --server.
_NOT_PLAIN = (*FOREIGN_CREDENTIAL_KEYS, KEY_SOURCE, "mfa_server")

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
SERIAL_CHARACTERS = _WORD | frozenset("+=/:,.@-")
REGION_CHARACTERS = _WORD - {"_"} | {"-"}
# configparser, and so botocore and the AWS CLI, read a section of this exact name (any other case
# is an ordinary section) as defaults for every other section of the file.
DEFAULTS_SECTION = "DEFAULT"


# ---- the rules both paths share ----------------------------------------------------------------


def is_profile_name(name: str) -> bool:
    """1 to 512 printable characters but [ and ], no space at either end, not DEFAULT."""
    return (
        0 < len(name) <= 512
        and name == name.strip()
        and name != DEFAULTS_SECTION
        and name.isprintable()
        and "[" not in name
        and "]" not in name
    )


def default_target(profile: str) -> str:
    return "mfa" if profile == "default" else f"{profile}-mfa"


def is_serial(value: str) -> bool:
    """STS's own rule for SerialNumber: 9 to 256 of [\\w+=/:,.@-]."""
    return 9 <= len(value) <= 256 and SERIAL_CHARACTERS.issuperset(value)


def is_region(value: str) -> bool:
    """A region name botocore accepts: letters, digits and inner hyphens."""
    return (
        1 <= len(value) <= 63
        and REGION_CHARACTERS.issuperset(value)
        and not value.startswith("-")
        and not value.endswith("-")
    )


def is_access_key_id(value: str) -> bool:
    """STS API reference: AccessKeyId is 16 to 128 characters of [\\w]*."""
    return 16 <= len(value) <= 128 and _WORD.issuperset(value)


def is_secret_text(value: str) -> bool:
    """Printable ASCII without whitespace: what secret keys and session tokens are made of."""
    return bool(value) and all("!" <= ch <= "~" for ch in value)


def is_session(key_id: str, secret: str, token: str) -> bool:
    """Whether the three values make a session we keep or hand on (SESSION_TOKEN_LONGEST)."""
    return (
        is_access_key_id(key_id)
        and is_secret_text(secret)
        and is_secret_text(token)
        and len(token) <= SESSION_TOKEN_LONGEST
    )


def reuse_margin(expiration: float, issued: float | None, wanted: float, floor: float = 0) -> float:
    """The one reuse-margin rule: credentials are handed out while they have more than this
    left. `wanted`, but at most half their lifetime (a margin as long as a short session would
    make it stale at once), and at least `floor` (botocore's window for credential_process)."""
    if issued is not None and expiration > issued:
        wanted = min(wanted, (expiration - issued) / 2)
    return max(wanted, floor)


def keys_are_ours(values: Mapping[str, str]) -> bool:
    """Whether the keys of a target section are the ones aws-mfa-run wrote (no keys: nothing to
    protect). Sessions stored before the id was recorded count as ours while they still look
    like one: our expiration and source, a temporary key id (ASIA...) and a token; long-term
    keys put there since (`aws configure set`) never do."""
    key_id = values.get(KEY_ID)
    if not key_id:
        return True
    written = values.get(KEY_WRITTEN)
    if written is not None:
        return written == key_id
    return bool(
        KEY_EXPIRATION in values
        and values.get(KEY_SOURCE)
        and key_id.startswith("ASIA")
        and values.get(TOKEN)
    )


def is_own_process(command: str) -> bool:
    """Whether a credential_process runs aws-mfa-run itself (never a source of long-term keys)."""
    return "aws-mfa-run" in command or "aws_mfa_run" in command


def keyring_record_applies(
    in_credentials: Mapping[str, str] | None, in_config: Mapping[str, str] | None
) -> bool:
    """Whether the profile's keys may come from the keyring, so that the record of the keyring's
    key id (KEY_KEYRING_KEY) speaks for them: its credential_process (the one botocore runs: the
    config file's, else the credentials file's) is ours, or it has none (the full path reads the
    keyring before the environment)."""
    process = (in_config or {}).get("credential_process")
    if process is None:
        process = (in_credentials or {}).get("credential_process")
    return process is None or is_own_process(process)


def keyring_key_id(
    in_credentials: Mapping[str, str] | None, in_config: Mapping[str, str] | None
) -> str | None:
    """The key id recorded for the keyring's keys of a profile (KEY_KEYRING_KEY, in the credentials
    file), "" when the line is not a key id; None without the line, or when a credential_process
    of the user's gives the profile's keys (keyring_record_applies)."""
    recorded = (in_credentials or {}).get(KEY_KEYRING_KEY)
    if recorded is None or not keyring_record_applies(in_credentials, in_config):
        return None
    return recorded if is_access_key_id(recorded) else ""


def visible_source_key_id(
    in_credentials: Mapping[str, str] | None,
    in_config: Mapping[str, str] | None,
    env: Mapping[str, str],
) -> str | None:
    """The access key id of the source profile's long-term keys where it can be seen cheaply, as
    the full path picks them (credentials.longterm): the credentials file's section when it has
    a key line, else the config file's; else, unless a credential_process of the user's gives
    them, the environment's long-term keys, else the id recorded for the keyring's keys. None
    when no such place holds keys (a program of the user's has them, or the keyring without a
    record: the id recorded with the session is trusted).

    The environment's key comes before the record: the full path reads the keyring first, but a
    record proves nothing once the entry is gone (removed by hand), and then the environment's
    keys are used. Where both hold keys, the stored session's key is checked against the keyring
    itself (credentials.mfa_session): a keyring read on each such run (exported keys of another
    tool beside a keyring profile), never a session of the wrong user. Where no long-term key
    can be seen and another tool's session is exported, "": no session matches."""
    for values in (in_credentials, in_config):
        if values and (KEY_ID in values or SECRET in values):
            return values.get(KEY_ID, "")  # half a pair: no key the session could match
    if not keyring_record_applies(in_credentials, in_config):
        return None
    from_environment = _environment_key_id(env)
    if from_environment is not None:
        return from_environment
    recorded = keyring_key_id(in_credentials, in_config)
    if recorded is None and _foreign_session(env):
        # No long-term key in sight, and another tool's session exported (another user's,
        # perhaps): no stored session matches; the full path finds keys or says why not.
        return ""
    return recorded


def _environment_key_id(env: Mapping[str, str]) -> str | None:
    """The id of long-term keys in the environment, None when it holds none (or a session's: a
    run nested in ours)."""
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    if key_id.startswith("AKIA"):
        return key_id  # a long-term key's id, whatever stale token comes with it
    if not key_id or not env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SESSION_TOKEN"):
        return None
    return None if env.get("AWS_SECURITY_TOKEN") else key_id


def _foreign_session(env: Mapping[str, str]) -> bool:
    """Whether the environment holds session credentials another tool set: not marked as ours
    (`--env` and the wrapper export the marker with a session)."""
    if not env.get("AWS_ACCESS_KEY_ID") or env.get(MARKER_VARIABLE):
        return False
    return bool(env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN"))


def made_with(stored: Mapping[str, str], current_key_id: str | None) -> bool:
    """Whether a stored session was made with the source's current long-term key. A session of
    the previous version (no id recorded), or a source whose key id cannot be seen without the
    keyring or a program (None), keeps the session."""
    recorded = stored.get(KEY_SOURCE_KEY)
    return recorded is None or current_key_id is None or recorded == current_key_id


def format_utc(epoch: float) -> str:
    """`2026-11-25T13:04:05Z`: the form we store and the credential_process Version 1 wants."""
    import time  # built in: no file to read

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_utc(text: str) -> float | None:
    """Epoch seconds of an ISO 8601 time with Z or a numeric offset; None when unreadable."""
    value = text.strip()
    # The form we write ourselves, parsed without importing datetime.
    if len(value) == 20 and value[10] == "T" and value[19] == "Z" and value[4] == value[7] == "-":
        try:
            year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
            hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
        except ValueError:
            return None
        if 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61:
            days = _days_from_civil(year, month, day)
            return float(days * 86400 + hour * 3600 + minute * 60 + second)
        return None
    if len(value) < 10:
        return None  # too short for a date, let alone a time (and no datetime import for it)
    import datetime

    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a time without a zone could be anything; treat it as no expiration
    return parsed.timestamp()


def user_region(env: Mapping[str, str]) -> str | None:
    """The region the user set in the environment, as the AWS CLI reads it (AWS_REGION first, as
    v2 and most SDKs do; we fill in both for the programs we run). A value an outer aws-mfa-run
    (or an eval of `--env`) put there, recognised by its marker, is not the user's."""
    ours = env.get(REGION_MARKER_VARIABLE)
    for name in REGION_VARIABLES:
        value = env.get(name)
        if value and value != ours:
            return value
    return None


def region_variables(region: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """AWS CLI v1 reads only AWS_DEFAULT_REGION, most other SDKs AWS_REGION: fill in both, unless
    the user chose a region in the environment. The marker lets a nested run replace ours."""
    chosen = user_region(env)
    if chosen is not None:  # the user's choice, given to whichever variable lacks it
        return {name: chosen for name in REGION_VARIABLES if env.get(name) != chosen}
    if not region:
        return {}
    return {**dict.fromkeys(REGION_VARIABLES, region), REGION_MARKER_VARIABLE: region}


def session_variables(
    keys: tuple[str, str, str], expiration: float, profile: str, region: str | None,
    env: Mapping[str, str],
) -> dict[str, str]:  # fmt: skip
    """The variables we set: the session, its expiration, the marker, and the region."""
    key_id, secret, token = keys
    variables = {
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
        "AWS_SECURITY_TOKEN": token,  # read by old boto 2 era tools
        "AWS_CREDENTIAL_EXPIRATION": format_utc(expiration),
        MARKER_VARIABLE: profile,
    }
    variables.update(region_variables(region, env))
    return variables


def child_environment(
    env: Mapping[str, str], keys: tuple[str, str, str], expiration: float, profile: str,
    region: str | None,
) -> dict[str, str]:  # fmt: skip
    """`env` without whatever could make the command use other credentials, with the session."""
    child = {
        name: value
        for name, value in env.items()
        if name not in REMOVED and name not in OTHER_SOURCES
    }
    if user_region(env) is None:
        for name in (*REGION_VARIABLES, REGION_MARKER_VARIABLE):
            child.pop(name, None)
    child.update(session_variables(keys, expiration, profile, region, env))
    return child


def json_string(value: str) -> str:
    """A JSON string literal (the json module costs milliseconds to import)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ord(ch) >= 0x20 else f"\\u{ord(ch):04x}" for ch in escaped) + '"'


def credential_process_json(keys: tuple[str, str, str], expiration: float) -> str:
    """botocore's credential_process answer, Version 1."""
    fields = {
        "AccessKeyId": keys[0],
        "SecretAccessKey": keys[1],
        "SessionToken": keys[2],
        "Expiration": format_utc(expiration),
    }
    pairs = [f"{json_string(key)}: {json_string(value)}" for key, value in fields.items()]
    return "{" + ", ".join(['"Version": 1', *pairs]) + "}"


def file_paths(env: Mapping[str, str]) -> tuple[str, str, str]:
    """(home, config file, credentials file), as botocore finds them."""
    home = env.get("HOME") or os.path.expanduser("~")
    config = env.get(REAL_CONFIG_FILE_VARIABLE) or env.get("AWS_CONFIG_FILE")
    credentials = env.get(REAL_CREDENTIALS_FILE_VARIABLE) or env.get("AWS_SHARED_CREDENTIALS_FILE")
    return (
        home,
        _expand(config or os.path.join(home, ".aws", "config"), home),
        _expand(credentials or os.path.join(home, ".aws", "credentials"), home),
    )


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


# ---- the warm path itself ---------------------------------------------------------------------


class _NotWarmError(Exception):
    """Anything the warm path leaves to the full path."""


def run(argv: list[str], env: Mapping[str, str], now: float) -> int | None:
    """Run the command (exec: never returns) or print the credential_process answer (returns
    0) when a valid session is at hand; None to let the full path do it."""
    try:
        return _run(argv, env, now)
    except Exception:  # anything unexpected: the full path knows better
        return None


def _run(argv: list[str], env: Mapping[str, str], now: float) -> int | None:
    mode, profile, command = _read_command_line(argv, env)
    floor = CREDENTIAL_PROCESS_MIN_REMAINING if mode == "credential-process" else 0
    if mode == "run":
        # Inside aws-mfa-run for the same profile, the credentials are in the environment.
        if env.get(FULL_URI) and env.get(MARKER_VARIABLE) == profile:
            _exec(command, env)  # inside --server: its endpoint serves us too
        if _inherited(profile, env, now):
            _exec(command, env)
        _check_not_run_by_the_aws_cli(env)
    elif env.get(MARKER_VARIABLE) == profile:
        raise _NotWarmError("inherited credentials, weighed with the profile's own margin")
    keys, expiration, region = _stored_session(profile, env, now, floor)
    if mode == "credential-process":
        sys.stdout.write(credential_process_json(keys, expiration) + "\n")
        sys.stdout.flush()
        return 0
    _exec(command, child_environment(env, keys, expiration, profile, region))
    return None  # not reached


def _read_command_line(argv: list[str], env: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """(mode, profile, command) of the forms the warm path takes: `COMMAND...`, `-p NAME
    COMMAND...` and `--credential-process` with or without `-p NAME`."""
    words = list(argv)
    profile: str | None = None
    mode = "run"
    while words and words[0].startswith("-"):
        word = words.pop(0)
        if word in ("-p", "--profile") and words and profile is None:
            profile = words.pop(0)
        elif word.startswith("--profile=") and profile is None:
            profile = word.partition("=")[2]
        elif word == "--credential-process" and mode == "run":
            mode = "credential-process"
        else:
            raise _NotWarmError(word)
    if (mode == "run") == (not words):
        raise _NotWarmError("no command, or a command with --credential-process")
    if profile is None:
        profile = (
            env.get("AWS_PROFILE")
            or env.get("AWS_DEFAULT_PROFILE")
            or env.get(MARKER_VARIABLE)
            or "default"
        )
    if not is_profile_name(profile):
        raise _NotWarmError("profile name")
    return mode, profile, words


def _inherited(profile: str, env: Mapping[str, str], now: float) -> bool:
    """Whether an outer aws-mfa-run put usable credentials for `profile` in `env`."""
    if env.get(MARKER_VARIABLE) != profile:
        return False
    expiration = parse_utc(env.get("AWS_CREDENTIAL_EXPIRATION", ""))
    key_id = env.get("AWS_ACCESS_KEY_ID", "")
    secret, token = env.get("AWS_SECRET_ACCESS_KEY", ""), env.get("AWS_SESSION_TOKEN", "")
    return bool(
        expiration is not None
        and is_session(key_id, secret, token)
        and expiration - now > reuse_margin(expiration, None, DEFAULT_MIN_REMAINING)
    )


def _check_not_run_by_the_aws_cli(env: Mapping[str, str]) -> None:
    """An `aws` alias that runs us passes its --profile and --region only in its own command line
    (the full path reads them back): our parent, or the parent of the shell that runs the alias,
    must not be the AWS CLI. Without /proc (macOS), the full path asks `ps`."""
    if env.get("AWS_MFA_RUN_PROC_ROOT"):
        raise _NotWarmError("another proc root")
    parent = os.getppid()
    argv = _command_line(parent)
    if _looks_like_the_aws_cli(argv):
        raise _NotWarmError("run by the AWS CLI")
    if "-c" in argv[1:3]:  # a shell running a script: an alias's, perhaps
        with open(f"/proc/{parent}/stat", "rb") as handle:
            stat = handle.read()
        grandparent = int(stat[stat.rindex(b")") + 2 :].split()[1])
        if grandparent > 1 and _looks_like_the_aws_cli(_command_line(grandparent)):
            raise _NotWarmError("run by an alias of the AWS CLI")
        # A script that is one of the AWS CLI's aliases, run by something the full path may not
        # tell for the AWS CLI (it then says how to name the profile).
        script = argv[argv.index("-c") + 1] if argv.index("-c") + 1 < len(argv) else ""
        home = env.get("HOME") or os.path.expanduser("~")
        try:
            with open(os.path.join(home, ".aws", "cli", "alias"), "rb") as handle:
                aliases = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            aliases = ""
        for line in aliases.splitlines():
            value = line.partition("=")[2].strip()
            if value.startswith("!"):  # an external alias: the shell runs what follows
                value = value[1:].strip()
                if value and (script == value or script.startswith(value + " ")):
                    raise _NotWarmError("the script of an alias")


def _command_line(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        words = handle.read().split(b"\0")
    if not words or not words[0]:
        raise _NotWarmError("no command line")
    return [word.decode("utf-8", "replace") for word in words if word]


def _looks_like_the_aws_cli(argv: list[str]) -> bool:
    """A program named like `aws` (`aws`, `aws2`, `awscliv2`...), or an interpreter running the
    AWS CLI (`python -m awscli`, `python /usr/local/bin/aws`): more than the full path takes for
    the AWS CLI, which is the safe side here."""
    program = os.path.basename(argv[0])
    if program.startswith("aws") and not program.startswith("aws-mfa-run"):
        return True
    return any(word == "awscli" or os.path.basename(word) == "aws" for word in argv[1:4])


def _stored_session(
    profile: str, env: Mapping[str, str], now: float, floor: float
) -> tuple[tuple[str, str, str], float, str | None]:
    """The valid session stored for `profile` (a plain profile with long-term keys), its end,
    and the region to give the command."""
    _, config_path, credentials_path = file_paths(env)
    config, credentials = _read(config_path), _read(credentials_path)
    if any(ch in profile for ch in " \t'\"\\"):
        raise _NotWarmError("a name the config file may quote")
    if any(mark in config for mark in ('"', "'", "\\", "\t", "[profile  ", "[ ")):
        # A header may name the profile in another spelling (`[profile "dev"]`): every header
        # must be plain for `[profile NAME]` to be the one botocore reads.
        headers = config.split("\n[")
        for header in headers if config.startswith("[") else headers[1:]:
            line = header.partition("\n")[0]
            if any(mark in line for mark in ('"', "'", "\\", "\t", "  ")) or line[:1] == " ":
                raise _NotWarmError("a header in another spelling")
    if profile == "default":
        in_config = _section(config, "default")
        also = _section(config, "profile default")
        if in_config is not None and also is not None:
            raise _NotWarmError("[default] and [profile default]")
        in_config = also if in_config is None else in_config
    else:
        in_config = _section(config, f"profile {profile}")
    in_credentials = _section(credentials, profile)
    if in_config is None and in_credentials is None:
        raise _NotWarmError("no such profile")
    values = {**(in_credentials or {}), **(in_config or {})}
    if any(key in values for key in _NOT_PLAIN):
        raise _NotWarmError("not a plain profile")
    # Every value the full path checks on this way, checked alike (it says what is wrong).
    if "mfa_serial" in values and not is_serial(values["mfa_serial"]):
        raise _NotWarmError("mfa_serial")
    if "mfa_session_duration" in values:
        duration = values["mfa_session_duration"].strip()
        if not (duration.isdigit() and 900 <= int(duration) <= 129600):
            raise _NotWarmError("mfa_session_duration")
    if "ca_bundle" in values and not values["ca_bundle"].strip():
        raise _NotWarmError("ca_bundle")
    wanted = DEFAULT_MIN_REMAINING
    if KEY_MIN_REMAINING in values:
        minutes = values[KEY_MIN_REMAINING].strip()
        if not (minutes.isdigit() and int(minutes) <= 1440):
            raise _NotWarmError(KEY_MIN_REMAINING)
        wanted = int(minutes) * 60
    region = user_region(env) or values.get("region") or None
    for value in (user_region(env), values.get("region")):
        if value and not is_region(value):
            raise _NotWarmError("region")

    stored = _section(credentials, default_target(profile))
    if not stored or stored.get(KEY_SOURCE) != profile or not keys_are_ours(stored):
        raise _NotWarmError("no session of ours")
    expiration = parse_utc(stored.get(KEY_EXPIRATION, ""))
    key_id, secret, token = stored.get(KEY_ID, ""), stored.get(SECRET, ""), stored.get(TOKEN, "")
    if expiration is None or not is_session(key_id, secret, token):
        raise _NotWarmError("no usable session")
    if not made_with(stored, visible_source_key_id(in_credentials, in_config, env)):
        raise _NotWarmError("made with another key of the source")
    issued = parse_utc(stored.get(KEY_ISSUED, ""))
    if expiration - now <= reuse_margin(expiration, issued, wanted, floor):
        raise _NotWarmError("the session ends too soon")
    return (key_id, secret, token), expiration, region


def _read(path: str) -> str:
    """A whole file as text, when it is one the warm path reads as it is (UTF-8, no byte-order
    mark, and every `[` opens a section header, so that one section can be read alone)."""
    # O_NONBLOCK: a FIFO in the file's place must not hang us at open (the full path says so).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotWarmError(path)
        text = handle.read().decode("utf-8")
    if text.startswith("\ufeff") or "\x00" in text:
        raise _NotWarmError(path)
    if text.count("[") != text.count("\n[") + text.startswith("["):
        raise _NotWarmError(path)
    return text


def _section(text: str, name: str) -> dict[str, str] | None:
    """The values of section `name`, read as configparser reads them; None without one.
    A section that appears twice, or a line that is not plain `key = value`, is the full path's."""
    header = f"[{name}]"
    starts = [0] if text.startswith(header) else []
    position = text.find("\n" + header)
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n" + header, position + 1)
    found = []
    for start in starts:
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end].strip()
        if line[1 : line.rfind("]")] == name:
            found.append(start)
    if not found:
        return None
    if len(found) > 1:
        raise _NotWarmError("a section twice")
    start = text.find("\n", found[0])
    end = text.find("\n[", start) if start >= 0 else -1
    body = "" if start < 0 else text[start + 1 : len(text) if end < 0 else end + 1]
    values: dict[str, str] = {}
    # Python's universal newlines, as configparser reads the file: \n, \r\n and \r.
    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0] in " \t":
            raise _NotWarmError("a continuation line")
        cuts = [cut for cut in (stripped.find("="), stripped.find(":")) if cut >= 0]
        if not cuts or min(cuts) == 0:
            raise _NotWarmError("not key = value")
        key = stripped[: min(cuts)].strip().lower()
        if key in values:
            raise _NotWarmError("a key twice")
        values[key] = stripped[min(cuts) + 1 :].strip()
    return values


def exec_command(command: list[str], env: Mapping[str, str]) -> None:
    """Replace ourselves with the command (both paths exec through here); OSError when it cannot
    be run. Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec:
    the command gets the defaults back (`yes | head -1` ends quietly); what the user's shell
    ignored (nohup's HUP) stays ignored, as without us."""
    # The C module under `signal`: `signal` itself imports enum (about 5 ms) for the same calls.
    import _signal  # type: ignore[import-not-found]  # no stub; the same as signal's

    names = [name for name in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, name)]
    for name in names:
        _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError:
        for name in names:  # still us: Python's own dispositions back
            _signal.signal(getattr(_signal, name), _signal.SIG_IGN)
        raise


def _exec(command: list[str], env: Mapping[str, str]) -> None:
    try:
        exec_command(command, env)
    except OSError:
        raise _NotWarmError("exec") from None  # not found, not executable: the full path says which
