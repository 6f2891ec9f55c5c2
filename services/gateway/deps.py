"""What a route asks for: the shared context, the signed-in user, an admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from services.gateway.auth import InvalidToken, token_from
from services.gateway.context import GatewayContext

Doc = dict[str, Any]
Responses = dict[int | str, dict[str, Any]]  # OpenAPI documentation of error answers
NOT_AUTHENTICATED = "not authenticated"


def get_context(connection: HTTPConnection) -> GatewayContext:
    context: GatewayContext = connection.app.state.gateway
    return context


Context = Annotated[GatewayContext, Depends(get_context)]


async def authenticate(
    context: GatewayContext, headers: Mapping[str, str], cookies: Mapping[str, str]
) -> Doc | None:
    """The user a valid token names, as stored now (a removed user's token stops working)."""
    token = token_from(headers, cookies)
    if token is None:
        return None
    try:
        claims = context.tokens.decode(token)
    except InvalidToken:
        return None
    return await context.users.get(claims.username)


async def current_user(request: Request, context: Context) -> Doc:
    user = await authenticate(context, request.headers, request.cookies)
    if user is None:
        raise HTTPException(401, NOT_AUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[Doc, Depends(current_user)]


async def admin_user(user: CurrentUser) -> Doc:
    if user.get("role") != "admin":
        raise HTTPException(403, "admin role required")
    return user


AdminUser = Annotated[Doc, Depends(admin_user)]
