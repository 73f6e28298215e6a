"""Role profiles behind MFA: one MFA session of the source covers every role assumed from it.

A role profile (`role_arn` + `source_profile`, chains allowed) is served by AssumeRole called with
the MFA session of the source profile with the long-term keys, so the role sees MFA as present and
no further code is needed until that session ends. Role credentials are cached in a private file
of ours named by everything that decides them (see `_identity`), and reused while valid.
"""

from __future__ import annotations

import os

from aws_mfa_run import files, inifile
from aws_mfa_run.aws import sts
from aws_mfa_run.aws.answers import SessionCredentials, from_stored, stored_values
from aws_mfa_run.credentials import state, store
from aws_mfa_run.credentials.cached import cached_fetch
from aws_mfa_run.credentials.longterm import visible_key_id
from aws_mfa_run.credentials.mfa_session import Prompting, get_mfa_session, keyring_holds
from aws_mfa_run.errors import ConfigError, RoleDeniedError, SessionExpiredError
from aws_mfa_run.settings import ROLE_SOURCE_MIN_REMAINING, Role, Settings
from aws_mfa_run.warm import KEY_ID, KEY_SOURCE, KEY_SOURCE_KEY, made_with

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def _identity(settings: Settings, index: int) -> tuple[str, ...]:
    """Everything that decides the credentials of role `index` of the chain: the files, the
    source profile, and each role from the source up (ARN, external id, session name)."""
    parts = [
        os.path.realpath(settings.paths.config),
        os.path.realpath(settings.paths.credentials),
        settings.source_profile,
        settings.session_target,
    ]
    for role in reversed(settings.roles[index:]):
        parts += [role.profile, role.role_arn, role.external_id or "", role.session_name or ""]
    return tuple(parts)


class RoleCache:
    """Role credentials of one role of one chain, in `~/.aws/aws-mfa-run/roles/` (0600 in 0700),
    with the source profile and the long-term key id recorded by the MFA session that began the
    chain (KEY_SOURCE_KEY: the key it was made with; see warm.made_with)."""

    def __init__(self, settings: Settings, index: int) -> None:
        self.path = state.role_cache(settings.paths.state_dir, *_identity(settings, index))
        self.role = settings.roles[index]
        self.source = settings.source_profile

    def values(self) -> dict[str, str] | None:
        """The cache's recorded lines, valid or not; None when there is no cache we can read."""
        return _cache_values(self.path)

    def read(self, current_key_id: str | None = None) -> SessionCredentials | None:
        """The cached credentials; None also when they were assumed with a session of another
        long-term key than the source's `current_key_id` (see warm.made_with)."""
        values = self.values()
        if values is None or not made_with(values, current_key_id):
            return None
        return from_stored(values)

    def write(self, credentials: SessionCredentials, source_key_id: str | None = None) -> None:
        files.ensure_directory(os.path.dirname(self.path))
        values = {
            "role_arn": self.role.role_arn,
            KEY_SOURCE: self.source,
            KEY_SOURCE_KEY: source_key_id,
            **stored_values(credentials),
        }
        text = inifile.edit_section(inifile.parse("", self.path), "role", values)
        files.write_atomic(self.path, text, private=True)

    def remove(self) -> bool:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        except OSError as error:
            raise ConfigError(f"Cannot remove {self.path}: {error.strerror}.") from None
        return True


def _cache_values(path: str) -> dict[str, str] | None:
    text = files.read_text(path)
    if not text:
        return None
    try:
        return inifile.parse(text, path).get("role")
    except ConfigError:
        return None  # a damaged cache is no cache


def _record_beside(values: Mapping[str, str] | None, key_id: str) -> tuple[bool, str | None]:
    """Whether `values` (a stored section) holds the credentials with access key id `key_id`,
    and then the long-term key id recorded with them (None: a session of the previous version,
    which recorded none)."""
    if not values or values.get(KEY_ID) != key_id:
        return False, None
    return True, values.get(KEY_SOURCE_KEY)


def _cache_paths(state_dir: str) -> list[str]:
    """The role caches' files, by name."""
    directory = os.path.join(state_dir, state.ROLES)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as error:
        raise ConfigError(f"Cannot read {directory}: {error.strerror}.") from None
    return [os.path.join(directory, name) for name in names if name.endswith(".ini")]


def end_caches_of_other_keys(state_dir: str, source: str, key_id: str) -> int:
    """Remove every role cache of `source` assumed with a session of another long-term key than
    `key_id` (--store-keys: once the keys are in the keyring no file shows their id, so these
    could no longer be told apart). A cache without the source recorded (written before it was)
    goes when it records another key: it may be the source's. Returns how many went."""
    removed = 0
    for path in _cache_paths(state_dir):
        values = _cache_values(path) or {}
        recorded, holder = values.get(KEY_SOURCE_KEY), values.get(KEY_SOURCE)
        if recorded is None or recorded == key_id or holder not in (None, source):
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(f"Cannot remove {path}: {error.strerror}.") from None
        removed += 1
    return removed


