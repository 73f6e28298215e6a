"""The GetSessionToken call: our own (standard library) when the setup is plain, else botocore's.

Which one answered is visible to AWS (and in CloudTrail) as the User-Agent: ours starts with
`aws-mfa-run/`, botocore's with `Botocore/`. Each setting that botocore honours and our call does
not know sends the call to botocore, and the login still works; certificates are checked either way.
"""

from __future__ import annotations

import os
import ssl
import string
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from aws_mfa_run import sts_direct
from conftest import AWS_MFA_RUN, FIGURES, Bed, check_no_secret_shown
from fakeaws import FakeAws

# Set to a value that changes nothing against the stand-in, each of these is a setting botocore
# reads for STS and our call does not: it must go to botocore.
BOTOCORE_SETTINGS = {
    "AWS_STS_REGIONAL_ENDPOINTS": ({"AWS_STS_REGIONAL_ENDPOINTS": "regional"}, ""),
    "AWS_USE_FIPS_ENDPOINT=false": ({"AWS_USE_FIPS_ENDPOINT": "false"}, ""),
    "sts_regional_endpoints in the profile": ({}, "sts_regional_endpoints = regional\n"),
    "a key of another tool": ({}, "okta_role = admin\n"),
    "ca_bundle in the profile": ({}, "ca_bundle = /etc/hostname\n"),
}
PLAIN_SETTINGS = {
    "nothing": ({}, ""),
    "output and cli_pager": ({}, "output = json\ncli_pager =\n"),
    "a CA bundle, unused over http": ({"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}, ""),
    # The generic variable points nowhere; the STS one wins, as in botocore.
    "AWS_ENDPOINT_URL_STS": (
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_STS": "{stand-in}"},
        "",
    ),
}


def caller_of_last_login(fake: FakeAws) -> str:
    agents = [agent for action, agent in fake.agents if action == "GetSessionToken"]
    assert agents, "no GetSessionToken call reached the stand-in"
    if agents[-1].startswith("aws-mfa-run/"):
        return "ours"
    if agents[-1].startswith("Botocore/"):
        return "botocore"
    return agents[-1]


def login(bed: Bed, env: dict[str, str], config_extra: str) -> None:
    if config_extra:
        with bed.config.open("a") as handle:
            handle.write(config_extra)
    env = {name: value.replace("{stand-in}", bed.fake.url) for name, value in env.items()}
    done = bed.run(AWS_MFA_RUN, "--login", "--force", bed.fresh_code(), env=env)
    assert done.returncode == 0, done.stderr
    assert bed.ini_section(bed.credentials, "mfa")["aws_session_token"]


@pytest.mark.parametrize("setting", PLAIN_SETTINGS)
def test_plain_setups_use_our_own_call(ready: Bed, setting: str) -> None:
    env, config_extra = PLAIN_SETTINGS[setting]
    login(ready, env, config_extra)
    assert caller_of_last_login(ready.fake) == "ours"


@pytest.mark.parametrize("setting", BOTOCORE_SETTINGS)
def test_settings_only_botocore_knows_send_the_call_to_botocore(ready: Bed, setting: str) -> None:
    env, config_extra = BOTOCORE_SETTINGS[setting]
    login(ready, env, config_extra)
    assert caller_of_last_login(ready.fake) == "botocore"


def test_a_proxy_in_the_environment_is_used(ready: Bed) -> None:
    # The stand-in also acts as an HTTP proxy: a request line with a whole URL counts as proxied.
    for variable in ("http_proxy", "HTTP_PROXY"):
        login(ready, {variable: ready.fake.url, "NO_PROXY": ""}, "")
        assert caller_of_last_login(ready.fake) == "botocore"
    assert ready.fake.proxied == 2


# ---- HTTPS ----------------------------------------------------------------------------------


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
@pytest.mark.parametrize("caller", ["ours", "botocore"])
def test_https_with_a_trusted_ca(
    tls_bed: Bed, tls: tuple[FakeAws, Path], variable: str, caller: str
) -> None:
    assert tls_bed.fake.url.startswith("https://127.0.0.1:")
    # A leading ~ is the HOME's, as urllib3 reads it under botocore.
    env = {variable: "~/" + os.path.relpath(tls[1], tls_bed.home)}
    if caller == "botocore":
        env["AWS_STS_REGIONAL_ENDPOINTS"] = "regional"
    login(tls_bed, env, "")
    assert caller_of_last_login(tls_bed.fake) == caller


@pytest.mark.parametrize("caller", ["ours", "botocore"])
def test_https_with_an_unknown_ca_is_refused(tls_bed: Bed, caller: str) -> None:
    before = tls_bed.snapshot()
    env = {"AWS_STS_REGIONAL_ENDPOINTS": "regional"} if caller == "botocore" else {}
    started = time.monotonic()
    done = tls_bed.run(AWS_MFA_RUN, "--login", tls_bed.fresh_code(), env=env)
    assert done.returncode == 6, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    if caller == "ours":
        assert "certificate" in done.stderr and "AWS_CA_BUNDLE" in done.stderr
    assert tls_bed.snapshot() == before
    assert tls_bed.fake.calls["GetSessionToken"] == 0  # refused before the code was sent
    assert time.monotonic() - started < 10


# ---- against botocore, in-process ---------------------------------------------------------

KEY_ID = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=32)
SECRET = st.text(alphabet=string.ascii_letters + string.digits + "+/", min_size=1, max_size=60)
SERIAL = st.text(alphabet=string.ascii_letters + string.digits + "_+=/:,.@-", min_size=9)
HOST = st.sampled_from(
    ["sts.us-east-1.amazonaws.com", "sts.eu-west-1.amazonaws.com", "127.0.0.1:8443", "[::1]:9"]
)


@settings(max_examples=300, deadline=None)
@given(
    key_id=KEY_ID,
    secret=SECRET,
    serial=SERIAL,
    code=st.text(alphabet=string.digits, min_size=6, max_size=6),
    duration=st.none() | st.integers(900, 129600),
    host=HOST,
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-7", "mx-central-1"]),
    now=st.integers(0, 4102444800),
)
def test_signature_is_botocores(
    key_id: str,
    secret: str,
    serial: str,
    code: str,
    duration: int | None,
    host: str,
    region: str,
    now: int,
) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = sts_direct.form_body(serial, code, duration)
    ours = sts_direct.signed_headers(
        host=host, body=body, region=region, keys=(key_id, secret), now=now
    )
    request = AWSRequest(
        method="POST",
        url=f"https://{host}/",
        data=body,
        headers={"Content-Type": ours["content-type"], "Host": host},
    )
    # add_auth would stamp its own time; sign at ours with the steps add_auth is made of.
    request.headers["X-Amz-Date"] = ours["x-amz-date"]
    request.context["timestamp"] = ours["x-amz-date"]
    auth = SigV4Auth(Credentials(key_id, secret), "sts", region)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    expected_authorization = (
        f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, "
        f"SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}, "
        f"Signature={signature}"
    )
    assert ours["authorization"] == expected_authorization
    assert ours["x-amz-date"] == time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    # The body is the form botocore's query serializer would send, field for field.
    sent = dict(parse_qsl(body.decode(), strict_parsing=True))
    expected = {"Action": "GetSessionToken", "Version": "2011-06-15", "SerialNumber": serial}
    expected["TokenCode"] = code
    if duration is not None:
        expected["DurationSeconds"] = str(duration)
    assert sent == expected


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-7", "mx-central-1", "il-central-1"],
)
def test_default_endpoint_is_botocores(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    client = botocore.session.Session().create_client(
        "sts", region_name=region, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x"
    )
    ours = sts_direct.endpoint_for({}, region, [], "linux")
    assert ours == client.meta.endpoint_url.rstrip("/") + "/"


@pytest.mark.parametrize(
    "region", ["cn-north-1", "us-gov-west-1", "us-iso-east-1", "eusc-de-east-1", "local", ""]
)
def test_other_partitions_go_to_botocore(region: str) -> None:
    assert sts_direct.endpoint_for({}, region, [], "linux") is None


@pytest.mark.parametrize("framing", ["chunked", "close", "interim"])
def test_every_http_framing_of_the_answer_is_read(ready: Bed, framing: str) -> None:
    ready.fake.framing = framing
    login(ready, {}, "")
    assert caller_of_last_login(ready.fake) == "ours"


# ---- pure parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "complete", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", False, (200, b"ok")),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", False, None),
        (b"HTTP/1.1 403 Forbidden\r\n\r\nbody", True, (403, b"body")),
        (b"HTTP/1.1 403 Forbidden\r\n\r\nbody", False, None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!", False, None),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
            False,
            (200, b"ok!"),
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
            False,
            (200, b"x"),
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Le", False, None),
    ],
)
def test_answers_are_framed_as_http_says(
    data: bytes, complete: bool, expected: tuple[int, bytes] | None
) -> None:
    assert sts_direct.parse_answer(data, complete) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nContent-Le",  # closed inside the head
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",  # closed inside the body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\nok",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"",
    ],
)
def test_broken_answers_are_refused(data: bytes) -> None:
    with pytest.raises(sts_direct.TransportError):
        sts_direct.parse_answer(data, complete=True)


