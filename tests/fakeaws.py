"""A local stand-in for AWS on 127.0.0.1 that enforces MFA the way a real account does.

The real `aws` executable and botocore reach it through AWS_ENDPOINT_URL. It checks SigV4
signatures with the caller's real secret key, real RFC 6238 codes within one step either side,
rejects a code that was used before, enforces GetSessionToken's duration range, refuses
GetSessionToken with session credentials, and has one protected API (DynamoDB ListTables) that
denies long-term keys and accepts MFA sessions, like an IAM policy on aws:MultiFactorAuthPresent.
It can be told to throttle, fail, hang, answer garbage, hand out expired sessions, make sessions
and role credentials last only seconds (refused as ExpiredToken afterwards) or run a skewed
clock; it can serve HTTPS with a certificate of a test CA, and act as a plain HTTP proxy to
itself. It records each call's User-Agent, which tells botocore's calls from aws-mfa-run's own.
Run it in a thread of the tests (FakeAws.start) or as `python tests/fakeaws.py` for a demo.
"""

from __future__ import annotations

import calendar
import json
import secrets
import string
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pyotp

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping
    from pathlib import Path

ACCOUNT = "123456789012"
STEP = 30
DEFAULT_DURATION = 43200
SIGNATURE_WINDOW = 15 * 60  # SigV4: a request older or newer than this is refused
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_access_key(prefix: str) -> str:
    return prefix + _random(string.ascii_uppercase + "234567", 16)


def new_secret_key() -> str:
    # Real secret keys hold '/' and '+': exercise them in every file we write.
    return _random(string.ascii_letters + string.digits + "/+", 38) + "/+"


class Device:
    def __init__(self, user: str, name: str) -> None:
        self.serial = f"arn:aws:iam::{ACCOUNT}:mfa/{name}"
        self.secret = pyotp.random_base32()
        self.used: set[str] = set()

    def code(self, at: float | None = None) -> str:
        return pyotp.TOTP(self.secret).at(int(time.time() if at is None else at))


class User:
    def __init__(self, name: str) -> None:
        self.name = name
        self.arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
        self.access_key = new_access_key("AKIA")
        self.secret_key = new_secret_key()
        self.devices: list[Device] = []
        # Every access key the user has now: id -> (secret, creation time). IAM allows two.
        self.keys: dict[str, tuple[str, float]] = {self.access_key: (self.secret_key, time.time())}
        self.all_secrets = [self.secret_key]  # deleted keys' too: none may ever be shown

    def add_device(self, name: str | None = None) -> Device:
        device = Device(self.name, name or self.name)
        self.devices.append(device)
        return device


class Role:
    def __init__(self, name: str, trusted: User, require_mfa: bool, external_id: str | None):
        self.arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        self.name = name
        self.trusted = trusted
        self.require_mfa = require_mfa
        self.external_id = external_id


class Session:
    def __init__(
        self,
        user: User,
        mfa: bool,
        duration: float,
        now: float,
        role: Role | None = None,
        session_name: str = "",
    ) -> None:
        self.user = user
        self.mfa = mfa
        self.role = role
        self.session_name = session_name
        self.access_key = new_access_key("ASIA")
        self.secret_key = new_secret_key()
        self.token = "FwoGZXIvYXdzE" + _random(string.ascii_letters + string.digits + "/+=", 180)
        self.expiration = now + duration
        # AssumeRole called with session credentials and an explicit DurationSeconds: the IAM
        # User Guide says the federation endpoint then refuses these credentials.
        self.chained_with_duration = False


