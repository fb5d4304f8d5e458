"""Password rules (#15): the administration pages, the forced change and `flask users create` use
the same check, so a rule stated beside a password field is the rule the server applies."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 200
RULES_TEXT = f"至少 {MIN_LENGTH} 位，不能与用户名相同或包含用户名，不能是常见密码（如 12345678、password）"
_COMMON_FILE = Path(__file__).parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str | None, username: str | None = None) -> list[str]:
    """The rules this password breaks, in Chinese (empty when it is acceptable)."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return [f"密码至少 {MIN_LENGTH} 位"]
    if len(password) > MAX_LENGTH:
        return [f"密码不能超过 {MAX_LENGTH} 位"]
    problems = []
    name = (username or "").strip().lower()
    if name and (password.lower() == name or (len(name) >= 3 and name in password.lower())):
        problems.append("密码不能与用户名相同，也不能包含用户名")
    if password.lower() in common_passwords():
        problems.append("该密码过于常见，容易被猜中，请换一个")
    return problems
