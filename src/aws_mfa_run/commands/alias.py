"""`aws-mfa-run --install-alias`: merge the `aws mfa` alias into the AWS CLI's alias file."""

from __future__ import annotations

import os

from aws_mfa_run import files, inifile
from aws_mfa_run.credentials import state
from aws_mfa_run.errors import ConfigError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from aws_mfa_run.commands import Context

ALIAS_SECTION = "toplevel"
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A wheel carries cli-alias/alias inside the package; an editable install or a source checkout
# reads it where it lives in the repository.
SHIPPED_ALIAS_FILES = (
    os.path.join(_PACKAGE, "cli-alias"),
    os.path.join(os.path.dirname(os.path.dirname(_PACKAGE)), "cli-alias", "alias"),
)


def shipped_alias_text() -> str:
    for path in SHIPPED_ALIAS_FILES:
        text = files.read_text(path)
        if text:
            return text
    raise ConfigError(
        "The alias file that comes with aws-mfa-run is missing from its installation; "
        "reinstall aws-mfa-run."
    )


def shipped_aliases() -> dict[str, str]:
    return dict(inifile.parse(shipped_alias_text(), "cli-alias/alias").get(ALIAS_SECTION) or {})


def edit_lock(alias_file: str, state_dir: str) -> files.locked:
    """The lock held while the alias file is edited: in our own state directory, never on
    ~/.aws/cli, which other users may be able to open and so to lock."""
    files.ensure_private_directories(state_dir, os.path.join(state_dir, state.LOCKS))
    return files.locked(state.file_lock(state_dir, alias_file))


def install(alias_file: str, force: bool, state_dir: str) -> str:
    """Merge our aliases into the alias file; returns what was done, for the user."""
    wanted = shipped_aliases()
    files.ensure_directory(os.path.dirname(alias_file))
    with edit_lock(alias_file, state_dir):
        text = files.read_text(alias_file)
        if not text:
            files.write_atomic(
                alias_file, shipped_alias_text(), private=False, locked_directory=True
            )
            return f"Installed the aws mfa alias in {alias_file}."
        current = inifile.parse(text, alias_file)
        existing = current.get(ALIAS_SECTION) or {}
        conflicts = [name for name, value in wanted.items() if existing.get(name, value) != value]
        if conflicts and not force:
            name = conflicts[0]
            raise ConfigError(
                f"{alias_file} already has a different '{name}' alias ({existing[name][:60]}); "
                "rerun with --force to replace it."
            )
        changes: dict[str, str | None] = {
            name: value for name, value in wanted.items() if existing.get(name) != value
        }
        if not changes:
            return f"The alias is already installed in {alias_file}; nothing changed."
        new = inifile.edit_section(current, ALIAS_SECTION, changes)
        unended = state.alias_unended(state_dir, alias_file)
        if not text.endswith(("\n", "\r")):
            # The edit ends the user's last line: noted, so that --uninstall-alias unends it.
            files.write_atomic(unended, text.rsplit("\n", 1)[-1], private=True)
        else:
            _forget(unended)  # a note of an earlier install, before the user's own edits
        files.write_atomic(alias_file, new, private=False, locked_directory=True)
    names = ", ".join(f"aws {name}" for name in changes)
    return f"Installed {names} in {alias_file}."


def uninstall(alias_file: str, state_dir: str) -> str:
    """Remove our aliases from the alias file, and nothing else; returns what was done."""
    wanted = shipped_aliases()
    if not files.read_text(alias_file):
        return f"There is no aws mfa alias in {alias_file}; nothing changed."
    with edit_lock(alias_file, state_dir):
        current = inifile.parse(files.read_text(alias_file) or "", alias_file)
        existing = current.get(ALIAS_SECTION) or {}
        ours = [name for name, value in wanted.items() if existing.get(name) == value]
        foreign = [name for name in wanted if name in existing and name not in ours]
        if ours:
            removed: dict[str, str | None] = dict.fromkeys(ours)
            new = inifile.edit_section(current, ALIAS_SECTION, removed)
            unended = state.alias_unended(state_dir, alias_file)
            last_line = files.read_text(unended)
            ended = f"{last_line}\n"
            if last_line and (new == ended or new.endswith(f"\n{ended}")):
                new = new[:-1]  # the file ended without a newline before we added our lines
            files.write_atomic(alias_file, new, private=False, locked_directory=True)
            if last_line is not None:
                _forget(unended)
    notes = []
    if ours:
        notes.append(f"Removed {', '.join(f'aws {name}' for name in ours)} from {alias_file}.")
    for name in foreign:
        notes.append(
            f"The '{name}' alias in {alias_file} is not ours ({existing[name][:60]}); "
            "left it as it is."
        )
    return " ".join(notes) or f"There is no aws mfa alias in {alias_file}; nothing changed."


def _forget(note: str) -> None:
    try:
        os.unlink(note)
    except FileNotFoundError:
        pass


def on_path(program: str, env: Mapping[str, str]) -> bool:
    for directory in env.get("PATH", "").split(os.pathsep):
        if directory and os.access(os.path.join(directory, program), os.X_OK):
            return True
    return False


def run(context: Context) -> int:
    paths = context.paths
    context.say(install(paths.alias_file, context.options.force, paths.state_dir))
    if not on_path("aws-mfa-run", context.env):
        context.say("Note: aws-mfa-run is not on your PATH, so the alias cannot run it yet.")
    return 0
