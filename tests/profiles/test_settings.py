"""Profiles and settings, in-process: profile names as botocore reads them, reuse margins, role
chains, what a request resolves to."""

from __future__ import annotations

import shlex

import pytest
from botocore.configloader import _parse_section
from hypothesis import given
from hypothesis import strategies as st

from aws_mfa_run import inifile
from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.errors import ConfigError, UsageError
from aws_mfa_run.paths import Paths
from aws_mfa_run.profiles import config_section_name, profile_of_section, shell_words
from aws_mfa_run.settings import (
    DEFAULT_MIN_REMAINING,
    Request,
    Settings,
    resolve,
    role_chain,
    wanted_min_remaining,
)

# ---- profile names as botocore reads them --------------------------------------------------------


@given(st.text(alphabet=st.sampled_from(list("ab '\"\\\t-_")), max_size=14))
def test_shell_words_split_as_shlex_does(text: str) -> None:
    try:
        expected: list[str] | None = shlex.split(text)
    except ValueError:
        expected = None
    assert shell_words(text) == expected


@given(st.text(alphabet=st.sampled_from(list("pqrofile '\"\\-_")), max_size=20))
def test_section_headers_name_the_profiles_botocore_finds(header: str) -> None:
    botocore = _parse_section(header, {})
    expected = next(iter(botocore)) if header.startswith("profile") and botocore else None
    if header == "default":
        expected = "default"
    assert profile_of_section(header) == expected


@pytest.mark.parametrize("name", ["dev", "my dev", "o'brien", 'say "hi"', "a\\b"])
def test_written_sections_read_back_as_the_same_profile(name: str) -> None:
    header = config_section_name(name)
    assert next(iter(_parse_section(header, {}))) == name
    assert profile_of_section(header) == name


# ---- settings, margins, role chains ------------------------------------------------------------


def ini(text: str, path: str = "f") -> inifile.IniText:
    return inifile.parse(text, path)


def test_reuse_margin_sources_and_the_lifetime_cap() -> None:
    assert wanted_min_remaining(Request(), None) == DEFAULT_MIN_REMAINING
    assert wanted_min_remaining(Request(), "5") == 300
    assert wanted_min_remaining(Request(min_remaining="30"), "5") == 1800
    with pytest.raises(ConfigError, match=r"^mfa_min_remaining of profile 'dev' \(minutes\)"):
        wanted_min_remaining(Request(), "soon", "dev")
    # A 15-minute session: the margin is at most half of it.
    short = SessionCredentials("ASIA" + "A" * 16, "s", "t", 1000 + 900, issued=1000)
    assert short.margin(DEFAULT_MIN_REMAINING) == 450
    assert short.usable(1000 + 400, DEFAULT_MIN_REMAINING)
    assert not short.usable(1000 + 460, DEFAULT_MIN_REMAINING)
    assert short.margin(DEFAULT_MIN_REMAINING, floor=660) == 660  # credential_process's floor
    unknown = SessionCredentials("ASIA" + "A" * 16, "s", "t", 2000)
    assert unknown.margin(DEFAULT_MIN_REMAINING) == DEFAULT_MIN_REMAINING


CONFIG = """[default]
region = eu-west-1
mfa_serial = arn:aws:iam::123456789012:mfa/alice
[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = middle
[profile middle]
role_arn = arn:aws:iam::123456789012:role/middle
source_profile = default
region = us-east-2
[profile 'my dev']
region = ap-south-1
"""
CREDENTIALS = "[default]\naws_access_key_id = AKIA\n[my dev]\naws_access_key_id = AKIB\n"


def settings_for(profile: str, target_profile: str | None = None) -> Settings:
    request = Request(profile=profile, target_profile=target_profile)
    return resolve(request, {"HOME": "/h"}, ini(CONFIG), ini(CREDENTIALS), Paths({"HOME": "/h"}))


def test_role_chains_from_the_profile_to_the_keys() -> None:
    chain, base = role_chain("admin", ini(CONFIG), ini(CREDENTIALS))
    assert [role.profile for role in chain] == ["admin", "middle"] and base == "default"
    looped = CONFIG.replace("source_profile = default", "source_profile = admin")
    with pytest.raises(ConfigError, match="loop"):
        role_chain("admin", ini(looped), ini(CREDENTIALS))


def test_resolved_settings_of_a_role_and_a_plain_profile() -> None:
    role = settings_for("admin")
    assert (role.profile, role.source_profile) == ("admin", "default")
    assert (role.session_target, role.login_target) == ("mfa", "admin-mfa")
    assert role.serial == "arn:aws:iam::123456789012:mfa/alice"
    spaced = settings_for("my dev")
    assert (spaced.region, spaced.session_target) == ("ap-south-1", "my dev-mfa")
    with pytest.raises(UsageError, match="long-term keys"):
        settings_for("default", target_profile="default")


def test_a_request_is_made_not_changed() -> None:
    """Settings for another profile come from another Request: one is never changed in place."""
    request = Request(profile="admin", min_remaining="30")
    with pytest.raises(AttributeError, match="make another"):
        request.profile = "default"
    assert request.profile == "admin"
    other = Request(profile="default", min_remaining=request.min_remaining)
    settings = resolve(other, {}, ini(CONFIG), ini(CREDENTIALS), Paths({"HOME": "/h"}))
    assert settings.min_remaining == 30 * 60


def test_a_target_of_ours_leads_to_its_source() -> None:
    credentials = CREDENTIALS + "[mfa]\naws_mfa_run_source_profile = default\n"
    request = Request(profile="mfa")
    settings = resolve(request, {}, ini(CONFIG), ini(credentials), Paths({"HOME": "/h"}))
    assert (settings.profile, settings.followed_from) == ("default", "mfa")
