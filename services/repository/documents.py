"""The `events` document, built from the join's outputs (pure: no I/O).

One document per event, `_id` = the event id (uuid5 of camera and start frame, so a replay lands
on the same document). The gateway reads these names; keep them.

    _id, camera_id, source_kind ("live" | "upload"), job_id,
    started_at, ended_at (UTC datetimes, millisecond precision; ended_at None while open),
    start_frame, end_frame, start_position_s, end_position_s, max_score,
    culprits: [{track_id, max_score, mean_score, crop_key, face_key | None, face_missing}],
    clip_key (first part), clip_parts: [keys], poster_key, status ("open" | "stored"),
    bytes (media bytes of the event)

and, for the repository itself: `clip_parts_info` (per part: frames, duration, bytes, last frame:
what a restart needs to go on after the stored parts), `clip_duration_s`, `closed` (False when
the event ended without a close from classify: stream end, stall, newer event).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from services.repository import keys
from services.repository.inputs import EventIn
from services.repository.outputs import EventReady, PartMeta, StoredProgress

Doc = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPEN = "open"
STORED = "stored"


def utc_from_us(microseconds: int) -> datetime:
    """MongoDB keeps milliseconds: truncate here so what is read back equals what was built."""
    return EPOCH + timedelta(milliseconds=microseconds // 1000)


def _event_fields(event: EventIn) -> Doc:
    return {
        "camera_id": event.camera_id,
        "source_kind": event.source_kind,
        "job_id": event.job_id or None,
        "started_at": utc_from_us(event.start_time_us),
        "start_frame": event.start_frame,
        "start_position_s": event.start_position_s,
        "end_frame": event.end_frame,
        "end_position_s": event.end_position_s,
        "max_score": event.max_score,
    }


def open_document(event: EventIn) -> Doc:
    """The document of an event still being recorded: written once, when it opens."""
    return {
        "_id": event.event_id,
        **_event_fields(event),
        "ended_at": None,
        "culprits": [
            {
                "track_id": c.track_id,
                "max_score": c.max_score,
                "mean_score": c.mean_score,
                "crop_key": None,
                "face_key": None,
                "face_missing": True,
            }
            for c in event.culprits
        ],
        "clip_key": None,
        "clip_parts": [],
        "clip_parts_info": [],
        "clip_duration_s": 0.0,
        "poster_key": None,
        "status": OPEN,
        "bytes": 0,
    }


def _clip_fields(event_id: str, parts: tuple[PartMeta, ...]) -> Doc:
    return {
        "clip_key": parts[0].key if parts else None,
        "clip_parts": [part.key for part in parts],
        "clip_parts_info": [asdict(part) for part in parts],
        "clip_duration_s": sum(part.duration_s for part in parts),
        "poster_key": keys.poster_key(event_id) if any(p.poster_bytes for p in parts) else None,
    }


def progress_fields(event_id: str, parts: tuple[PartMeta, ...]) -> Doc:
    """What an open document learns when a clip part is stored."""
    return {
        **_clip_fields(event_id, parts),
        "bytes": sum(part.bytes + part.poster_bytes for part in parts),
    }


def stored_document(ready: EventReady) -> Doc:
    """The complete event, once every media object of it is stored."""
    event = ready.event
    culprits = []
    media_bytes = sum(part.bytes + part.poster_bytes for part in ready.parts)
    for culprit in ready.culprits:
        culprits.append({
            "track_id": culprit.track_id,
            "max_score": culprit.max_score,
            "mean_score": culprit.mean_score,
            "crop_key": keys.crop_key(event.event_id, culprit.track_id)
            if culprit.crop_jpeg is not None else None,
            "face_key": keys.face_key(event.event_id, culprit.track_id)
            if culprit.face_jpeg is not None else None,
            "face_missing": culprit.face_missing,
        })  # fmt: skip
        media_bytes += len(culprit.crop_jpeg or b"") + len(culprit.face_jpeg or b"")
    return {
        "_id": event.event_id,
        **_event_fields(event),
        "ended_at": utc_from_us(event.end_time_us),
        "culprits": culprits,
        **_clip_fields(event.event_id, ready.parts),
        "status": STORED,
        "closed": ready.closed,
        "bytes": media_bytes,
    }


def progress_of(doc: Doc) -> StoredProgress:
    """What a stored or open document tells a replay of the event's opening."""
    if doc.get("status") == STORED:
        return StoredProgress(stored=True)
    parts = tuple(PartMeta(**info) for info in doc.get("clip_parts_info") or [])
    return StoredProgress(stored=False, parts=parts)
