"""Role profiles behind MFA: one MFA session of the source covers every role assumed from it.

A role profile (`role_arn` + `source_profile`, chains allowed) is served by AssumeRole called with
the MFA session that `aws mfa` and the wrapper store for the source profile with the long-term
keys, so the role sees MFA as present and no further code is needed until that session ends.
Role credentials are cached per role profile in a private file of ours and reused while valid.
"""

from __future__ import annotations

import os
import time

from aws_mfa_run import files, inifile, store
from aws_mfa_run.credentials.session import SessionCredentials
from aws_mfa_run.errors import ConfigError
from aws_mfa_run.inifile import IniText
from aws_mfa_run.settings import (
    CREDENTIAL_PROCESS_MIN_REMAINING,
    KEY_EXPIRATION,
    Options,
    Settings,
    profile_values,
    resolve,
    source_profile_name,
)
from aws_mfa_run.terminal import Terminal, open_terminal
from aws_mfa_run.timefmt import format_utc, parse_utc

# Imported for type checkers only: collections.abc and typing cost import time on the warm path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# AWS treats AssumeRole called with session credentials as role chaining, which it caps at one
# hour whatever the role's MaxSessionDuration ("The requested DurationSeconds exceeds the 1 hour
# session limit for roles assumed by role chaining").
ROLE_MAX_DURATION = 3600
# The source session only has to outlive the AssumeRole call; asking for a new code earlier than
# this would be a needless prompt.
ROLE_SOURCE_MIN_REMAINING = 2 * 60
ROLES_DIRECTORY = "roles"
# When cached role credentials were fetched: how long they really last (AWS, or a stand-in, may
# give less than was asked for) caps the margin they are reused with.
KEY_FETCHED = "aws_mfa_run_fetched"


class Role:
    """One role profile of a chain, as the config file describes it."""

    def __init__(self, profile: str, values: Mapping[str, str]) -> None:
        self.profile = profile
        self.role_arn = values["role_arn"]
        self.session_name = values.get("role_session_name") or None
        self.external_id = values.get("external_id") or None
        self.mfa_serial = values.get("mfa_serial") or None
        self.region = values.get("region") or None
        self.duration = ROLE_MAX_DURATION
        if values.get("duration_seconds"):
            try:
                self.duration = min(int(values["duration_seconds"]), ROLE_MAX_DURATION)
            except ValueError:
                raise ConfigError(
                    f"duration_seconds of profile '{profile}' must be a whole number of seconds."
                ) from None
            if self.duration < 900:
                raise ConfigError(
                    f"duration_seconds of profile '{profile}' must be at least 900 seconds."
                )


def role_chain(profile: str, config: IniText, credentials: IniText) -> tuple[list[Role], str]:
    """The roles to assume, the profile's own first, and the profile holding the keys."""
    chain: list[Role] = []
    visited = [profile]
    current = profile
    while True:
        values = profile_values(current, config, credentials)
        if "role_arn" not in values:
            return chain, current
        for unsupported in ("credential_source", "web_identity_token_file"):
            if values.get(unsupported):
                raise ConfigError(
                    f"Profile '{current}' takes its role credentials from {unsupported}, which "
                    "aws-mfa-run does not support; use source_profile with long-term keys."
                )
        source = values.get("source_profile")
        if not source:
            raise ConfigError(
                f"Role profile '{current}' has no source_profile naming the profile with the keys."
            )
        chain.append(Role(current, values))
        if source in visited:
            loop = " -> ".join([*visited, source])
            raise ConfigError(f"The source_profile settings form a loop ({loop}); break it.")
        visited.append(source)
        current = source


class RoleCache:
    """Role credentials of one role profile, in `~/.aws/aws-mfa-run/roles/` (0600 in 0700)."""

    def __init__(self, state_dir: str, role: Role) -> None:
        safe = "".join(
            ch if ch.isalnum() or ch in "._-" else f"%{ord(ch):02x}" for ch in role.profile
        )
        self.directory = os.path.join(state_dir, ROLES_DIRECTORY)
        self.path = os.path.join(self.directory, f"{safe}.ini")
        self.role = role
        self.lifetime: float | None = None  # of the credentials read last, when known

    def read(self) -> SessionCredentials | None:
        self.lifetime = None
        text = files.read_text(self.path)
        if not text:
            return None
        try:
            values = inifile.parse(text, self.path).get("role") or {}
        except ConfigError:
            return None  # a damaged cache is no cache
        if values.get("role_arn") != self.role.role_arn:
            return None  # the profile now names another role
        if values.get("external_id", "") != (self.role.external_id or ""):
            return None
        expiration = parse_utc(values.get(KEY_EXPIRATION, ""))
        key_id, secret, token = (values.get(key) for key in store.SESSION_KEYS)
        if expiration is None or not key_id or not secret or not token:
            return None
        fetched = parse_utc(values.get(KEY_FETCHED, ""))
        if fetched is not None and fetched < expiration:
            self.lifetime = expiration - fetched
        return SessionCredentials(key_id, secret, token, expiration)

    def write(self, credentials: SessionCredentials, fetched: float) -> None:
        files.ensure_directory(self.directory)
        values = {
            "role_arn": self.role.role_arn,
            "external_id": self.role.external_id or "",
            **store.session_values(credentials),
            KEY_FETCHED: format_utc(fetched),
        }
        text = inifile.edit_section(inifile.parse("", self.path), "role", values)
        files.write_atomic(self.path, text, private=True)


