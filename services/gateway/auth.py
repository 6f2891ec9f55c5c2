"""Passwords (argon2id, slow and salted) and session tokens (JWT, HMAC-SHA256).

A token travels as `Authorization: Bearer <token>` or in the httpOnly cookie `vigil_token`; the
header wins when both are present.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

Role = Literal["admin", "viewer"]
COOKIE_NAME = "vigil_token"
ALGORITHM = "HS256"


class Passwords:
    """argon2id hashing, run in a worker thread: a hash takes tens of milliseconds on purpose."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        def verify() -> bool:
            if stored_hash is None and self._decoy is None:
                self._decoy = self.hasher.hash("decoy password, never matches")
            try:
                # An unknown user costs a verification too: both failures take the same time.
                matched = self.hasher.verify(stored_hash or self._decoy or "", password)
            except (VerificationError, InvalidHashError):
                return False
            return matched and stored_hash is not None

        return await asyncio.to_thread(verify)


@dataclass(frozen=True)
class Claims:
    username: str
    role: Role
    expires_at: int


class InvalidToken(Exception):
    """Missing, malformed, forged or expired."""


class Tokens:
    def __init__(self, secret: str, ttl_s: int) -> None:
        self.secret = secret
        self.ttl_s = ttl_s

    def issue(self, username: str, role: Role, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = {"sub": username, "role": role, "iat": issued, "exp": issued + self.ttl_s}
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> Claims:
        try:
            payload = jwt.decode(
                token, self.secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        role = payload.get("role")
        if role not in ("admin", "viewer") or not isinstance(payload["sub"], str):
            raise InvalidToken("token without a valid subject or role")
        return Claims(payload["sub"], role, int(payload["exp"]))


def token_from(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The bearer token of a request or WebSocket handshake, header first."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(COOKIE_NAME) or None
