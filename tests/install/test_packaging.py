"""How aws-mfa-run is packaged: what the installed distribution declares and what the code does
when a declared dependency cannot be imported."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from conftest import AWS_MFA_RUN, Bed


def test_keyring_is_a_required_dependency() -> None:
    """keyring_store imports keyring whenever long-term keys are looked up: it is no extra."""
    requirements = metadata.requires("aws-mfa-run") or []
    keyring = [line for line in requirements if line.split(">")[0].strip() == "keyring"]
    assert keyring, requirements
    assert all("extra" not in line for line in keyring), keyring


def test_a_keyring_that_cannot_be_imported_says_to_reinstall(ready: Bed, tmp_path: Path) -> None:
    # A keyring whose own dependency is gone, as a damaged installation leaves it.
    broken = tmp_path / "broken"
    (broken / "keyring").mkdir(parents=True)
    (broken / "keyring" / "__init__.py").write_text(
        "raise ImportError(\"No module named 'jeepney'\")\n"
    )
    before = ready.snapshot()
    done = ready.run(AWS_MFA_RUN, "--store-keys", env={"PYTHONPATH": str(broken)})
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "reinstall aws-mfa-run" in done.stderr and "jeepney" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert ready.snapshot() == before