class RolePlan:
    """What a role profile needs: its own settings, its chain, the source's settings, and the
    least time left that cached role credentials must have (0, or botocore's floor under
    credential_process)."""

    def __init__(self, settings: Settings, chain: list[Role], source: Settings, floor: int) -> None:
        self.settings = settings
        self.chain = chain
        self.source = source
        self.floor = floor


def plan(
    options: Options,
    env: Mapping[str, str],
    config: IniText,
    credentials: IniText,
    state_dir: str,
) -> RolePlan | None:
    """None when the profile is no role profile."""
    profile = source_profile_name(options, env)
    chain, base = role_chain(profile, config, credentials)
    if not chain:
        return None
    settings = resolve(options, env, config, credentials, state_dir)
    if settings.region is None:
        settings.region = profile_values(base, config, credentials).get("region") or None
    import copy

    base_options = copy.copy(options)
    base_options.profile = base
    base_options.aws_globals = {}
    base_options.target_profile = None
    base_options.min_remaining = None
    base_options.serial = options.serial or next(
        (role.mfa_serial for role in chain if role.mfa_serial), None
    )
    source = resolve(base_options, env, config, credentials, state_dir)
    source.mfa_process = settings.mfa_process or source.mfa_process
    source.min_remaining = min(source.min_remaining, ROLE_SOURCE_MIN_REMAINING)
    floor = CREDENTIAL_PROCESS_MIN_REMAINING if options.mode == "credential-process" else 0
    return RolePlan(settings, chain, source, floor)


def _fetch_lock_path(cache: RoleCache) -> str:
    return cache.path[: -len(".ini")] + ".lock"


def get_role_session(
    role_plan: RolePlan,
    credentials: IniText,
    *,
    token_code: str | None,
    force: bool,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.time,
    terminal_opener: Callable[[], Terminal] = open_terminal,
) -> tuple[SessionCredentials, bool]:
    """Credentials of the plan's role, and whether any STS call was made for them."""

    def for_role(index: int, force_this: bool) -> tuple[SessionCredentials, bool]:
        role = role_plan.chain[index]
        cache = RoleCache(role_plan.settings.state_dir, role)

        def margin() -> float:
            # A margin as long as a short role session would make every cached one stale at
            # once: at most half the duration asked for, and half the lifetime they really had.
            wanted = min(role_plan.settings.min_remaining, role.duration // 2)
            if cache.lifetime is not None:
                wanted = min(wanted, cache.lifetime / 2)
            return max(wanted, role_plan.floor)

        if not force_this:
            cached = cache.read()
            if cached is not None and store.usable(cached, clock(), margin()):
                return cached, False
        if index + 1 < len(role_plan.chain):
            caller, _ = for_role(index + 1, False)
        else:
            from aws_mfa_run import session

            caller, _ = session.get_session(
                role_plan.source,
                credentials,
                token_code=token_code,
                force=False,
                say=say,
                clock=clock,
                terminal_opener=terminal_opener,
            )
        files.ensure_directory(cache.directory)
        with files.locked(_fetch_lock_path(cache)):
            if not force_this:
                cached = cache.read()
                if cached is not None and store.usable(cached, clock(), margin()):
                    return cached, False
            from aws_mfa_run import sts

            fetched = clock()
            assumed = sts.assume_role(
                caller=caller,
                profile=role.profile,
                role_arn=role.role_arn,
                session_name=role.session_name or f"aws-mfa-run-{int(clock())}",
                external_id=role.external_id,
                duration=role.duration,
                region=role.region or role_plan.settings.region,
            )
            cache.write(assumed, fetched)
            return assumed, True

    return for_role(0, force)


def describe(role_plan: RolePlan) -> str:
    return f"role {role_plan.chain[0].role_arn} via '{role_plan.source.source_profile}'"
