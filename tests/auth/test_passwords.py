"""Password hashes: argon2id, verified, refused when wrong, rehashed when parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher

from cloud.auth.passwords import hash_password, needs_rehash, password_problem, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery ")
    assert not verify_password(None, "anything")  # unknown user: refused after the same work
    assert not verify_password("not a hash", "anything")
    assert hash_password("same") != hash_password("same")  # salted


def test_old_parameters_ask_for_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw-123456")
    assert needs_rehash(weak)
    assert verify_password(weak, "pw-123456")
    assert not needs_rehash(hash_password("pw-123456"))


def test_short_or_non_text_passwords_are_refused() -> None:
    assert password_problem("1234567") is not None
    assert password_problem(12345678) is not None
    assert password_problem("x" * 257) is not None
    assert password_problem("12345678") is None
