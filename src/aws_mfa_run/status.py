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


def _describe(expiration: float | None, now: float) -> str:
    if expiration is None:
        return "none"
    if expiration > now:
        return f"valid {describe_until(expiration, now)}"
    return f"expired at {format_utc(expiration)}"


def _expiration(session: SessionCredentials | None) -> float | None:
    return None if session is None else session.expiration


class RoleCacheState:
    """One role of a profile's chain and the credentials cached for it (no secret kept)."""

    def __init__(self, profile: str, role_arn: str, expiration: float | None) -> None:
        self.profile = profile
        self.role_arn = role_arn
        self.expiration = expiration


class StatusRow:
    """What the store holds for one profile: computed once, rendered as text or as JSON.

    `target` and `expiration` describe the MFA session of the profile with the long-term keys
    (for a role profile, of its source); `role_caches` lists the profile's chain, its own first.
    """

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.kind = "session"  # session | role
        self.source: str | None = None
        self.target: str | None = None
        self.device: str | None = None
        self.expiration: float | None = None
        self.margin: int | None = None
        self.role_caches: list[RoleCacheState] = []
        self.error: str | None = None


def status_rows(
    options: Options,
    env: Mapping[str, str],
    config: IniText,
    credentials: IniText,
    state_dir: str,
    explicit_profile: str | None,
) -> list[StatusRow]:
    names = [explicit_profile] if explicit_profile else profiles_with_mfa(config, credentials)
    rows: list[StatusRow] = []
    for name in names:
        row = StatusRow(name)
        rows.append(row)
        options.profile = name
        try:
            role_plan = roles.plan(options, env, config, credentials, state_dir)
            settings = (
                role_plan.source
                if role_plan
                else resolve(options, env, config, credentials, state_dir)
            )
            row.source = settings.source_profile
            row.target = settings.target_profile
            row.device = settings.serial
            row.margin = settings.min_remaining
            row.expiration = _expiration(store.stored_session(settings, credentials))
            if role_plan is not None:
                row.kind = "role"
                for role in role_plan.chain:
                    cache = roles.RoleCache(state_dir, role)
                    row.role_caches.append(
                        RoleCacheState(role.profile, role.role_arn, _expiration(cache.read()))
                    )
        except MfaRunError as error:
            row.error = str(error)
    return rows


def render_text(rows: list[StatusRow], now: float) -> list[str]:
    """The table for people: one line per profile, local times."""
    table = [("PROFILE", "SOURCE", "TARGET", "MFA DEVICE", "SESSION")]
    for row in rows:
        if row.error is not None:
            table.append((row.profile, "-", "-", "-", row.error))
        elif row.kind == "role":
            table.append(
                (
                    row.profile,
                    row.source or "-",
                    "(role cache)",
                    row.device or "(not known yet)",
                    _describe(row.role_caches[0].expiration, now),
                )
            )
        else:
            table.append(
                (
                    row.profile,
                    "-",
                    row.target or "-",
                    row.device or "(not known yet)",
                    _describe(row.expiration, now),
                )
            )
    if len(table) == 1:
        return ["No profile has an mfa_serial, a role_arn or a stored session yet."]
    widths = [max(len(line[column]) for line in table) for column in range(4)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line[:4], widths)) + "  " + line[4]
        for line in table
    ]
