"""One camera's join of frames, verdicts and event updates into clip parts, poster and culprits.

The three topics are separate logs, so their records reach the repository interleaved in no fixed
order: live, the events and verdicts come a little after their frames (classify is further down
the pipeline); in a replay after a restart, a consumer may read one topic well ahead of another.
The join makes the result independent of that order:

- Frames drive time. An event update takes effect once the camera's frames have reached the frame
  it speaks of (the start frame when opened, the last violent frame otherwise); an update that
  comes earlier waits in a queue. A later one is the normal case: the clip assembler's ring keeps
  `event_lag_s` of frames for it.
- Each frame of the ring has a slot that its verdicts join, whichever comes first (verdicts for a
  frame not seen yet wait, bounded to the ring's size).
- A culprit sighting (a person flagged violent, or a known culprit, in a frame of the event) is
  offered to the culprit picker once the frame, its verdicts and the event are all known, once.
- An event is handed over (`EventReady`) once its clip is done and the verdicts have reached its
  last violent frame (or the frames are a ring past it: later verdicts could not be used).
- The end of a stream does not end the camera: classify's updates may still come. It is
  forgotten when idle (`Joins.expire_idle`).

Everything stays bounded per camera: the ring, its slots, the early verdicts (one ring's worth),
and the queue of early updates (updates are few). The offsets of the records still needed to
rebuild this state after a crash are kept too (`pins`), so the consumer commits only past them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.repository.clips import (
    ClipAssembler,
    ClipPart,
    ClipResume,
    EventClosed,
    EventOpened,
    SinkFactory,
    SourceFrame,
    measured_fps,
)
from services.repository.config import RepositoryConfig
from services.repository.culprits import Box, CulpritPick, CulpritPicker, CulpritSighting, cut_crop
from services.repository.inputs import EventIn, FrameIn, PersonIn, UpdateKind, VerdictsIn
from services.repository.keys import clip_part_key
from services.repository.outputs import (
    CulpritMedia,
    EventReady,
    EventStarted,
    Output,
    PartMeta,
    PartReady,
    StoredProgress,
)
from vigil import topics
from vigil.errors import BadInput
from vigil.images import decode_jpeg, encode_jpeg

log = logging.getLogger(__name__)

FindFace = Callable[[np.ndarray], object | None]
FINISHED_IDS_KEPT = 256  # replayed updates of these events are ignored


def no_face(crop: np.ndarray) -> None:
    """The face finder when none is configured: every culprit is recorded as face-missing."""
    return None


def guarded(find_face: FindFace) -> FindFace:
    """The face finder, with its failures logged and taken as "no face": a model error must not
    cost the event."""

    def find(crop: np.ndarray) -> object | None:
        try:
            return find_face(crop)
        except Exception:
            log.exception("face finder failed on a crop")
            return None

    return find


def face_box(face: object) -> Box | None:
    """The box of what the face finder returned: an object with `.box`, or four numbers."""
    raw = getattr(face, "box", face)
    try:
        x1, y1, x2, y2 = (float(v) for v in np.asarray(raw, dtype=float).reshape(-1))
    except (TypeError, ValueError):
        return None
    return (x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def face_picture(pick: CulpritPick[Any], margin: float, quality: int) -> bytes | None:
    """The face cut from the crop it was found in (grown by `margin`), as JPEG."""
    if pick.face is None or pick.face_crop_jpeg is None:
        return None
    box = face_box(pick.face)
    if box is None:
        return None
    try:
        crop = decode_jpeg(pick.face_crop_jpeg)
    except BadInput:
        return None
    face = cut_crop(crop, box, margin)
    return encode_jpeg(face, quality) if face.size else None


@dataclass(slots=True)
class _Slot:
    frame: SourceFrame
    people: tuple[PersonIn, ...] | None = None
    observed: bool = False


@dataclass(slots=True)
class _EventState:
    event: EventIn  # the latest update
    opened_offset: int  # of the opening record on the events topic
    picker: CulpritPicker[Any]
    parts: list[PartMeta]
    closed: bool = False


def _covers(state: _EventState, index: int) -> bool:
    """The frame is one of the event's (from its first violent frame; to its last once closed)."""
    event = state.event
    return event.start_frame <= index and not (state.closed and index > event.end_frame)


