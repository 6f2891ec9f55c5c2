from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from services.repository.clips import (
    ClipAssembler,
    ClipPart,
    ClipResume,
    EventClosed,
    EventOpened,
    FrameRing,
    SourceFrame,
    measured_fps,
    safe_file_stem,
)
from services.repository.config import RepositoryConfig
from services.repository.encode import ClipInfo

BASE_TIME = 1_700_000_000.0
GREY_STEP = 4  # frame i is a flat grey of (i * GREY_STEP) % 256, so a written frame tells its index


def grey_of(index: int) -> int:
    return (index * GREY_STEP) % 256


def make_frame(index: int, fps: float = 10.0, *, at: float | None = None) -> SourceFrame:
    image = np.full((24, 32, 3), grey_of(index), np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    offset = index / fps if at is None else at
    return SourceFrame(index, BASE_TIME + offset, offset, jpeg.tobytes())


@dataclass
class RecordingSink:
    path: Path
    fps: float
    width: int
    height: int
    greys: list[int] = field(default_factory=list)

    def write(self, bgr: np.ndarray) -> None:
        self.greys.append(round(float(bgr.mean())))

    def close(self) -> ClipInfo:
        return ClipInfo(
            self.path, len(self.greys), len(self.greys) / self.fps, 0, "h264", "video/mp4",
            self.width, self.height, self.fps,
        )  # fmt: skip


@dataclass
class Harness:
    assembler: ClipAssembler
    sinks: list[RecordingSink]
    parts: list[ClipPart]

    def push(self, frame: SourceFrame) -> None:
        self.parts += self.assembler.push_frame(frame)

    def apply(self, update: EventOpened | EventClosed) -> None:
        self.parts += self.assembler.apply(update)

    def written_indexes(self) -> list[int]:
        # Only valid while indexes stay below 256 / GREY_STEP, where greys are unique.
        return [round(grey / GREY_STEP) for sink in self.sinks for grey in sink.greys]


def harness(tmp_path: Path, fps: float = 10.0, **config: float) -> Harness:
    sinks: list[RecordingSink] = []

    def factory(path: Path, clip_fps: float, width: int, height: int) -> RecordingSink:
        sinks.append(RecordingSink(path, clip_fps, width, height))
        return sinks[-1]

    settings = {"pre_roll_s": 1.0, "post_roll_s": 1.0, "event_lag_s": 0.5, **config}
    assembler = ClipAssembler(
        tmp_path, RepositoryConfig.model_validate(settings), fps=fps, sink_factory=factory
    )
    return Harness(assembler, sinks, [])


@pytest.mark.parametrize(("seconds", "fps"), [(1.0, 10.0), (3.5, 10.0), (2.0, 25.0), (0.0, 5.0)])
def test_ring_holds_its_span_and_evicts_oldest_first(seconds: float, fps: float) -> None:
    ring = FrameRing.for_span(seconds, fps)
    assert ring.capacity == math.ceil(seconds * fps) + 1
    evicted = [ring.push(make_frame(i, fps)) for i in range(3 * ring.capacity)]
    assert len(ring) == ring.capacity
    assert [f.index for f in ring] == list(range(2 * ring.capacity, 3 * ring.capacity))
    assert evicted[: ring.capacity] == [None] * ring.capacity
    assert [f.index for f in evicted[ring.capacity :] if f] == list(range(2 * ring.capacity))


def test_ring_refuses_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameRing(0)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([0.0, 0.1, 0.2, 0.3], 10.0),
        ([0.0, 0.2, 0.4, 0.5, 0.7, 0.9], 5.0),  # one early frame does not move the median
        ([0.0, 0.04, 0.08, 0.08, 0.12], 25.0),  # a repeated timestamp is ignored
    ],
)
def test_measured_fps_is_the_median_rate(times: list[float], expected: float) -> None:
    assert measured_fps(times, fallback=1.0) == pytest.approx(expected)


@pytest.mark.parametrize("times", [[], [5.0], [5.0, 5.0]])
def test_measured_fps_falls_back_without_two_distinct_times(times: list[float]) -> None:
    assert measured_fps(times, fallback=7.0) == 7.0


