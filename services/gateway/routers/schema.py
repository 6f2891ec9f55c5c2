"""The OpenAPI schema, for signed-in users only: it maps every endpoint, so strangers get 401.

FastAPI's public `/openapi.json`, `/docs` and `/redoc` are switched off (the Swagger page would
also load its scripts from a third-party CDN, which a closed CCTV network cannot reach);
docs/api.md is the human-readable form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from services.gateway.deps import CurrentUser

router = APIRouter(prefix="/api", include_in_schema=False)


@router.get("/openapi.json")
async def openapi(request: Request, _: CurrentUser) -> dict[str, Any]:
    return request.app.openapi()
