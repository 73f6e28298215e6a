"""`--completion SHELL`: completion scripts for bash, zsh and fish, generated ahead of time.

Pure: a shell name and the modes' words in (modes.completion_words(): the registry of modes
sits above every mode, this one included), a script out. The options and modes are written into
the script; profile names are read at completion time by `aws-mfa-run --complete-profiles` (a
hidden mode that reads the config and credentials files, as `aws` itself completes
`--profile`), so nothing here costs the warm path anything, and a profile added later is
completed at once.
"""

from __future__ import annotations

from aws_mfa_run.errors import UsageError
from aws_mfa_run.options import COMPLETION_SHELLS as SHELLS
from aws_mfa_run.options import SHELLS as ENV_SHELLS
from aws_mfa_run.profiles import config_profiles

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_mfa_run.inifile import IniText

PROFILES_MODE = "--complete-profiles"  # hidden: one profile name per line

# (names, value kind, help). Kinds: "" no value, "profile", "value" (free text), "env" (an
# optional shell after --env), "shell" (a shell for --completion).
Word = tuple[tuple[str, ...], str, str]
# The options; the modes' words come from modes.py. arguments.py's parser accepts exactly these
# and the modes (a test compares them).
OPTION_WORDS: tuple[Word, ...] = (
    (("-p", "--profile"), "profile", "profile with the long-term keys"),
    (("--target-profile",), "profile", "profile that receives the session"),
    (("--serial",), "value", "MFA device ARN"),
    (("--token-code",), "value", "the 6-digit MFA code"),
    (("--duration",), "value", "session length in seconds"),
    (("--min-remaining",), "value", "minutes a stored session must have left"),
    (("--force",), "", "get a new session / replace a different alias"),
    (("--server",), "", "serve credentials to COMMAND from a local endpoint"),
    (("--all",), "", "with --logout, every profile"),
    (("--json",), "", "with --status, one JSON document"),
    (("--print",), "", "with --console, print the sign-in URL instead"),
    (("-h", "--help"), "", "show the help"),
    (("--version",), "", "show the version"),
)


def _names(words: Sequence[Word], *kinds: str) -> list[str]:
    return [name for names, kind, _ in words if kind in kinds for name in names]