def test_safe_file_stem_keeps_ids_inside_the_folder() -> None:
    assert "/" not in safe_file_stem("../cam/1:42")
    assert safe_file_stem("cam-1_42.a") == "cam-1_42.a"


# Event at frames 30..40 (10 fps), pre/post roll 1 s: the clip is frames 20..50.
# The updates reach the assembler `open_after` / `close_after` frames: before their frame
# (events consumer ahead), right after it, or up to the 0.5 s lag late.
@pytest.mark.parametrize(
    ("open_after", "close_after"), [(25, 38), (30, 40), (33, 44), (35, 45), (30, 49)]
)
def test_clip_spans_pre_roll_to_post_roll(
    tmp_path: Path, open_after: int, close_after: int
) -> None:
    h = harness(tmp_path)
    for i in range(80):
        h.push(make_frame(i))
        if i == open_after:
            h.apply(EventOpened("cam1-30", 30, BASE_TIME + 3.0))
        if i == close_after:
            h.apply(EventClosed("cam1-30", 40, BASE_TIME + 4.0))
    assert h.written_indexes() == list(range(20, 51))
    [part] = h.parts
    assert (part.first_frame, part.last_frame, part.part, part.final) == (20, 50, 0, True)
    assert part.starts_at == pytest.approx(BASE_TIME + 2.0)
    assert part.ends_at == pytest.approx(BASE_TIME + 5.0)
    assert part.source_start_s == pytest.approx(2.0)
    assert part.poster_jpeg == make_frame(30).jpeg
    assert part.info.frames == 31
    assert h.sinks[0].fps == pytest.approx(10.0, abs=1e-3)
    assert h.assembler.active_event_id is None


def test_part_finishes_with_the_first_frame_past_the_post_roll(tmp_path: Path) -> None:
    h = harness(tmp_path)
    for i in range(51):
        h.push(make_frame(i))
        if i == 30:
            h.apply(EventOpened("e", 30, BASE_TIME + 3.0))
        if i == 40:
            h.apply(EventClosed("e", 40, BASE_TIME + 4.0))
    assert h.parts == []  # frame 50 is the post-roll's last, but a frame at 5.0 s could follow
    h.push(make_frame(51))
    assert [p.last_frame for p in h.parts] == [50]


def test_event_later_than_the_ring_loses_only_the_oldest_pre_roll(tmp_path: Path) -> None:
    h = harness(tmp_path)  # ring: (1 s + 0.5 s) * 10 fps + 1 = 16 frames
    capacity = h.assembler.ring.capacity
    open_after = 45
    for i in range(80):
        h.push(make_frame(i))
        if i == open_after:
            h.apply(EventOpened("e", 30, BASE_TIME + 3.0))
        if i == 55:
            h.apply(EventClosed("e", 40, BASE_TIME + 4.0))
    oldest_kept = open_after - capacity + 1
    assert h.written_indexes() == list(range(oldest_kept, 51))
    assert h.parts[0].poster_jpeg == make_frame(30).jpeg


