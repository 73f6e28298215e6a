"""`aws-mfa-run --login [CODE]` (what `aws mfa` runs): store a session in the target profile.

With a code on the command line it logs in now, replacing a stored session; without one it
reuses a stored session that is still valid.
"""

from __future__ import annotations

from aws_mfa_run import files
from aws_mfa_run.credentials import state, store
from aws_mfa_run.credentials.cached import cached_fetch
from aws_mfa_run.credentials.chain import get_credentials
from aws_mfa_run.credentials.longterm import visible_key_id
from aws_mfa_run.credentials.mfa_session import keyring_holds
from aws_mfa_run.credentials.role import RoleCache, describe
from aws_mfa_run.timefmt import describe_until
from aws_mfa_run.warm import KEY_ID, KEY_SOURCE_KEY

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.aws.answers import SessionCredentials
    from aws_mfa_run.commands import Context
    from aws_mfa_run.settings import Settings


def run(context: Context) -> int:
    config, credentials = context.files()
    settings = context.settings(config, credentials)
    code = context.token_code()
    # A code typed for a login means "log in now": it is spent even while a session is valid.
    force, renew = context.options.force or code is not None, code is not None
    if settings.followed_from is not None:
        context.say(
            f"Profile '{settings.followed_from}' is served by aws-mfa-run from profile "
            f"'{settings.profile}'; logging in '{settings.profile}'."
        )
    now = context.clock()
    if not settings.roles:
        session, fetched = _fetch(context, settings, code, force=force, renew=renew)
        context.say(_report(settings, session, fetched, now, ""))
        return 0
    # A role profile: its credentials go to its own target (admin-mfa for admin), checked here
    # before any code, as the chain checks the MFA session's target; then the one cached-fetch
    # template, with the target as the cache: of two logins at once, one assumes the role.
    target, paths, env = settings.login_target, settings.paths, context.env
    store.check_target(credentials, config, target, settings.profile)
    files.check_writable(paths.credentials)
    files.check_writable(paths.config)
    files.ensure_private_directories(paths.state_dir)

    def stored() -> SessionCredentials | None:
        held, config = store.read_ini(paths.credentials), store.read_ini(paths.config)
        # Role credentials assumed with a session of another long-term key of the source
        # (another IAM user's, perhaps) are that key's: never kept as valid. Beside a keyring
        # profile, the keyring itself decides (mfa_session.keyring_holds).
        current = visible_key_id(settings.source_profile, config, held, env)
        other = store.other_source_key(held, target, current)
        if other is not None and not keyring_holds(settings, config, held, other, mend=True):
            return None
        return store.stored_session(held, target, settings.profile)

    def write(session: SessionCredentials) -> None:
        # The key the MFA session that assumed the role was made with, as the role cache that
        # holds these very credentials recorded it (read before AssumeRole: see role.py).
        cached = RoleCache(settings, 0).values() or {}
        same = cached.get(KEY_ID) == session.access_key_id
        for note in store.write_session(
            source_key_id=cached.get(KEY_SOURCE_KEY) if same else None,
            credentials_path=paths.credentials,
            config_path=paths.config,
            state_dir=paths.state_dir,
            target=target,
            source=settings.profile,
            session=session,
            copied=settings.login_copies,
            expected_sections=set(credentials.sections),
            env=env,
        ):
            context.say(note)

    session, fetched = cached_fetch(
        read=stored,
        usable=lambda found: found.usable(context.clock(), settings.min_remaining),
        fetch=lambda: _fetch(context, settings, code, force=force, renew=renew)[0],
        write=write,
        lock_path=state.session_lock(paths.state_dir, paths.credentials, settings.profile, target),
        force=force,
        adopt_failure=code is None,
    )
    via = f" ({describe(settings)})" if fetched else ""
    context.say(_report(settings, session, fetched, context.clock(), via))
    return 0


def _fetch(
    context: Context, settings: Settings, code: str | None, *, force: bool, renew: bool
) -> tuple[SessionCredentials, bool]:
    return get_credentials(
        settings,
        context.env,
        context.prompting(),
        token_code=code,
        force=force,
        renew_session=renew,
        allow_inherited=False,
    )


def _report(
    settings: Settings, session: SessionCredentials, fetched: bool, now: float, via: str
) -> str:
    until = describe_until(session.expiration, now)
    target = settings.login_target
    # A role profile's target holds the role's credentials (assumed with an MFA session).
    if settings.roles:
        what, held, fresh = "role credentials", "role credentials", "new ones"
    else:
        what, held, fresh = "MFA session", "an MFA session", "a new one"
    if fetched:
        return f"Profile '{settings.profile}'{via} -> '{target}': {what} valid {until}."
    return (
        f"Profile '{target}' already holds {held} of '{settings.profile}', valid {until}; "
        f"nothing to do (`aws mfa CODE` or --force gets {fresh})."
    )
