"""The signed-in user."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway.deps import CurrentUser
from services.gateway.users import UserPublic

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.from_doc(user)
