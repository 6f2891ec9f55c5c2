"""Assemble each violent event's clip from a camera's frames, with bounded memory.

Per camera, a `FrameRing` keeps the last `pre_roll_s + event_lag_s` seconds of JPEG frames (at the
source's analysis rate). The ring is also the clip's delay line: while an event is open, a frame is
encoded when it leaves the ring, so an event update that arrives up to `event_lag_s` after its
frames still finds them, and the post-roll is cut exactly at `end + post_roll_s`. Frames are
decoded and encoded one by one, so neither a long event nor many cameras grow memory: per camera,
one ring, one decoded frame and the encoder's look-ahead. An event longer than `max_part_s` comes
out as several parts.

Output is constant-rate at the frames' measured rate (median interval of capture times): a frame
that arrives early is dropped, a short gap is filled by repeating the last frame, and a gap longer
than `max_gap_fill_s` is not filled (the clip jumps on instead of showing a frozen picture).

For at-least-once delivery the caller needs two more things: `pinned_index()`, the oldest frame it
must be able to feed again after a crash (the ring's oldest, or the first frame of the part being
written), and `ClipResume`, which lets an event replayed after a crash continue after the parts
already stored instead of writing them again. `cut_part()` ends the part being written early, so
the caller can stop holding its frames.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from services.repository.config import RepositoryConfig
from services.repository.encode import ClipInfo, ClipWriter, clip_suffix
from vigil.errors import BadInput
from vigil.images import decode_jpeg

log = logging.getLogger(__name__)

MIN_FPS = 0.5
MAX_FPS = 60.0
TIME_TOLERANCE_S = 1e-6  # capture times are floats: a frame on a window's edge belongs in it


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One analysis frame of a camera, as ingest published it."""

    index: int  # frame number in the camera's analysis stream
    captured_at: float  # capture time, seconds since the epoch
    source_pos_s: float  # position in the source (seconds from its start; matters for uploads)
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class ClipResume:
    """Where a replayed event's clip goes on: the parts before `next_part` are stored already."""

    next_part: int
    after_frame: int  # last frame index in the stored parts
    poster_taken: bool  # the poster went out with a stored part


@dataclass(frozen=True, slots=True)
class EventOpened:
    event_id: str
    start_frame: int  # first violent frame
    started_at: float  # its capture time
    resume: ClipResume | None = None


@dataclass(frozen=True, slots=True)
class EventClosed:
    event_id: str
    end_frame: int  # last violent frame
    ended_at: float  # its capture time


EventUpdate = EventOpened | EventClosed


@dataclass(frozen=True, slots=True)
class ClipPart:
    """One finished file of an event's clip."""

    event_id: str
    part: int  # 0, 1, ... in time order
    final: bool  # the event's last part
    info: ClipInfo
    first_frame: int
    last_frame: int
    starts_at: float  # capture time of the first frame in the part
    ends_at: float  # capture time of the last frame in the part
    source_start_s: float
    source_end_s: float
    poster_jpeg: bytes | None  # the first violent frame, carried by the part that holds it


class FrameSink(Protocol):
    def write(self, bgr: np.ndarray) -> None: ...

    def close(self) -> ClipInfo: ...


SinkFactory = Callable[[Path, float, int, int], FrameSink]


class FrameRing:
    """The newest `capacity` frames of one camera; pushing into a full ring evicts the oldest."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._frames: deque[SourceFrame] = deque()
        self.capacity = capacity

    @classmethod
    def for_span(cls, seconds: float, fps: float) -> FrameRing:
        """A ring holding `seconds` of video at `fps`, plus the frame at the span's far end."""
        return cls(math.ceil(seconds * fps) + 1)

    def push(self, frame: SourceFrame) -> SourceFrame | None:
        """Add the newest frame; return the frame evicted to make room, if any."""
        evicted = self._frames.popleft() if len(self._frames) == self.capacity else None
        self._frames.append(frame)
        return evicted

    def newest(self) -> SourceFrame | None:
        return self._frames[-1] if self._frames else None

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[SourceFrame]:
        return iter(self._frames)


def measured_fps(capture_times: Iterable[float], fallback: float) -> float:
    """Rate from the median interval between consecutive capture times (robust to a late frame)."""
    times = list(capture_times)
    intervals = [later - earlier for earlier, later in itertools.pairwise(times)]
    positive = [interval for interval in intervals if interval > 0]
    if not positive:
        return fallback
    return min(MAX_FPS, max(MIN_FPS, 1.0 / statistics.median(positive)))