def test_ring_stays_bounded_during_a_long_event(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.push(make_frame(0))
    h.apply(EventOpened("e", 0, BASE_TIME))
    for i in range(1, 600):
        h.push(make_frame(i))
        assert len(h.assembler.ring) <= h.assembler.ring.capacity
    assert h.parts == []
    assert len(h.sinks[0].greys) == 600 - h.assembler.ring.capacity  # streamed, not held


@pytest.mark.parametrize(("event_s", "max_part_s"), [(35.0, 10.0), (19.9, 10.0), (42.0, 20.0)])
def test_long_event_is_cut_into_contiguous_parts(
    tmp_path: Path, event_s: float, max_part_s: float
) -> None:
    fps = 10.0
    h = harness(tmp_path, fps, max_part_s=max_part_s)
    start, end = 20, 20 + round(event_s * fps)
    for i in range(end + 30):
        h.push(make_frame(i, fps))
        if i == start:
            h.apply(EventOpened("long", start, BASE_TIME + start / fps))
        if i == end:
            h.apply(EventClosed("long", end, BASE_TIME + end / fps))
    first, last = start - 10, end + 10  # 1 s of roll on each side
    clip_s = (last - first) / fps
    assert len(h.parts) == math.floor(clip_s / max_part_s) + 1
    assert [p.part for p in h.parts] == list(range(len(h.parts)))
    assert [p.final for p in h.parts] == [False] * (len(h.parts) - 1) + [True]
    assert h.parts[0].first_frame == first and h.parts[-1].last_frame == last
    for before, after in zip(h.parts, h.parts[1:], strict=False):
        assert after.first_frame == before.last_frame + 1
    for part in h.parts:
        assert part.ends_at - part.starts_at < max_part_s
        assert part.info.frames == part.last_frame - part.first_frame + 1
    assert [p.poster_jpeg is not None for p in h.parts] == [True] + [False] * (len(h.parts) - 1)
    assert len({p.info.path for p in h.parts}) == len(h.parts)


def test_short_gap_is_filled_long_gap_is_not(tmp_path: Path) -> None:
    h = harness(tmp_path, max_gap_fill_s=0.5)
    times = {i: i / 10 for i in range(0, 20)}
    times.update({i: i / 10 + 0.3 for i in range(20, 30)})  # 0.3 s hole after frame 19
    times.update({i: i / 10 + 3.3 for i in range(30, 40)})  # 3 s hole after frame 29
    frames = [make_frame(i, at=t) for i, t in times.items()]
    h.push(frames[0])
    h.apply(EventOpened("gap", 0, BASE_TIME))
    for frame in frames[1:]:
        h.push(frame)
    h.parts += h.assembler.finish()
    written = h.written_indexes()
    assert written == [*range(0, 20), 19, 19, 19, *range(20, 40)]
    assert h.parts[0].info.frames == len(written)


def test_frames_faster_than_the_clip_rate_are_dropped(tmp_path: Path) -> None:
    h = harness(tmp_path, pre_roll_s=0.0)
    # 10 fps, plus an extra frame 20 ms after every fifth frame.
    times = sorted([i / 10 for i in range(0, 30)] + [i / 10 + 0.02 for i in range(0, 30, 5)])
    frames = [make_frame(i, at=t) for i, t in enumerate(times)]
    h.apply(EventOpened("fast", 0, BASE_TIME))
    for frame in frames:
        h.push(frame)
    h.parts += h.assembler.finish()
    written = h.written_indexes()
    assert h.sinks[0].fps == pytest.approx(10.0, abs=1e-3)
    assert len(written) == 30  # one frame per 0.1 s slot over 2.9 s
    assert written == sorted(written)


def test_clip_rate_follows_the_frames_not_the_nominal_rate(tmp_path: Path) -> None:
    h = harness(tmp_path, fps=10.0)
    for i in range(40):
        h.push(make_frame(i, fps=4.0))
        if i == 10:
            h.apply(EventOpened("slow", 10, BASE_TIME + 10 / 4.0))
    h.parts += h.assembler.finish()
    assert h.sinks[0].fps == pytest.approx(4.0, abs=1e-3)


def test_replayed_frames_and_updates_change_nothing(tmp_path: Path) -> None:
    h = harness(tmp_path)
    opened, closed = EventOpened("r", 30, BASE_TIME + 3.0), EventClosed("r", 40, BASE_TIME + 4.0)
    for i in range(70):
        h.push(make_frame(i))
        h.push(make_frame(max(0, i - 3)))  # replay of an older frame
        if i == 30:
            h.apply(opened)
            h.apply(opened)
        if i == 40:
            h.apply(EventClosed("other", 40, BASE_TIME + 4.0))
            h.apply(closed)
            h.apply(closed)
    h.apply(opened)  # replay after the clip is done
    h.apply(closed)
    h.parts += h.assembler.finish()
    assert h.written_indexes() == list(range(20, 51))
    assert len(h.parts) == 1


def test_new_event_during_post_roll_finishes_the_previous_clip(tmp_path: Path) -> None:
    h = harness(tmp_path)
    for i in range(90):
        h.push(make_frame(i))
        if i == 30:
            h.apply(EventOpened("first", 30, BASE_TIME + 3.0))
        if i == 40:
            h.apply(EventClosed("first", 40, BASE_TIME + 4.0))
        if i == 45:
            h.apply(EventOpened("second", 45, BASE_TIME + 4.5))
        if i == 55:
            h.apply(EventClosed("second", 55, BASE_TIME + 5.5))
    assert [(p.event_id, p.first_frame, p.last_frame) for p in h.parts] == [
        ("first", 20, 45),  # post-roll cut when the second event opened
        ("second", 35, 65),
    ]


def test_finish_closes_an_open_event_with_the_frames_it_has(tmp_path: Path) -> None:
    h = harness(tmp_path)
    for i in range(40):
        h.push(make_frame(i))
        if i == 30:
            h.apply(EventOpened("cut", 30, BASE_TIME + 3.0))
    h.parts += h.assembler.finish()
    assert h.written_indexes() == list(range(20, 40))
    assert [p.final for p in h.parts] == [True]
    assert h.assembler.finish() == []


def test_undecodable_frame_is_skipped(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.apply(EventOpened("bad", 0, BASE_TIME))
    for i in range(10):
        frame = make_frame(i)
        h.push(
            SourceFrame(i, frame.captured_at, frame.source_pos_s, b"not a jpeg")
            if i == 4
            else frame
        )
    h.parts += h.assembler.finish()
    assert h.written_indexes() == [0, 1, 2, 3, 3, 5, 6, 7, 8, 9]  # the hole shows frame 3


def test_assembled_clip_is_a_real_video(tmp_path: Path) -> None:
    assembler = ClipAssembler(
        tmp_path, RepositoryConfig(pre_roll_s=0.5, post_roll_s=0.5, event_lag_s=0.0), fps=10.0
    )
    parts: list[ClipPart] = []
    for i in range(40):
        parts += assembler.push_frame(make_frame(i))
        if i == 10:
            parts += assembler.apply(EventOpened("real", 10, BASE_TIME + 1.0))
        if i == 20:
            parts += assembler.apply(EventClosed("real", 20, BASE_TIME + 2.0))
    [part] = parts
    assert part.info.path.suffix == ".mp4"
    with av.open(str(part.info.path)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
    assert len(decoded) == part.info.frames == 21
    assert (decoded[0].width, decoded[0].height) == (32, 24)


@pytest.mark.parametrize("poster_taken", [True, False])
def test_a_resumed_clip_goes_on_after_the_stored_parts(tmp_path: Path, poster_taken: bool) -> None:
    h = harness(tmp_path)
    resume = ClipResume(next_part=2, after_frame=25, poster_taken=poster_taken)
    for i in range(60):
        h.push(make_frame(i))
        if i == 30:
            h.apply(EventOpened("r", 30, BASE_TIME + 3.0, resume))
        if i == 40:
            h.apply(EventClosed("r", 40, BASE_TIME + 4.0))
    assert h.written_indexes() == list(range(26, 51))
    [part] = h.parts
    assert (part.part, part.first_frame, part.final) == (2, 26, True)
    assert part.poster_jpeg == (None if poster_taken else make_frame(30).jpeg)


def test_cut_part_ends_the_part_and_the_next_frame_starts_another(tmp_path: Path) -> None:
    h = harness(tmp_path)
    h.apply(EventOpened("c", 0, BASE_TIME))
    assert h.assembler.cut_part() == []  # nothing written yet
    for i in range(60):
        h.push(make_frame(i))
        if i == 40:
            h.parts += h.assembler.cut_part()
    h.parts += h.assembler.finish()
    assert [(p.part, p.final) for p in h.parts] == [(0, False), (1, True)]
    assert h.parts[1].first_frame == h.parts[0].last_frame + 1
    assert h.written_indexes() == list(range(60))


def test_pinned_index_is_the_ring_or_the_part_being_written(tmp_path: Path) -> None:
    h = harness(tmp_path)  # ring: 16 frames
    assert h.assembler.pinned_index() is None
    for i in range(30):
        h.push(make_frame(i))
    assert h.assembler.pinned_index() == 30 - h.assembler.ring.capacity
    h.apply(EventOpened("p", 25, BASE_TIME + 2.5))
    for i in range(30, 80):
        h.push(make_frame(i))
    assert h.assembler.pinned_index() == 15  # the first frame of the part: 1 s before frame 25
    h.parts += h.assembler.cut_part()
    assert h.assembler.pinned_index() == 80 - h.assembler.ring.capacity