def move_caches_source_key(state_dir: str, source: str, old_id: str, new_id: str) -> int:
    """Record every role cache of `source` assumed with a session of `old_id` as assumed with
    `new_id` (--rotate-keys: a new key of the same IAM user keeps its role credentials, as it
    keeps its sessions). Returns how many moved."""
    moved = 0
    for path in _cache_paths(state_dir):
        text = files.read_text(path)
        values = _cache_values(path) or {}
        if not text or values.get(KEY_SOURCE_KEY) != old_id or values.get(KEY_SOURCE) != source:
            continue
        edited = inifile.edit_section(inifile.parse(text, path), "role", {KEY_SOURCE_KEY: new_id})
        try:
            files.write_atomic(path, edited, private=True, based_on=text)
        except files.FileChangedError:
            continue  # written anew meanwhile, by a fetch that recorded its own key
        moved += 1
    return moved


def get_role_credentials(
    settings: Settings,
    env: Mapping[str, str],
    prompting: Prompting,
    *,
    token_code: str | None,
    force: bool,
    renew_session: bool,
    margin: float,
) -> tuple[SessionCredentials, bool]:
    """Credentials of the settings' role, and whether any STS call was made for them.

    The source's MFA session is read (or fetched) only when a role of the chain needs it.
    """

    def cached(cache: RoleCache) -> SessionCredentials | None:
        """The cache's credentials, while they were assumed with a session of the source's
        current key: as the files or the environment show it, or where those disagree beside a
        keyring profile, as the keyring itself says (mfa_session.keyring_holds)."""
        paths = settings.paths
        config, credentials = store.read_ini(paths.config), store.read_ini(paths.credentials)
        found = cache.read(visible_key_id(settings.source_profile, config, credentials, env))
        if found is not None:
            return found
        values = cache.values() or {}
        recorded = values.get(KEY_SOURCE_KEY)
        if keyring_holds(settings, config, credentials, recorded, mend=True):
            return from_stored(values)
        return None

    def for_role(index: int) -> tuple[SessionCredentials, bool]:
        role: Role = settings.roles[index]
        cache = RoleCache(settings, index)
        clock = prompting.clock
        # The long-term key id recorded beside the credentials that assumed this role (the MFA
        # session, or the next role's cache), read before the call: the files may hold other
        # keys by the time AWS answers. Unknown (that record replaced meanwhile): not cached.
        caller_record: list[tuple[bool, str | None]] = []

        def assume(caller: SessionCredentials) -> SessionCredentials:

            return sts.assume_role(
                caller=caller,
                profile=role.profile,
                role_arn=role.role_arn,
                session_name=role.session_name or f"aws-mfa-run-{int(clock())}",
                external_id=role.external_id,
                duration=role.duration,
                region=role.region or settings.region,
                env=env,
                clock=clock,
            )

        def session(ended: str | None = None) -> tuple[SessionCredentials, bool]:
            return get_mfa_session(
                settings,
                env,
                prompting,
                token_code=token_code,
                force=renew_session,
                margin=ROLE_SOURCE_MIN_REMAINING,
                ended=ended,
            )

        def fetch() -> SessionCredentials:
            if index + 1 < len(settings.roles):
                caller, _ = for_role(index + 1)
                next_cache = RoleCache(settings, index + 1)
                caller_record.append(_record_beside(next_cache.values(), caller.access_key_id))
                return assume(caller)
            caller, fetched_now = session()
            stored = store.read_ini(settings.paths.credentials).get(settings.session_target)
            caller_record.append(_record_beside(stored, caller.access_key_id))
            try:
                return assume(caller)
            except SessionExpiredError:
                if fetched_now:
                    raise
                # AWS says the stored session has ended, whatever its stored end says (a file
                # edited, a clock behind AWS's): renewed as a session known to have ended is.
                caller, _ = session(ended=caller.access_key_id)
                stored = store.read_ini(settings.paths.credentials).get(settings.session_target)
                caller_record.append(_record_beside(stored, caller.access_key_id))
                return assume(caller)
            except RoleDeniedError:
                if fetched_now:
                    raise  # a session just issued: the role's side refused
                source = settings.source_profile
                login = "aws mfa CODE" + ("" if source == "default" else f" -p {source}")
                raise RoleDeniedError(
                    f"AWS denied assuming role {role.role_arn} for profile '{role.profile}' with "
                    f"the stored MFA session of '{source}': that session may have been revoked "
                    f"(`{login}` gets a new one), or the role's trust policy, its MFA condition "
                    "or external_id do not allow it."
                ) from None

        def write(fresh: SessionCredentials) -> None:
            known, record = caller_record[-1] if caller_record else (False, None)
            if known:
                cache.write(fresh, record)

        return cached_fetch(
            read=lambda: cached(cache),
            usable=lambda found: found.usable(clock(), margin, settings.floor),
            fetch=fetch,
            write=write,
            lock_path=state.lock_for(cache.path),
            force=force or renew_session,
            adopt_failure=token_code is None,
        )

    return for_role(0)


def describe(settings: Settings) -> str:
    return f"role {settings.roles[0].role_arn} via '{settings.source_profile}'"