@dataclass(frozen=True, slots=True)
class _Queued:
    event: EventIn
    offset: int
    progress: StoredProgress | None


class CameraJoin:
    def __init__(
        self,
        camera_id: str,
        config: RepositoryConfig,
        out_dir: Path,
        find_face: FindFace = no_face,
        *,
        fps: float | None = None,
        sink_factory: SinkFactory | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.config = config
        self._find_face = guarded(find_face)
        self.assembler = ClipAssembler(out_dir, config, fps=fps, sink_factory=sink_factory)
        self.capacity = self.assembler.ring.capacity
        self.newest: SourceFrame | None = None
        self.newest_verdicts = -1  # highest frame index with verdicts
        self.ended = False  # the source said end of stream
        self._slots: deque[_Slot] = deque()
        self._slot_at: dict[int, _Slot] = {}
        self._early_verdicts: dict[int, tuple[PersonIn, ...]] = {}
        self._queued: deque[_Queued] = deque()
        self._event: _EventState | None = None
        self._pending: list[_EventState] = []  # clip done, waiting for their verdicts
        self._finished: deque[str] = deque(maxlen=FINISHED_IDS_KEPT)
        self._frame_offsets: deque[tuple[int, int]] = deque()  # (frame index, offset)
        self._verdict_offsets: deque[tuple[int, int]] = deque()

    # -- state ---------------------------------------------------------------------------------

    @property
    def active_event_id(self) -> str | None:
        return self._event.event.event_id if self._event else None

    def knows(self, event_id: str) -> bool:
        """Whether this event's opening was seen already (so the store need not be asked)."""
        return (
            event_id in self._finished
            or event_id == self.active_event_id
            or any(q.event.event_id == event_id for q in self._queued)
        )

    def is_restart(self, frame: SourceFrame) -> bool:
        """A frame numbered like an old one but captured later: the source started over."""
        newest = self.newest
        return newest is not None and frame.index <= newest.index and (
            frame.captured_at > newest.captured_at
        )

    def pins(self) -> dict[str, int]:
        """Per topic, the offset of the oldest record still needed to rebuild this state."""
        needed = self.assembler.pinned_index()
        pins: dict[str, int] = {}
        for name, offsets in (
            (topics.FRAMES.name, self._frame_offsets),
            (topics.VERDICTS.name, self._verdict_offsets),
        ):
            while offsets and needed is not None and offsets[0][0] < needed:
                offsets.popleft()
            if offsets:
                pins[name] = offsets[0][1]
        events = [q.offset for q in self._queued]
        events += [state.opened_offset for state in self._pending]
        if self._event is not None:
            events.append(self._event.opened_offset)
        if events:
            pins[topics.EVENTS.name] = min(events)
        return pins

    # -- inputs --------------------------------------------------------------------------------

    def on_frame(self, item: FrameIn, offset: int) -> list[Output]:
        frame = item.frame
        if self.newest is not None and frame.index <= self.newest.index:
            return []  # replayed
        self.newest = frame
        self._frame_offsets.append((frame.index, offset))
        for index in [i for i in self._early_verdicts if i < frame.index]:
            del self._early_verdicts[index]  # their frames never came
        slot = _Slot(frame, self._early_verdicts.pop(frame.index, None))
        self._slots.append(slot)
        self._slot_at[frame.index] = slot
        while len(self._slots) > self.capacity:
            del self._slot_at[self._slots.popleft().frame.index]
        state = self._event
        outputs = self._collect(self.assembler.push_frame(frame), state)
        outputs += self._check_finished(state)
        self._observe(slot)
        outputs += self._release_queued(force=False)
        if item.end_of_stream:
            self.ended = True
            outputs += self._release_queued(force=True)
            if self._event is not None and self._event.closed:
                state = self._event
                outputs += self._collect(self.assembler.finish(), state)
                outputs += self._check_finished(state)
        return outputs + self._hand_over(force=False)

    def on_verdicts(self, item: VerdictsIn, offset: int) -> list[Output]:
        self.newest_verdicts = max(self.newest_verdicts, item.frame_index)
        slot = self._slot_at.get(item.frame_index)
        if slot is not None:
            if slot.people is None:
                slot.people = item.people
                self._verdict_offsets.append((item.frame_index, offset))
                self._observe(slot)
        elif item.frame_index not in self._early_verdicts and (
            self.newest is None or item.frame_index > self.newest.index
        ):
            self._early_verdicts[item.frame_index] = item.people
            self._verdict_offsets.append((item.frame_index, offset))
            while len(self._early_verdicts) > self.capacity:
                del self._early_verdicts[min(self._early_verdicts)]
        # (verdicts of a frame gone from the ring are too late to matter)
        return self._hand_over(force=False)

    def on_event(
        self, item: EventIn, offset: int, progress: StoredProgress | None = None
    ) -> list[Output]:
        if item.event_id in self._finished:
            return []
        if progress is not None and progress.stored:
            self._finished.append(item.event_id)
            return []
        ahead = self.newest is None or item.frame_index > self.newest.index
        if (self._queued or ahead) and not self.ended:
            self._queued.append(_Queued(item, offset, progress))
            return []
        return self._apply(item, offset, progress) + self._hand_over(force=False)

    def cut_part(self) -> list[Output]:
        """End the clip part being written (the caller needs its frames committed)."""
        return self._collect(self.assembler.cut_part(), self._event)

    def finish(self) -> list[Output]:
        """No more frames will come: apply what waits, end the clip with what there is."""
        outputs = self._release_queued(force=True)
        state = self._event
        outputs += self._collect(self.assembler.finish(), state)
        outputs += self._check_finished(state)
        return outputs + self._hand_over(force=True)

    def discard(self) -> None:
        """Drop the state without storing anything (the camera moved to another consumer):
        close the clip being written and remove its files."""
        for output in self.finish():
            if isinstance(output, PartReady):
                output.part.info.path.unlink(missing_ok=True)

    # -- events --------------------------------------------------------------------------------

    def _release_queued(self, *, force: bool) -> list[Output]:
        outputs: list[Output] = []
        while self._queued:
            head = self._queued[0]
            reached = self.newest is not None and head.event.frame_index <= self.newest.index
            if not (force or reached):
                break
            self._queued.popleft()
            if head.event.event_id not in self._finished:
                outputs += self._apply(head.event, head.offset, head.progress)
        return outputs

    def _apply(self, item: EventIn, offset: int, progress: StoredProgress | None) -> list[Output]:
        state = self._event
        if item.kind is UpdateKind.OPENED:
            if state is not None and state.event.event_id == item.event_id:
                return []  # replayed opening
            return self._open(item, offset, progress)
        if state is None or state.event.event_id != item.event_id:
            log.debug("update of an event not followed", extra={"event": item.event_id})
            return []
        if state.closed:
            return []  # replayed closing
        state.event = item
        if item.kind is not UpdateKind.CLOSED:
            return []
        state.closed = True
        ended_at = self._captured_at(item.end_frame, item.end_time_us)
        parts = self.assembler.apply(EventClosed(item.event_id, item.end_frame, ended_at))
        outputs = self._collect(parts, state)
        if self.ended:
            outputs += self._collect(self.assembler.finish(), state)
        return outputs + self._check_finished(state) + self._hand_over(force=False)

    def _open(self, item: EventIn, offset: int, progress: StoredProgress | None) -> list[Output]:
        previous = self._event
        stored = progress.parts if progress is not None else ()
        resume = None
        if stored:
            resume = ClipResume(
                next_part=stored[-1].part + 1,
                after_frame=stored[-1].last_frame,
                poster_taken=any(part.poster_bytes for part in stored),
            )
        started_at = self._captured_at(item.start_frame, item.start_time_us)
        parts = self.assembler.apply(
            EventOpened(item.event_id, item.start_frame, started_at, resume)
        )
        outputs = self._collect(parts, previous)
        outputs += self._check_finished(previous)
        if self.assembler.active_event_id != item.event_id:
            self._finished.append(item.event_id)  # the assembler had finished it already
            return outputs
        picker: CulpritPicker[Any] = CulpritPicker(self._find_face, self.config)
        self._event = _EventState(item, offset, picker, list(stored))
        outputs.append(EventStarted(item))
        for slot in self._slots:
            self._observe(slot)
        return outputs

    def _captured_at(self, index: int, fallback_us: int) -> float:
        """Capture time of a frame of this camera: from the ring, else extrapolated from the
        newest frame at the measured rate, else the event's own time."""
        slot = self._slot_at.get(index)
        if slot is not None:
            return slot.frame.captured_at
        if self.newest is None:
            return fallback_us / 1e6
        fps = measured_fps((s.frame.captured_at for s in self._slots), self.config.nominal_fps)
        return self.newest.captured_at + (index - self.newest.index) / fps

    # -- culprits and outputs ------------------------------------------------------------------

    def _observe(self, slot: _Slot) -> None:
        if slot.observed or slot.people is None:
            return
        index = slot.frame.index
        state = next((s for s in (self._event, *self._pending) if s and _covers(s, index)), None)
        if state is None:
            return
        slot.observed = True
        known = {c.track_id for c in state.event.culprits}
        sightings = [
            CulpritSighting(p.track_id, p.box, p.score)
            for p in slot.people
            if p.violent or p.track_id in known
        ]
        if not sightings:
            return
        try:
            bgr = decode_jpeg(slot.frame.jpeg)
        except BadInput:
            log.warning("frame %d is not a decodable JPEG; its culprits are not seen", index)
            return
        state.picker.observe(bgr, index, sightings)

    def _collect(self, parts: list[ClipPart], state: _EventState | None) -> list[Output]:
        outputs: list[Output] = []
        for part in parts:
            if state is None or part.event_id != state.event.event_id:
                log.error("clip part of an unknown event dropped", extra={"event": part.event_id})
                continue
            meta = PartMeta(
                part=part.part,
                key=clip_part_key(part.event_id, part.part, part.info.path.suffix),
                first_frame=part.first_frame,
                last_frame=part.last_frame,
                frames=part.info.frames,
                duration_s=part.info.duration_s,
                bytes=part.info.bytes,
                mime_type=part.info.mime_type,
                poster_bytes=len(part.poster_jpeg or b""),
            )
            state.parts.append(meta)
            outputs.append(PartReady(state.event, part, meta, tuple(state.parts)))
        return outputs

    def _check_finished(self, state: _EventState | None) -> list[Output]:
        """The event's clip is done (the assembler moved on): the event waits for its verdicts."""
        if state is None or self.assembler.active_event_id == state.event.event_id:
            return []
        if self._event is state:
            self._event = None
        self._finished.append(state.event.event_id)
        self._pending.append(state)
        return []

    def _hand_over(self, *, force: bool) -> list[Output]:
        """Hand over the events whose verdicts are in (all of them when `force`)."""
        outputs: list[Output] = []
        while self._pending and (force or self._verdicts_in(self._pending[0])):
            state = self._pending.pop(0)
            outputs.append(
                EventReady(state.event, tuple(state.parts), self._culprits(state), state.closed)
            )
        return outputs

    def _verdicts_in(self, state: _EventState) -> bool:
        """The verdicts reached the event's last violent frame (or the end of the stream), or the
        frames are a ring past it, where later verdicts could not be joined any more."""
        last = state.event.end_frame
        if self.ended and self.newest is not None:
            last = min(last, self.newest.index)
        gone = self.newest is not None and self.newest.index - last >= self.capacity
        return self.newest_verdicts >= last or gone

    def _culprits(self, state: _EventState) -> tuple[CulpritMedia, ...]:
        culprits = state.event.culprits
        picks = {p.track_id: p for p in state.picker.picks([c.track_id for c in culprits])}
        media = []
        for culprit in culprits:
            pick = picks.get(culprit.track_id)
            face = None
            if pick is not None:
                face = face_picture(pick, self.config.face_margin, self.config.jpeg_quality)
            media.append(
                CulpritMedia(
                    track_id=culprit.track_id,
                    max_score=culprit.max_score,
                    mean_score=culprit.mean_score,
                    crop_jpeg=pick.crop_jpeg if pick is not None else None,
                    face_jpeg=face,
                    face_missing=face is None,
                )
            )
        return tuple(media)
