"""boto3 with its default credential chain, as a long job uses it: one STS client calling
GetCallerIdentity every INTERVAL seconds for SECONDS seconds. Prints one line per call ("ok" and
the caller's Arn, or "FAIL" and the error as the program sees it), then "done"."""

import sys
import time

import boto3

seconds, interval = float(sys.argv[1]), float(sys.argv[2])
client = boto3.client("sts")
start = time.time()
while time.time() < start + seconds:
    try:
        print("ok", client.get_caller_identity()["Arn"], flush=True)
    except Exception as error:
        text = f"{type(error).__name__}: {error}".replace("\n", " ")
        print(f"FAIL {time.time() - start:.1f}s {text}", flush=True)
    time.sleep(interval)
print(f"done seconds={time.time() - start:.1f}", flush=True)
