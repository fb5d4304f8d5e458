"""HMAC-SHA256 request signing, the same both ways: the signature is hex(HMAC(secret, timestamp + "." +
body)) in X-Wuyi-Signature ("sha256=<hex>"), the Unix time in seconds in X-Wuyi-Timestamp. A request
more than WINDOW_SECONDS from the receiver's clock is stale; the same signature twice is a replay."""
from __future__ import annotations

import hashlib
import hmac
import secrets

TIMESTAMP_HEADER = "X-Wuyi-Timestamp"
SIGNATURE_HEADER = "X-Wuyi-Signature"
EVENT_HEADER = "X-Wuyi-Event-Id"
WINDOW_SECONDS = 300


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str | int, body: bytes) -> str:
    """The hex HMAC-SHA256 of timestamp + "." + body under the secret."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The signing headers of one request."""
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: "sha256=" + signature(secret, timestamp, body)}


def matches(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """Whether `given` (with or without the sha256= prefix) signs timestamp + body (constant time)."""
    given = given[len("sha256="):] if given.startswith("sha256=") else given
    return hmac.compare_digest(signature(secret, timestamp, body), given.strip().lower())
