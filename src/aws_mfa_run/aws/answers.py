"""SessionCredentials: temporary keys and when they end, checked before anything keeps them.

Every value that reaches a file, an environment or a JSON answer passes `checked` first: an AWS
answer (or a file) is outside data, and a line break or a Unicode line separator in a token would
let it plant settings in the user's files.
"""

from __future__ import annotations

from aws_mfa_run.errors import AwsUnreachableError
from aws_mfa_run.timefmt import format_utc, parse_utc
from aws_mfa_run.warm import KEY_EXPIRATION as KEY_EXPIRATION
from aws_mfa_run.warm import KEY_ID as KEY_ID
from aws_mfa_run.warm import KEY_ISSUED as KEY_ISSUED
from aws_mfa_run.warm import SECRET as SECRET
from aws_mfa_run.warm import TOKEN as TOKEN
from aws_mfa_run.warm import is_access_key_id as is_access_key_id
from aws_mfa_run.warm import is_secret_text as is_secret_text
from aws_mfa_run.warm import is_session, reuse_margin

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MALFORMED = "AWS returned malformed credentials; nothing was written. Try again later."

# The longest sessions AWS gives (STS API reference): GetSessionToken 129,600 seconds (36 hours),
# AssumeRole 12 hours. An answer ending later is refused, not stored for days or forever.
GET_SESSION_TOKEN_LONGEST = 129_600
ASSUME_ROLE_LONGEST = 12 * 3600
# AWS refuses a request signed more than 15 minutes off its clock, so an answer we received came
# from a clock at most this far from ours: a 36-hour session may end that much after 36 hours.
CLOCK_SKEW_ALLOWED = 15 * 60


class SessionCredentials:
    """Temporary keys and when they end (epoch seconds, UTC). repr() never shows the secrets."""

    __slots__ = ("access_key_id", "expiration", "issued", "secret_access_key", "session_token")

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        expiration: float,
        issued: float | None = None,
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.expiration = expiration
        self.issued = issued  # when we received them (None: not known, stored by an old version)

    def __repr__(self) -> str:
        return f"SessionCredentials({self.access_key_id}, expires {int(self.expiration)})"

    def well_formed(self) -> bool:
        return is_session(self.access_key_id, self.secret_access_key, self.session_token)

    def remaining(self, now: float) -> float:
        return self.expiration - now

    def margin(self, wanted: float, floor: float = 0) -> float:
        """The reuse margin for these credentials: `wanted`, but at most half their lifetime (a
        margin as long as a short session would make it stale at once), and at least `floor`."""
        return reuse_margin(self.expiration, self.issued, wanted, floor)

    def usable(self, now: float, wanted: float, floor: float = 0) -> bool:
        return self.expiration - now > self.margin(wanted, floor)


def checked(
    credentials: SessionCredentials, now: float, longest: float = GET_SESSION_TOKEN_LONGEST
) -> SessionCredentials:
    """`credentials`, issued `now`, if every value is well formed and they end in the future but
    within `longest` seconds (the longest session of the call that gave them); else our error
    (exit 6: a broken or hostile endpoint, nothing is written)."""
    if (
        not credentials.well_formed()
        or credentials.expiration <= now
        or credentials.expiration > now + longest + CLOCK_SKEW_ALLOWED
    ):
        raise AwsUnreachableError(MALFORMED)
    return SessionCredentials(
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
        credentials.expiration,
        now,
    )


# The keys of a stored session, in the credentials file and in our caches.
SESSION_KEYS = (KEY_ID, SECRET, TOKEN)


def from_stored(values: Mapping[str, str] | None) -> SessionCredentials | None:
    """The session a stored section holds (valid or expired), None when it holds none we trust.

    A stored value that is not well formed counts as no session: it is replaced, never served.
    """
    if not values:
        return None

    expiration = parse_utc(values.get(KEY_EXPIRATION, ""))
    key_id, secret, token = values.get(KEY_ID), values.get(SECRET), values.get(TOKEN)
    if expiration is None or not key_id or not secret or not token:
        return None
    issued = parse_utc(values.get(KEY_ISSUED, ""))
    session = SessionCredentials(key_id, secret, token, expiration, issued)
    return session if session.well_formed() else None


def stored_values(session: SessionCredentials) -> dict[str, str | None]:
    """The session as the keys we write: the standard three and our expiration."""

    return {
        KEY_ID: session.access_key_id,
        SECRET: session.secret_access_key,
        TOKEN: session.session_token,
        KEY_EXPIRATION: format_utc(session.expiration),
        KEY_ISSUED: None if session.issued is None else format_utc(session.issued),
    }
