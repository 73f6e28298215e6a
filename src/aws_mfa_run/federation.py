"""`--console`: role credentials turned into a sign-in URL for the AWS Management Console.

The IAM User Guide ("Enable custom identity broker access to the AWS console"): the federation
endpoint exchanges AssumeRole (or GetFederationToken) credentials for a sign-in token
(`Action=getSigninToken`), and `Action=login` with that token signs the browser in. Credentials
of GetSessionToken cannot be exchanged ("Compare AWS STS credentials": no SSO to the console), so
only role profiles reach the console. The URL is valid for 15 minutes and is as good as the role
for that long: it goes to stdout only with --print, and to the browser through a private page.
"""

from __future__ import annotations

import os

from aws_mfa_run.aws.answers import SessionCredentials
from aws_mfa_run.errors import AwsRefusedError, AwsUnreachableError, ConfigError

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping

SIGNIN_URL_VARIABLE = "AWS_MFA_RUN_SIGNIN_URL"  # another federation endpoint (tests, a proxy)
ISSUER = "aws-mfa-run"  # names us to the console (optional; aws-vault sends its name too)
CONNECT_TIMEOUT = 10  # seconds for the whole exchange with the federation endpoint
# Partitions outside `aws` have their own sign-in endpoint and console domain.
_PARTITIONS = (
    ("cn-", "signin.amazonaws.cn", "console.amazonaws.cn"),
    ("us-gov-", "signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"),
)
_DEFAULT_PARTITION = ("", "signin.aws.amazon.com", "console.aws.amazon.com")
# The private page outlives the opener: a browser that is starting reads it seconds later.
PAGE_LIFETIME = 60
PAGE_LIFETIME_VARIABLE = "AWS_MFA_RUN_CONSOLE_PAGE_SECONDS"  # shorter, for tests
OPENER_TIMEOUT = 30  # seconds for osascript to hand the page to the browser


def _partition(region: str | None) -> tuple[str, str, str]:
    for partition in _PARTITIONS:
        if region and region.startswith(partition[0]):
            return partition
    return _DEFAULT_PARTITION


def federation_endpoint(region: str | None, env: Mapping[str, str]) -> str:
    return env.get(SIGNIN_URL_VARIABLE) or f"https://{_partition(region)[1]}/federation"


def destination(region: str | None) -> str:
    """The console home page, in the role's region when it has one."""
    domain = _partition(region)[2]
    if region:
        return f"https://{region}.{domain}/console/home?region={region}"
    return f"https://{domain}/console/home"


def session_document(credentials: SessionCredentials) -> str:
    """The `Session` parameter of getSigninToken: the three values as JSON."""
    import json

    return json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        }
    )


def signin_token_request(endpoint: str, credentials: SessionCredentials) -> str:
    """The getSigninToken URL. No SessionDuration: the console session then lasts as long as the
    role credentials, and AWS documents SessionDuration for AssumeRole called with long-term
    keys, which ours (called with the MFA session) are not."""
    from urllib.parse import urlencode

    query = urlencode({"Action": "getSigninToken", "Session": session_document(credentials)})
    return f"{endpoint}?{query}"


def login_url(endpoint: str, signin_token: str, region: str | None) -> str:
    from urllib.parse import urlencode

    query = urlencode(
        {
            "Action": "login",
            "Issuer": ISSUER,
            "Destination": destination(region),
            "SigninToken": signin_token,
        }
    )
    return f"{endpoint}?{query}"


