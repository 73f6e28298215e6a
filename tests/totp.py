"""An `mfa_process` for tests and the demo: print the current code of the secret in a file.

Like `oathtool --totp -b SECRET`, but the secret stays in a file instead of on a command line.
"""

import sys

import pyotp

with open(sys.argv[1], encoding="ascii") as handle:
    print(pyotp.TOTP(handle.read().strip()).now())
