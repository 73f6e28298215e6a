"""The loopback credentials endpoint behind `aws-mfa-run --server`.

Every SDK that follows the container credentials provider (botocore, the AWS CLI v1 and v2, the
JavaScript, Go and Java SDKs) reads `AWS_CONTAINER_CREDENTIALS_FULL_URI`, sends
`AWS_CONTAINER_AUTHORIZATION_TOKEN` as the `Authorization` header, and asks again before the
credentials it got run out. This module answers those requests and nothing else:

- bound to 127.0.0.1 only, on a port the system picks; one path, GET only;
- a request without the token gets 401, with another token (or anything but GET of the one path)
  403, compared in constant time; no body beyond a short error, no log line;
- the answer is `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (ISO 8601 UTC);
- credentials come from `fetch`, one call at a time however many clients ask at once, and are
  reused while they have more than the reuse margin left;
- a failed fetch is answered with `{"Code", "Message"}` (botocore shows the body, the JavaScript
  SDK v3 attaches Code and Message to its error, the Go SDK v2 decodes both) and is not retried
  for RETRY_AFTER_ERROR seconds, unless the files it reads changed meanwhile (`aws mfa CODE`
  stored a session): no busy loop however hard the clients retry.

The HTTP side is a few lines over `socket` rather than `http.server`: importing http.server (and
the email package it pulls in) takes about 20 ms, most of the start-up budget of `--server`.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from aws_mfa_run.credentials.session import SessionCredentials, checked
from aws_mfa_run.errors import MfaRunError

# Imported for type checkers only: collections.abc and typing cost import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PATH = "/credentials"
TOKEN_BYTES = 32  # 256 random bits; the issue asks for at least 128
# Credentials are handed out again while they have more than this left: above botocore's
# advisory refresh window (15 minutes), so an SDK never asks twice for the same credentials.
REUSE_MARGIN = 16 * 60
# After a failed fetch, requests get the same error answer for this long before we try again:
# botocore makes three attempts a second apart, so each SDK call costs at most one fetch.
RETRY_AFTER_ERROR = 3.0
# Bounds for one request: the time to send it and its size. Clients send a few hundred bytes.
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 16 * 1024


class FetchFailed(Exception):
    """What an error answer carries: a code for programs and a sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def reuse_margin(lifetime: float, margin: float = REUSE_MARGIN) -> float:
    """The margin for credentials that lasted `lifetime` seconds when fetched: at most half of it,
    or short-lived credentials would never be reused."""
    return min(margin, lifetime / 2)


class CredentialsCache:
    """`fetch` behind a lock and a cache: one upstream call however many clients ask at once.

    `describe_error` turns our exception into the error answer (code, sentence); `say` gets one
    line per new failure (not per request); `version` names the state of what `fetch` reads (a
    file's size and time, say): a failure is retried at once when it changes.
    """

    def __init__(
        self,
        fetch: Callable[[], SessionCredentials],
        *,
        describe_error: Callable[[MfaRunError], FetchFailed],
        say: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        margin: float = REUSE_MARGIN,
        retry_after: float = RETRY_AFTER_ERROR,
        version: Callable[[], object] = lambda: None,
    ) -> None:
        self._fetch = fetch
        self._describe_error = describe_error
        self._say = say
        self._clock = clock
        self._margin = margin
        self._retry_after = retry_after
        self._version = version
        self._failed_version: object = None
        self._lock = threading.Lock()
        self._current: SessionCredentials | None = None
        self._lifetime = 0.0
        self._failure: FetchFailed | None = None
        self._failed_at = 0.0
        self._said = ""

    def _fresh(self, now: float) -> SessionCredentials | None:
        current = self._current
        if current is not None and current.usable(now, reuse_margin(self._lifetime, self._margin)):
            return current
        return None

    def get(self) -> SessionCredentials:
        """Valid credentials, or FetchFailed."""
        fresh = self._fresh(self._clock())
        if fresh is not None:
            return fresh
        with self._lock:
            now = self._clock()
            fresh = self._fresh(now)  # another thread may just have fetched
            if fresh is not None:
                return fresh
            if (
                self._failure is not None
                and now - self._failed_at < self._retry_after
                and self._version() == self._failed_version
            ):
                raise self._failure
            version = self._version()
            try:
                credentials = checked(self._fetch(), self._clock())
            except MfaRunError as error:
                failure = self._describe_error(error)
                self._failure, self._failed_at = failure, self._clock()
                self._failed_version = version
                if failure.message != self._said:
                    self._said = failure.message
                    self._say(failure.message)
                raise failure from None
            self._current, self._lifetime = credentials, credentials.expiration - now
            self._failure, self._said = None, ""
            return credentials

    def prime(self, credentials: SessionCredentials, fetched_at: float) -> None:
        """Start from credentials already fetched (before the command started)."""
        with self._lock:
            self._current = credentials
            self._lifetime = credentials.expiration - fetched_at


