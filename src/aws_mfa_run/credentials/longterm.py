"""Where a profile's long-term access keys come from, checked before anything uses them.

The order, first found wins:
  1. file:        aws_access_key_id + aws_secret_access_key of the profile (credentials file, or
                  its config section), as the AWS CLI reads them;
  2. keyring:     the OS keyring's entry for the profile (put there by `--store-keys`);
  3. credential_process: the profile's own credential_process when it answers long-term keys (no
                  SessionToken), as a password manager's AWS plug-in does. Our own
                  `aws-mfa-run --credential-process` is never a source: it is how a profile whose
                  keys are in the keyring serves its MFA session, and taking it would be a loop;
  4. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, only without AWS_SESSION_TOKEN (or
                  AWS_SECURITY_TOKEN): a wrapped command's environment holds our own session keys
                  with their token, and those are never long-term keys.
The environment comes last, unlike in the SDKs' chain: aws-mfa-run always acts for a named profile
(`default` when none is named), and the keys that profile was set up with are the ones meant. It
serves a machine whose keys come from elsewhere (the profile then needs no keys, and `default`
needs no section at all).

Nothing here runs on the warm path: only a fetch (or --status, --store-keys, --rotate-keys) asks.
"""

from __future__ import annotations

from aws_mfa_run.credentials import keyring_store
from aws_mfa_run.credentials.keys import (
    FILE,
    KEY_ID,
    PROCESS,
    SECRET,
    LongTermKeys,
    checked_keys,
    environment_keys,
)
from aws_mfa_run.errors import ConfigError, NoKeyringError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.profiles import config_header, config_values
from aws_mfa_run.warm import is_own_process, visible_source_key_id

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

# A password manager's plug-in may ask for its master password first.
PROCESS_TIMEOUT = 120


def own_process_command(profile: str) -> str:
    """The credential_process `--store-keys` writes: the profile's MFA session from aws-mfa-run."""
    import shlex

    return f"aws-mfa-run --credential-process -p {shlex.quote(profile)}"


def config_section(profile: str, config: IniText) -> str | None:
    """The header of the profile's section in the config file (quoted names too, as botocore
    reads them), None when it has none."""

    return config_header(profile, config) if config_values(profile, config) is not None else None


def file_keys(
    profile: str, config: IniText, credentials: IniText
) -> tuple[LongTermKeys, str] | None:
    """The profile's keys in the files and the path of the file holding them, or None.

    The credentials file wins over the config file, as in botocore. A lone key or a session token
    is an error: half a pair is never used.
    """
    places = [(credentials, profile)]
    section = config_section(profile, config)
    if section is not None:
        places.append((config, section))
    for ini, name in places:
        values = ini.get(name) or {}
        key_id, secret = values.get(KEY_ID, ""), values.get(SECRET, "")
        if not key_id and not secret:
            continue
        where = f"profile '{profile}' of {ini.path}"
        if values.get("aws_session_token"):
            raise ConfigError(
                f"{where[0].upper()}{where[1:]} holds temporary session credentials, not "
                "long-term keys; name the profile that holds your access keys with -p."
            )
        if not key_id or not secret:
            missing = SECRET if key_id else KEY_ID
            raise ConfigError(
                f"Profile '{profile}' in {ini.path} has no {missing}; add it with "
                "`aws configure --profile NAME` or name another profile with -p."
            )
        return checked_keys(key_id, secret, FILE, where), ini.path
    return None


def _profile_values(profile: str, config: IniText, credentials: IniText) -> dict[str, str] | None:
    section = config_section(profile, config)
    in_config = config.get(section) if section else None
    in_credentials = credentials.get(profile)
    if in_config is None and in_credentials is None:
        return None
    return {**(in_credentials or {}), **(in_config or {})}


def visible_key_id(
    profile: str, config: IniText, credentials: IniText, env: Mapping[str, str]
) -> str | None:
    """The access key id of the profile's current long-term keys when it can be seen without
    the keyring or a program (both cost far more than a stored session saves): the files' keys,
    else the environment's for a profile without credential_process (warm.visible_source_key_id,
    the same rule). None when it cannot be seen that way."""
    section = config_section(profile, config)
    return visible_source_key_id(
        credentials.get(profile), config.get(section) if section else None, env
    )


