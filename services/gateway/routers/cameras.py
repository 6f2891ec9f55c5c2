"""Cameras: anyone signed in lists them; admins add, change, start, stop and delete them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response

from services.gateway.cameras import CameraCreate, CameraPublic, CameraUpdate, NameUsed
from services.gateway.deps import AdminUser, Context, CurrentUser, Responses

router = APIRouter(prefix="/api/cameras", tags=["cameras"])
NAME_USED = "camera name already used"
NOT_FOUND: Responses = {404: {"description": "camera not found"}}


async def _camera(context: Context, camera_id: str) -> dict[str, Any]:
    camera = await context.cameras.get(camera_id)
    if camera is None:
        raise HTTPException(404, "camera not found")
    return camera


@router.get("")
async def list_cameras(_: CurrentUser, context: Context) -> list[CameraPublic]:
    """Every camera, sorted by name."""
    return [CameraPublic.from_doc(doc) for doc in await context.cameras.list()]


@router.post("", status_code=201, responses={409: {"description": NAME_USED}})
async def create_camera(body: CameraCreate, _: AdminUser, context: Context) -> CameraPublic:
    try:
        return CameraPublic.from_doc(await context.cameras.create(body))
    except NameUsed as exc:
        raise HTTPException(409, NAME_USED) from exc


@router.patch("/{camera_id}", responses={**NOT_FOUND, 409: {"description": NAME_USED}})
async def update_camera(
    camera_id: str, body: CameraUpdate, _: AdminUser, context: Context
) -> CameraPublic:
    camera = await _camera(context, camera_id)
    try:
        return CameraPublic.from_doc(await context.cameras.update(camera, body))
    except NameUsed as exc:
        raise HTTPException(409, NAME_USED) from exc


@router.delete("/{camera_id}", status_code=204, responses=NOT_FOUND)
async def delete_camera(camera_id: str, _: AdminUser, context: Context) -> Response:
    """Stops it first; its stored events stay."""
    await context.cameras.delete(await _camera(context, camera_id))
    return Response(status_code=204)


@router.post("/{camera_id}/start", responses=NOT_FOUND)
async def start_camera(camera_id: str, _: AdminUser, context: Context) -> CameraPublic:
    """The camera as it is now: `reconnecting` while its source opens, then `live`."""
    return CameraPublic.from_doc(await context.cameras.start(await _camera(context, camera_id)))


@router.post("/{camera_id}/stop", responses=NOT_FOUND)
async def stop_camera(camera_id: str, _: AdminUser, context: Context) -> CameraPublic:
    return CameraPublic.from_doc(await context.cameras.stop(await _camera(context, camera_id)))
