"""What the join hands to the writer, in the order it must be stored, and what a restart reads
back from the store to go on where the last run stopped."""

from __future__ import annotations

from dataclasses import dataclass

from services.repository.clips import ClipPart
from services.repository.inputs import EventIn


@dataclass(frozen=True, slots=True)
class PartMeta:
    """A stored clip part, as the event's document lists it."""

    part: int
    key: str
    first_frame: int
    last_frame: int
    frames: int
    duration_s: float
    bytes: int
    mime_type: str
    poster_bytes: int  # the poster was stored with this part (0: not with this one)


@dataclass(frozen=True, slots=True)
class StoredProgress:
    """What the store already holds of an event when its opening is (re)played."""

    stored: bool  # complete: the replay has nothing to add
    parts: tuple[PartMeta, ...] = ()

    @property
    def poster_taken(self) -> bool:
        return any(part.poster_bytes for part in self.parts)


@dataclass(frozen=True, slots=True)
class EventStarted:
    event: EventIn


@dataclass(frozen=True, slots=True)
class PartReady:
    event: EventIn
    part: ClipPart  # the local file to store, and the poster when this part carries it
    meta: PartMeta
    parts_so_far: tuple[PartMeta, ...]  # every part of the event up to this one, stored first


@dataclass(frozen=True, slots=True)
class CulpritMedia:
    track_id: int
    max_score: float
    mean_score: float
    crop_jpeg: bytes | None
    face_jpeg: bytes | None
    face_missing: bool  # no face in any picture tried for this culprit


@dataclass(frozen=True, slots=True)
class EventReady:
    """The event is complete: every part went out before this; store the pictures, then the
    document."""

    event: EventIn  # the latest update
    parts: tuple[PartMeta, ...]
    culprits: tuple[CulpritMedia, ...]
    closed: bool  # False: ended by the stream's end, a stall or a newer event without a close


Output = EventStarted | PartReady | EventReady
