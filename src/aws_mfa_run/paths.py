"""The files aws-mfa-run reads and writes, from the environment and HOME: pure."""

from __future__ import annotations

import os

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# Under --server, a credentials or config file whose default profile holds credentials is hidden
# from the command (those would win over the endpoint); its real path is here, for us.
REAL_CREDENTIALS_FILE_VARIABLE = "AWS_MFA_RUN_CREDENTIALS_FILE"
REAL_CONFIG_FILE_VARIABLE = "AWS_MFA_RUN_CONFIG_FILE"


class Paths:
    """The files aws-mfa-run reads and writes, from the environment and HOME."""

    def __init__(self, env: Mapping[str, str]) -> None:
        home = env.get("HOME") or os.path.expanduser("~")
        self.home = home
        config = env.get(REAL_CONFIG_FILE_VARIABLE) or env.get("AWS_CONFIG_FILE")
        self.config = _expand(config or os.path.join(home, ".aws", "config"), home)
        credentials = env.get(REAL_CREDENTIALS_FILE_VARIABLE) or env.get(
            "AWS_SHARED_CREDENTIALS_FILE"
        )
        self.credentials = _expand(credentials or os.path.join(home, ".aws", "credentials"), home)
        self.state_dir = os.path.join(home, ".aws", "aws-mfa-run")
        # The AWS CLI (v1 and v2) reads aliases from this fixed place under the home directory.
        self.alias_file = os.path.join(home, ".aws", "cli", "alias")


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path
