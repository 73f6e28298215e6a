"""Shell completion: README's install lines, then real Tab presses in bash and zsh (pseudo-
terminals) and fish's own `complete -C`. Profile names come from the bed's files."""

from __future__ import annotations

import shutil

import pexpect
import pytest

from aws_mfa_run import arguments, modes, options
from aws_mfa_run import completion_scripts as completion
from conftest import AWS_MFA_RUN, Bed
from helpers import EXAMPLES


def installed(bed: Bed) -> Bed:
    """README's lines run in the bed; profiles in both files, one only in the credentials."""
    done = bed.run("sh", "-c", EXAMPLES["completion"])
    assert done.returncode == 0, done.stderr
    bed.write_profiles()
    with bed.config.open("a") as handle:
        handle.write("[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n")
        handle.write("source_profile = default\n[sso-session corp]\nsso_region = eu-west-1\n")
    with bed.credentials.open("a") as handle:
        handle.write("[ci-bot]\naws_access_key_id = AKIAEXAMPLE\n")
    return bed


def completed(child: pexpect.spawn, typed: str) -> str:
    """Type `typed` (with its Tabs), then run the line as `echo LINE: ...` and read it back."""
    child.send(typed)
    # Ctrl-A: to the start of the line. The quotes keep the typed line from matching.
    child.send("\x01echo L''INE: \r")
    child.expect(r"LINE: ([^\r\n]*)\r\n")
    line: str = child.match.group(1)
    child.expect_exact("READY$ ")
    return line


