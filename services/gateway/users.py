"""Accounts: the `users` collection, and the shapes of signup, login and the current user.

The first account ever created is the admin: the one signup that inserts the `first-admin`
marker wins, so two first signups at once still make one admin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.auth import Role

Doc = dict[str, Any]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError("value is not a valid email address")
    return value.lower()


Username = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
]
Email = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_email)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]


class UserCreate(BaseModel):
    username: Username
    email: Email
    password: Password


class LoginRequest(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=256)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserPublic(BaseModel):
    username: str
    email: str
    role: Role

    @classmethod
    def from_doc(cls, doc: Doc) -> UserPublic:
        return cls(username=doc["username"], email=doc["email"], role=doc["role"])


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"


class AlreadyUsed(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(f"{field} already used")
        self.field = field


class UserStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.users = db["users"]
        self.markers = db["markers"]

    async def create_indexes(self) -> None:
        await self.users.create_index("username", unique=True)
        await self.users.create_index("email", unique=True)

    async def get(self, username: str) -> Doc | None:
        return await self.users.find_one({"username": username})

    async def check_unused(self, user: UserCreate) -> None:
        """Raises `AlreadyUsed` naming the field, the username before the email."""
        for field, value in (("username", user.username), ("email", user.email)):
            if await self.users.find_one({field: value}, {"_id": 1}) is not None:
                raise AlreadyUsed(field)

    async def create(self, user: UserCreate, password_hash: str) -> Doc:
        """Raises `AlreadyUsed` when the name or the email is taken."""
        await self.check_unused(user)
        doc: Doc = {"username": user.username, "email": user.email,
                    "password_hash": password_hash, "role": "viewer",
                    "created_at": datetime.now(UTC)}
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError as exc:  # a signup with the same name got in meanwhile
            pattern = (exc.details or {}).get("keyPattern", {})
            raise AlreadyUsed("email" if "email" in pattern else "username") from exc
        try:
            await self.markers.insert_one({"_id": "first-admin", "username": user.username})
        except DuplicateKeyError:
            return doc
        await self.users.update_one({"username": user.username}, {"$set": {"role": "admin"}})
        doc["role"] = "admin"
        return doc
