"""`aws-mfa-run --status`: which sessions aws-mfa-run holds, without any AWS call.

Data goes to stdout: a table for people. Every profile is listed that has an mfa_serial or a
role_arn, or whose session aws-mfa-run stored (whatever its target), by the name a user types.
"""

from __future__ import annotations

from aws_mfa_run.aws.answers import from_stored
from aws_mfa_run.commands.rotate_keys import pending_deletion
from aws_mfa_run.credentials import store
from aws_mfa_run.credentials.longterm import checked_without_running, visible_key_id
from aws_mfa_run.credentials.mfa_session import keyring_holds
from aws_mfa_run.credentials.role import RoleCache
from aws_mfa_run.errors import MfaRunError, UsageError
from aws_mfa_run.profiles import config_profiles, config_values, profile_values
from aws_mfa_run.settings import (
    KEY_SOURCE,
    Request,
    requested_profile,
    resolve,
    wanted_min_remaining,
)
from aws_mfa_run.status_json import LoginTargetState, RoleCacheState, StatusRow, render
from aws_mfa_run.timefmt import describe_left, describe_until
from aws_mfa_run.warm import KEY_SOURCE_KEY, is_access_key_id, made_with

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_mfa_run.commands import Context
    from aws_mfa_run.inifile import IniText
    from aws_mfa_run.settings import Settings


def profiles_to_show(config: IniText, credentials: IniText) -> list[tuple[str, str | None]]:
    """(profile, target) pairs: profiles with an mfa_serial or a role_arn, and every stored
    session of ours (target None: the profile's default target)."""
    shown: list[tuple[str, str | None]] = []
    for name in config_profiles(config):
        values = config_values(name, config) or {}
        if "mfa_serial" in values or "role_arn" in values:
            shown.append((name, None))
    for section in credentials.sections.values():
        if "mfa_serial" in section.values:
            shown.append((section.name, None))
    for section in credentials.sections.values():
        source = section.values.get(KEY_SOURCE)
        if source:
            shown.append((source, section.name))
    return list(dict.fromkeys(shown))


def collect(context: Context, explicit: str | None) -> list[StatusRow]:

    config, credentials = context.files()
    if explicit:
        # A profile in neither file is an error (exit 3), as in every other mode.
        profile_values(explicit, config, credentials, context.env)
        pairs = [(explicit, context.options.target_profile)]
    else:
        pairs = profiles_to_show(config, credentials)
    rows: list[StatusRow] = []
    seen: set[tuple[str, str | None]] = set()
    for name, target in pairs:
        row = StatusRow(name)
        request = Request(
            profile=name, target_profile=target, min_remaining=context.options.min_remaining
        )
        try:
            settings = resolve(request, context.env, config, credentials, context.paths)
        except MfaRunError as error:
            row.error = str(error)
            rows.append(row)
            continue
        row.profile = settings.profile
        row.source = settings.source_profile
        row.target = settings.session_target
        row.device = settings.serial
        row.keys, no_keys = _keys(settings.source_profile, context, config, credentials)
        key = (row.profile, row.target if not settings.roles else None)
        if key in seen:
            continue
        seen.add(key)
        foreign = store.foreign_keys(credentials, settings.session_target)
        if foreign:
            row.error = foreign  # a login would be refused, and nothing there is served
            rows.append(row)
            continue
        session = store.stored_session(credentials, settings.session_target, row.source)
        row.expiration = None if session is None else session.expiration
        if no_keys and (session is None or session.remaining(context.clock()) <= 0):
            row.error = no_keys  # nothing to serve, and no session can be had: as every mode
            rows.append(row)
            continue
        not_reused = _reuse_check(settings, context, config, credentials)
        if row.expiration is not None and row.target is not None:
            row.not_reused = not_reused(credentials.get(row.target) or {})
        margin = (
            settings.min_remaining if session is None else session.margin(settings.min_remaining)
        )
        row.margin = int(margin)
        if settings.roles:
            row.kind = "role"
            for index, role in enumerate(settings.roles):
                values = RoleCache(settings, index).values()
                cached = from_stored(values)
                expiration = None if cached is None else cached.expiration
                why = None
                if values and cached and cached.remaining(context.clock()) > 0:
                    why = not_reused(values)
                row.role_caches.append(RoleCacheState(role.profile, role.role_arn, expiration, why))
            row.login_target = _login_target(
                settings.login_target, row, credentials, not_reused, context.clock()
            )
        rows.append(row)
    return rows


def _login_target(
    target: str,
    row: StatusRow,
    credentials: IniText,
    not_reused: Callable[[Mapping[str, str]], str | None],
    now: float,
) -> LoginTargetState | None:
    """The role credentials `aws mfa -p ROLE` stored in the role's login target, if any."""
    stored = store.stored_session(credentials, target, row.profile)
    if stored is None or store.foreign_keys(credentials, target):
        return None
    values = credentials.get(target) or {}
    why = not_reused(values) if stored.remaining(now) > 0 else None
    return LoginTargetState(target, stored.expiration, why)


