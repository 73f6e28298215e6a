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
    import selectors
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
# Clients whose request is not in yet, at most: a descriptor each. Beyond, the oldest is cut.
MAX_PENDING = 256
# New connections taken per round before reading the ones already open.
ACCEPT_BATCH = 32
# Threads that answer requests with the token (a fetch holds one while it runs).
WORKERS = 4


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


def _head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


def _close(connection: socket.socket, answer: bytes | None = None) -> None:
    """Close without ever blocking: a short answer fits the socket's send buffer, or is lost."""
    try:
        if answer is not None:
            connection.setblocking(False)
            connection.send(answer)
    except OSError:
        pass  # the client went away or reads nothing: its own business
    finally:
        connection.close()


class CredentialsServer:
    """The endpoint: `url` and `token` go into the command's environment.

    Other users on the machine can connect too (loopback is shared), so nothing they do may cost
    more than a descriptor for a few seconds, or stop the endpoint:
    - one thread reads every request (non-blocking, a selector), cuts a client that has not sent
      its request within REQUEST_TIMEOUT or sends more than MAX_REQUEST, and holds at most
      MAX_PENDING such clients (the oldest is cut first: a client with the token sends its
      request as soon as it connects);
    - it answers a request without the right token itself; only requests with the token go to a
      fixed pool of WORKERS threads (a fetch may take a while: a prompt, a slow STS);
    - every thread starts in `start()`, before the command: no thread is started per connection,
      so a low thread limit (RLIMIT_NPROC, a pids cgroup) cannot stop the endpoint later, and
      the loops survive every exception (out of descriptors, a bug of ours).
    """

    def __init__(self, cache: CredentialsCache, host: str = "127.0.0.1") -> None:
        self.cache = cache
        self.token = os.urandom(
            TOKEN_BYTES
        ).hex()  # what secrets.token_hex does, without its imports
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.url = f"http://{host}:{self._listener.getsockname()[1]}{PATH}"
        self._closed = False
        self._pending: dict[socket.socket, tuple[float, bytes]] = {}  # deadline, bytes so far
        self._work: list[tuple[socket.socket, bytes]] = []
        self._work_ready = threading.Condition()

    def start(self) -> None:
        """Start the reader and the workers; MfaRunError when not even one worker can start."""
        workers = 0
        for number in range(WORKERS):
            try:
                threading.Thread(
                    target=self._work_loop, name=f"credentials-worker-{number}", daemon=True
                ).start()
                workers += 1
            except RuntimeError:  # "can't start new thread": the thread limit
                break
        try:
            if not workers:
                raise RuntimeError
            threading.Thread(
                target=self._read_loop, name="credentials-endpoint", daemon=True
            ).start()
        except RuntimeError:
            self.close()
            raise MfaRunError(
                "Cannot start the credentials endpoint: no thread could be started "
                "(the process limit, ulimit -u, is reached)."
            ) from None

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._work_ready:
            self._work_ready.notify_all()

    def _read_loop(self) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        while not self._closed:
            try:
                self._read_round(selector)
            except Exception:  # the endpoint outlives any one round's failure
                time.sleep(0.05)  # out of file descriptors, say: never spin

    def _read_round(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for connection, (deadline, _) in list(self._pending.items()):
            if deadline <= now:
                self._drop(selector, connection, BAD_REQUEST)
        timeout = min((deadline for deadline, _ in self._pending.values()), default=now + 1) - now
        for key, _ in selector.select(max(timeout, 0.01)):
            if key.fileobj is self._listener:
                self._accept(selector)
                continue
            elif key.fileobj in self._pending:  # not cut earlier in this round
                self._receive(selector, key.fileobj)

    def _accept(self, selector: selectors.BaseSelector) -> None:
        import selectors

        for _ in range(ACCEPT_BATCH):  # then read what came in: nobody is starved
            try:
                connection, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError:
                # Out of descriptors (another user holding many connections, say): make room
                # by cutting the oldest waiting client, and try again next round.
                if self._pending:
                    self._drop(selector, next(iter(self._pending)), None)
                else:
                    time.sleep(0.05)  # nothing of ours to cut: wait, never spin
                return
            connection.setblocking(False)
            if len(self._pending) >= MAX_PENDING:
                self._drop(selector, next(iter(self._pending)), None)
            self._pending[connection] = (time.monotonic() + REQUEST_TIMEOUT, b"")
            selector.register(connection, selectors.EVENT_READ)
            self._receive(selector, connection)  # a client usually sent its request already

    def _drop(
        self, selector: selectors.BaseSelector, connection: socket.socket, answer: bytes | None
    ) -> None:
        self._pending.pop(connection, None)
        try:
            selector.unregister(connection)
        except (KeyError, ValueError):
            pass
        _close(connection, answer)

    def _receive(self, selector: selectors.BaseSelector, connection: socket.socket) -> None:
        deadline, data = self._pending[connection]
        try:
            chunk = connection.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(selector, connection, None)
            return
        data += chunk
        if not _head_complete(data):
            if len(data) > MAX_REQUEST:
                self._drop(selector, connection, BAD_REQUEST)
            else:
                self._pending[connection] = (deadline, data)
            return
        refusal = self.refusal(data)
        if refusal is not None:
            self._drop(selector, connection, refusal)
            return
        self._pending.pop(connection)
        selector.unregister(connection)
        with self._work_ready:
            self._work.append((connection, data))
            self._work_ready.notify()

    def _work_loop(self) -> None:
        while not self._closed:
            try:
                with self._work_ready:
                    while not self._work and not self._closed:
                        self._work_ready.wait()
                    if self._closed:
                        return
                    connection, head = self._work.pop(0)
                try:
                    connection.settimeout(REQUEST_TIMEOUT)  # a client that reads nothing is cut
                    connection.sendall(self.answer(head))
                finally:
                    connection.close()
            except Exception:  # a worker outlives any one request's failure
                time.sleep(0.05)

    def refusal(self, head: bytes) -> bytes | None:
        """The answer to a request that gets no credentials (no token, another token, another
        method or path), or None for a request with the token."""
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
        return None

    def answer(self, head: bytes) -> bytes:
        """The whole HTTP response to a request whose line and headers are `head`."""
        refusal = self.refusal(head)
        if refusal is not None:
            return refusal
        try:
            credentials = self.cache.get()
        except FetchFailed as failure:
            return _response(FETCH_FAILED_STATUS, _error_body(failure.code, failure.message))
        return _response(200, credentials_body(credentials))