def script(
    shell: str, modes: Sequence[Word], accepts: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The completion script for `shell` (bash, zsh or fish) that offers the options and
    `modes`; after a mode's flag, only the options `accepts` gives it (and -h, --help)."""
    words = (*OPTION_WORDS, *modes)
    after = {flag: [*names, "-h", "--help"] for flag, names in (accepts or {}).items()}
    if shell == "bash":
        return _bash(words, after)
    if shell == "zsh":
        return _zsh(words, after)
    if shell == "fish":
        return _fish(words, after)
    raise UsageError(f"--completion takes one of {', '.join(SHELLS)}, not {shell[:20]!r}.")


def _bash(words: Sequence[Word], after: Mapping[str, Sequence[str]]) -> str:
    every = "\n".join(_names(words, "", "profile", "value", "env", "shell"))
    mode_flags = "|".join(after) or "--"
    per_mode = "".join(
        f'            {flag}) offer="{chr(10).join(names)}" ;;\n' for flag, names in after.items()
    )
    with_value = "|".join(_names(words, "profile", "value", "shell"))
    profile = "|".join(_names(words, "profile"))
    free = "|".join(_names(words, "value"))
    # The modes whose word is a shell: --env (optional, a shell of --env), --completion.
    env_modes, shell_modes = "|".join(_names(words, "env")), "|".join(_names(words, "shell"))
    # Word lists are one per line: IFS is a line break, so that names with spaces stay whole.
    env_shells, shells = "\n".join(ENV_SHELLS), "\n".join(SHELLS)
    return f"""\
# bash completion for aws-mfa-run (from `aws-mfa-run --completion bash`)
_aws_mfa_run_command() {{
    # Complete the wrapped command: its name, then what its own completion offers.
    if declare -F _command_offset >/dev/null; then
        _command_offset "$1"
    elif (( COMP_CWORD == $1 )); then
        COMPREPLY=( $(compgen -c -- "$cur") )
    else
        COMPREPLY=( $(compgen -f -- "$cur") )
    fi
}}

_aws_mfa_run() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} word i mode=
    local IFS=$'\\n'
    COMPREPLY=()
    # `--profile=NAME`: readline splits at `=`.
    if [[ $cur == = ]]; then cur=; prev=${{COMP_WORDS[COMP_CWORD-1]}};
    elif [[ $prev == = ]]; then prev=${{COMP_WORDS[COMP_CWORD-2]}}; fi
    # Options end at `--` or at the first other word: the rest is the command's.
    for (( i = 1; i < COMP_CWORD; i++ )); do
        word=${{COMP_WORDS[i]}}
        # After a mode's flag, only its options are offered.
        case $word in {mode_flags}) mode=$word ;; esac
        case $word in
            --) _aws_mfa_run_command $((i + 1)); return ;;
            {with_value}) (( i++ )) ;;
            {env_modes}) case ${{COMP_WORDS[i+1]}} in {"|".join(ENV_SHELLS)}) (( i++ )) ;; esac ;;
            =|-*) ;;
            *) [[ ${{COMP_WORDS[i-1]}} == = ]] || {{ _aws_mfa_run_command $i; return; }} ;;
        esac
    done
    case $prev in
        {profile})
            COMPREPLY=( $(compgen -W "$(aws-mfa-run {PROFILES_MODE} 2>/dev/null)" -- "$cur") )
            # A name with a space goes in quoted, unless the user opened a quote already. No
            # match stays no match: printf with no names would print `''` in the word's place.
            if [[ $cur != [\\\'\\\"]* ]] && (( ${{#COMPREPLY[@]}} )); then
                COMPREPLY=( $(printf '%q\\n' "${{COMPREPLY[@]}}") )
            fi
            return ;;
        {env_modes}) if [[ $cur != -* ]]; then
                COMPREPLY=( $(compgen -W "{env_shells}" -- "$cur") ); return
            fi ;;
        {shell_modes}) COMPREPLY=( $(compgen -W "{shells}" -- "$cur") ); return ;;
        {free}) return ;;
    esac
    if [[ $cur == -* ]]; then
        local offer="{every}"
        case $mode in
{per_mode}        esac
        COMPREPLY=( $(compgen -W "$offer" -- "$cur") )
    else
        COMPREPLY=( $(compgen -c -- "$cur") )
    fi
}}
complete -F _aws_mfa_run aws-mfa-run
"""


def _zsh_quote(text: str) -> str:
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]")


def _zsh(words: Sequence[Word], after: Mapping[str, Sequence[str]]) -> str:
    specs: list[str] = []
    options = _names(OPTION_WORDS, "", "profile", "value")
    for names, kind, help_text in words:
        shown = _zsh_quote(help_text)
        exclusive = f"({' '.join(names)})" if len(names) > 1 else ""
        if names[0] in after:  # a mode: once on the line, other modes and the options it
            # does not use go
            unused = [name for name in options if name not in after[names[0]]]
            unused += [flag for flag in after if flag != names[0]]
            exclusive = f"({' '.join(unused)})" if unused else ""
        for name in names:
            if kind == "":
                specs.append(f"'{exclusive}{name}[{shown}]'")
                continue
            form = "+" if not name.startswith("--") else "="
            action = {
                "profile": "profile:_aws_mfa_run_profiles",
                "value": "value: ",
                "shell": f"shell:({' '.join(SHELLS)})",
                "env": f":shell:({' '.join(ENV_SHELLS)})",
            }[kind]
            if kind == "env":
                # Its shell is optional, and no command follows --env: without `(*)` zsh would
                # offer every command beside the shells.
                form, exclusive = "", f"(* {exclusive[1:-1]})" if exclusive else "(*)"
            specs.append(f"'{exclusive}{name}{form}[{shown}]:{action}'")
    lines = " \\\n        ".join(specs)
    return f"""\
#compdef aws-mfa-run
# zsh completion for aws-mfa-run (from `aws-mfa-run --completion zsh`)
_aws_mfa_run_profiles() {{
    local -a profiles
    profiles=( ${{(f)"$(aws-mfa-run {PROFILES_MODE} 2>/dev/null)"}} )
    compadd -a profiles
}}

_aws_mfa_run() {{
    _arguments -S \\
        {lines} \\
        '*::command:_normal'
}}

# Autoloaded from a file `_aws-mfa-run` on $fpath, this file is that function's body: complete.
# Sourced instead, register the function.
if [[ $funcstack[1] == _aws-mfa-run ]]; then
    _aws_mfa_run "$@"
else
    compdef _aws_mfa_run aws-mfa-run
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(words: Sequence[Word], after: Mapping[str, Sequence[str]]) -> str:
    # The same decisions as the bash function, step by step, so that both shells offer the same
    # words: fish's own option handling would take `--env fish` for a command named fish.
    with_value = " ".join(_names(words, "profile", "value", "shell"))
    profile, free = " ".join(_names(words, "profile")), " ".join(_names(words, "value"))
    env_modes, shell_modes = " ".join(_names(words, "env")), " ".join(_names(words, "shell"))
    options = " \\\n        ".join(
        f"{name} {_fish_quote(help_text)}" for names, _, help_text in words for name in names
    )
    helps = {name: help_text for names, _, help_text in words for name in names}
    mode_flags = " ".join(after) or "--"
    per_mode = "".join(
        f"            case {flag}\n                set offer "
        + " ".join(f"{name} {_fish_quote(helps[name])}" for name in names)
        + "\n"
        for flag, names in after.items()
    )
    env_shells, shells = " ".join(ENV_SHELLS), " ".join(SHELLS)
    return f"""\
