"""Password hashing with argon2id. Verification runs in a thread: it is deliberately slow (~0.2 s)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommended option
# Verified against when the user does not exist, so that "no such user" and "wrong password" take as long.
_DUMMY_HASH = HASHER.hash("qianliyan-no-such-user")


def hash_password(password: str, hasher: PasswordHasher = HASHER) -> str:
    if not password:
        raise ValueError("password must not be empty")
    return hasher.hash(password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, stored_hash, password)