def _json_object(fields: dict[str, str]) -> bytes:
    from aws_mfa_run.environ import json_string

    items = (f"{json_string(key)}: {json_string(value)}" for key, value in fields.items())
    return ("{" + ", ".join(items) + "}").encode()


def credentials_body(credentials: SessionCredentials) -> bytes:
    from aws_mfa_run.timefmt import format_utc

    return _json_object(
        {
            "AccessKeyId": credentials.access_key_id,
            "SecretAccessKey": credentials.secret_access_key,
            "Token": credentials.session_token,
            "Expiration": format_utc(credentials.expiration),
        }
    )


REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 400: "Bad Request"}
# The status of an error answer from a failed fetch. A 4xx: the JavaScript SDK v3 attaches the
# body's Code and Message to its error only for those; botocore and the Go SDK show any status.
FETCH_FAILED_STATUS = 400


def _response(status: int, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _error_body(code: str, message: str) -> bytes:
    return _json_object({"Code": code, "Message": message})


UNAUTHORIZED = _response(401, _error_body("Unauthorized", "Authorization header missing."))
FORBIDDEN = _response(403, _error_body("Forbidden", "Not allowed."))
BAD_REQUEST = _response(400, _error_body("BadRequest", "Malformed request."))


def _read_head(connection: socket.socket) -> bytes | None:
    """The request line and headers, or None when the client sends too much or too slowly."""
    deadline = time.monotonic() + REQUEST_TIMEOUT
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or len(data) > MAX_REQUEST:
            return None
        connection.settimeout(left)
        chunk = connection.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data


class CredentialsServer:
    """The endpoint: `url` and `token` go into the command's environment."""

    def __init__(self, cache: CredentialsCache, host: str = "127.0.0.1") -> None:
        self.cache = cache
        self.token = os.urandom(
            TOKEN_BYTES
        ).hex()  # what secrets.token_hex does, without its imports
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self.url = f"http://{host}:{self._listener.getsockname()[1]}{PATH}"
        self._closed = False

    def start(self) -> None:
        threading.Thread(target=self._accept, name="credentials-endpoint", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                if self._closed:
                    return
                time.sleep(0.05)  # out of file descriptors, say: never spin
                continue
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            head = _read_head(connection)
            answer = BAD_REQUEST if head is None else self.answer(head)
            connection.settimeout(REQUEST_TIMEOUT)
            connection.sendall(answer)
        except OSError:
            pass  # the client went away: its own business
        finally:
            connection.close()

    def answer(self, head: bytes) -> bytes:
        """The whole HTTP response to a request whose line and headers are `head`."""
        lines = head.decode("latin-1").split("\n")
        words = lines[0].strip().split(" ")
        authorization = None
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() == "authorization":
                authorization = value.strip()
        if not authorization:
            return UNAUTHORIZED
        import hmac

        token_ok = hmac.compare_digest(authorization.encode(), self.token.encode())
        if not token_ok or len(words) != 3 or words[0] != "GET" or words[1] != PATH:
            return FORBIDDEN
        try:
            credentials = self.cache.get()
        except FetchFailed as failure:
            return _response(FETCH_FAILED_STATUS, _error_body(failure.code, failure.message))
        return _response(200, credentials_body(credentials))
