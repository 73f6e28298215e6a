"""The user's terminal, opened as /dev/tty.

Prompts never go to stdout (a `$(...)` or botocore's credential_process capture would swallow
them) and answers never come from stdin (that belongs to the wrapped command).
"""

from __future__ import annotations

import os


class NoTerminalError(Exception):
    """There is no controlling terminal (cron, CI, setsid)."""


class Terminal:
    def __init__(self, path: str = "/dev/tty") -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            raise NoTerminalError() from None

    def tell(self, message: str) -> None:
        os.write(self._fd, (message + "\n").encode())

    def ask(self, prompt: str) -> str | None:
        """One line typed by the user, None at end of input (Ctrl-D)."""
        os.write(self._fd, prompt.encode())
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(self._fd, 1024)
            if not chunk:
                return None if not answer else answer.decode(errors="replace").strip()
            answer += chunk
        return answer.decode(errors="replace").strip()

    def ask_hidden(self, prompt: str) -> str | None:
        """Like `ask`, with the typed characters not echoed (for a secret)."""
        import termios

        try:
            saved = termios.tcgetattr(self._fd)
        except termios.error:
            return self.ask(prompt)  # not a terminal that echoes: nothing to hide
        quiet = list(saved)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(self._fd, termios.TCSAFLUSH, quiet)
        try:
            return self.ask(prompt)
        finally:
            termios.tcsetattr(self._fd, termios.TCSAFLUSH, saved)
            os.write(self._fd, b"\n")

    def close(self) -> None:
        os.close(self._fd)


def open_terminal() -> Terminal:
    return Terminal()
