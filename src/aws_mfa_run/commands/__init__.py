"""One module per mode of aws-mfa-run; each has `run(context) -> exit status`.

A new mode is one new module here plus one entry in `modes.MODES` (its flag, help lines,
completion word and loader: the parser, the help text, the dispatch and the completion scripts
follow); the credentials chain it asks for valid credentials is
`credentials.chain.get_credentials`.
"""

from __future__ import annotations

import sys
import time

from aws_mfa_run import parent_aws
from aws_mfa_run.codes import normalize
from aws_mfa_run.credentials.chain import get_credentials
from aws_mfa_run.credentials.mfa_session import Prompting
from aws_mfa_run.credentials.store import read_ini
from aws_mfa_run.paths import Paths
from aws_mfa_run.settings import Request, requested_profile, resolve
from aws_mfa_run.terminal import open_terminal

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_mfa_run.aws.answers import SessionCredentials
    from aws_mfa_run.credentials.mfa_session import Prompting
    from aws_mfa_run.inifile import IniText
    from aws_mfa_run.options import Options
    from aws_mfa_run.paths import Paths
    from aws_mfa_run.settings import Settings
    from aws_mfa_run.terminal import Terminal


def say(message: str) -> None:
    """One line on stderr, whatever a message quotes (a profile name, a path)."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in message)
    print(f"aws-mfa-run: {shown}", file=sys.stderr, flush=True)


class Context:
    """What a command works with: the options, the environment cli.py read (commands read it here,
    not os.environ), and the side effects, injectable for tests."""

    def __init__(
        self,
        options: Options,
        env: Mapping[str, str],
        *,
        say: Callable[[str], None] = say,
        write: Callable[[str], object] = sys.stdout.write,
        clock: Callable[[], float] = time.time,
        terminal_opener: Callable[[], Terminal] = open_terminal,
        aws_globals: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.env = env
        self.say = say
        self.write = write
        self.clock = clock
        self.terminal_opener = terminal_opener
        self._aws_globals = aws_globals
        self._request: Request | None = None

    @property
    def paths(self) -> Paths:

        return Paths(self.env)

    def aws_globals(self) -> Mapping[str, str]:
        """The global options (--profile, --region) of the `aws` that ran us as an alias."""
        if self._aws_globals is None and self.options.mode == "credential-process":
            # botocore runs us from `aws --profile work`: that names the profile using us.
            self._aws_globals = {}
        if self._aws_globals is None:
            self._aws_globals = parent_aws.find_alias_globals(
                self.paths.alias_file, parent_aws.process_reader(self.env)
            )
            parent_aws.check_supported(self._aws_globals)
        return self._aws_globals

    def files(self) -> tuple[IniText, IniText]:

        paths = self.paths
        return read_ini(paths.config), read_ini(paths.credentials)

    def request(self) -> Request:
        """What the command line (and the `aws` that ran us) asks settings for: made here once."""
        if self._request is None:
            self._request = Request.from_command_line(self.options, self.aws_globals())
        return self._request

    def settings_profile(self) -> str:
        """The profile the command line (or the environment) names, not followed anywhere."""

        return requested_profile(self.request(), self.env)

    def settings(self, config: IniText, credentials: IniText) -> Settings:

        return resolve(self.request(), self.env, config, credentials, self.paths)

    def prompting(self) -> Prompting:

        return Prompting(say=self.say, clock=self.clock, terminal_opener=self.terminal_opener)

    def credentials(self) -> tuple[Settings, SessionCredentials]:
        """The settings of the command line's profile and valid credentials for it."""

        settings = self.settings(*self.files())
        session, _ = get_credentials(
            settings, self.env, self.prompting(), token_code=self.token_code()
        )
        return settings, session

    def token_code(self) -> str | None:
        if self.options.token_code is None:
            return None

        return normalize(self.options.token_code)
