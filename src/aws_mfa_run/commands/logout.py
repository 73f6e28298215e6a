"""`aws-mfa-run --logout [-p NAME] [--all]`: remove what aws-mfa-run stored for a source profile.

Its session keys in every target (a section goes when nothing else is left in it), the values
we copied into the targets' config sections, the role credentials cached for roles assumed from
it, and its lock. Keys in a target that are not the ones we wrote (`aws configure set` put others
there) stay: only our own lines go, and the user is told. The codes already sent for a device
are remembered on (they are spent, not secret): a code is never sent twice. Every other byte
stays; twice is fine.
"""

from __future__ import annotations

import os

from aws_mfa_run import files
from aws_mfa_run.credentials import state, store
from aws_mfa_run.credentials.role import RoleCache
from aws_mfa_run.errors import MfaRunError, UsageError
from aws_mfa_run.profiles import config_profiles
from aws_mfa_run.settings import KEY_SOURCE, Request, resolve

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aws_mfa_run.commands import Context
    from aws_mfa_run.inifile import IniText
    from aws_mfa_run.settings import Settings


def _settings_of(
    context: Context, profile: str, config: IniText, credentials: IniText
) -> Settings | None:

    try:
        return resolve(Request(profile=profile), context.env, config, credentials, context.paths)
    except MfaRunError:
        return None


def run(context: Context) -> int:

    options, paths = context.options, context.paths
    config, credentials = context.files()
    config.validate()
    credentials.validate()
    if options.all:
        if context.aws_globals().get("profile"):  # `aws --profile NAME mfa --logout --all`
            raise UsageError(
                "--logout --all logs out every profile; drop --profile, or drop --all to log "
                "out one."
            )
        sources = None
        what = ""
    else:
        sources = {context.settings(config, credentials).source_profile}
        what = f"profile '{next(iter(sources))}'"

    def ours(source: str | None) -> bool:
        return source is not None and (sources is None or source in sources)

    # Role profiles assumed from the sources, and their caches.
    role_profiles: dict[str, Settings] = {}
    for name in config_profiles(config):
        settings = _settings_of(context, name, config, credentials)
        if settings is not None and settings.roles and ours(settings.source_profile):
            role_profiles[name] = settings
    targets = [
        section
        for section in credentials.sections.values()
        if ours(source := section.values.get(KEY_SOURCE)) or source in role_profiles
    ]
    if targets:
        # Refused before anything is removed (role caches included): a failure changes nothing.
        files.check_writable(paths.credentials)
        files.check_writable(paths.config)
    removed = 0
    for settings in role_profiles.values():
        for index in range(len(settings.roles)):
            removed += RoleCache(settings, index).remove()

    for section in targets:
        source = section.values.get(KEY_SOURCE)
        result = store.remove_session(
            credentials_path=paths.credentials,
            config_path=paths.config,
            state_dir=paths.state_dir,
            target=section.name,
            source=source or "",
        )
        if result is not None:
            removed += 1
        if result == store.FOREIGN:
            context.say(
                f"Profile '{section.name}' holds keys that aws-mfa-run did not write; they "
                "stay as they are, and only aws-mfa-run's own lines were removed from it."
            )
        if source and sources is not None and source not in role_profiles:
            lock = state.session_lock(paths.state_dir, paths.credentials, source, section.name)
            _remove(lock, locked=True)
    if options.all:
        for directory in (state.ROLES, state.LOCKS):
            folder = os.path.join(paths.state_dir, directory)
            for name in _listing(folder):
                path = os.path.join(folder, name)
                removed += _remove(path, locked=directory == state.LOCKS)
    if removed and options.all:
        context.say("Logged out every profile: removed everything aws-mfa-run had stored.")
    elif removed:
        context.say(f"Logged out {what}: removed what aws-mfa-run stored for it.")
    elif options.all:
        context.say(
            "Nothing to log out: aws-mfa-run had stored nothing for any profile; nothing changed."
        )
    else:
        context.say(
            f"Nothing to log out: aws-mfa-run had stored nothing for {what}; nothing changed."
        )
    return 0


def _listing(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _remove(path: str, locked: bool = False) -> int:
    """Remove `path`; a lock file only while holding its lock, so that no fetch is under way."""

    try:
        if locked:
            with files.locked(path, must_exist=True):
                os.unlink(path)
        else:
            os.unlink(path)
    except (FileNotFoundError, MfaRunError):
        return 0
    except OSError:
        return 0
    return 1
