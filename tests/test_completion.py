"""Shell completion: README's install lines, then real Tab presses in bash and zsh (pseudo-
terminals) and fish's own `complete -C`. Profile names come from the bed's files."""

from __future__ import annotations

import shutil

import pexpect
import pytest

from aws_mfa_run import arguments, completion
from conftest import AWS_MFA_RUN, Bed
from test_readme import EXAMPLES


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
    line = child.match.group(1)
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
    offered = {name for names, _, _ in completion.WORDS for name in names}
    hidden = {completion.PROFILES_MODE}
    assert offered == (set(arguments._OPTIONS) | set(arguments.MODES)) - hidden


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
    # Tab twice lists every profile; a profile added now is offered at once.
    with bed.config.open("a") as handle:
        handle.write("[profile late-one]\nregion = eu-west-1\n")
    child.send("aws-mfa-run -p \t\t")
    child.expect("admin")
    child.expect("ci-bot")
    child.expect("late-one")
    child.sendcontrol("c")
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
