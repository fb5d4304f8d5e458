"""The portal's captcha: an image (the `captcha` package's ImageCaptcha, no outside service) whose
answer stays on the server's side. The signed session keeps only an HMAC of it (the cookie is readable
by its holder), with a nonce and the time it was issued; a nonce is spent in the rate limiter's storage
on first use, so a replayed cookie cannot answer twice. A fixed text (PORTAL_CAPTCHA_FIXED_TEXT) exists
for the browser tests only and is never honoured in production."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from flask import current_app, session

from app.extensions import limiter

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   # no 0/O, 1/I: readable on a phone
LENGTH = 4
_KEY = "portal_captcha"


def _digest(nonce: str, answer: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{nonce}:{answer.strip().upper()}".encode(), hashlib.sha256).hexdigest()


def _fixed_text() -> str | None:
    if current_app.config.get("ENV_NAME") == "production":
        return None
    return current_app.config.get("PORTAL_CAPTCHA_FIXED_TEXT") or None


def random_text() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def new_challenge() -> bytes:
    """A new captcha: its PNG, its answer's HMAC kept in the session (replacing any earlier one)."""
    from captcha.image import ImageCaptcha   # imported on use: Pillow is heavy, and only this page needs it
    text = _fixed_text() or random_text()
    nonce = secrets.token_urlsafe(12)
    session[_KEY] = {"n": nonce, "h": _digest(nonce, text), "t": int(time.time())}
    return ImageCaptcha(width=160, height=60).generate(text, format="png").getvalue()


def check_answer(answer: str | None) -> str | None:
    """Why the typed answer is refused, in Chinese; None when it is right. Either way the challenge is
    used up: the next try needs a new image."""
    challenge = session.pop(_KEY, None)
    typed = (answer or "").strip()
    if not typed:
        return "请输入图中的验证码"
    if not isinstance(challenge, dict) or not {"n", "h", "t"} <= set(challenge):
        return "验证码已失效，请看新的图片重新输入"
    if time.time() - int(challenge["t"]) > current_app.config["PORTAL_CAPTCHA_TTL_SECONDS"]:
        return "验证码已过期，请看新的图片重新输入"
    if not hmac.compare_digest(challenge["h"], _digest(challenge["n"], typed)):
        return "验证码不正确，请看新的图片重新输入"
    ttl = int(current_app.config["PORTAL_CAPTCHA_TTL_SECONDS"]) + 60
    if limiter.storage.incr(f"portal-captcha/{challenge['n']}", ttl) > 1:
        return "验证码已使用过，请看新的图片重新输入"
    return None
