"""Profiles as botocore finds them: names, section headers, a profile's values. Pure.

Profile names are matched the way botocore matches them: in the config file `[default]` or
`[profile NAME]`, where NAME may be quoted as a shell would (`[profile "my dev"]`,
`[profile 'my dev']`, which `aws configure set` writes); in the credentials file `[NAME]`.
"""

from __future__ import annotations

from aws_mfa_run.credentials.keys import environment_keys
from aws_mfa_run.errors import ConfigError, UsageError
from aws_mfa_run.inifile import IniText

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# configparser, and so botocore and the AWS CLI, read a section of this exact name (any other case
# is an ordinary section) as defaults for every other section of the file.
DEFAULTS_SECTION = "DEFAULT"


def check_profile_name(
    name: str, what: str = "profile", error: type[UsageError] | type[ConfigError] = UsageError
) -> str:
    if name == DEFAULTS_SECTION:
        raise error(
            f"'{name}' is not a usable {what} name: a [{name}] section is read by botocore and "
            "the AWS CLI as defaults for every profile of the file; choose another name."
        )
    bad = [ch for ch in name if ch in "[]" or not ch.isprintable()]
    if not name or bad or name != name.strip() or len(name) > 512:
        raise error(
            f"{name[:60]!r} is not a usable {what} name: a name is 1 to 512 printable characters "
            "(any letters, digits, spaces and punctuation such as = ' $ - _ . @ +) except [ and ], "
            "with no tab or line break, no space at either end, and not DEFAULT."
        )
    return name


# Characters that make a profile name need quotes in a `[profile NAME]` header, where botocore
# splits the header like a shell (any other character, é included, reads back as written).
_NEEDS_QUOTES = frozenset(" \t'\"\\")


def _plain(profile: str) -> bool:
    return not _NEEDS_QUOTES.intersection(profile)


def config_section_name(profile: str) -> str:
    """The config section to write for `profile`: quoted only when it must be, as `aws configure
    set` quotes a name with a space (`[profile 'my dev']`)."""
    if profile == "default":
        return "default"
    if _plain(profile):
        return f"profile {profile}"
    return "profile '" + profile.replace("'", "'\"'\"'") + "'"


def profile_of_section(header: str) -> str | None:
    """The profile a config section header names, as botocore reads it (shlex, two words)."""
    if header == "default":
        return "default"
    if not header.startswith("profile"):
        return None
    words = shell_words(header)
    return words[1] if words is not None and len(words) == 2 and words[0] == "profile" else None


def shell_words(text: str) -> list[str] | None:
    """POSIX shell word splitting as shlex.split does it (quotes, backslashes); None when a quote
    is left open. Our own: shlex imports re, which the warm path does not pay for."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    index = 0
    while index < len(text):
        ch = text[index]
        index += 1
        if ch in " \t\r\n":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            continue
        in_word = True
        if ch == "\\":
            if index >= len(text):
                return None  # shlex: "No escaped character"
            current.append(text[index])
            index += 1
            continue
        if ch == "'":
            end = text.find("'", index)
            if end < 0:
                return None
            current.append(text[index:end])
            index = end + 1
            continue
        if ch == '"':
            while True:
                if index >= len(text):
                    return None
                ch = text[index]
                index += 1
                if ch == '"':
                    break
                if ch == "\\" and index < len(text) and text[index] in '\\"':
                    ch = text[index]
                    index += 1
                current.append(ch)
            continue
        current.append(ch)
    if in_word:
        words.append("".join(current))
    return words


def config_values(profile: str, config: IniText) -> dict[str, str] | None:
    """The profile's section of the config file, found as botocore finds it; None without one."""
    plain = config.get(config_section_name(profile)) if _plain(profile) else None
    if not config.may_quote_headers():
        if plain is None and profile == "default":
            return config.get("profile default")
        return plain
    found = None
    for name, section in config.sections.items():
        if profile_of_section(name) == profile:
            found = section.values  # botocore: the last section naming the profile wins
    return found


def config_header(profile: str, config: IniText) -> str:
    """The header of the profile's existing config section, else the one to create."""
    if config.may_quote_headers() or profile == "default":
        for name in reversed(list(config.sections)):
            if profile_of_section(name) == profile:
                return name
    return config_section_name(profile)


def config_profiles(config: IniText) -> list[str]:
    names = (profile_of_section(name) for name in config.sections)
    return [name for name in names if name is not None]


def profile_values(
    profile: str, config: IniText, credentials: IniText, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The profile's settings: config file first, credentials file filling what it lacks.

    Raises ConfigError when neither file has the profile, unless it is `default` and `env` holds
    long-term keys (a machine whose keys come from the environment needs no profile).
    """
    in_config = config_values(profile, config)
    in_credentials = credentials.get(profile)
    if in_config is None and in_credentials is None:
        if profile == "default" and env is not None and environment_keys(env) is not None:
            return {}
        raise ConfigError(
            f"Profile '{profile}' is in neither {config.path} nor {credentials.path}; "
            "name an existing profile with -p."
        )
    values = dict(in_credentials or {})
    values.update(in_config or {})
    return values
