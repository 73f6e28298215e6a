"""HTTPS to the stand-in: a certificate is checked before any code is sent (botocore's rules)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from conftest import AWS_MFA_RUN, Bed, check_no_secret_shown
from fakeaws import FakeAws


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[FakeAws, Path]]:
    """The stand-in on HTTPS with a certificate for 127.0.0.1 from a CA of this test only."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = FakeAws()
    server.start(tls=context)
    yield server, ca_file
    server.stop()


@pytest.fixture
def tls_bed(tmp_path: Path, tls: tuple[FakeAws, Path]) -> Iterator[Bed]:
    bed = Bed(tmp_path / "bed", tls[0])
    bed.write_profiles()
    yield bed
    check_no_secret_shown(bed)


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_https_with_a_trusted_ca(tls_bed: Bed, tls: tuple[FakeAws, Path], variable: str) -> None:
    assert tls_bed.fake.url.startswith("https://127.0.0.1:")
    # A leading ~ is the HOME's, as urllib3 reads it under botocore.
    env = {variable: "~/" + os.path.relpath(tls[1], tls_bed.home)}
    done = tls_bed.run(AWS_MFA_RUN, "--login", tls_bed.fresh_code(), env=env)
    assert done.returncode == 0, done.stderr
    assert tls_bed.ini_section(tls_bed.credentials, "mfa")["aws_session_token"]


def test_https_with_an_unknown_ca_is_refused_before_the_code_is_sent(
    tls_bed: Bed, tls: tuple[FakeAws, Path]
) -> None:
    ca_file = tls[1]
    before = tls_bed.snapshot()
    code = tls_bed.fresh_code()
    done = tls_bed.run(AWS_MFA_RUN, "--login", code)
    assert done.returncode == 6, done.stderr
    assert "TLS certificate" in done.stderr and "AWS_CA_BUNDLE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert tls_bed.snapshot() == before
    assert tls_bed.fake.calls["GetSessionToken"] == 0
    # The code never left this computer: it is not spent, and works once the CA is named.
    env = {"AWS_CA_BUNDLE": str(ca_file)}
    again = tls_bed.run(AWS_MFA_RUN, "--login", code, env=env)
    assert again.returncode == 0, again.stderr
