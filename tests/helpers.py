"""Helpers that several test modules share: README's examples, the roles of README, the console's
stand-in browser, the tests' keyring. Test modules import from here (or conftest.py, which makes
the bed), never from one another.
"""

from __future__ import annotations

import json
import random
import re
import sys
import urllib.request
from pathlib import Path

import pexpect

from conftest import AWS_MFA_RUN, REPO, Bed
from fakeaws import User

# ---- kill trials ------------------------------------------------------------------------------


def kill_delays(
    seed: str, window: float, trials: int, shard: int = 0, shards: int = 1
) -> list[float]:
    """When a shard's kills land: trial i of TRIALS at a random point of the i-th of as many
    equal slices of the window, shard k taking trials k, k + shards, ... (so any stretch of the
    run longer than shards + 1 slices gets a kill from every shard, early and late ones alike,
    where a uniform draw may leave a shard without late kills), in a random order (what a kill
    leaves is met by early and late kills alike, as with uniform random times)."""
    rng = random.Random(f"{seed} {shard}")
    delays = [window * (trial + rng.random()) / trials for trial in range(shard, trials, shards)]
    rng.shuffle(delays)
    return delays


# ---- README's copy-paste examples ------------------------------------------------------------

# Each example README marks with `<!-- test: NAME -->` above its code block, by NAME.
_EXAMPLE_BLOCK = re.compile(r"<!-- test: ([\w-]+) -->\n```\w*\n(.*?)```", re.S)
EXAMPLES: dict[str, str] = dict(_EXAMPLE_BLOCK.findall((REPO / "README.md").read_text()))


def alias_file(bed: Bed) -> Path:
    """The AWS CLI's alias file in the bed's HOME."""
    return bed.aws_dir / "cli" / "alias"


# ---- role profiles behind MFA ----------------------------------------------------------------

WHOAMI = ("aws", "sts", "get-caller-identity", "--query", "Arn", "--output", "text")


def with_roles(bed: Bed) -> Bed:
    """The README's role configuration, with roles that require MFA and trust alice."""
    bed.fake.add_role("admin", bed.alice)
    bed.fake.add_role("readonly", bed.alice)
    bed.config.write_text(EXAMPLES["roles"].replace("mfa/alice", f"mfa/{bed.alice.name}"))
    return bed


# ---- --console -------------------------------------------------------------------------------

# A stand-in browser (BROWSER, which Python's webbrowser honours): records what it was given.
BROWSER = """\
import json, os, sys
from urllib.parse import urlsplit, unquote
page = unquote(urlsplit(sys.argv[1]).path)
record = {
    "argv": sys.argv[1:],
    "page_mode": oct(os.stat(page).st_mode & 0o777),
    "directory_mode": oct(os.stat(os.path.dirname(page)).st_mode & 0o777),
    "page": open(page).read(),
    "path": page,
}
with open(os.environ["BROWSER_RECORD"], "w") as handle:
    json.dump(record, handle)
"""


def console_bed(bed: Bed) -> dict[str, str]:
    """Roles as in README, alice logged in, a stand-in browser; returns the extra environment."""
    with_roles(bed)
    assert bed.run(AWS_MFA_RUN, "--login", bed.fresh_code()).returncode == 0
    browser = bed.root / "browser.py"
    browser.write_text(BROWSER)
    launcher = bed.root / "browser"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {browser} "$@"\n')
    launcher.chmod(0o755)
    return {
        "AWS_MFA_RUN_SIGNIN_URL": f"{bed.fake.url}/federation",
        "BROWSER": str(launcher),
        "BROWSER_RECORD": str(bed.root / "browser.json"),
        "AWS_MFA_RUN_CONSOLE_PAGE_SECONDS": "2",
    }


def signed_in_as(url: str) -> str:
    """The page the stand-in's console shows for a login URL: who is signed in."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # the stand-in, on 127.0.0.1
        text: str = answer.read().decode()
    return text


# ---- the tests' keyring ----------------------------------------------------------------------

KEYRINGS = REPO / "tests" / "keyrings"
SERVICE = "aws-mfa-run"  # README: "service aws-mfa-run, user name the profile"


def use_test_keyring(bed: Bed) -> None:
    """The tests' keyring backend (tests/keyrings/filekeyring.py: a JSON file in the bed's HOME),
    selected the way keyring selects any backend."""
    bed.env.update(PYTHON_KEYRING_BACKEND="filekeyring.FileKeyring", PYTHONPATH=str(KEYRINGS))


def keyring_entry(bed: Bed, profile: str = "default") -> dict[str, str] | None:
    """What the tests' keyring holds for PROFILE, parsed; None when nothing."""
    path = bed.home / "test-keyring.json"
    if not path.exists():
        return None
    text = json.loads(path.read_text()).get(f"{SERVICE}\0{profile}")
    return None if text is None else dict(json.loads(text))


def type_keys(child: pexpect.spawn, user: User) -> pexpect.spawn:
    """Answer the two prompts of `--store-keys` for a profile without keys with USER's keys, as
    a user types them, and wait for the command to end."""
    child.expect("Access key ID: ")
    child.sendline(user.access_key)
    child.expect("Secret access key: ")
    child.sendline(user.secret_key)
    child.expect(pexpect.EOF)
    child.close()
    return child


def assert_refused_as_malformed(bed: Bed, call: str, tamper: dict[str, str]) -> None:
    """AWS's answer to CALL (GetSessionToken or AssumeRole), changed by TAMPER (the stand-in's
    hook), on the way to the admin role: refused as malformed (exit 6), nothing written."""
    bed.fake.add_role("admin", bed.alice)
    with bed.config.open("a") as handle:
        handle.write(
            "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\n"
            "source_profile = default\n"
        )
    if call == "AssumeRole":
        # A good MFA session first: only the role's answer is malformed.
        assert bed.run(AWS_MFA_RUN, "--login", bed.fresh_code()).returncode == 0
    before = bed.snapshot()
    bed.fake.tamper = tamper
    done = bed.run(AWS_MFA_RUN, "-p", "admin", "--token-code", bed.fresh_code(), "true")
    assert done.returncode == 6, done.stderr
    assert "malformed" in done.stderr and "nothing was written" in done.stderr
    assert bed.fake.calls[call] == 1
    assert bed.snapshot() == before
    roles = bed.aws_dir / "aws-mfa-run" / "roles"
    assert not roles.exists() or list(roles.iterdir()) == []


def add_profile_with_alices_key(bed: Bed, name: str = "ci") -> None:
    """A second profile NAME holding the same long-term key as [default] (alice's), with her
    MFA device: another profile of the same IAM user."""
    alice = bed.alice
    with bed.credentials.open("a") as handle:
        handle.write(
            f"[{name}]\naws_access_key_id = {alice.access_key}\n"
            f"aws_secret_access_key = {alice.secret_key}\n"
        )
    with bed.config.open("a") as handle:
        handle.write(f"[profile {name}]\nregion = eu-west-1\nmfa_serial = {bed.device.serial}\n")