class FakeAws:
    """State and behaviour. `mode` is one of: normal, throttle, error, malformed, hang, drip,
    expired."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}  # by access key id: every key of every user
        self.everyone: list[User] = []
        self.roles: dict[str, Role] = {}
        self.assumed: Counter[str] = Counter()  # AssumeRole calls that succeeded, per role name
        self.sessions: dict[str, Session] = {}
        self.calls: Counter[str] = Counter()
        self.agents: list[tuple[str, str]] = []  # (action, User-Agent) of every call
        self.proxied = 0  # requests that came as to a proxy (absolute URL in the request line)
        self.mode = "normal"
        self.failing: set[str] = set()  # actions that fail with a server error whatever the mode
        self.hanging: set[str] = set()  # actions that never answer whatever the mode
        # The next calls of an action, whatever the mode: each taken in turn, one of "error"
        # (503), "throttle", "hang" or "lost" (done, then the connection closed without an
        # answer); once used up the action answers as the mode says.
        self.upcoming: dict[str, list[str]] = {}
        # Run once, after the next successful call of an action and before its answer is sent:
        # what another program does on the machine while that answer is on its way.
        self.on_answer: dict[str, Callable[[], None]] = {}
        self.regions: list[tuple[str, str]] = []  # (action, region it was signed for)
        self.denied: set[str] = set()  # actions refused with AccessDenied, as by an IAM policy
        # IAM is eventually consistent: a key made by CreateAccessKey signs nothing (refused as
        # InvalidClientTokenId) for this many seconds. Creation times by key id.
        self.new_key_delay = 0.0
        self.created_keys: dict[str, float] = {}
        # ...and a deleted key still signs for this many seconds (a call already on its way when
        # DeleteAccessKey ran is served). Deleted keys by id: (user, secret, when).
        self.deleted_key_grace = 0.0
        self.deleted_keys: dict[str, tuple[User, str, float]] = {}
        # How answers are framed: length (Content-Length), chunked, close (the end of the
        # connection), or interim (a 100 Continue first, then Content-Length).
        self.framing = "length"
        self.skew = 0.0  # seconds the server's clock is ahead of ours
        # Only for the benchmark, which repeats a cold login many times within one code window.
        self.accept_reused_codes = False
        # Seconds that credentials really last, whatever the call asked for (None: as asked), to
        # make them expire within a test: AssumeRole and GetSessionToken separately.
        self.role_lifetime: float | None = None
        self.session_lifetime: float | None = None
        self.tables = ["orders", "customers"]
        # A hostile or broken endpoint: these fields replace those of every Credentials answer
        # (AccessKeyId, SecretAccessKey, SessionToken, Expiration), as raw XML text.
        self.tamper: dict[str, str] = {}
        self.throttle_code = "Throttling"  # the error code answered in mode "throttle"
        # Console sign-in tokens handed out by /federation: token -> (role session, issued at).
        self.signin_tokens: dict[str, tuple[Session, float]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.scheme = "http"

    # ---- set-up -------------------------------------------------------------------------
    def add_user(self, name: str, devices: int = 1) -> User:
        user = User(name)
        for number in range(devices):
            user.add_device(name if number == 0 else f"{name}-{number + 1}")
        self.users[user.access_key] = user
        self.everyone.append(user)
        return user

    def add_role(
        self, name: str, trusted: User, require_mfa: bool = True, external_id: str | None = None
    ) -> Role:
        role = Role(name, trusted, require_mfa, external_id)
        self.roles[role.arn] = role
        return role

    def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> str:
        fake = self

        class Handler(_Handler):
            aws = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            # The handshake happens in the handler's thread: a client that rejects the
            # certificate then fails alone, without stalling or noising the accepting thread.
            self.server.socket = tls.wrap_socket(
                self.server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if tls is not None else "http"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def now(self) -> float:
        return time.time() + self.skew

    # ---- request handling ---------------------------------------------------------------
    def secret_for(self, access_key: str) -> tuple[str, str | None] | None:
        if access_key in self.users:
            return self.users[access_key].keys[access_key][0], None
        if access_key in self.sessions:
            session = self.sessions[access_key]
            return session.secret_key, session.token
        if access_key in self.deleted_keys:
            _, secret, deleted = self.deleted_keys[access_key]
            if self.now() < deleted + self.deleted_key_grace:
                return secret, None
        return None


class AwsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _check_signature(
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    secret: str,
    token: str | None,
) -> bool:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    authorization = headers["authorization"]
    fields = dict(part.strip().split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
    access_key, _, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    request = AWSRequest(
        method=method,
        url=f"http://{host}{path}",
        data=body,
        headers={name: headers[name] for name in signed if name in headers},
    )
    request.context["timestamp"] = headers.get("x-amz-date", "")
    auth = SigV4Auth(Credentials(access_key, secret, token), service, region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return secrets.compare_digest(expected, fields["Signature"])


def _credentials_xml(session: Session, tamper: Mapping[str, str]) -> str:
    fields = {
        "AccessKeyId": session.access_key,
        "SecretAccessKey": session.secret_key,
        "SessionToken": session.token,
        "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.expiration)),
    }
    fields.update(tamper)
    return (
        "<Credentials>"
        + "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
        + "</Credentials>"
    )


class _Handler(BaseHTTPRequestHandler):
    aws: FakeAws
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests read stderr of the programs, not of this server

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            pass  # a client that refused our TLS certificate, or hung up: its own business

    def do_GET(self) -> None:
        """The console federation endpoint (signin.aws.amazon.com/federation), reached through
        AWS_MFA_RUN_SIGNIN_URL: getSigninToken turns role credentials into a sign-in token,
        login checks one and says where the browser would be signed in."""
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        action = query.get("Action", "")
        aws = self.aws
        with aws.lock:
            aws.calls[f"federation:{action}"] += 1
        if url.path != "/federation":
            self._send(404, b"Not found", "text/plain")
            return
        if action == "getSigninToken":
            session = self._federated_session(query.get("Session", ""))
            if session is None or "SessionDuration" in query:
                # The real endpoint answers 400 with an HTML page, whatever is wrong.
                self._send(400, b"<html><body>Bad Request</body></html>", "text/html")
                return
            token = _random(string.ascii_letters + string.digits + "-_", 400)
            with aws.lock:
                aws.signin_tokens[token] = (session, aws.now())
            self._send(200, json.dumps({"SigninToken": token}).encode(), "application/json")
            return
        if action == "login":
            found = aws.signin_tokens.get(query.get("SigninToken", ""))
            destination = query.get("Destination", "")
            if found is None or aws.now() - found[1] > 15 * 60 or not destination:
                self._send(400, b"<html><body>Bad Request</body></html>", "text/html")
                return
            session = found[0]
            assert session.role is not None
            page = (
                f"Signed in as arn:aws:sts::{ACCOUNT}:assumed-role/{session.role.name}/"
                f"{session.session_name}; on to {destination}"
            )
            self._send(200, page.encode(), "text/plain")
            return
        self._send(400, b"<html><body>Bad Request</body></html>", "text/html")

    def _federated_session(self, document: str) -> Session | None:
        """The role session a getSigninToken `Session` JSON names, if AWS would accept it:
        exactly sessionId, sessionKey and sessionToken of valid role credentials (not a
        GetSessionToken session, not chained with an explicit DurationSeconds)."""
        try:
            fields = json.loads(document)
        except ValueError:
            return None
        if not isinstance(fields, dict) or set(fields) != {
            "sessionId",
            "sessionKey",
            "sessionToken",
        }:
            return None
        session = self.aws.sessions.get(fields["sessionId"])
        if (
            session is None
            or session.secret_key != fields["sessionKey"]
            or session.token != fields["sessionToken"]
            or session.expiration <= self.aws.now()
            or session.role is None
            or session.chained_with_duration
        ):
            return None
        return session

    def do_POST(self) -> None:
        if self.path.startswith(("http://", "https://")):
            # As a proxy: the request line names the whole URL; serve it ourselves.
            with self.aws.lock:
                self.aws.proxied += 1
            self.path = urlsplit(self.path).path or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        target = headers.get("x-amz-target", "")
        service = "dynamodb" if target.startswith("DynamoDB_") else None
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if not service else {}
        authorization = headers.get("authorization", "")
        if service is None:
            service = "iam" if "/iam/aws4_request" in authorization else "sts"
        action = target.split(".")[-1] if target else form.get("Action", "")
        aws = self.aws
        with aws.lock:
            aws.calls[action] += 1
            aws.agents.append((action, headers.get("user-agent", "")))
            scope = authorization.partition("Credential=")[2].split(",")[0].split("/")
            aws.regions.append((action, scope[2] if len(scope) > 2 else ""))
            mode = aws.mode
            if aws.upcoming.get(action):
                mode = aws.upcoming[action].pop(0)
        if mode == "hang" or action in aws.hanging:
            aws.stopping.wait(120)
            return
        try:
            if mode == "throttle":
                raise AwsError(400, aws.throttle_code, "Rate exceeded")
            if mode == "error" or action in aws.failing:
                raise AwsError(503, "ServiceUnavailable", "Service is unavailable")
            if action in aws.denied:
                raise AwsError(403, "AccessDenied", f"Not authorized to perform: {action}")
            caller = self._authenticate(headers, body)
            if service == "dynamodb":
                self._send_json(200, self._dynamodb(action, caller))
                return
            result = self._query(service, action, form, caller)
            if mode == "malformed":
                self._send(200, b"<GetSessionTokenResponse><broken", "text/xml")
                return
            if mode == "lost":  # done, but the answer never comes back (a dropped connection)
                return
            with aws.lock:
                hook = aws.on_answer.pop(action, None)
            if hook is not None:
                self._run_keeping_the_caller(hook)
            self._send_xml(200, action, result, STS_NS if service == "sts" else IAM_NS)
        except AwsError as error:
            if service == "dynamodb":
                self._send_json(
                    error.status,
                    {
                        "__type": f"com.amazonaws.dynamodb.v20120810#{error.code}",
                        "message": error.message,
                    },
                )
            else:
                self._send_error_xml(error, STS_NS if service == "sts" else IAM_NS)

    # ---- authentication -----------------------------------------------------------------
    def _authenticate(self, headers: dict[str, str], body: bytes) -> User | Session:
        aws = self.aws
        authorization = headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            raise AwsError(
                403, "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        access_key = authorization.split("Credential=", 1)[1].split("/", 1)[0]
        found = aws.secret_for(access_key)
        if found is None:
            raise AwsError(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        secret, token = found
        created = aws.created_keys.get(access_key)
        if created is not None and aws.now() < created + aws.new_key_delay:
            raise AwsError(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        if token is not None and headers.get("x-amz-security-token") != token:
            raise AwsError(
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        stamp = headers.get("x-amz-date", "")
        try:
            signed_at = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            signed_at = 0
        now = aws.now()
        if abs(now - signed_at) > SIGNATURE_WINDOW:
            raise AwsError(
                403,
                "SignatureDoesNotMatch",
                f"Signature expired: {stamp} is now earlier than "
                f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now - SIGNATURE_WINDOW))} "
                f"({time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now))} - 15 min.)",
            )
        if not _check_signature(
            "POST", headers.get("host", ""), self.path, headers, body, secret, token
        ):
            raise AwsError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if token is not None:
            session = aws.sessions[access_key]
            if session.expiration <= now:
                raise AwsError(
                    403, "ExpiredToken", "The security token included in the request is expired"
                )
            return session
        if access_key not in aws.users:  # deleted, within deleted_key_grace
            return aws.deleted_keys[access_key][0]
        return aws.users[access_key]

    def _run_keeping_the_caller(self, hook: Callable[[], None]) -> None:
        """Run an on_answer hook, which may start other programs (seconds on a loaded machine),
        while the caller waits: an interim `100 Continue` every two seconds keeps its reads from
        timing out (a client skips any number of them), so only its deadline for the whole call
        bounds the wait."""
        finished = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                hook()
            except BaseException as failure:  # raised here, in the handler, as before
                failures.append(failure)
            finally:
                finished.set()

        threading.Thread(target=run, daemon=True).start()
        while not finished.wait(2):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        if failures:
            raise failures[0]

    # ---- services -----------------------------------------------------------------------
    def _query(
        self, service: str, action: str, form: dict[str, str], caller: User | Session
    ) -> str:
        user = caller.user if isinstance(caller, Session) else caller
        if service == "sts" and action == "GetCallerIdentity":
            if isinstance(caller, Session) and caller.role is not None:
                return (
                    f"<Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{caller.role.name}/"
                    f"{caller.session_name}</Arn><UserId>AROA:{caller.session_name}</UserId>"
                    f"<Account>{ACCOUNT}</Account>"
                )
            return (
                f"<Arn>{user.arn}</Arn><UserId>AIDA{user.name.upper()}</UserId>"
                f"<Account>{ACCOUNT}</Account>"
            )
        if service == "sts" and action == "GetSessionToken":
            return self._get_session_token(form, caller)
        if service == "sts" and action == "AssumeRole":
            return self._assume_role(form, caller)
        if service == "iam" and action == "ListMFADevices":
            members = "".join(
                f"<member><UserName>{user.name}</UserName><SerialNumber>{device.serial}"
                "</SerialNumber><EnableDate>2026-01-01T00:00:00Z</EnableDate></member>"
                for device in user.devices
            )
            return f"<IsTruncated>false</IsTruncated><MFADevices>{members}</MFADevices>"
        if service == "iam" and action in ("ListAccessKeys", "CreateAccessKey", "DeleteAccessKey"):
            return self._access_keys(action, form, caller)
        raise AwsError(400, "InvalidAction", f"Could not find operation {action}")

    def _access_keys(self, action: str, form: dict[str, str], caller: User | Session) -> str:
        """The caller's own access keys; like an IAM policy on aws:MultiFactorAuthPresent, only
        an MFA session of the user may list, create or delete them. New keys work at once."""
        aws = self.aws
        user = caller.user if isinstance(caller, Session) else caller
        mfa = isinstance(caller, Session) and caller.mfa and caller.role is None
        if not mfa or form.get("UserName", user.name) != user.name:
            raise AwsError(
                403,
                "AccessDenied",
                f"User: {user.arn} is not authorized to perform: iam:{action} on resource: "
                f"{user.arn} with an explicit deny in an identity-based policy",
            )

        def created(at: float) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))

        with aws.lock:
            if action == "ListAccessKeys":
                members = "".join(
                    f"<member><UserName>{user.name}</UserName><AccessKeyId>{key}</AccessKeyId>"
                    f"<Status>Active</Status><CreateDate>{created(at)}</CreateDate></member>"
                    for key, (_, at) in user.keys.items()
                )
                listed = f"<AccessKeyMetadata>{members}</AccessKeyMetadata>"
                return f"<IsTruncated>false</IsTruncated>{listed}"
            if action == "CreateAccessKey":
                if len(user.keys) >= 2:
                    raise AwsError(
                        409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"
                    )
                key, secret, now = new_access_key("AKIA"), new_secret_key(), aws.now()
                user.keys[key] = (secret, now)
                user.all_secrets.append(secret)
                aws.users[key] = user
                aws.created_keys[key] = now
                return (
                    f"<AccessKey><UserName>{user.name}</UserName><AccessKeyId>{key}</AccessKeyId>"
                    f"<Status>Active</Status><SecretAccessKey>{secret}</SecretAccessKey>"
                    f"<CreateDate>{created(now)}</CreateDate></AccessKey>"
                )
            key = form.get("AccessKeyId", "")
            if key not in user.keys:
                raise AwsError(
                    404, "NoSuchEntity", f"The Access Key with id {key} cannot be found."
                )
            aws.deleted_keys[key] = (user, user.keys[key][0], aws.now())
            del user.keys[key]
            del aws.users[key]
            return ""

    def _get_session_token(self, form: dict[str, str], caller: User | Session) -> str:
        aws = self.aws
        if isinstance(caller, Session):
            raise AwsError(
                403, "AccessDenied", "Cannot call GetSessionToken with session credentials"
            )
        duration = int(form.get("DurationSeconds", DEFAULT_DURATION))
        if not 900 <= duration <= 129600:
            raise AwsError(
                400,
                "ValidationError",
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                "satisfy constraint: Member must have value "
                + (
                    "greater than or equal to 900"
                    if duration < 900
                    else "less than or equal to 129600"
                ),
            )
        serial, code = form.get("SerialNumber"), form.get("TokenCode")
        mfa = False
        if serial or code:
            device = next((d for d in caller.devices if d.serial == serial), None)
            if device is None or not code:
                raise AwsError(
                    403,
                    "AccessDenied",
                    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify "
                    "your MFA serial number is valid and associated with this user.",
                )
            now = aws.now()
            with aws.lock:
                valid = {device.code(now + offset * STEP) for offset in (-1, 0, 1)}
                reused = code in device.used and not aws.accept_reused_codes
                if code not in valid or reused:
                    raise AwsError(
                        403,
                        "AccessDenied",
                        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
                    )
                device.used.add(code)
            mfa = True
        lifetime = duration if aws.session_lifetime is None else aws.session_lifetime
        session = Session(caller, mfa, lifetime, aws.now())
        if aws.mode == "expired":
            session.expiration = aws.now() - 3600
        with aws.lock:
            aws.sessions[session.access_key] = session
        return _credentials_xml(session, aws.tamper)

    def _assume_role(self, form: dict[str, str], caller: User | Session) -> str:
        aws = self.aws
        role = aws.roles.get(form.get("RoleArn", ""))
        user = caller.user if isinstance(caller, Session) else caller
        mfa = isinstance(caller, Session) and caller.mfa
        chained = isinstance(caller, Session)
        denied = AwsError(
            403,
            "AccessDenied",
            f"User: {user.arn} is not authorized to perform: sts:AssumeRole on resource: "
            f"{form.get('RoleArn', '')}",
        )
        if role is None:
            raise denied
        trusted = True if isinstance(caller, Session) and caller.role else role.trusted is user
        if not trusted or (role.require_mfa and not mfa):
            raise denied
        if role.external_id is not None and form.get("ExternalId") != role.external_id:
            raise denied
        duration = int(form.get("DurationSeconds", 3600))
        if chained and duration > 3600:
            raise AwsError(
                400,
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining.",
            )
        lifetime = duration if aws.role_lifetime is None else aws.role_lifetime
        session = Session(user, mfa, lifetime, aws.now(), role, form.get("RoleSessionName", ""))
        session.chained_with_duration = chained and "DurationSeconds" in form
        with aws.lock:
            aws.sessions[session.access_key] = session
            aws.assumed[role.name] += 1
        return _credentials_xml(session, aws.tamper) + (
            f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{role.name}/"
            f"{session.session_name}</Arn><AssumedRoleId>AROA:{session.session_name}"
            "</AssumedRoleId></AssumedRoleUser>"
        )

    def _dynamodb(self, action: str, caller: User | Session) -> dict[str, Any]:
        user = caller.user if isinstance(caller, Session) else caller
        if action != "ListTables":
            raise AwsError(400, "UnknownOperationException", f"Unknown operation {action}")
        if not (isinstance(caller, Session) and caller.mfa):
            raise AwsError(
                400,
                "AccessDeniedException",
                f"User: {user.arn} is not authorized to perform: dynamodb:ListTables on resource: "
                f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/* with an explicit deny in an "
                "identity-based policy",
            )
        return {"TableNames": self.aws.tables}

    # ---- responses ----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        framing = self.aws.framing
        if framing == "interim":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif framing == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        if self.aws.mode == "drip":
            for start in range(len(body)):  # a byte at a time, slower than anyone would wait
                if self.aws.stopping.wait(0.5):
                    return
                self.wfile.write(body[start : start + 1])
                self.wfile.flush()
        elif framing == "chunked":
            for start in range(0, len(body), 7):
                piece = body[start : start + 7]
                self.wfile.write(b"%x; note=x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        else:
            self.wfile.write(body)

    def _send_json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data).encode(), "application/x-amz-json-1.0")

    def _send_xml(self, status: int, action: str, result: str, namespace: str) -> None:
        body = (
            f'<{action}Response xmlns="{namespace}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        )
        self._send(status, body.encode(), "text/xml")

    def _send_error_xml(self, error: AwsError, namespace: str) -> None:
        kind = "Receiver" if error.status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{error.code}</Code>"
            f"<Message>{error.message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
            "</ErrorResponse>"
        )
        self._send(error.status, body.encode(), "text/xml")


def hermetic_environment(
    environ: Mapping[str, str], home: Path | str, endpoint_url: str
) -> dict[str, str]:
    """`environ` for a program that must see only `home` and the stand-in at `endpoint_url`.

    Dropped: AWS_* settings, proxies, CA bundles and our own Python's paths, anything that would
    lead it past the stand-in or into the user's setup; and the variables of a make that ran us
    (`make test`), which would turn a `make -j` of the tests into a sub-make of that one.
    Callers add PATH (and more) as they need.
    """
    dropped = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle"}
    dropped |= {"pythonpath", "virtual_env", "ssl_cert_file", "ssl_cert_dir"}
    dropped |= {"makeflags", "mflags", "makelevel", "make_termout", "make_termerr"}
    kept = {
        name: value
        for name, value in environ.items()
        if not name.startswith("AWS_") and name.lower() not in dropped
    }
    kept.update(
        HOME=str(home),
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    return kept


if __name__ == "__main__":
    fake = FakeAws()
    alice = fake.add_user("alice")
    print(fake.start(), alice.access_key, flush=True)
    fake.stopping.wait()
