"""STS GetSessionToken with the standard library: the one AWS call on the path of a cold `make -j`.

Importing botocore and building a client costs about 170 ms, paid by the one process that fetches
while every other target waits for it. This call is small (a signed form POST, an XML answer), so
it is made here: Signature Version 4 with hmac/hashlib, one HTTP/1.1 request on a socket (TLS
with the same CA certificates botocore would use). It is made only when nothing botocore would
honour differently is configured; `endpoint_for` returns None otherwise, and sts.py uses
botocore. The stand-in in the tests checks these signatures with botocore's own signer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time

from aws_mfa_run import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Collection, Mapping

STS_VERSION = "2011-06-15"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
MAX_ANSWER_BYTES = 1 << 20  # a GetSessionToken answer is about 1 KB
# The aws partition's region pattern, ^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$, in botocore's
# endpoints.json: its regions have STS at sts.REGION.amazonaws.com. Other partitions (China,
# GovCloud, ISO, sovereign clouds) have their own domains: botocore knows them, we do not.
AWS_PARTITION_PREFIXES = frozenset({"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"})
# Profile keys that cannot change where or how botocore sends GetSessionToken. Any other key
# (endpoint_url, services, ca_bundle, use_fips_endpoint, sts_regional_endpoints, a key of a
# newer botocore we have not read, ...) sends the call through botocore instead.
NEUTRAL_PROFILE_KEYS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "region",
        "output",
        "mfa_serial",
        "mfa_session_duration",
        "mfa_min_remaining",
        "mfa_process",
        "duration_seconds",
        "role_session_name",
        "parameter_validation",
        "max_attempts",
        "retry_mode",
        "metadata_service_timeout",
        "metadata_service_num_attempts",
        "s3",
    }
)
# Environment variables botocore or urllib read that would change the call. Proxies are read by
# urllib in any letter case.
ROUTING_VARIABLES = (
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_DATA_PATH",
    "AWS_AUTH_SCHEME_PREFERENCE",
    "AWS_SIGV4A_SIGNING_REGION_SET",
)
# Read by ca_certificates; botocore refuses a blank one, so a blank one goes to botocore.
CA_VARIABLES = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


class ServiceError(Exception):
    """AWS answered with an error: its code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


class TransportError(Exception):
    """No usable answer: `kind` is "timeout", "connect", "certificate", "answer" or "other"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def _is_aws_partition_region(region: str) -> bool:
    parts = region.split("-")
    return (
        len(parts) == 3
        and parts[0] in AWS_PARTITION_PREFIXES
        and parts[1].isascii()
        and parts[1].replace("_", "").isalnum()
        and parts[2].isascii()
        and parts[2].isdigit()
    )


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
IPV6_CHARACTERS = frozenset("0123456789abcdefABCDEF:.")


def split_endpoint(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of `http[s]://host[:port][/]`; None for any other form.

    Deliberately narrow (and without urllib.parse, which imports re): what it does not accept,
    botocore handles.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("http", "https"):
        return None
    if rest.endswith("/"):
        rest = rest[:-1]
    port_text: str | None = None
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not host or not IPV6_CHARACTERS.issuperset(host):
            return None
        if tail:
            if not tail.startswith(":"):
                return None
            port_text = tail[1:]
    else:
        host, colon, after = rest.partition(":")
        if not host or not HOST_CHARACTERS.issuperset(host):
            return None
        if colon:
            port_text = after
    port = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
            return None
        port = int(port_text)
    return scheme, host, port


def endpoint_for(
    env: Mapping[str, str], region: str, profile_keys: Collection[str], platform: str
) -> str | None:
    """The URL to POST GetSessionToken to, or None when botocore should make the call.

    `profile_keys` are the keys of the source profile's section in the config file.
    """
    if any(key not in NEUTRAL_PROFILE_KEYS and not key.startswith("cli_") for key in profile_keys):
        return None
    if any(env.get(name) for name in ROUTING_VARIABLES):
        return None
    if any(name in env and not env[name].strip() for name in CA_VARIABLES):
        return None
    if any(env.get(name) or env.get(name.upper()) for name in PROXY_VARIABLES):
        return None
    if platform == "darwin":
        return None  # urllib (so botocore) also reads the system's proxy settings there
    configured = None
    if not _true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        configured = env.get("AWS_ENDPOINT_URL_STS") or env.get("AWS_ENDPOINT_URL")
    if configured:
        # Only scheme://host[:port][/]; a path, user name or anything unusual goes to botocore.
        return configured if split_endpoint(configured) is not None else None
    if not _is_aws_partition_region(region):
        return None
    return f"https://sts.{region}.amazonaws.com/"


UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _percent_encoded(value: str) -> str:
    """As urllib.parse.quote(value, safe="-_.~"), which botocore's form serializer uses."""
    return "".join(
        chr(byte) if byte in UNRESERVED else f"%{byte:02X}" for byte in value.encode("utf-8")
    )


