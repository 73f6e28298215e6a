"""`--status`: which sessions the store holds, without any AWS call. Data goes to stdout."""

from __future__ import annotations

from collections.abc import Mapping

from aws_mfa_run import store
from aws_mfa_run.clock import describe_until, format_utc
from aws_mfa_run.errors import MfaRunError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.settings import KEY_SOURCE, Options, resolve


def profiles_with_mfa(config: IniText, credentials: IniText) -> list[str]:
    """Profiles with an mfa_serial, and the sources of sessions we stored, in file order."""
    names: list[str] = []
    for section, values in ((s.name, s.values) for s in config.sections.values()):
        if "mfa_serial" in values:
            names.append("default" if section == "default" else section.split(None, 1)[-1])
    for section in credentials.sections.values():
        if "mfa_serial" in section.values:
            names.append(section.name)
        if KEY_SOURCE in section.values:
            names.append(section.values[KEY_SOURCE])
    return list(dict.fromkeys(names))


def status_lines(
    options: Options,
    env: Mapping[str, str],
    config: IniText,
    credentials: IniText,
    state_dir: str,
    now: float,
    explicit_profile: str | None,
) -> list[str]:
    names = [explicit_profile] if explicit_profile else profiles_with_mfa(config, credentials)
    rows = [("PROFILE", "TARGET", "MFA DEVICE", "SESSION")]
    for name in names:
        options.profile = name
        try:
            settings = resolve(options, env, config, credentials, state_dir)
        except MfaRunError as error:
            rows.append((name, "-", "-", str(error)))
            continue
        session = store.stored_session(settings, credentials)
        if session is None:
            state = "none"
        elif session.expiration > now:
            state = f"valid {describe_until(session.expiration, now)}"
        else:
            state = f"expired at {format_utc(session.expiration)}"
        rows.append((name, settings.target_profile, settings.serial or "(not known yet)", state))
    if len(rows) == 1:
        return ["No profile has an mfa_serial or a stored session yet."]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3]
        for row in rows
    ]
