"""boto3 with its default credential chain, as a long job uses it: one STS client calling
GetCallerIdentity every INTERVAL seconds for SECONDS seconds, and on until the answers have named
SESSIONS role sessions (never beyond LIMIT seconds). Prints one line per call ("ok" and
the caller's Arn, or "FAIL" and the error as the program sees it), then "done"."""

import sys
import time

import boto3  # type: ignore[import-untyped]

seconds, interval, sessions, limit = (float(argument) for argument in sys.argv[1:5])
client = boto3.client("sts")
start = time.time()
arns: set[str] = set()
while time.time() < start + min(limit, seconds if len(arns) >= sessions else limit):
    try:
        arn = client.get_caller_identity()["Arn"]
        arns.add(arn)
        print("ok", arn, flush=True)
    except Exception as error:
        text = f"{type(error).__name__}: {error}".replace("\n", " ")
        print(f"FAIL {time.time() - start:.1f}s {text}", flush=True)
    time.sleep(interval)
print(f"done seconds={time.time() - start:.1f}", flush=True)