def form_body(serial: str, code: str, duration: int | None) -> bytes:
    fields = [
        ("Action", "GetSessionToken"),
        ("Version", STS_VERSION),
        ("SerialNumber", serial),
        ("TokenCode", code),
    ]
    if duration is not None:
        fields.append(("DurationSeconds", str(duration)))
    return "&".join(f"{name}={_percent_encoded(value)}" for name, value in fields).encode()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_headers(
    *, host: str, body: bytes, region: str, keys: tuple[str, str], now: float
) -> dict[str, str]:
    """The headers of a Signature Version 4 POST of `body` to https://`host`/ for STS.

    `host` is the Host header as sent: with the port when it is not the scheme's default.
    """
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = amz_date[:8]
    scope = f"{day}/{region}/sts/aws4_request"
    headers = {"content-type": CONTENT_TYPE, "host": host, "x-amz-date": amz_date}
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            names,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + keys[1]).encode("utf-8"), day)
    for part in (region, "sts", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={keys[0]}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return headers


def _host_header(scheme: str, host: str, port: int | None) -> str:
    if port is None or port == (443 if scheme == "https" else 80):
        return host if ":" not in host else f"[{host}]"
    return f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"


def ca_certificates(env: Mapping[str, str]) -> str:
    """The CA file botocore would verify against.

    Its order: AWS_CA_BUNDLE (ca_bundle in the profile sends the call to botocore), then
    REQUESTS_CA_BUNDLE, then certifi's file when certifi is installed, else its own cacert.pem.
    """
    for name in CA_VARIABLES:
        if env.get(name):
            return os.path.expanduser(env[name])  # as urllib3 does under botocore
    try:
        from certifi import where
    except ImportError:
        import importlib.util

        spec = importlib.util.find_spec("botocore")
        if spec is None or not spec.submodule_search_locations:
            raise TransportError("certificate", "botocore's CA certificates are missing") from None
        return os.path.join(next(iter(spec.submodule_search_locations)), "cacert.pem")
    return where()


def tls_context(url: str, env: Mapping[str, str]) -> ssl.SSLContext | None:
    """For an https URL, a context that verifies the server against ca_certificates()."""
    if not url.startswith("https:"):
        return None
    import ssl

    ca_file = ca_certificates(env)
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise TransportError("certificate", f"cannot load {ca_file}: {reason}") from None
    # AWS requires TLS 1.2 or later; so do urllib3 2 and Python 3.10+, but not Python 3.9.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def request_bytes(headers: dict[str, str], body: bytes) -> bytes:
    """The whole HTTP/1.1 request: `headers` (with host) and the body, on a connection we close."""
    if any("\r" in value or "\n" in value for value in headers.values()):
        # A line break inside a value (an access key id read from a file) would forge headers.
        raise TransportError("other", "a header value holds a line break")
    lines = ["POST / HTTP/1.1", f"Host: {headers['host']}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name != "host"]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("utf-8") + body


def _dechunk(data: bytes) -> bytes | None:
    """The body of a chunked transfer, or None while its last chunk has not arrived."""
    body, position = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return None
        try:
            size = int(data[position:line_end].split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise TransportError("answer", "bad chunk size") from None
        if size == 0:
            return bytes(body)  # trailers, if any, are of no use to us
        start = line_end + 2
        if len(data) < start + size + 2:
            return None
        body += data[start : start + size]
        position = start + size + 2


def parse_answer(data: bytes, complete: bool) -> tuple[int, bytes] | None:
    """Status and body of the HTTP/1.1 answer in `data`; None while more is needed.

    `complete`: the server has closed the connection, so `data` is all there is.
    """
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        if complete:
            raise TransportError("answer", "the connection closed before an answer")
        return None
    lines = head.decode("latin-1").split("\r\n")
    version, _, remainder = lines[0].partition(" ")
    status_text = remainder[:3]
    if not version.startswith("HTTP/1.") or not (status_text.isdigit() and len(status_text) == 3):
        raise TransportError("answer", "not an HTTP answer")
    status = int(status_text)
    if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
        return parse_answer(rest, complete)
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = _dechunk(rest)
        if body is None and complete:
            raise TransportError("answer", "the connection closed inside the answer")
        return None if body is None else (status, body)
    if "content-length" in fields:
        try:
            length = int(fields["content-length"])
        except ValueError:
            raise TransportError("answer", "bad Content-Length") from None
        if len(rest) >= length:
            return status, rest[:length]
        if complete:
            raise TransportError("answer", "the connection closed inside the answer")
        return None
    return (status, rest) if complete else None  # delimited by the end of the connection


def _post_once(
    scheme: str,
    host: str,
    port: int | None,
    request: bytes,
    tls: ssl.SSLContext | None,
    connect_timeout: float,
    read_timeout: float,
) -> tuple[int, bytes]:
    """One request on a new connection. Not http.client: it imports the email package (about
    10 ms), paid by the one process every other target of a cold `make -j` waits for."""
    import socket

    # An ASCII name as bytes: getaddrinfo would otherwise import the idna codec for it.
    address = (
        host.encode("ascii") if host.isascii() else host,
        port or (443 if scheme == "https" else 80),
    )
    try:
        connection = socket.create_connection(address, timeout=connect_timeout)
    except socket.timeout:
        raise TransportError("timeout", "connect timed out") from None
    except OSError as error:
        raise TransportError("connect", type(error).__name__) from None
    try:
        if scheme == "https":
            import ssl

            if tls is None:
                raise TypeError("an https URL needs a TLS context")  # never plain instead
            try:
                connection = tls.wrap_socket(connection, server_hostname=host)
            except ssl.SSLCertVerificationError as error:
                raise TransportError("certificate", error.verify_message or "untrusted") from None
            except socket.timeout:
                raise TransportError("timeout", "TLS handshake timed out") from None
            except OSError as error:
                raise TransportError("other", type(error).__name__) from None
        # One deadline for the whole answer, not per read: a server dripping a byte at a time
        # must not hold the call (and every waiting make target) past the bound.
        deadline = time.monotonic() + read_timeout
        connection.settimeout(read_timeout)
        received = b""
        try:
            connection.sendall(request)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout
                connection.settimeout(left)
                chunk = connection.recv(65536)
                received += chunk
                if len(received) > MAX_ANSWER_BYTES:
                    raise TransportError("answer", "the answer is too large")
                answer = parse_answer(received, complete=not chunk)
                if answer is not None:
                    return answer
        except socket.timeout:
            raise TransportError("timeout", "read timed out") from None
        except OSError as error:
            raise TransportError("other", type(error).__name__) from None
    finally:
        connection.close()


def leaf_texts(content: bytes) -> dict[str, str]:
    """The text of each element of an XML answer by its path without namespaces.

    `{"ErrorResponse/Error/Code": "AccessDenied", ...}`. pyexpat directly: ElementTree's Python
    layer costs a few milliseconds to import. A document type declaration is refused: AWS never
    sends one, and entity tricks need one.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator=" ")
    path: list[str] = []
    texts: list[str] = []
    found: dict[str, str] = {}

    def start(name: str, attributes: object) -> None:
        path.append(name.rsplit(" ", 1)[-1])
        texts.clear()

    def end(name: str) -> None:
        found.setdefault("/".join(path), "".join(texts).strip())
        path.pop()
        texts.clear()

    def doctype(*arguments: object) -> None:
        raise TransportError("answer", "a document type declaration")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = texts.append
    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(content, True)
    except expat.ExpatError:
        raise TransportError("answer", "ResponseParserError") from None
    return found


def _parse(status: int, content: bytes) -> dict[str, str]:
    """The Credentials fields of a 200 answer; a ServiceError for an error answer."""
    try:
        texts = leaf_texts(content)
    except TransportError:
        if status == 200:
            raise
        raise ServiceError("", "", status) from None
    if status != 200:
        raise ServiceError(
            texts.get("ErrorResponse/Error/Code", ""),
            texts.get("ErrorResponse/Error/Message", ""),
            status,
        )
    prefix = "GetSessionTokenResponse/GetSessionTokenResult/Credentials/"
    return {path[len(prefix) :]: text for path, text in texts.items() if path.startswith(prefix)}


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)


def _worth_retrying(error: Exception) -> bool:
    """As botocore's standard retry mode: throttling, transient errors, 5xx and no answer."""
    if isinstance(error, TransportError):
        return error.kind not in ("certificate", "answer")
    assert isinstance(error, ServiceError)
    return (
        error.code in THROTTLING_CODES
        or error.code in TRANSIENT_CODES
        or error.status in (500, 502, 503, 504)
    )


def get_session_token(
    *,
    url: str,
    region: str,
    keys: tuple[str, str],
    serial: str,
    code: str,
    duration: int | None,
    env: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float,
    attempts: int,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """The Credentials fields AWS answered (empty when it sent none).

    `url` is one endpoint_for() returned. Raises ServiceError or TransportError; their text never
    holds the request or the answer.
    """
    parts = split_endpoint(url)
    if parts is None:
        raise TypeError(f"not an endpoint_for() URL: {url}")
    scheme, host, port = parts
    tls = tls_context(url, env)
    body = form_body(serial, code, duration)
    python = ".".join(str(n) for n in sys.version_info[:3])
    for attempt in range(attempts):
        headers = signed_headers(
            host=_host_header(scheme, host, port),
            body=body,
            region=region,
            keys=keys,
            now=clock(),
        )
        headers["user-agent"] = f"aws-mfa-run/{__version__} Python/{python}"
        try:
            request = request_bytes(headers, body)
            status, content = _post_once(
                scheme, host, port, request, tls, connect_timeout, read_timeout
            )
            return _parse(status, content)
        except (ServiceError, TransportError) as error:
            if attempt + 1 >= attempts or not _worth_retrying(error):
                raise
        # Full jitter, as botocore's standard mode: a random wait of up to 2**attempt seconds.
        sleep(int.from_bytes(os.urandom(2), "big") / 65536 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises
