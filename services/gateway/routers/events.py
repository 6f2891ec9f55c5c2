"""The repository of violent events: search, view, delete, and each event's media."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from services.gateway.deps import AdminUser, Context, CurrentUser, Responses
from services.gateway.events import EventPage, EventPublic, MediaKind, event_public, media_key, zone
from services.gateway.media_http import media_response
from vigil.errors import BadInput

router = APIRouter(prefix="/api/events", tags=["events"])
NOT_FOUND: Responses = {404: {"description": "event not found"}}
MEDIA: Responses = {206: {"description": "a byte range"}, **NOT_FOUND}


def _zone_name(name: str) -> str:
    zone(name)  # raises ValueError: a 422 naming the parameter
    return name


TimeZone = Annotated[str, AfterValidator(_zone_name)]


async def _event(context: Context, event_id: str) -> dict[str, Any]:
    try:
        doc = await context.events.get(event_id)
    except BadInput:  # an id no event can have (the store refuses it): no such event
        doc = None
    if doc is None:
        raise HTTPException(404, "event not found")
    return doc


@router.get("")
async def list_events(
    _: CurrentUser,
    context: Context,
    date: Annotated[dt.date | None, Query(description="a calendar day in `tz`")] = None,
    tz: Annotated[TimeZone, Query(description="an IANA time zone")] = "UTC",
    start: Annotated[dt.datetime | None, Query(alias="from", description="inclusive")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to", description="exclusive")] = None,
    camera: Annotated[str | None, Query(description="a camera id")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EventPage:
    """Events whose start matches every given filter, the newest first."""
    found = await context.events.list(date=date, start=start, end=end, camera=camera, page=page,
                                      page_size=page_size, tz=zone(tz))
    return EventPage(items=[event_public(doc) for doc in found.items], total=found.total,
                     page=found.page, page_size=found.page_size)


@router.get("/{event_id}", responses=NOT_FOUND)
async def get_event(event_id: str, _: CurrentUser, context: Context) -> EventPublic:
    return event_public(await _event(context, event_id))


@router.delete("/{event_id}", status_code=204, responses=NOT_FOUND)
async def delete_event(event_id: str, _: AdminUser, context: Context) -> Response:
    """The document and every media object of the event."""
    try:
        deleted = await context.delete_event(event_id)
    except BadInput:  # an id no event can have
        deleted = False
    if not deleted:
        raise HTTPException(404, "event not found")
    return Response(status_code=204)


async def _media(
    context: Context, request: Request, event_id: str, kind: MediaKind, track_id: int | None = None
) -> StreamingResponse:
    key = media_key(await _event(context, event_id), kind, track_id)
    if key is None:
        raise HTTPException(404, f"the event has no {kind}")
    return await media_response(context.media, key, request.headers.get("range"),
                                f"the event's {kind} is missing")


@router.get("/{event_id}/clip", response_class=StreamingResponse, responses=MEDIA)
async def clip(event_id: str, request: Request, _: CurrentUser,
               context: Context) -> StreamingResponse:
    """The violent part of the video, with byte ranges for seeking."""
    return await _media(context, request, event_id, "clip")


@router.get("/{event_id}/poster", response_class=StreamingResponse, responses=MEDIA)
async def poster(event_id: str, request: Request, _: CurrentUser,
                 context: Context) -> StreamingResponse:
    return await _media(context, request, event_id, "poster")


@router.get("/{event_id}/culprits/{track_id}/crop", response_class=StreamingResponse,
            responses=MEDIA)
async def culprit_crop(event_id: str, track_id: int, request: Request, _: CurrentUser,
                       context: Context) -> StreamingResponse:
    return await _media(context, request, event_id, "crop", track_id)


@router.get("/{event_id}/culprits/{track_id}/face", response_class=StreamingResponse,
            responses=MEDIA)
async def culprit_face(event_id: str, track_id: int, request: Request, _: CurrentUser,
                       context: Context) -> StreamingResponse:
    return await _media(context, request, event_id, "face", track_id)
