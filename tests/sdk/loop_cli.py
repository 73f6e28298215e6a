"""An AWS CLI as a script uses it: `AWS sts get-caller-identity` run again and again for SECONDS
seconds, INTERVAL seconds apart, and at least CALLS times (a CLI may take seconds to start on a
loaded machine). Prints one line per run ("ok" and the caller's Arn, or "FAIL" and
what the CLI printed), then "done".

The endpoint is passed as --endpoint-url: the AWS CLI v2 before 2.13 ignores AWS_ENDPOINT_URL.
"""

import os
import subprocess
import sys
import time

aws, seconds, interval, calls = (
    sys.argv[1],
    float(sys.argv[2]),
    float(sys.argv[3]),
    int(sys.argv[4]),
)
command = [aws, "sts", "get-caller-identity", "--query", "Arn", "--output", "text"]
command += ["--endpoint-url", os.environ["AWS_ENDPOINT_URL"]]
start = time.time()
made = 0
while time.time() < start + seconds or made < calls:
    made += 1
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 0:
        print("ok", done.stdout.strip(), flush=True)
    else:
        text = " ".join((done.stderr + done.stdout).split())
        print(f"FAIL {time.time() - start:.1f}s exit {done.returncode}: {text}", flush=True)
    time.sleep(interval)
print(f"done seconds={time.time() - start:.1f}", flush=True)
