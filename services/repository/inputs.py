"""What the repository takes from the bus, as plain values: frames, verdicts, event updates.

`from_wire` turns the protobuf messages of the `frames`, `verdicts` and `events` topics into these;
the join never sees protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from google.protobuf.message import Message

from services.repository.clips import SourceFrame
from services.repository.culprits import Box
from services.repository.keys import check_event_id
from vigil.errors import BadInput
from vigil.v1.events_pb2 import Event, EventKind
from vigil.v1.frames_pb2 import Frame, SourceKind
from vigil.v1.verdicts_pb2 import Verdicts

SourceKindName = Literal["live", "upload"]


class UpdateKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class FrameIn:
    camera_id: str
    frame: SourceFrame
    source_kind: SourceKindName
    job_id: str
    end_of_stream: bool
    analysis_fps: float  # the rate the source publishes at (0: unknown)


@dataclass(frozen=True, slots=True)
class PersonIn:
    track_id: int
    box: Box
    violent: bool
    score: float


@dataclass(frozen=True, slots=True)
class VerdictsIn:
    camera_id: str
    frame_index: int
    people: tuple[PersonIn, ...]


@dataclass(frozen=True, slots=True)
class CulpritScore:
    track_id: int
    max_score: float
    mean_score: float


@dataclass(frozen=True, slots=True)
class EventIn:
    """One event update: the event as classify saw it then."""

    event_id: str
    kind: UpdateKind
    camera_id: str
    source_kind: SourceKindName
    job_id: str
    start_frame: int
    start_time_us: int
    start_position_s: float
    end_frame: int  # last violent frame so far
    end_time_us: int
    end_position_s: float
    culprits: tuple[CulpritScore, ...]
    max_score: float

    @property
    def frame_index(self) -> int:
        """The frame this update speaks of: it takes effect once frames have reached it."""
        return self.start_frame if self.kind is UpdateKind.OPENED else self.end_frame


Input = FrameIn | VerdictsIn | EventIn

_KINDS = {
    EventKind.EVENT_KIND_OPENED: UpdateKind.OPENED,
    EventKind.EVENT_KIND_UPDATED: UpdateKind.UPDATED,
    EventKind.EVENT_KIND_CLOSED: UpdateKind.CLOSED,
}


def source_kind_name(kind: int) -> SourceKindName:
    return "upload" if kind == SourceKind.SOURCE_KIND_UPLOAD else "live"


def from_wire(message: Message) -> Input:
    """The plain value of a `Frame`, `Verdicts` or `Event`; BadInput when it cannot be one."""
    if isinstance(message, Frame):
        ref = message.ref
        if not ref.camera_id:
            raise BadInput("frame without a camera id")
        frame = SourceFrame(
            index=int(ref.frame_index),
            captured_at=ref.capture_time_us / 1e6,
            source_pos_s=float(ref.position_s),
            jpeg=bytes(message.jpeg),
        )
        return FrameIn(
            ref.camera_id, frame, source_kind_name(ref.source_kind), ref.job_id,
            bool(ref.end_of_stream), float(ref.analysis_fps),
        )  # fmt: skip
    if isinstance(message, Verdicts):
        if not message.frame.camera_id:
            raise BadInput("verdicts without a camera id")
        people = tuple(
            PersonIn(
                track_id=int(p.track_id),
                box=(p.box.x1, p.box.y1, p.box.x2, p.box.y2),
                violent=bool(p.violent),
                score=float(p.score),
            )
            for p in message.people
        )
        return VerdictsIn(message.frame.camera_id, int(message.frame.frame_index), people)
    if isinstance(message, Event):
        kind = _KINDS.get(message.kind)
        if kind is None or not message.event_id or not message.camera_id:
            raise BadInput(f"event update without a kind, id or camera: {message.event_id!r}")
        check_event_id(message.event_id)
        return EventIn(
            event_id=message.event_id,
            kind=kind,
            camera_id=message.camera_id,
            source_kind=source_kind_name(message.source_kind),
            job_id=message.job_id,
            start_frame=int(message.start_frame),
            start_time_us=int(message.start_time_us),
            start_position_s=float(message.start_position_s),
            end_frame=int(message.end_frame),
            end_time_us=int(message.end_time_us),
            end_position_s=float(message.end_position_s),
            culprits=tuple(
                CulpritScore(int(c.track_id), float(c.max_score), float(c.mean_score))
                for c in message.culprits
            ),
            max_score=float(message.max_score),
        )
    raise TypeError(f"the repository does not take {type(message).__name__}")
