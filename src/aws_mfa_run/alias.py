"""Install the `aws mfa` alias into the AWS CLI's alias file, merging with what is there."""

from __future__ import annotations

import os

from aws_mfa_run import files, inifile
from aws_mfa_run.errors import ConfigError

ALIAS_SECTION = "toplevel"
# Shipped in the package from cli-alias/alias in the repository.
SHIPPED_ALIAS_FILE = os.path.join(os.path.dirname(__file__), "cli-alias")


def alias_file_path() -> str:
    # The AWS CLI (v1 and v2) reads aliases from this fixed place under the home directory.
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "alias")


def shipped_alias_text() -> str:
    with open(SHIPPED_ALIAS_FILE, encoding="utf-8") as handle:
        return handle.read()


def is_external_alias(command: str) -> bool:
    """Whether `aws COMMAND` runs a `!` alias of the user's alias file."""
    text = files.read_text(alias_file_path())
    if not text:
        return False
    try:
        value = (inifile.parse(text, alias_file_path()).get(ALIAS_SECTION) or {}).get(command)
    except ConfigError:
        return False
    return bool(value) and value.strip().startswith("!")


def install(force: bool) -> str:
    """Merge our aliases into the alias file; returns what was done, for the user."""
    path = alias_file_path()
    shipped = shipped_alias_text()
    wanted = dict(inifile.parse(shipped, SHIPPED_ALIAS_FILE).get(ALIAS_SECTION) or {})
    files.ensure_directory(os.path.dirname(path))
    with files.locked_directory_of(path):
        text = files.read_text(path)
        if not text:
            files.write_atomic(path, shipped, private=False, locked_directory=True)
            return f"Installed the aws mfa alias in {path}."
        current = inifile.parse(text, path)
        existing = current.get(ALIAS_SECTION) or {}
        conflicts = [name for name, value in wanted.items() if existing.get(name, value) != value]
        if conflicts and not force:
            name = conflicts[0]
            raise ConfigError(
                f"{path} already has a different '{name}' alias ({existing[name][:60]}); "
                "rerun with --force to replace it."
            )
        changes = {name: value for name, value in wanted.items() if existing.get(name) != value}
        if not changes:
            return f"The alias is already installed in {path}; nothing changed."
        new = inifile.edit_section(current, ALIAS_SECTION, changes)
        files.write_atomic(path, new, private=False, locked_directory=True)
    names = ", ".join(f"aws {name}" for name in changes)
    return f"Installed {names} in {path}."


def uninstall() -> str:
    """Remove our aliases from the alias file, and nothing else; returns what was done."""
    path = alias_file_path()
    wanted = dict(inifile.parse(shipped_alias_text(), SHIPPED_ALIAS_FILE).get(ALIAS_SECTION) or {})
    if not files.read_text(path):
        return f"There is no aws mfa alias in {path}; nothing changed."
    with files.locked_directory_of(path):
        current = inifile.parse(files.read_text(path) or "", path)
        existing = current.get(ALIAS_SECTION) or {}
        ours = [name for name, value in wanted.items() if existing.get(name) == value]
        foreign = [name for name in wanted if name in existing and name not in ours]
        if ours:
            new = inifile.edit_section(current, ALIAS_SECTION, dict.fromkeys(ours))
            files.write_atomic(path, new, private=False, locked_directory=True)
    notes = []
    if ours:
        notes.append(f"Removed {', '.join(f'aws {name}' for name in ours)} from {path}.")
    for name in foreign:
        notes.append(
            f"The '{name}' alias in {path} is not ours ({existing[name][:60]}); left it as it is."
        )
    return " ".join(notes) or f"There is no aws mfa alias in {path}; nothing changed."