def _reuse_check(
    settings: Settings, context: Context, config: IniText, credentials: IniText
) -> Callable[[Mapping[str, str]], str | None]:
    """Why stored credentials (an MFA session, a role cache, a login target) of the settings'
    source will not be reused though they have time left, as every mode decides: made with
    another long-term key than the source holds now (perhaps another IAM user's), unless,
    beside a keyring profile, the keyring itself holds the key they were made with (read, never
    mended: --status writes nothing)."""
    profile = settings.source_profile
    current = _visible_key(profile, context, config, credentials)

    def not_reused(values: Mapping[str, str]) -> str | None:
        why = _other_key(values, profile, current)
        made_with_key = values.get(KEY_SOURCE_KEY)
        if why and keyring_holds(settings, config, credentials, made_with_key, mend=False):
            return None
        return why

    return not_reused


def _visible_key(
    profile: str, context: Context, config: IniText, credentials: IniText
) -> str | None:
    try:
        return visible_key_id(profile, config, credentials, context.env)
    except MfaRunError:
        return None  # the keys' own trouble is what a login would say


def _other_key(values: Mapping[str, str], profile: str, current: str | None) -> str | None:
    """Why stored credentials (an MFA session, a role cache) will not be reused: recorded as
    made with another key than `current`, the key the source holds now (see warm.made_with)."""
    if made_with(values, current):
        return None
    recorded = values.get(KEY_SOURCE_KEY) or ""
    if current == "":  # no long-term key in sight: another tool's session exported
        return (
            f"profile '{profile}' shows no long-term key here (another tool's session "
            "credentials are exported): not reused"
        )
    if not is_access_key_id(recorded):  # an edit damaged the record: not ours to show
        return (
            f"its record of the access key it was made with ({KEY_SOURCE_KEY}) is damaged: "
            "not reused, the next use gets a new session"
        )
    return (
        f"made with access key {recorded}, but profile '{profile}' now holds "
        f"{current}: not reused, the next use gets a new session"
    )


def _keys(
    profile: str, context: Context, config: IniText, credentials: IniText
) -> tuple[str | None, str | None]:
    """Where the profile's long-term keys come from (no process is run), and an old key that an
    interrupted rotation left to delete; else None and the sentence every other mode gives."""
    try:
        found = checked_without_running(profile, config, credentials, context.env)
    except MfaRunError as error:
        return None, str(error)
    old = pending_deletion(context.paths.state_dir, profile, found.access_key_id)
    if old:
        return f"{found.origin} (old key {old} still to delete: --rotate-keys)", None
    return found.origin, None


def describe(expiration: float | None, margin: int | None, now: float) -> str:
    if expiration is None:
        return "none"
    if expiration <= now:
        return describe_until(expiration, now)
    renewed = f"; renewed under {describe_left(margin)} left" if margin else ""
    return f"valid {describe_until(expiration, now)}{renewed}"


def render_text(rows: list[StatusRow], now: float) -> str:
    """The table for people: one line per profile, one time format (local)."""
    if not rows:
        return "No profile has an mfa_serial, a role_arn or a stored session yet.\n"
    table = [("PROFILE", "SOURCE", "TARGET", "MFA DEVICE", "KEYS", "SESSION")]
    for row in rows:
        keys = row.keys or "none"
        if row.error is not None:
            table.append((row.profile, "-", "-", "-", "-", row.error))
        elif row.kind == "role":
            cache = row.role_caches[0]
            device = row.device or "(not known yet)"
            table.append(
                (
                    row.profile,
                    row.source or "-",
                    "(role cache)",
                    device,
                    keys,
                    cache.not_reused or describe(cache.expiration, row.margin, now),
                )
            )
            target = row.login_target
            if target is not None:  # what `aws mfa -p ROLE` wrote for other tools
                described = describe(target.expiration, None, now)  # not renewed by itself
                table.append(
                    (
                        row.profile,
                        row.source or "-",
                        target.profile,
                        device,
                        keys,
                        target.not_reused or f"role credentials {described}",
                    )
                )
        else:
            device = row.device or "(not known yet)"
            session = row.not_reused or describe(row.expiration, row.margin, now)
            table.append((row.profile, "-", row.target or "-", device, keys, session))
    widths = [max(len(line[column]) for line in table) for column in range(5)]
    lines = []
    for line in table:
        cells = "  ".join(cell.ljust(width) for cell, width in zip(line[:5], widths))
        lines.append(f"{cells}  {line[5]}\n")
    return "".join(lines)


def run(context: Context) -> int:
    options, env = context.options, context.env
    explicit = None
    if (
        options.profile is not None
        or context.aws_globals().get("profile")
        or env.get("AWS_PROFILE")
        or env.get("AWS_DEFAULT_PROFILE")
    ):
        explicit = requested_profile(context.request(), env)
    if options.target_profile is not None and explicit is None:
        # Every profile has its own target: one --target-profile names none of them.
        raise UsageError("--status --target-profile needs the profile it is for: add -p NAME.")
    if options.min_remaining is not None:
        wanted_min_remaining(context.request(), None)  # a bad value: exit 2, as in every mode
    rows = collect(context, explicit)
    now = context.clock()
    if options.json:
        context.write(render(rows, now))
    else:
        context.write(render_text(rows, now))
    return 0
