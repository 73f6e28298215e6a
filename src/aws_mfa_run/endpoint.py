"""The loopback credentials endpoint behind `aws-mfa-run --server`.

Every SDK that follows the container credentials provider (botocore, the AWS CLI v1 and v2, the
JavaScript, Go and Java SDKs) reads `AWS_CONTAINER_CREDENTIALS_FULL_URI`, sends
`AWS_CONTAINER_AUTHORIZATION_TOKEN` as the `Authorization` header, and asks again before the
credentials it got run out. This module answers those requests and nothing else:

- bound to 127.0.0.1 only, on a port the system picks; one path, GET only;
- a request without the token gets 401, with another token (or anything but GET of the one path)
  403, compared in constant time; no body beyond a short error, no log line;
- the answer is `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (ISO 8601 UTC);
- credentials come from `fetch`, one renewal at a time however many clients ask at once; they
  are reused while they have more than the reuse margin left, and served while a renewal is
  failing until they end (see CredentialsCache);
- when nothing valid is left, a failed renewal is answered with `{"Code", "Message"}` (botocore
  shows the body, the JavaScript SDK v3 attaches Code and Message to its error, the Go SDK v2
  decodes both) and tried again with backoff, or at once when the files it reads changed
  (`aws mfa CODE` stored a session): no busy loop however hard the clients retry.

The HTTP side is a few lines over `socket` rather than `http.server`: importing http.server (and
the email package it pulls in) takes about 20 ms, most of the start-up budget of `--server`.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from aws_mfa_run.aws.answers import SessionCredentials, checked
from aws_mfa_run.errors import MfaRunError
from aws_mfa_run.timefmt import format_utc
from aws_mfa_run.warm import json_string

# Imported for type checkers only: collections.abc and typing cost import time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import selectors
    from collections.abc import Callable

PATH = "/credentials"
TOKEN_BYTES = 32  # 256 random bits; the issue asks for at least 128
# Credentials are served until this much before they end (at most half their lifetime, the one
# margin rule of SessionCredentials.margin): the time a request signed with them takes to reach
# AWS. SDKs ask again before every call once inside their own refresh window, so the next call
# after that gets our error answer, which says why, instead of AWS's ExpiredToken.
END_MARGIN = 5.0
# After a failed renewal the next try waits RETRY_AFTER_ERROR seconds, then twice as long after
# each further failure, up to BACKOFF_MAX: a refused AssumeRole or an STS outage costs one call per
# step however hard the clients ask (botocore makes three attempts a second apart per SDK call).
RETRY_AFTER_ERROR = 3.0
BACKOFF_MAX = 60.0
# How long a request waits for a renewal under way before it is answered without it: with valid
# credentials at hand (then served) briefly, under the JavaScript SDK's one-second timeout; with
# none, as long as one bounded AWS call may take (a client that gave up before, as botocore does
# after 2 s, asks again), not the minutes a person may take at mfa_prompt's dialog.
SERVE_WAIT = 0.5
PENDING_WAIT = 15.0
# Bounds for one request: the time to send it and its size. Clients send a few hundred bytes.
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 16 * 1024
# Clients whose request is not in yet, at most: a descriptor each. Beyond, the oldest is cut.
MAX_PENDING = 256
# New connections taken per round before reading the ones already open.
ACCEPT_BATCH = 32
# Threads that answer requests with the token (a fetch holds one while it runs).
WORKERS = 4


class FetchFailedError(Exception):
    """What an error answer carries: a code for programs and a sentence for people; and what to
    say when the failure comes while valid credentials are still served (None: nothing)."""

    def __init__(self, code: str, message: str, while_valid: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.while_valid = while_valid


PENDING = FetchFailedError(
    "CredentialsPending",
    "aws-mfa-run: new credentials are on their way (an MFA code is being asked for, or AWS is "
    "slow to answer); try again in a moment.",
)


class CredentialsCache:
    """`fetch` behind a cache: one renewal at a time however many clients ask at once.

    Credentials are handed out as they are while they have more than `margin` left (see
    SessionCredentials.margin); after that a renewal runs in a thread of its own, and until it
    succeeds the current credentials are still served, up to END_MARGIN before they end: an STS
    outage or an MFA session that cannot be renewed fails no call while something valid is left.
    A failed renewal is tried again with backoff, and at once when `version` (the state of the
    files `fetch` reads: `aws mfa CODE` in another terminal stored a session) changes, or when
    the last valid credentials end. `describe_error` turns our exception into the error answer;
    `say` gets one line per new failure (not per request).
    """

    def __init__(
        self,
        fetch: Callable[[], SessionCredentials],
        *,
        describe_error: Callable[[MfaRunError], FetchFailedError],
        say: Callable[[str], None],
        margin: float,
        clock: Callable[[], float] = time.time,
        retry_after: float = RETRY_AFTER_ERROR,
        pending_wait: float = PENDING_WAIT,
        version: Callable[[], object] = lambda: None,
    ) -> None:
        self._fetch = fetch
        self._describe_error = describe_error
        self._say = say
        self._clock = clock
        self._margin = margin
        self._retry_after = retry_after
        self._pending_wait = pending_wait
        self._version = version
        self._changed = threading.Condition()
        self._current: SessionCredentials | None = None
        self._refreshing = False
        self._renewal_began = 0.0  # time.monotonic() when the last renewal started
        self._failure: FetchFailedError | None = None
        self._failures = 0  # renewals failed in a row
        self._failed_at = 0.0
        self._failed_version: object = None
        self._failed_with_valid = False  # valid credentials were left when the last one failed
        self._said: set[str] = set()

    def _servable(self, now: float) -> SessionCredentials | None:
        current = self._current
        if current is not None and current.usable(now, END_MARGIN):
            return current
        return None

    def _due(self, now: float, servable: bool) -> bool:
        """Whether a renewal may start now."""
        if self._failure is None or self._version() != self._failed_version:
            return True
        if self._failed_with_valid and not servable:
            return True  # the credentials it left us with have just ended: one more try
        step = min(self._retry_after * 2 ** (self._failures - 1), BACKOFF_MAX)
        elapsed = now - self._failed_at
        return elapsed < 0 or elapsed >= step  # < 0: the clock was set back

    def get(self) -> SessionCredentials:
        """Credentials to hand out, or FetchFailedError."""
        said = None
        with self._changed:
            now = self._clock()
            current = self._current
            # (A margin under END_MARGIN, mfa_min_remaining = 0, renews when serving must end.)
            if current is not None and current.usable(now, max(self._margin, END_MARGIN)):
                return current
            servable = self._servable(now) is not None
            if not self._refreshing and self._due(now, servable):
                self._refreshing, self._renewal_began = True, time.monotonic()
                version = self._version()
                threading.Thread(
                    target=self._renew, args=(version,), name="credentials-renewal", daemon=True
                ).start()
            # Counted from the renewal's start: while a slow one runs, requests do not each wait.
            deadline = self._renewal_began + (SERVE_WAIT if servable else self._pending_wait)
            while self._refreshing and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            found = self._servable(self._clock())
            if found is not None:
                return found
            failure = self._failure if self._failure is not None else PENDING
            if failure is not PENDING and failure.message not in self._said:
                self._said.add(failure.message)
                said = failure.message
        if said is not None:
            self._say(said)
        raise failure

    def _renew(self, version: object) -> None:
        failure: FetchFailedError | None = None
        try:
            fetched = self._fetch()
            now = self._clock()
            credentials = checked(fetched, now)
            if fetched.issued is not None:
                # Read from a store: its lifetime runs from when AWS issued it, not from now.
                credentials.issued = min(fetched.issued, now)
        except MfaRunError as error:
            failure = self._describe_error(error)
        except Exception as error:  # a bug of ours must not leave the renewal marked as running
            failure = FetchFailedError(
                "CredentialsUnavailable", f"aws-mfa-run: {type(error).__name__}"
            )
        said = None
        with self._changed:
            self._refreshing = False
            now = self._clock()
            if failure is None:
                self._current, self._failure, self._failures = credentials, None, 0
                self._said.clear()
            else:
                self._failure, self._failed_at, self._failed_version = failure, now, version
                valid = self._servable(now) is not None
                # Once nothing valid is left, calls fail: the backoff starts again from its
                # first step, so that a recovered STS is noticed within seconds.
                self._failures = 1 if self._failed_with_valid and not valid else self._failures + 1
                self._failed_with_valid = valid
                shown = failure.while_valid
                if self._failed_with_valid and shown is not None and shown not in self._said:
                    self._said.add(shown)
                    said = shown
            self._changed.notify_all()
        if said is not None:
            self._say(said)

    def prime(self, credentials: SessionCredentials) -> None:
        """Start from credentials already fetched (before the command started)."""
        with self._changed:
            self._current = credentials


def _json_object(fields: dict[str, str]) -> bytes:

    items = (f"{json_string(key)}: {json_string(value)}" for key, value in fields.items())
    return ("{" + ", ".join(items) + "}").encode()


def credentials_body(credentials: SessionCredentials) -> bytes:

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
        except FetchFailedError as failure:
            return _response(FETCH_FAILED_STATUS, _error_body(failure.code, failure.message))
        return _response(200, credentials_body(credentials))
