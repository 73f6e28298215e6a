"""The session store: the target profile in the credentials file.

`aws mfa`, the wrapper and --credential-process all read and write the same place, so one code
covers them all and `aws ... --profile mfa` works too. A stored session is ours only when it carries
our expiration key; a target section with keys we did not write is never overwritten.
"""

from __future__ import annotations

import os

from aws_mfa_run import files, inifile
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.settings import KEY_EXPIRATION, KEY_SOURCE, Settings, config_section_name
from aws_mfa_run.timefmt import format_utc, parse_utc

SESSION_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def session_values(session: SessionCredentials) -> dict[str, str]:
    """The session as the keys we write: the standard three and our expiration."""
    return {
        "aws_access_key_id": session.access_key_id,
        "aws_secret_access_key": session.secret_access_key,
        "aws_session_token": session.session_token,
        KEY_EXPIRATION: format_utc(session.expiration),
    }


def read_ini(path: str) -> inifile.IniText:
    return inifile.parse(files.read_text(path) or "", path)


def stored_session(settings: Settings, credentials: inifile.IniText) -> SessionCredentials | None:
    """The session the target profile holds for this source profile, valid or not; else None."""
    values = credentials.get(settings.target_profile)
    if not values or values.get(KEY_SOURCE) != settings.source_profile:
        return None
    expiration = parse_utc(values.get(KEY_EXPIRATION, ""))
    key_id, secret, token = (values.get(key) for key in SESSION_KEYS)
    if expiration is None or not key_id or not secret or not token:
        return None
    return SessionCredentials(key_id, secret, token, expiration)


def usable(session: SessionCredentials | None, now: float, min_remaining: float) -> bool:
    return session is not None and session.expiration - now > min_remaining


def _check_target_is_ours(settings: Settings, credentials: inifile.IniText) -> None:
    values = credentials.get(settings.target_profile) or {}
    if values.get("aws_access_key_id") and KEY_EXPIRATION not in values:
        raise ConfigError(
            f"Profile '{settings.target_profile}' in {credentials.path} holds keys that "
            "aws-mfa-run did not write; choose another --target-profile or remove that section."
        )


class _Locks:
    """Lock each distinct directory once (flock on the same directory twice would deadlock)."""

    def __init__(self, *paths: str) -> None:
        from contextlib import ExitStack

        self._stack = ExitStack()
        self._directories = sorted({files.directory_of(path) for path in paths})

    def __enter__(self) -> None:
        for directory in self._directories:
            self._stack.enter_context(files.locked(directory, directory=True))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _ensure_parent(path: str) -> None:
    files.ensure_directory(os.path.dirname(os.path.abspath(path)))


def write_session(settings: Settings, session: SessionCredentials) -> list[str]:
    """Write the session to the target profile; give the target's config section the source's
    region and output when it has none. Returns notes for the user."""
    notes: list[str] = []
    _ensure_parent(settings.credentials_path)
    _ensure_parent(settings.config_path)
    with _Locks(settings.credentials_path, settings.config_path):
        credentials = read_ini(settings.credentials_path)
        _check_target_is_ours(settings, credentials)
        config = read_ini(settings.config_path)
        new_credentials = inifile.edit_section(
            credentials,
            settings.target_profile,
            {**session_values(session), KEY_SOURCE: settings.source_profile},
        )
        section = config_section_name(settings.target_profile)
        current = config.get(section) or {}
        wanted = {
            key: value
            for key, value in (("region", settings.region), ("output", settings.output))
            if value and not current.get(key)
        }
        new_config = inifile.edit_section(config, section, wanted) if wanted else None
        note = files.write_atomic(
            settings.credentials_path, new_credentials, private=True, locked_directory=True
        )
        if note:
            notes.append(note)
        if new_config is not None and new_config != config.text():
            files.write_atomic(
                settings.config_path, new_config, private=False, locked_directory=True
            )
    return notes


def save_mfa_serial(settings: Settings, serial: str) -> None:
    """Remember a discovered device as `mfa_serial` in the source profile's config section."""
    _ensure_parent(settings.config_path)
    with _Locks(settings.config_path):
        config = read_ini(settings.config_path)
        section = config_section_name(settings.source_profile)
        if section == "default" and config.get("default") is None and config.get("profile default"):
            section = "profile default"
        new = inifile.edit_section(config, section, {"mfa_serial": serial})
        files.write_atomic(settings.config_path, new, private=False, locked_directory=True)
