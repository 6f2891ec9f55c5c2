"""The repository's events as the API shows them: the public shape of stored event documents,
their media URLs, and the list's time zone.

Reads and deletes go through the repository's `EventStore` (`services/repository/store.py`),
which also owns the `events` collection and its indexes (see `services/repository/documents.py`):
`_id` (the event id), `camera_id`, `source_kind` ("live" or "upload"), `job_id`, `started_at`,
`ended_at` (None while open), `start_frame`, `start_position_s`, `end_position_s`, `max_score`,
`culprits` [{`track_id`, `max_score`, `mean_score`, `crop_key`, `face_key` or None,
`face_missing`}], `clip_key`, `poster_key`, `status` ("open", then "stored" once every media
object is; "failed").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from services.repository.documents import Doc
from services.repository.store import as_utc

# Deletes an event's document and every media object of it; False when there was no such event.
EventDeleter = Callable[[str], Awaitable[bool]]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone a query's `tz` names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


# -- the public shape ---------------------------------------------------------------------------


class Scores(BaseModel):
    peak: float
    mean: float


class CulpritPublic(BaseModel):
    track_id: int
    score: float
    crop_url: str
    face_url: str | None
    face_missing: bool


class EventPublic(BaseModel):
    id: str
    camera_id: str | None
    source_kind: Literal["camera", "upload"]
    job_id: str | None
    started_at: str
    ended_at: str | None
    start_frame: int
    start_offset_s: float | None
    end_offset_s: float | None
    scores: Scores
    culprits: list[CulpritPublic]
    clip_url: str | None
    poster_url: str | None
    status: Literal["open", "ready", "failed"]


class EventPage(BaseModel):
    items: list[EventPublic]
    total: int
    page: int
    page_size: int


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def is_upload(doc: Doc) -> bool:
    return doc.get("source_kind") in ("upload", 2, "SOURCE_KIND_UPLOAD")


def event_public(doc: Doc) -> EventPublic:
    event_id = str(doc["_id"])
    base = f"/api/events/{event_id}"
    upload = is_upload(doc)
    peak = float(doc.get("max_score") or 0.0)
    culprits = sorted(doc.get("culprits") or [], key=lambda c: -float(c.get("max_score") or 0))
    ended = doc.get("ended_at")
    status = doc.get("status")
    if status not in ("open", "failed"):
        status = "open" if ended is None else "ready"  # "stored": clip and pictures are in
    return EventPublic(
        id=event_id,
        camera_id=None if upload else doc.get("camera_id"),
        source_kind="upload" if upload else "camera",
        job_id=(doc.get("job_id") or None) if upload else None,
        started_at=iso(doc["started_at"]) or "",
        ended_at=iso(ended),
        start_frame=int(doc.get("start_frame") or 0),
        start_offset_s=doc.get("start_position_s") if upload else None,
        end_offset_s=doc.get("end_position_s") if upload and ended is not None else None,
        scores=Scores(peak=peak, mean=mean_score(doc, peak)),
        culprits=[
            CulpritPublic(
                track_id=int(c["track_id"]),
                score=float(c.get("max_score") or 0.0),
                crop_url=f"{base}/culprits/{int(c['track_id'])}/crop",
                face_url=(f"{base}/culprits/{int(c['track_id'])}/face"
                          if c.get("face_key") else None),
                face_missing=not c.get("face_key"),
            )
            for c in culprits
        ],
        clip_url=f"{base}/clip" if doc.get("clip_key") else None,
        poster_url=f"{base}/poster" if doc.get("poster_key") else None,
        status=status,
    )


def mean_score(doc: Doc, peak: float) -> float:
    """The event's own mean when stored, else its most violent person's mean score."""
    if doc.get("mean_score") is not None:
        return float(doc["mean_score"])
    means = [float(c["mean_score"]) for c in doc.get("culprits") or []
             if c.get("mean_score") is not None]
    return max(means) if means else peak


MediaKind = Literal["clip", "poster", "crop", "face"]


def media_key(doc: Doc, kind: MediaKind, track_id: int | None = None) -> str | None:
    """The stored key behind one of the event's media URLs; None when it has none."""
    if kind in ("clip", "poster"):
        return doc.get(f"{kind}_key") or None
    for culprit in doc.get("culprits") or []:
        if int(culprit.get("track_id", -1)) == track_id:
            return culprit.get(f"{kind}_key") or None
    return None