def test_hidden_mode_lists_profiles_of_both_files(bed: Bed) -> None:
    installed(bed)
    done = bed.run(AWS_MFA_RUN, completion.PROFILES_MODE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["default", "admin", "ci-bot"]


def test_hidden_mode_offers_nothing_rather_than_an_error(bed: Bed) -> None:
    bed.config.write_bytes(b"\x00binary")
    done = bed.run(AWS_MFA_RUN, completion.PROFILES_MODE)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


def test_every_option_of_the_parser_is_completed() -> None:
    words = (*completion.OPTION_WORDS, *modes.completion_words())
    offered = {name for names, _, _ in words for name in names}
    hidden = {completion.PROFILES_MODE}
    accepted = set(options.OPTIONS) | set(arguments.MODES_BY_FLAG) | {"-h", "--help"}
    assert offered == accepted - hidden


def shortest_prefix(flag: str) -> str:
    """The least of `flag` that no other word of the command line starts with."""
    words = {name for names, _, _ in completion.OPTION_WORDS for name in names}
    words |= {mode.flag for mode in modes.MODES if mode.flag} - {flag}
    return next(
        flag[:end]
        for end in range(2, len(flag) + 1)
        if not any(word.startswith(flag[:end]) for word in words)
    )


SHOWN_MODES = [mode for mode in modes.MODES if mode.flag and mode.completion]


@pytest.mark.skipif(
    not (shutil.which("zsh") and shutil.which("fish")), reason="zsh or fish is not installed"
)
def test_every_mode_of_the_registry_is_parsed_shown_completed_and_run(bed: Bed) -> None:
    """A mode is one entry of modes.MODES: the installed command's parser takes its flag, its
    help shows it, bash, zsh and fish complete it, and it runs a function of its module."""
    installed(bed)
    usage = bed.run(AWS_MFA_RUN, "--help").stdout
    lines = [line[7:] + " " for line in usage.split("\noptions:")[0].splitlines()]
    for mode in modes.MODES:
        # The parser knows the flag, as this mode (its name is in the sentence).
        if mode.flag:
            done = bed.run(AWS_MFA_RUN, mode.flag, "--version")
            assert done.returncode == 2, (mode.flag, done.stderr)
            assert f"--version cannot be combined with --{mode.name}." in done.stderr, mode.flag
        # Dispatched to a function of its module of aws_mfa_run.commands.
        runner = mode.load()
        assert callable(runner) and runner.__module__.startswith("aws_mfa_run.commands."), mode.name
        if not mode.usage:
            assert mode.flag not in usage, mode.flag  # hidden: in no help, no completion
            assert mode not in SHOWN_MODES, mode.flag
            continue
        # The help text has its lines, each naming its flag first.
        start = f"aws-mfa-run {mode.flag} " if mode.flag else "aws-mfa-run [OPTIONS] COMMAND "
        assert any(line.startswith(start) for line in lines), mode.name
    for mode in SHOWN_MODES:
        typed = f"aws-mfa-run {shortest_prefix(mode.flag)}"
        assert bash_offers(bed, typed) == [mode.flag], typed
        assert fish_offers(bed, typed) == [mode.flag], typed
        # A mode whose word is a shell: the shells after it.
        if mode.words in (modes.ENV_SHELL, modes.SHELL):
            shells = options.SHELLS if mode.words == modes.ENV_SHELL else options.COMPLETION_SHELLS
            typed = f"aws-mfa-run {mode.flag} "
            assert sorted(bash_offers(bed, typed)) == sorted(shells), typed
            assert sorted(fish_offers(bed, typed)) == sorted(shells), typed
    (bed.home / ".zshrc").write_text(
        "fpath=(~/.zfunc $fpath)\nautoload -Uz compinit\ncompinit -u\n"
        "unsetopt PROMPT_SP\nPS1='READY$ '\n"
    )
    child = pexpect.spawn(
        "zsh",
        ["-i"],
        env={**bed.env, "TERM": "xterm", "ZDOTDIR": str(bed.home)},
        cwd=str(bed.root),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("READY$ ")
    for mode in SHOWN_MODES:
        typed = f"aws-mfa-run {shortest_prefix(mode.flag)}"
        assert completed(child, f"{typed}\t").rstrip() == f"aws-mfa-run {mode.flag}", typed
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_an_unknown_shell_is_a_usage_error(bed: Bed) -> None:
    done = bed.run(AWS_MFA_RUN, "--completion", "tcsh")
    assert done.returncode == 2 and "bash, zsh, fish" in done.stderr
    missing = bed.run(AWS_MFA_RUN, "--completion")
    assert missing.returncode == 2 and "needs a shell" in missing.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_tab_completion_in_a_terminal(bed: Bed) -> None:
    installed(bed)
    rc = bed.home / ".bashrc"
    rc.write_text("source ~/.local/share/bash-completion/completions/aws-mfa-run\nPS1='READY$ '\n")
    child = pexpect.spawn(
        "bash",
        ["--rcfile", str(rc), "--noprofile", "-i"],
        env={**bed.env, "TERM": "dumb", "INPUTRC": "/dev/null"},
        cwd=str(bed.root),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("READY$ ")
    assert completed(child, "aws-mfa-run --prof\t") == "aws-mfa-run --profile"
    assert completed(child, "aws-mfa-run --uninst\t") == "aws-mfa-run --uninstall-alias"
    assert completed(child, "aws-mfa-run -p ad\t") == "aws-mfa-run -p admin"
    assert completed(child, "aws-mfa-run --profile=ci\t") == "aws-mfa-run --profile=ci-bot"
    assert completed(child, "aws-mfa-run --target-profile ci\t") == (
        "aws-mfa-run --target-profile ci-bot"
    )
    assert completed(child, "aws-mfa-run --completion fi\t") == "aws-mfa-run --completion fish"
    assert completed(child, "aws-mfa-run --env fi\t") == "aws-mfa-run --env fish"
    # After the options comes the command, then whatever the command takes.
    assert completed(child, "aws-mfa-run -p admin printen\t") == "aws-mfa-run -p admin printenv"
    assert completed(child, "aws-mfa-run -- -p\t") == "aws-mfa-run -- -p"
    # No such profile: the word stays as typed (not replaced by `''`).
    assert completed(child, "aws-mfa-run -p zzz\t") == "aws-mfa-run -p zzz"
    assert completed(child, "aws-mfa-run --env sh -p ad\t") == "aws-mfa-run --env sh -p admin"
    # After a mode, its own options only: --token-code is refused with --status.
    assert completed(child, "aws-mfa-run --status --js\t") == "aws-mfa-run --status --json"
    assert completed(child, "aws-mfa-run --status --tok\t") == "aws-mfa-run --status --tok"
    # Tab twice lists every profile; a profile added now is offered at once.
    with bed.config.open("a") as handle:
        handle.write("[profile late-one]\nregion = eu-west-1\n")
    child.send("aws-mfa-run -p \t\t")
    child.expect("admin")
    child.expect("ci-bot")
    child.expect("late-one")
    # The list ends with the prompt and the line drawn again; only then is the line ended (an
    # earlier Ctrl-C raced the listing: bash then ran a line with a lost letter).
    child.expect_exact("READY$ aws-mfa-run -p ")
    child.send("\x01echo L''INE: \r")
    child.expect(r"LINE: aws-mfa-run -p *\r\n")
    child.expect_exact("READY$ ")
    child.sendline("exit")
    child.expect(pexpect.EOF)


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)"
)
def test_zsh_tab_completion_in_a_terminal(bed: Bed) -> None:
    installed(bed)
    (bed.home / ".zshrc").write_text(
        "fpath=(~/.zfunc $fpath)\nautoload -Uz compinit\ncompinit -u\n"
        "unsetopt PROMPT_SP\nPS1='READY$ '\n"
    )
    child = pexpect.spawn(
        "zsh",
        ["-i"],
        env={**bed.env, "TERM": "xterm", "ZDOTDIR": str(bed.home)},
        cwd=str(bed.root),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("READY$ ")
    assert completed(child, "aws-mfa-run --prof\t") == "aws-mfa-run --profile"
    assert completed(child, "aws-mfa-run --uninst\t") == "aws-mfa-run --uninstall-alias"
    assert completed(child, "aws-mfa-run -p ad\t") == "aws-mfa-run -p admin"
    assert completed(child, "aws-mfa-run --profile=ci\t") == "aws-mfa-run --profile=ci-bot"
    assert completed(child, "aws-mfa-run --completion fi\t") == "aws-mfa-run --completion fish"
    assert completed(child, "aws-mfa-run -p admin printen\t") == "aws-mfa-run -p admin printenv"
    assert completed(child, "aws-mfa-run -p zzz\t") == "aws-mfa-run -p zzz"
    assert completed(child, "aws-mfa-run --env sh -p ad\t") == "aws-mfa-run --env sh -p admin"
    # After a mode, its own options only: --login does not go with --env, --json only with
    # --status.
    assert completed(child, "aws-mfa-run --env fish --logi\t") == "aws-mfa-run --env fish --logi"
    assert completed(child, "aws-mfa-run --status --js\t") == "aws-mfa-run --status --json"
    assert completed(child, "aws-mfa-run --logout --js\t") == "aws-mfa-run --logout --js"
    assert completed(child, "aws-mfa-run --env pw\t") == "aws-mfa-run --env pwsh"
    child.sendline("exit")
    child.expect(pexpect.EOF)


@pytest.mark.skipif(
    shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)"
)
def test_fish_completion(bed: Bed) -> None:
    installed(bed)

    # fish loads ~/.config/fish/completions/ by itself: use it as a user would.
    def offered(line: str) -> list[str]:
        done = bed.run("fish", "-c", f"complete -C '{line}'")
        assert done.returncode == 0, done.stderr
        return [entry.split("\t")[0] for entry in done.stdout.splitlines()]

    assert offered("aws-mfa-run --prof") == ["--profile"]
    assert offered("aws-mfa-run --uninst") == ["--uninstall-alias"]
    assert offered("aws-mfa-run -p ") == ["admin", "ci-bot", "default"]
    assert offered("aws-mfa-run --completion ") == ["bash", "fish", "zsh"]
    assert "printenv" in offered("aws-mfa-run -p admin printen")
    assert "--profile" not in offered("aws-mfa-run -p admin printenv --prof")


def test_bash_quotes_a_profile_name_with_a_space(bed: Bed) -> None:
    """`-p my<Tab>` must become one word, `my\\ dev`, not two."""
    bed.credentials.write_text("[my dev]\naws_access_key_id = AKIAX\n[other]\nx = 1\n")
    script = bed.run(AWS_MFA_RUN, "--completion", "bash").stdout
    probe = (
        f"{script}\nCOMP_WORDS=(aws-mfa-run -p my); COMP_CWORD=2; _aws_mfa_run; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = bed.run("bash", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["my\\ dev"]


def bash_offers(bed: Bed, line: str) -> list[str]:
    """What the bash function puts in COMPREPLY for `line` (Tab at its end), with COMP_WORDS
    split as readline splits them: at blanks, and `=` a word of its own."""
    words: list[str] = []
    for word in line.split(" "):
        name, equals, value = word.partition("=")
        words += [name, "=", value] if equals and name.startswith("--") else [word]
    script = bed.home / ".local/share/bash-completion/completions/aws-mfa-run"
    quoted = " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
    probe = (
        f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _aws_mfa_run; "
        'for word in "${COMPREPLY[@]}"; do printf "%s\\n" "$word"; done'
    )
    done = bed.run("bash", "-c", probe)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def fish_offers(bed: Bed, line: str) -> list[str]:
    """What fish offers for `line`: its `complete -C`, words without their descriptions."""
    done = bed.run("fish", "-c", 'complete --do-complete="$LINE"', env={"LINE": line})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [entry.split("\t")[0] for entry in done.stdout.splitlines()]


# Command lines whose completions are our own words (options, shells, profiles): bash and fish
# must offer the same ones. fish inserts `--profile=NAME` whole where bash, which splits at `=`,
# completes NAME.
SAME_IN_BASH_AND_FISH = [
    "aws-mfa-run -",
    "aws-mfa-run --prof",
    "aws-mfa-run --lo",
    "aws-mfa-run -p ",
    "aws-mfa-run -p ad",
    "aws-mfa-run -p zzz",
    "aws-mfa-run --profile=ci",
    "aws-mfa-run --profile=",
    "aws-mfa-run --target-profile ",
    "aws-mfa-run --completion ",
    "aws-mfa-run --env ",
    "aws-mfa-run --env p",
    "aws-mfa-run --env=",
    "aws-mfa-run --env fish --lo",
    "aws-mfa-run --env sh -p adm",
    "aws-mfa-run --env zsh --target-profile ",
    "aws-mfa-run --env --stat",
    "aws-mfa-run --serial ",
    "aws-mfa-run --duration 9",
    "aws-mfa-run -p admin --lo",
    "aws-mfa-run --login 123456 --target-profile d",
    "aws-mfa-run --status --",
    "aws-mfa-run --logout -",
    "aws-mfa-run --install-alias --",
    "aws-mfa-run -p admin --rotate-keys --",
]


@pytest.mark.skipif(
    shutil.which("fish") is None, reason="fish is not installed (apt-get install fish)"
)
def test_fish_offers_what_bash_offers(bed: Bed) -> None:
    installed(bed)
    for line in SAME_IN_BASH_AND_FISH:
        in_bash = bash_offers(bed, line)
        in_fish = fish_offers(bed, line)
        last = line.split(" ")[-1]
        if last.startswith("--") and "=" in last:
            option = last.partition("=")[0] + "="
            in_fish = [word[len(option) :] for word in in_fish if word.startswith(option)]
        assert sorted(in_fish) == sorted(in_bash), line
    # Both see the same words as bash's own expectations, not only as each other.
    assert sorted(bash_offers(bed, "aws-mfa-run --env ")) == sorted(options.SHELLS)
    assert bash_offers(bed, "aws-mfa-run --env sh -p adm") == ["admin"]
    assert bash_offers(bed, "aws-mfa-run -p zzz") == []
    # After a mode, the options it uses (README's Options), no other.
    assert sorted(bash_offers(bed, "aws-mfa-run --status --")) == [
        "--help", "--json", "--min-remaining", "--profile", "--target-profile"
    ]  # fmt: skip
    assert sorted(bash_offers(bed, "aws-mfa-run --logout -")) == [
        "--all", "--help", "--profile", "-h", "-p"
    ]  # fmt: skip
    assert bash_offers(bed, "aws-mfa-run --env fish --lo") == []
    # After the options, the wrapped command, then that command's own completion.
    for line, expected in [
        ("aws-mfa-run printen", "printenv"),
        ("aws-mfa-run -p admin printen", "printenv"),
        ("aws-mfa-run --env sh -p admin printen", "printenv"),
        ("aws-mfa-run -- printen", "printenv"),
    ]:
        assert expected in bash_offers(bed, line), line
        assert expected in fish_offers(bed, line), line
    assert "--profile" not in fish_offers(bed, "aws-mfa-run -p admin printenv --prof")
    # fish as the wrapped command: its own --login.
    assert fish_offers(bed, "aws-mfa-run -p admin fish --logi") == ["--login"]


def test_no_profiles_at_all_offers_nothing(bed: Bed) -> None:
    """No config or credentials file: `-p <Tab>` leaves the line as typed, in every shell."""
    done = bed.run("sh", "-c", EXAMPLES["completion"])
    assert done.returncode == 0, done.stderr
    assert bash_offers(bed, "aws-mfa-run -p ") == []
    rc = bed.home / ".bashrc"
    # Ctrl-T shows the line as readline holds it, quotes and all.
    rc.write_text(
        "source ~/.local/share/bash-completion/completions/aws-mfa-run\nPS1='READY$ '\n"
        """bind -x '"\\C-t": printf "HELD<%s>\\n" "$READLINE_LINE"'\n"""
    )
    child = pexpect.spawn(
        "bash",
        ["--rcfile", str(rc), "--noprofile", "-i"],
        env={**bed.env, "TERM": "dumb", "INPUTRC": "/dev/null"},
        cwd=str(bed.root),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact("READY$ ")
    child.send("aws-mfa-run -p \t\x14")
    child.expect(r"HELD<([^>]*)>")
    assert child.match.group(1) == "aws-mfa-run -p "
    child.sendcontrol("c")
    child.expect_exact("READY$ ")
    child.sendline("exit")
    child.expect(pexpect.EOF)
    if shutil.which("fish") is not None:
        assert fish_offers(bed, "aws-mfa-run -p ") == []
        assert fish_offers(bed, "aws-mfa-run --profile=") == []
