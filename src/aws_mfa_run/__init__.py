"""aws-mfa-run: MFA session credentials for the AWS CLI and every SDK.

Modules import `collections.abc` and `typing` only under `TYPE_CHECKING = False; if
TYPE_CHECKING:`: both cost import time on the warm path (`aws-mfa-run COMMAND` with a valid
stored session), which must stay close to the cost of starting Python. Type checkers take the
branch; the interpreter never does.
"""

__version__ = "0.2.0"
