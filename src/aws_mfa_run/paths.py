"""The files aws-mfa-run reads and writes, from the environment and HOME: pure."""

from __future__ import annotations

import os

from aws_mfa_run.warm import file_paths

# Imported for type checkers only (see TYPE_CHECKING in aws_mfa_run/__init__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Paths:
    """The files aws-mfa-run reads and writes, from the environment and HOME."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.home, self.config, self.credentials = file_paths(env)
        home = self.home
        self.state_dir = os.path.join(home, ".aws", "aws-mfa-run")
        # The AWS CLI (v1 and v2) reads aliases from this fixed place under the home directory.
        self.alias_file = os.path.join(home, ".aws", "cli", "alias")