def _ssl_context(env: Mapping[str, str]) -> ssl.SSLContext:
    import ssl

    bundle = env.get("AWS_CA_BUNDLE") or env.get("REQUESTS_CA_BUNDLE")
    context = ssl.create_default_context(cafile=os.path.expanduser(bundle) if bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def get_signin_token(endpoint: str, credentials: SessionCredentials, env: Mapping[str, str]) -> str:
    """Ask the federation endpoint for a sign-in token. Errors name the endpoint, never the
    request (it carries the role's secret key)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        signin_token_request(endpoint, credentials),
        headers={"User-Agent": "aws-mfa-run", "Accept": "application/json"},
    )
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    try:
        https = endpoint.startswith("https:")
        context = _ssl_context(env) if https else None
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT, context=context) as answer:
            body = answer.read(64 * 1024)
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500:
            raise AwsRefusedError(
                f"The console sign-in endpoint {host} refused the role's credentials "
                f"(HTTP {error.code}); try again, or check the role's permissions."
            ) from None
        raise AwsUnreachableError(
            f"The console sign-in endpoint {host} failed (HTTP {error.code}); try again later."
        ) from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
        raise AwsUnreachableError(
            f"Cannot reach the console sign-in endpoint {host}: {reason}."
        ) from None
    try:
        token = json.loads(body.decode("utf-8")).get("SigninToken")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
        raise AwsUnreachableError(
            f"The console sign-in endpoint {host} gave no sign-in token; try again later."
        )
    return token


def console_url(credentials: SessionCredentials, region: str | None, env: Mapping[str, str]) -> str:
    """The login URL for these role credentials: one request (getSigninToken); the browser
    follows the URL itself."""
    endpoint = federation_endpoint(region, env)
    return login_url(endpoint, get_signin_token(endpoint, credentials, env), region)


def forwarding_page(url: str) -> str:
    """A page that sends the browser on to `url` at once (with a link, should scripts be off)."""
    from html import escape

    shown = escape(url, quote=True)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={shown}">'
        "<title>AWS console sign-in</title></head>\n"
        f'<body><p><a href="{shown}">Continue to the AWS console</a></p></body></html>\n'
    )


def open_in_browser(
    url: str,
    env: Mapping[str, str],
    opener: Callable[[str], bool] | None = None,
) -> None:
    """Open `url` in the default browser without putting it on any command line: the browser is
    given a private page (0600, in a 0700 directory) that forwards to it; a detached process
    removes the page once the browser has had time to read it."""
    import shutil
    import tempfile

    directory = tempfile.mkdtemp(prefix="aws-mfa-run-console-")  # 0700
    page = os.path.join(directory, "console.html")
    try:
        fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(forwarding_page(url))
        if opener is None:
            opener = default_opener(env)
        from pathlib import Path

        opened = opener(Path(page).as_uri())
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if not opened:
        shutil.rmtree(directory, ignore_errors=True)

        raise ConfigError(
            "No web browser could be started; use --console --print and open the URL yourself."
        )
    _remove_later(directory, env)


def default_opener(env: Mapping[str, str]) -> Callable[[str], bool]:
    """Python's webbrowser (BROWSER, xdg-open, ...), except where osascript is (macOS) and
    BROWSER is not set: there webbrowser itself sends `open location "URL"` to osascript on its
    stdin. Written out here, that is the same in every Python and tested on any system with an
    osascript stand-in on PATH."""
    import shutil

    osascript = shutil.which("osascript", path=env.get("PATH"))
    if osascript and not env.get("BROWSER"):
        return lambda uri: _open_with_osascript(osascript, uri)
    import webbrowser

    return webbrowser.open


def _open_with_osascript(osascript: str, uri: str) -> bool:
    import subprocess

    script = 'open location "{}"'.format(uri.replace('"', "%22"))
    try:
        done = subprocess.run(
            [osascript],
            input=script,
            text=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=OPENER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _remove_later(directory: str, env: Mapping[str, str]) -> None:
    import subprocess
    import sys

    try:
        seconds = float(env.get(PAGE_LIFETIME_VARIABLE) or PAGE_LIFETIME)
    except ValueError:
        seconds = PAGE_LIFETIME
    remover = (
        "import shutil, sys, time; time.sleep(float(sys.argv[2])); "
        "shutil.rmtree(sys.argv[1], ignore_errors=True)"
    )
    subprocess.Popen(
        [sys.executable, "-c", remover, directory, str(min(max(seconds, 0), PAGE_LIFETIME))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
