"""What the command line asked for (Options), and the shell names it accepts: a leaf, so that
every layer may hold the parsed command line while only arguments.py parses it."""

from __future__ import annotations

SHELLS = ("sh", "bash", "zsh", "fish", "powershell", "pwsh")  # what --env prints for
COMPLETION_SHELLS = ("bash", "zsh", "fish")  # what --completion prints a script for

# The options: name -> (Options attribute, takes a value). arguments.py parses them; the
# completion scripts offer, after a mode, those of its attributes (modes.Mode.accepts).
OPTIONS = {
    "-p": ("profile", True),
    "--profile": ("profile", True),
    "--target-profile": ("target_profile", True),
    "--serial": ("serial", True),
    "--token-code": ("token_code", True),
    "--duration": ("duration", True),
    "--min-remaining": ("min_remaining", True),
    "--force": ("force", False),
    "--server": ("server", False),
    "--all": ("all", False),
    "--json": ("json", False),
    "--print": ("print_url", False),
}


class Options:
    """What the command line asked for. Built once by `arguments.parse_arguments`, never changed
    after."""

    def __init__(self) -> None:
        self.mode = "run"  # a name of modes.MODES, or help | version
        self.profile: str | None = None
        self.target_profile: str | None = None
        self.serial: str | None = None
        self.duration: str | None = None
        self.min_remaining: str | None = None
        self.token_code: str | None = None  # as given (normalized by codes.normalize)
        self.force = False
        self.server = False  # --server: run the command with a credentials endpoint
        self.all = False
        self.shell = "sh"
        self.json = False  # --status --json
        self.print_url = False  # --console --print
        self.completion_shell = ""  # --completion SHELL
        self.command: list[str] = []