# fish completion for aws-mfa-run (from `aws-mfa-run --completion fish`)
function __aws_mfa_run_offer
    # The words $argv[2..], each after the prefix $argv[1], that start with the token, as bash
    # offers them (given none that does, fish would match others loosely).
    set -l start '^'(string escape --style=regex -- (commandline -ct))
    for word in $argv[2..-1]
        string match -qr -- $start "$argv[1]$word"; and printf '%s\\n' "$argv[1]$word"
    end
end

function __aws_mfa_run_command
    # The wrapped command's own completion: its words so far ($argv), then the current token.
    set -l line (string join ' ' -- (string escape -- $argv) (commandline -ct))
    complete --do-complete="$line"  # attached: a line may start with `-`
end

function __aws_mfa_run_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l prev $words[-1]
    set -l mode
    # Options end at `--` or at the first other word: the rest is the command's.
    while set -q words[1]
        set -l word $words[1]
        set -e words[1]
        # After a mode's flag, only its options are offered.
        contains -- $word {mode_flags}; and set mode $word
        switch $word
            case --
                __aws_mfa_run_command $words
                return
            case {with_value}
                set -q words[1]; and set -e words[1]
            case {env_modes}
                if contains -- "$words[1]" {env_shells}
                    set -e words[1]
                end
            case '-*'
            case '*'
                __aws_mfa_run_command $word $words
                return
        end
    end
    # `--profile=NAME`: complete NAME, keep the option in front.
    set -l prefix
    set -l parts (string match -r -- '^(--[^=]*)=(.*)$' $cur)
    if set -q parts[1]
        set prev $parts[2]
        set cur $parts[3]
        set prefix "$parts[2]="
    end
    switch $prev
        case {profile}
            __aws_mfa_run_offer "$prefix" (aws-mfa-run {PROFILES_MODE} 2>/dev/null)
            return
        case {env_modes}
            if not string match -q -- '-*' $cur
                __aws_mfa_run_offer "$prefix" {env_shells}
                return
            end
        case {shell_modes}
            __aws_mfa_run_offer "$prefix" {shells}
            return
        case {free}
            return
    end
    if string match -q -- '-*' $cur
        set -l offer \\
        {options}
        switch "$mode"
{per_mode}        end
        __aws_mfa_run_offer '' (printf '%s\\t%s\\n' $offer)
    else
        __aws_mfa_run_command
    end
end

complete -c aws-mfa-run -f -a '(__aws_mfa_run_complete)'
"""


def profile_names(config: IniText, credentials: IniText) -> list[str]:
    """Every profile of both files, as `aws --profile` accepts them: `[profile NAME]` and
    `[default]` of the config file, every section of the credentials file."""

    names = config_profiles(config)
    names.extend(section.name for section in credentials.sections.values())
    return list(dict.fromkeys(names))