def test_xml_with_a_document_type_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><ErrorResponse><Error><Code>&lol2;</Code>'
        b"</Error></ErrorResponse>"
    )
    with pytest.raises(sts_direct.TransportError):
        sts_direct.leaf_texts(laughs)
    texts = sts_direct.leaf_texts(
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        b"<Code>AccessDenied</Code><Message>No &amp; no</Message></Error></ErrorResponse>"
    )
    assert texts["ErrorResponse/Error/Code"] == "AccessDenied"
    assert texts["ErrorResponse/Error/Message"] == "No & no"


def test_a_line_break_in_a_header_value_is_never_sent() -> None:
    with pytest.raises(sts_direct.TransportError):
        sts_direct.request_bytes(
            {"host": "sts.amazonaws.com", "authorization": "x\rX-Evil: 1"}, b""
        )


URL_TEXT = st.text(alphabet="htps:/[]0123456789abcdefxyz.-@?#%: \\", max_size=40) | st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp"]),
    st.sampled_from(["127.0.0.1", "sts.eu-west-1.amazonaws.com", "[::1]", "[fe80::1%25lo]", "a_b"]),
    st.sampled_from(["", ":8443", ":0", ":65536", ":x", ":"]),
    st.sampled_from(["", "/", "/path", "?q=1", "#f", "//"]),
)