def safe_file_stem(event_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", event_id) or "event"


class _ConstantRatePart:
    """One part's encoder, fed frames at their capture times and writing at a constant rate."""

    def __init__(self, sink: FrameSink, fps: float, max_gap_fill_s: float, first: SourceFrame):
        self.sink = sink
        self.fps = fps
        self.max_gap_slots = math.floor(max_gap_fill_s * fps + 1e-9)
        self.origin = first.captured_at
        self.first = first
        self.last = first
        self.slots_written = 0
        self.previous: np.ndarray | None = None

    def write(self, frame: SourceFrame, bgr: np.ndarray) -> None:
        slot = round((frame.captured_at - self.origin) * self.fps)
        if slot < self.slots_written:
            return  # came faster than the clip's rate: this slot is already shown
        gap = slot - self.slots_written
        if gap > self.max_gap_slots:
            # Long outage: do not freeze the picture, continue the clip right after the last slot.
            self.origin = frame.captured_at - self.slots_written / self.fps
            gap = 0
        if self.previous is not None:
            for _ in range(gap):
                self.sink.write(self.previous)
        self.sink.write(bgr)
        self.slots_written += gap + 1
        self.previous = bgr
        self.last = frame


@dataclass(slots=True)
class _ActiveClip:
    event_id: str
    start_frame: int
    window_start: float  # first capture time that belongs in the clip
    window_end: float | None  # last one; None while the event is open
    next_part: int = 0
    part: _ConstantRatePart | None = None
    last_written_index: int = -1
    poster_jpeg: bytes | None = None
    poster_pending: bool = False  # taken, and not yet handed out with a part


class ClipAssembler:
    """One camera's clip assembly: feed it every frame and every event update, in arrival order.

    `push_frame`, `apply` and `finish` return the clip parts finished by that call; the caller
    stores them (and may then delete the files). A new event that opens while another is still
    being written finishes the older one at once (its post-roll is cut short; the new clip's
    pre-roll shows the same moments).
    """

    def __init__(
        self,
        out_dir: Path,
        config: RepositoryConfig | None = None,
        *,
        fps: float | None = None,
        sink_factory: SinkFactory | None = None,
    ) -> None:
        self.config = config or RepositoryConfig()
        self.out_dir = out_dir
        self.nominal_fps = fps or self.config.nominal_fps
        self.ring = FrameRing.for_span(self.config.ring_seconds(), self.nominal_fps)
        self._sink_factory = sink_factory or self._clip_writer
        self._active: _ActiveClip | None = None
        self._finished_ids: deque[str] = deque(maxlen=64)  # ignore replayed updates of these

    def _clip_writer(self, path: Path, fps: float, width: int, height: int) -> FrameSink:
        return ClipWriter(path, fps, width, height, codec=self.config.codec, config=self.config)

    @property
    def active_event_id(self) -> str | None:
        return self._active.event_id if self._active else None

    def pinned_index(self) -> int | None:
        """The oldest frame to feed again to rebuild what has not come out yet: the ring's oldest
        frame, or the first frame of the part being written if that is older."""
        oldest = next(iter(self.ring), None)
        pinned = None if oldest is None else oldest.index
        clip = self._active
        if clip is not None and clip.part is not None:
            first = clip.part.first.index
            pinned = first if pinned is None else min(pinned, first)
        return pinned

    def cut_part(self) -> list[ClipPart]:
        """End the part being written now (not the event); the next frame starts a new part."""
        clip = self._active
        if clip is None or clip.part is None:
            return []
        return [self._close_part(clip, clip.part, final=False)]

    def push_frame(self, frame: SourceFrame) -> list[ClipPart]:
        newest = self.ring.newest()
        if newest is not None and frame.index <= newest.index:
            return []  # replayed or out-of-order frame: already seen
        evicted = self.ring.push(frame)
        clip = self._active
        if clip is None:
            return []
        parts: list[ClipPart] = []
        if clip.window_end is None:
            if evicted is not None:
                parts += self._consider(clip, evicted)
            return parts
        # Closed: everything up to the window's end is known, so write without delay.
        if frame.captured_at > clip.window_end + TIME_TOLERANCE_S:
            return parts + self._finalize(clip)
        return parts + self._consider(clip, frame)

    def apply(self, update: EventUpdate) -> list[ClipPart]:
        if update.event_id in self._finished_ids:
            return []
        clip = self._active
        if isinstance(update, EventOpened):
            if clip is not None and clip.event_id == update.event_id:
                return []  # replayed opening
            parts = self._finalize(clip) if clip is not None else []
            self._active = _ActiveClip(
                event_id=update.event_id,
                start_frame=update.start_frame,
                window_start=update.started_at - self.config.pre_roll_s,
                window_end=None,
            )
            if update.resume is not None:
                self._active.next_part = update.resume.next_part
                self._active.last_written_index = update.resume.after_frame
                if update.resume.poster_taken:
                    self._active.poster_jpeg = b""  # taken: never pick another one
            return parts
        if clip is None or clip.event_id != update.event_id or clip.window_end is not None:
            return []  # closing of an event we never opened, or replayed closing
        clip.window_end = update.ended_at + self.config.post_roll_s
        parts = []
        for frame in list(self.ring):
            if frame.captured_at > clip.window_end + TIME_TOLERANCE_S:
                return parts + self._finalize(clip)
            parts += self._consider(clip, frame)
        return parts

    def finish(self) -> list[ClipPart]:
        """The stream ended (upload done, camera gone): write what the ring holds and close."""
        return self._finalize(self._active) if self._active is not None else []

    def _consider(self, clip: _ActiveClip, frame: SourceFrame) -> list[ClipPart]:
        if frame.index <= clip.last_written_index:
            return []
        if frame.captured_at < clip.window_start - TIME_TOLERANCE_S:
            return []
        if clip.window_end is not None and frame.captured_at > clip.window_end + TIME_TOLERANCE_S:
            return []
        try:
            bgr = decode_jpeg(frame.jpeg)
        except BadInput:
            log.warning("frame %d of event %s is not a decodable JPEG", frame.index, clip.event_id)
            return []
        parts: list[ClipPart] = []
        part = clip.part
        part_span = 0.0 if part is None else frame.captured_at - part.first.captured_at
        if part is not None and part_span >= self.config.max_part_s - TIME_TOLERANCE_S:
            parts.append(self._close_part(clip, part, final=False))
            part = None
        if part is None:
            part = self._open_part(clip, frame, bgr)
        part.write(frame, bgr)
        clip.last_written_index = frame.index
        if clip.poster_jpeg is None and frame.index >= clip.start_frame:
            clip.poster_jpeg = frame.jpeg
            clip.poster_pending = True
        return parts

    def _open_part(
        self, clip: _ActiveClip, first: SourceFrame, bgr: np.ndarray
    ) -> _ConstantRatePart:
        fps = measured_fps((f.captured_at for f in self.ring), self.nominal_fps)
        name = f"{safe_file_stem(clip.event_id)}.part{clip.next_part:03d}"
        path = self.out_dir / (name + clip_suffix(self.config.codec))
        height, width = bgr.shape[:2]
        sink = self._sink_factory(path, fps, width, height)
        clip.part = _ConstantRatePart(sink, fps, self.config.max_gap_fill_s, first)
        return clip.part

    def _close_part(self, clip: _ActiveClip, part: _ConstantRatePart, *, final: bool) -> ClipPart:
        info = part.sink.close()
        poster = clip.poster_jpeg if clip.poster_pending else None
        clip.poster_pending = False
        clip.part = None
        number = clip.next_part
        clip.next_part += 1
        return ClipPart(
            event_id=clip.event_id,
            part=number,
            final=final,
            info=info,
            first_frame=part.first.index,
            last_frame=part.last.index,
            starts_at=part.first.captured_at,
            ends_at=part.last.captured_at,
            source_start_s=part.first.source_pos_s,
            source_end_s=part.last.source_pos_s,
            poster_jpeg=poster,
        )

    def _finalize(self, clip: _ActiveClip) -> list[ClipPart]:
        parts: list[ClipPart] = []
        for frame in list(self.ring):
            parts += self._consider(clip, frame)
        if clip.part is not None:
            parts.append(self._close_part(clip, clip.part, final=True))
        elif clip.next_part == 0:
            log.warning("event %s ended with no frame in its window: no clip", clip.event_id)
        self._active = None
        self._finished_ids.append(clip.event_id)
        return parts
