"""`aws-mfa-run --status`: which sessions aws-mfa-run holds, without any AWS call.

Data goes to stdout: a table for people. Every profile is listed that has an mfa_serial or a
role_arn, or whose session aws-mfa-run stored (whatever its target), by the name a user types.
"""

from __future__ import annotations

from aws_mfa_run.credentials import store
from aws_mfa_run.errors import MfaRunError
from aws_mfa_run.settings import KEY_SOURCE, config_profiles, config_values
from aws_mfa_run.timefmt import describe_left, describe_until

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context
    from aws_mfa_run.credentials.session import SessionCredentials
    from aws_mfa_run.inifile import IniText


class Row:
    """One profile's state; `error` is set when its settings cannot be resolved."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.source = "-"
        self.target = "-"
        self.device = "-"
        self.kind = "session"  # session | role
        self.credentials: SessionCredentials | None = None
        self.margin = 0.0
        self.error: str | None = None


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


def collect(context: Context, explicit: str | None) -> list[Row]:
    from aws_mfa_run.arguments import Options
    from aws_mfa_run.credentials.role import RoleCache
    from aws_mfa_run.settings import resolve

    config, credentials = context.files()
    pairs = (
        [(explicit, context.options.target_profile)]
        if explicit
        else (profiles_to_show(config, credentials))
    )
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    for name, target in pairs:
        row = Row(name)
        options = Options()
        options.profile, options.target_profile = name, target
        options.min_remaining = context.options.min_remaining
        try:
            settings = resolve(options, context.env, {}, config, credentials, context.paths)
        except MfaRunError as error:
            row.error = str(error)
            rows.append(row)
            continue
        row.profile = settings.profile
        row.source = settings.source_profile if settings.roles else "-"
        row.device = settings.serial or "(not known yet)"
        if settings.roles:
            row.kind = "role"
            row.target = "(role cache)"
            row.credentials = RoleCache(settings, 0).read()
        else:
            row.target = settings.session_target
            row.credentials = store.stored_session(
                credentials, settings.session_target, settings.source_profile
            )
        key = (row.profile, row.target)
        if key in seen:
            continue
        seen.add(key)
        if row.credentials is not None:
            row.margin = row.credentials.margin(settings.min_remaining)
        rows.append(row)
    return rows


def describe(row: Row, now: float) -> str:
    if row.error is not None:
        return row.error
    if row.credentials is None:
        return "none"
    if row.credentials.expiration <= now:
        return describe_until(row.credentials.expiration, now)
    margin = describe_left(row.margin)
    return f"valid {describe_until(row.credentials.expiration, now)}; renewed under {margin} left"


def run(context: Context) -> int:
    options, env = context.options, context.env
    explicit = None
    if options.profile or context.aws_globals().get("profile") or env.get("AWS_PROFILE"):
        from aws_mfa_run.settings import requested_profile

        explicit = requested_profile(options, env, context.aws_globals())
    rows = collect(context, explicit)
    if not rows:
        context.write("No profile has an mfa_serial, a role_arn or a stored session yet.\n")
        return 0
    now = context.clock()
    table = [("PROFILE", "SOURCE", "TARGET", "MFA DEVICE", "SESSION")]
    table += [(r.profile, r.source, r.target, r.device, describe(r, now)) for r in rows]
    widths = [max(len(line[column]) for line in table) for column in range(4)]
    for line in table:
        cells = "  ".join(cell.ljust(width) for cell, width in zip(line[:4], widths))
        context.write(f"{cells}  {line[4]}\n")
    return 0
