"""`--status`: which sessions the store holds, without any AWS call. Data goes to stdout."""

from __future__ import annotations

from aws_mfa_run import roles, store
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.errors import MfaRunError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.settings import KEY_SOURCE, Options, resolve
from aws_mfa_run.timefmt import describe_until, format_utc

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def profiles_with_mfa(config: IniText, credentials: IniText) -> list[str]:
    """Profiles with an mfa_serial or a role_arn, and the sources of the sessions we stored."""
    names: list[str] = []
    for section in config.sections.values():
        if "mfa_serial" in section.values or "role_arn" in section.values:
            name = section.name
            names.append("default" if name == "default" else name.split(None, 1)[-1])
    for section in credentials.sections.values():
        if "mfa_serial" in section.values:
            names.append(section.name)
        if KEY_SOURCE in section.values:
            names.append(section.values[KEY_SOURCE])
    return list(dict.fromkeys(names))


def _describe(session: SessionCredentials | None, now: float) -> str:
    if session is None:
        return "none"
    if session.expiration > now:
        return f"valid {describe_until(session.expiration, now)}"
    return f"expired at {format_utc(session.expiration)}"


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
    rows = [("PROFILE", "SOURCE", "TARGET", "MFA DEVICE", "KEYS", "SESSION")]
    for name in names:
        options.profile = name
        try:
            role_plan = roles.plan(options, env, config, credentials, state_dir)
            if role_plan is None:
                settings = resolve(options, env, config, credentials, state_dir)
                session = store.stored_session(settings, credentials)
                rows.append(
                    (
                        name,
                        "-",
                        settings.target_profile,
                        settings.serial or "(not known yet)",
                        _keys(name, env, config, credentials, state_dir),
                        _describe(session, now),
                    )
                )
                continue
            cache = roles.RoleCache(state_dir, role_plan.chain[0])
            rows.append(
                (
                    name,
                    role_plan.source.source_profile,
                    "(role cache)",
                    role_plan.source.serial or "(not known yet)",
                    _keys(role_plan.source.source_profile, env, config, credentials, state_dir),
                    _describe(cache.read(), now),
                )
            )
        except MfaRunError as error:
            rows.append((name, "-", "-", "-", "-", str(error)))
    if len(rows) == 1:
        return ["No profile has an mfa_serial, a role_arn or a stored session yet."]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5]
        for row in rows
    ]


def _keys(
    profile: str, env: Mapping[str, str], config: IniText, credentials: IniText, state_dir: str
) -> str:
    """Where the profile's long-term keys come from (no process is run), and an old key that an
    interrupted rotation left to delete."""
    from aws_mfa_run.commands.rotate_keys import pending_deletion
    from aws_mfa_run.credentials.longterm import keys_without_running

    found = keys_without_running(profile, config, credentials, env)
    if found is None:
        return "none"
    old = pending_deletion(state_dir, profile, found.access_key_id)
    return f"{found.origin} (old key {old} still to delete: --rotate-keys)" if old else found.origin