def run_credential_process(command: str, profile: str) -> LongTermKeys:
    """Run a profile's credential_process as botocore does (split like a shell, no shell) and take
    long-term keys from its JSON answer."""
    import json
    import shlex
    import subprocess

    where = f"the credential_process of profile '{profile}'"
    try:
        words = shlex.split(command)
        done = subprocess.run(words, stdout=subprocess.PIPE, timeout=PROCESS_TIMEOUT, check=False)
    except ValueError:
        raise ConfigError(f"Cannot split {where} into words; check its quotes.") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{where[0].upper()}{where[1:]} gave no answer in time.") from None
    except OSError as error:
        raise ConfigError(
            f"Cannot run {where}: {error.strerror or type(error).__name__}."
        ) from None
    if done.returncode != 0:
        raise ConfigError(f"{where[0].upper()}{where[1:]} failed (exit {done.returncode}).")
    try:
        answer: Any = json.loads(done.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("Version") != 1:
        raise ConfigError(
            f"{where[0].upper()}{where[1:]} did not answer credential_process JSON (Version 1)."
        )
    if answer.get("SessionToken"):
        raise ConfigError(
            f"{where[0].upper()}{where[1:]} answers temporary credentials, not long-term keys; "
            "aws-mfa-run needs the keys that can ask STS for an MFA session."
        )
    key_id, secret = answer.get("AccessKeyId"), answer.get("SecretAccessKey")
    if not isinstance(key_id, str) or not isinstance(secret, str):
        raise ConfigError(f"{where[0].upper()}{where[1:]} answered no AccessKeyId/SecretAccessKey.")
    return checked_keys(key_id, secret, PROCESS, where)


def long_term_keys(
    profile: str,
    config: IniText,
    credentials: IniText,
    env: Mapping[str, str],
    *,
    keyring_backend: Any = None,
    run_process: Callable[[str, str], LongTermKeys] = run_credential_process,
) -> LongTermKeys:
    """The profile's long-term keys from the first source that has them (see the module's doc).

    `keyring_backend`: a keyring backend object (default: the one keyring selects).
    """

    found = file_keys(profile, config, credentials)
    if found is not None:
        return found[0]
    values = _profile_values(profile, config, credentials)
    keyring_trouble = None
    process = (values or {}).get("credential_process", "")
    if values is not None:
        try:
            stored = keyring_store.read(profile, keyring_backend)
        except ConfigError as error:
            if process and is_own_process(process):  # its keys can only be in the keyring
                raise ConfigError(
                    f"Profile '{profile}' gets its credentials from aws-mfa-run itself, which "
                    f"keeps its keys in the OS keyring; but {str(error)[0].lower()}"
                    f"{str(error)[1:]}"
                ) from None
            keyring_trouble, stored = error, None
        if stored is not None:
            return stored
        if process and not is_own_process(process):
            return run_process(process, profile)
    from_env = environment_keys(env)
    if from_env is not None:
        return from_env
    if values is None:
        raise ConfigError(
            f"Profile '{profile}' is in neither {config.path} nor {credentials.path}; "
            "name an existing profile with -p."
        )
    if process:
        raise ConfigError(
            f"Profile '{profile}' gets its credentials from aws-mfa-run itself, and the keyring "
            f"holds no keys for it; store them with `aws-mfa-run --store-keys -p {profile}`, or "
            "name the profile that holds your long-term access keys with -p."
        )
    said = f" ({keyring_trouble})" if keyring_trouble else ""
    if isinstance(keyring_trouble, NoKeyringError):
        said = " (there is none on this machine)"
    raise ConfigError(
        f"Profile '{profile}' has no long-term keys: none in its files, the keyring{said}, "
        "a credential_process or the environment; add them with `aws configure --profile NAME` "
        "or name another profile with -p."
    )


def checked_without_running(
    profile: str,
    config: IniText,
    credentials: IniText,
    env: Mapping[str, str],
    *,
    keyring_backend: Any = None,
) -> LongTermKeys:
    """What `long_term_keys` would find, without running any process (a credential_process
    source gives its origin only, with '-' for the keys); else ConfigError with the sentence
    every mode gives. For --status."""

    def not_run(command: str, profile: str) -> LongTermKeys:
        return LongTermKeys("-", "-", PROCESS)

    return long_term_keys(
        profile, config, credentials, env, keyring_backend=keyring_backend, run_process=not_run
    )
