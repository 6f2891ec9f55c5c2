"""Media by key, for the repository's objects (`events/...`), with byte ranges."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from services.gateway.deps import Context, CurrentUser
from services.gateway.media_http import media_response
from vigil.errors import BadInput
from vigil.media import check_key

router = APIRouter(prefix="/api/media", tags=["media"])
SERVED_PREFIX = "events/"  # uploads belong to their owner: served through their job only


@router.get("/{key:path}", response_class=StreamingResponse,
            responses={206: {"description": "a byte range"}, 400: {"description": "invalid key"},
                       404: {"description": "no such object"}})
async def media(key: str, request: Request, _: CurrentUser, context: Context) -> StreamingResponse:
    try:
        check_key(key)
    except BadInput as exc:
        raise HTTPException(400, "invalid media key") from exc
    if not key.startswith(SERVED_PREFIX):
        raise HTTPException(404, "no such media")
    return await media_response(context.media, key, request.headers.get("range"), "no such media")
