"""Read and surgically edit INI text the way botocore reads it.

The AWS CLI and botocore parse these files with configparser; we follow the same rules (sections,
`key = value` or `key: value`, `#`/`;` comment lines, indented continuation lines, lower-cased keys,
duplicate sections or keys rejected), but keep every line as it was so that an edit can replace
exactly the lines it owns: comments, blank lines, order, other sections and CRLF stay byte for byte.
configparser cannot round-trip a file, and importing it costs more than this module does.
"""

from __future__ import annotations

from aws_mfa_run.errors import ConfigError


class Section:
    """One `[name]` section: where it is, and its values with the lines each one spans."""

    __slots__ = ("header", "name", "spans", "values")

    def __init__(self, name: str, header: int) -> None:
        self.name = name
        self.header = header
        self.values: dict[str, str] = {}
        self.spans: dict[str, tuple[int, int]] = {}

    def body_end(self) -> int:
        """Index just after the last key's last line (the header's next line if there is no key)."""
        return max((end for _, end in self.spans.values()), default=self.header + 1)


class IniText:
    """INI text and its sections. `lines` keep their line endings: `"".join(lines)` is the text.

    Reading one section is fast even in a file of 10,000 profiles: when every `[` in the text
    starts a line (so every one opens a section header), the section is found by searching for
    its header and only its own lines are parsed. Otherwise, and for `sections`, `lines` and
    edits, the whole text is parsed and checked.
    """

    __slots__ = ("_found", "_lines", "_quick", "_sections", "_text", "path")

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self._text = text
        self._lines: list[str] | None = None
        self._sections: dict[str, Section] | None = None
        self._found: dict[str, dict[str, str] | None] = {}
        headers = text.count("\n[") + (1 if text.startswith("[") else 0)
        self._quick = text.count("[") == headers

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = split_lines(self._text)
        return self._lines

    @property
    def newline(self) -> str:
        """The file's own line ending (its first line's): CRLF, CR alone (old Mac editors), LF."""
        first = self.lines[0] if self.lines else ""
        if first.endswith("\r\n"):
            return "\r\n"
        return "\r" if first.endswith("\r") else "\n"

    @property
    def sections(self) -> dict[str, Section]:
        if self._sections is None:
            self._sections = _parse_lines(self.lines, self.path, 0)
        return self._sections

    def validate(self) -> None:
        """Check the whole text; raises ConfigError naming the first bad line."""
        self.sections  # noqa: B018 - parsing is the check

    def get(self, section: str) -> dict[str, str] | None:
        if self._sections is None and self._quick:
            if section not in self._found:
                self._found[section] = self._find(section)
            return self._found[section]
        found = self.sections.get(section)
        return None if found is None else found.values

    def _find(self, name: str) -> dict[str, str] | None:
        text = self._text
        needle = f"[{name}]"
        if text.startswith(BYTE_ORDER_MARK):
            raise byte_order_mark_error(self.path)
        starts = [0] if text.startswith(needle) else []
        position = text.find("\n" + needle)
        while position >= 0:
            starts.append(position + 1)
            position = text.find("\n" + needle, position + 1)
        starts = [start for start in starts if _header_name(text, start) == name]
        if not starts:
            return None
        if len(starts) > 1:
            return self.sections[name].values  # the full parse reports the duplicate
        start = starts[0]
        end = text.find("\n[", start)
        end = len(text) if end < 0 else end + 1
        first_line = text.count("\n", 0, start)
        return _parse_lines(split_lines(text[start:end]), self.path, first_line)[name].values

    def text(self) -> str:
        return self._text

    def may_quote_headers(self) -> bool:
        """Whether a section header could be written in a form other than `[profile NAME]` for a
        plain NAME (quotes, backslashes, tabs, runs of spaces): then finding a profile's section
        takes parsing every header. Cheap: a few scans of the text in C."""
        text = self._text
        return any(mark in text for mark in ('"', "'", "\\", "\t", "[profile  ", "[ "))


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only at \\n, \\r\\n and \\r, as configparser (through
    Python's universal newlines) splits them for botocore and the AWS CLI. str.splitlines would
    also split at U+2028, U+0085 and other separators, so both readers would see different
    sections in the same text."""
    lines: list[str] = []
    start = 0
    length = len(text)
    while start < length:
        newline = text.find("\n", start)
        carriage = text.find("\r", start, newline if newline >= 0 else length)
        if carriage >= 0:
            end = carriage + 2 if text.startswith("\r\n", carriage) else carriage + 1
        elif newline >= 0:
            end = newline + 1
        else:
            end = length
        lines.append(text[start:end])
        start = end
    return lines


BYTE_ORDER_MARK = "\ufeff"


def byte_order_mark_error(path: str) -> ConfigError:
    # configparser reads the mark as part of the first line, so botocore (and with it the AWS
    # CLI v1 and v2, boto3) fails on the whole file: a session written there would help no one.
    import shlex  # only this error needs it

    return ConfigError(
        f'{path} starts with a byte-order mark (saved as "UTF-8 with BOM"), which the AWS CLI '
        f"and the SDKs cannot read; save it as UTF-8 without BOM, for example with "
        f"sed -i '1s/^\\xEF\\xBB\\xBF//' {shlex.quote(path)}"
    )


def _header_name(text: str, start: int) -> str | None:
    end = text.find("\n", start)
    line = text[start : len(text) if end < 0 else end].strip()
    close = line.rfind("]")
    return line[1:close] if close >= 2 else None


def _parse_lines(lines: list[str], path: str, first_line: int) -> dict[str, Section]:
    """Sections of `lines`, which start at line index `first_line` of the file."""

    def fail(index: int, what: str) -> ConfigError:
        number = first_line + index + 1
        return ConfigError(f"{path} line {number}: {what}; fix or remove that line.")

    sections: dict[str, Section] = {}
    section: Section | None = None
    key: str | None = None
    key_indent = 0
    for index, line in enumerate(lines):
        if index == 0 and first_line == 0 and line.startswith(BYTE_ORDER_MARK):
            raise byte_order_mark_error(path)
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        indent = len(line) - len(line.lstrip())
        if key is not None and section is not None and indent > key_indent:
            start, _ = section.spans[key]
            section.spans[key] = (start, index + 1)
            section.values[key] += "\n" + stripped
            continue
        if stripped[0] == "[":
            close = stripped.rfind("]")
            if close < 2:
                raise fail(index, "this section header is not of the form [name]")
            name = stripped[1:close]
            if name in sections:
                raise fail(index, f"section [{name}] appears a second time")
            section = Section(name, index)
            sections[name] = section
            key = None
            continue
        if "\x00" in line:
            raise fail(index, "this is not text")
        cut = _delimiter(stripped)
        if cut <= 0:
            raise fail(index, "this line is neither a section, a comment nor key = value")
        if section is None:
            raise fail(index, "a setting stands before any [section]")
        key = stripped[:cut].strip().lower()
        if key in section.values:
            raise fail(index, f"'{key}' appears a second time in [{section.name}]")
        section.values[key] = stripped[cut + 1 :].strip()
        section.spans[key] = (index, index + 1)
        key_indent = indent
    return sections


def _delimiter(line: str) -> int:
    """Position of the first `=` or `:` (configparser's delimiters), -1 if there is none."""
    positions = [p for p in (line.find("="), line.find(":")) if p >= 0]
    return min(positions) if positions else -1


def parse(text: str, path: str) -> IniText:
    return IniText(text, path)


def edit_section(ini: IniText, section: str, values: dict[str, str | None]) -> str:
    """Return the text with `section` holding `values` (None removes a key), all else unchanged.

    An existing key keeps its line's own spelling up to the delimiter; a new key goes after the
    section's last key; a new section goes at the end, after a blank line.
    """
    for key, value in values.items():
        # Values are checked before they get here; this is the last line of defence against a
        # value that one reader or another would take for several lines.
        if value is not None and (len(split_lines(value)) > 1 or len(value.splitlines()) > 1):
            raise ValueError(f"a value for {key} spans lines")
    lines = list(ini.lines)
    nl = ini.newline
    found = ini.sections.get(section)
    if found is None:
        added = [f"{key} = {value}{nl}" for key, value in values.items() if value is not None]
        if not added:
            return ini.text()
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        if lines and lines[-1].strip():
            lines.append(nl)
        return "".join([*lines, f"[{section}]{nl}", *added])

    # Replace from the bottom up so that earlier line numbers stay valid.
    changes: list[tuple[int, int, list[str]]] = []
    appended: list[str] = []
    for key, value in values.items():
        span = found.spans.get(key)
        if span is None:
            if value is not None:
                appended.append(f"{key} = {value}{nl}")
            continue
        start, end = span
        if value is None:
            changes.append((start, end, []))
            continue
        head = _key_prefix(lines[start])
        ending = end_of(lines[end - 1]) or nl
        changes.append((start, end, [f"{head} {value}{ending}"]))
    if appended:
        at = found.body_end()
        if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
            lines[at - 1] += nl
        changes.append((at, at, appended))
    for start, end, replacement in sorted(changes, key=lambda change: change[0], reverse=True):
        lines[start:end] = replacement
    return "".join(lines)


def remove_keys(ini: IniText, section: str, keys: tuple[str, ...] | list[str]) -> str:
    """Return the text without `keys` in `section`; the section itself goes too when nothing is
    left in it (no key, no comment), and so does the blank line that set a last section apart."""
    text = edit_section(ini, section, dict.fromkeys(keys))
    edited = IniText(text, ini.path)
    found = edited.sections.get(section)
    if found is None or found.values:
        return text
    lines = list(edited.lines)
    headers = [other.header for other in edited.sections.values() if other.header > found.header]
    end = min(headers, default=len(lines))
    if any(line.strip() for line in lines[found.header + 1 : end]):
        return text  # a comment of the user's stays, and so does its section
    start = found.header
    if end == len(lines) and start > 0 and not lines[start - 1].strip():
        start -= 1
    del lines[start:end]
    return "".join(lines)


def _key_prefix(line: str) -> str:
    """The line up to and including its delimiter, as the user wrote it (`aws_session_token =`)."""
    body = line.rstrip("\r\n")
    return body[: _delimiter(body) + 1]


def end_of(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""
