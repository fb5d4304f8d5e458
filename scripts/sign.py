#!/usr/bin/env python3
"""Sign a request body for the Wuyi integration API and print the two headers, one per line, in the
form `curl -H @-` reads:

    python3 scripts/sign.py SECRET ticket.json | curl ... -H @- --data-binary @ticket.json

X-Wuyi-Timestamp is the Unix time now; X-Wuyi-Signature is sha256=hex(HMAC-SHA256(SECRET,
timestamp + "." + body)), the body byte for byte as sent. Standard library only."""
import hashlib
import hmac
import sys
import time


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: sign.py SECRET FILE   (FILE '-' reads the body from stdin)")
    secret, path = argv[1], argv[2]
    body = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    print(f"X-Wuyi-Timestamp: {timestamp}")
    print(f"X-Wuyi-Signature: sha256={digest}")


if __name__ == "__main__":
    main(sys.argv)
