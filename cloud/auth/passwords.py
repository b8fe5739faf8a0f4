"""Password hashing with argon2id (argon2-cffi's defaults, rehashed when they change)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()
#: Verified against when the username is unknown, so a wrong name takes as long as a wrong
#: password and the timing does not tell which accounts exist.
_DUMMY = _hasher.hash("courtyard-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: burn the same time, then refuse)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def password_problem(password: object) -> tuple[str, str] | None:
    """(zh, en) reason a new password is refused, or None."""
    if not isinstance(password, str):
        return "密码必须是文本", "the password must be a string"
    if len(password) < MIN_LENGTH:
        return (f"密码至少 {MIN_LENGTH} 个字符",
                f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        return (f"密码不能超过 {MAX_LENGTH} 个字符",
                f"the password may have at most {MAX_LENGTH} characters")
    return None
