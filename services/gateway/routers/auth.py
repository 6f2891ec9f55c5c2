"""Sign up, log in, log out."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from services.gateway.auth import COOKIE_NAME
from services.gateway.deps import Context, CurrentUser
from services.gateway.ratelimit import login_limits
from services.gateway.users import AlreadyUsed, LoginRequest, TokenPublic, UserCreate, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])
WRONG_LOGIN = "wrong username or password"


@router.post("/signup", status_code=201, responses={409: {"description": "name or email used"}})
async def signup(body: UserCreate, context: Context) -> UserPublic:
    """Create an account: the first one ever is the admin, the others are viewers."""
    try:
        await context.users.check_unused(body)
        password_hash = await context.passwords.hash(body.password)
        doc = await context.users.create(body, password_hash)
    except AlreadyUsed as exc:
        raise HTTPException(409, str(exc)) from exc
    return UserPublic.from_doc(doc)


@router.post("/login", responses={401: {"description": WRONG_LOGIN},
                                  429: {"description": "too many failed logins"}})
async def login(body: LoginRequest, request: Request, response: Response,
                context: Context) -> TokenPublic:
    """A bearer token, also set as the httpOnly cookie `vigil_token` for the browser."""
    config = context.config
    client = request.client.host if request.client else "unknown"
    limits = login_limits(client, body.username, config.login_attempts_per_client,
                          config.login_attempts)
    wait = await context.limiter.retry_after(limits)
    if wait:
        raise HTTPException(429, "too many failed logins, try again later",
                            headers={"Retry-After": str(wait)})
    user = await context.users.get(body.username)
    if not await context.passwords.verify(user["password_hash"] if user else None, body.password):
        await context.limiter.record_failure(limits)
        raise HTTPException(401, WRONG_LOGIN, headers={"WWW-Authenticate": "Bearer"})
    assert user is not None  # verify() is False without a stored hash
    await context.limiter.reset(limits[1].key)
    token = context.tokens.issue(user["username"], user["role"])
    response.set_cookie(COOKIE_NAME, token, max_age=config.token_ttl_s, path="/",
                        httponly=True, samesite="strict", secure=config.cookie_secure)
    return TokenPublic(access_token=token)


@router.post("/logout", status_code=204)
async def logout(_: CurrentUser) -> Response:
    """Clears the cookie (JavaScript cannot clear an httpOnly cookie)."""
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