@settings(max_examples=500, deadline=None)
@given(url=URL_TEXT)
def test_endpoint_urls_we_accept_mean_what_urllib_says(url: str) -> None:
    from urllib.parse import urlsplit

    ours = sts_direct.split_endpoint(url)
    if ours is None:
        return  # botocore takes it
    theirs = urlsplit(url)
    assert (theirs.scheme, theirs.hostname, theirs.port) == ours
    assert theirs.path in ("", "/") and not theirs.query and not theirs.fragment
    assert theirs.username is None and theirs.password is None


def test_plain_endpoint_urls_are_accepted() -> None:
    accepted = {
        "http://127.0.0.1:4566": ("http", "127.0.0.1", 4566),
        "https://sts.eu-west-1.amazonaws.com/": ("https", "sts.eu-west-1.amazonaws.com", None),
        "http://[::1]:8080/": ("http", "::1", 8080),
    }
    for url, parts in accepted.items():
        assert sts_direct.split_endpoint(url) == parts


def test_an_answer_dripping_in_is_cut_off_in_bounded_time(ready: Bed) -> None:
    # A byte every half second: each read is quick, the whole answer would take minutes.
    before = ready.snapshot()
    ready.fake.mode = "drip"
    token = ready.fresh_code()
    started = time.monotonic()
    done = ready.run(AWS_MFA_RUN, "--login", token)
    elapsed = time.monotonic() - started
    assert done.returncode == 6 and "in time" in done.stderr, done.stderr
    assert elapsed < 15, elapsed
    assert ready.snapshot() == before
    assert caller_of_last_login(ready.fake) == "ours"
    FIGURES["answer dripping a byte every 0.5 s, own call"] = f"cut off after {elapsed:.1f} s"


def test_cold_login_with_a_plain_setup_imports_no_botocore(ready: Bed) -> None:
    token = ready.fresh_code()
    done = ready.run(sys.executable, "-X", "importtime", "-m", "aws_mfa_run", "--login", token)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    assert "aws_mfa_run.sts_direct" in imported  # the guard sees our own imports...
    heavy = ("botocore", "boto3", "http.client", "xml.etree", "json", "tempfile")
    assert not [name for name in imported if name.startswith(heavy)]
    assert ready.fake.calls["GetSessionToken"] == 1
