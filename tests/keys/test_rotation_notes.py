"""The notes --rotate-keys leaves for logins still waiting for AWS, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_mfa_run.credentials import store


@pytest.mark.parametrize("fraction", [0.0, 0.4, 0.6, 0.99])
def test_a_rotation_is_found_by_a_login_reading_it_a_moment_later(
    tmp_path: Path, fraction: float
) -> None:
    """A login that read the old key stores its session as the new key's when --rotate-keys
    replaced it meanwhile, however soon after the rotation the login ends (CI found a login
    0.3 s after a rotation at x.6 s storing a session that was never reused)."""
    old, new = "AKIAOLDOLDOLDOLDOLD1", "AKIANEWNEWNEWNEWNEW1"
    rotated_at = 1_800_000_000 + fraction
    store.note_rotation(str(tmp_path), "default", old, new, rotated_at)
    for later in (0.001, 0.3, 60.0):
        assert store.rotated_to(str(tmp_path), "default", old, rotated_at + later) == new
    assert store.rotated_to(str(tmp_path), "other", old, rotated_at + 1) == old
