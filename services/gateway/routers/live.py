"""`WS /api/live/{camera_id}`: the camera's status, then its frames, each with its overlay.

The server accepts, then closes at once with a code when it must refuse (a browser cannot read
the status of a refused handshake): 4401 not authenticated, 4403 another site's page,
4404 no such camera; 1000 when the camera is deleted while watched.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from services.gateway.deps import authenticate, get_context
from services.gateway.live_join import status_message
from services.gateway.viewer_queue import Close, ViewerQueue

router = APIRouter(prefix="/api/live", tags=["live"])
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4401, 4403, 4404


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """No Origin (not a browser), one whose host is the Host the request was sent to, or one
    configured (the UI's development server)."""
    if origin is None or origin.rstrip("/") in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


@router.websocket("/{camera_id}")
async def live(websocket: WebSocket, camera_id: str) -> None:
    context = get_context(websocket)
    await websocket.accept()
    if await authenticate(context, websocket.headers, websocket.cookies) is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "not authenticated")
        return
    allowed = [o.rstrip("/") for o in context.config.ws_allowed_origins]
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), allowed):
        await websocket.close(CLOSE_FORBIDDEN, "forbidden origin")
        return
    # Watch before reading the status, so no change falls between the two.
    async with context.hub.watch(camera_id) as viewer:
        camera = await context.cameras.get(camera_id)
        if camera is None:
            await websocket.close(CLOSE_NOT_FOUND, "camera not found")
            return
        await websocket.send_text(status_message(camera["status"], camera.get("error_reason")))
        await _serve(websocket, viewer)


async def _serve(websocket: WebSocket, viewer: ViewerQueue) -> None:
    """Send until the viewer's queue closes or the client goes away."""
    sending = asyncio.create_task(_send(websocket, viewer))
    listening = asyncio.create_task(_until_disconnect(websocket))
    try:
        await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, listening):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError,
                                     RuntimeError):  # the client went away mid-send
                await task


async def _send(websocket: WebSocket, viewer: ViewerQueue) -> None:
    while True:
        item = await viewer.get()
        if isinstance(item, Close):
            if websocket.client_state == WebSocketState.CONNECTED:
                await websocket.close(item.code, item.reason)
            return
        await websocket.send_text(item)


async def _until_disconnect(websocket: WebSocket) -> None:
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass  # the client sends nothing of use
