"""An AWS CLI as a script uses it: `AWS sts get-caller-identity` run again and again for SECONDS
seconds, INTERVAL seconds apart, and on until the answers have named SESSIONS role sessions (never
beyond LIMIT seconds: a CLI may take seconds to start on a loaded machine). Prints one line per
run ("ok" and the caller's Arn, or "FAIL" and what the CLI printed), then "done".

The endpoint is passed as --endpoint-url: the AWS CLI v2 before 2.13 ignores AWS_ENDPOINT_URL.
"""

import os
import subprocess
import sys
import time

aws = sys.argv[1]
seconds, interval, sessions, limit = (float(argument) for argument in sys.argv[2:6])
command = [aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text"]
command += ["--endpoint-url", os.environ["AWS_ENDPOINT_URL"]]
start = time.time()
arns: set[str] = set()
while time.time() < start + min(limit, seconds if len(arns) >= sessions else limit):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 0:
        arns.add(done.stdout.strip())
        print("ok", done.stdout.strip(), flush=True)
    else:
        text = " ".join((done.stderr + done.stdout).split())
        print(f"FAIL {time.time() - start:.1f}s exit {done.returncode}: {text}", flush=True)
    time.sleep(interval)
print(f"done seconds={time.time() - start:.1f}", flush=True)
