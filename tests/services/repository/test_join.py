"""The per-camera join and the commit plan, without a broker: frames, verdicts and event updates
in any order give the same clip, poster and culprits; pins say what a crash must re-read."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from services.repository.clips import SourceFrame
from services.repository.config import RepositoryConfig
from services.repository.encode import ClipInfo
from services.repository.inputs import (
    CulpritScore,
    EventIn,
    FrameIn,
    Input,
    PersonIn,
    UpdateKind,
    VerdictsIn,
)
from services.repository.join import CameraJoin, face_box
from services.repository.joins import Delivered, Joins
from services.repository.outputs import (
    EventReady,
    EventStarted,
    Output,
    PartMeta,
    PartReady,
    StoredProgress,
)
from vigil import topics

BASE = 1_700_000_000.0
FPS = 10.0
CAMERA = "cam-1"
START, END = 20, 35  # violent frames of the event
CONFIG = RepositoryConfig(pre_roll_s=1.0, post_roll_s=1.0, event_lag_s=1.0, min_crop_side_px=4)
# pre-roll 1 s before frame 20, post-roll 1 s after frame 35: the clip is frames 10..45.
CLIP = list(range(START - 10, END + 11))
BOXES = {1: (10.0, 20.0, 40.0, 80.0), 2: (50.0, 20.0, 100.0, 80.0)}  # 2 is wider


def picture(index: int) -> np.ndarray:
    rng = np.random.default_rng(index)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    image[0, 0] = index  # the frame tells its index
    return image


def jpeg(index: int) -> bytes:
    ok, data = cv2.imencode(".jpg", picture(index), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return data.tobytes()


def frame(index: int, *, end: bool = False, camera: str = CAMERA, shift_s: float = 0.0) -> FrameIn:
    at = BASE + shift_s + index / FPS
    return FrameIn(camera, SourceFrame(index, at, index / FPS, jpeg(index)), "live", "", end, FPS)


def verdicts(index: int, camera: str = CAMERA) -> VerdictsIn:
    violent = START <= index <= END
    people = tuple(
        PersonIn(track, box, violent, 0.9 if violent else 0.1) for track, box in BOXES.items()
    )
    return VerdictsIn(camera, index, people)


def event(kind: UpdateKind, event_id: str = "ev-1", start: int = START, end: int = END,
          camera: str = CAMERA) -> EventIn:  # fmt: skip
    culprits = (CulpritScore(1, 0.9, 0.8), CulpritScore(2, 0.85, 0.7))
    return EventIn(
        event_id, kind, camera, "live", "", start, round((BASE + start / FPS) * 1e6),
        start / FPS, end, round((BASE + end / FPS) * 1e6), end / FPS, culprits, 0.9,
    )  # fmt: skip


@dataclass
class RecordingSink:
    path: Path
    fps: float
    indexes: list[int] = field(default_factory=list)

    def write(self, bgr: np.ndarray) -> None:
        self.indexes.append(int(bgr[0, 0, 0]))  # approximately: JPEG moves it a little

    def close(self) -> ClipInfo:
        self.path.write_bytes(b"clip")
        return ClipInfo(self.path, len(self.indexes), len(self.indexes) / self.fps, 4, "h264",
                        "video/mp4", 128, 96, self.fps)  # fmt: skip


class FaceOnLeftHalf:
    """A fake face finder: a face in the crops of track 1 (left of the picture), none in 2's."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, crop: np.ndarray) -> tuple[float, float, float, float] | None:
        self.calls += 1
        return (2.0, 2.0, 12.0, 12.0) if crop.shape[1] < 40 else None


def make_joins(tmp_path: Path, config: RepositoryConfig = CONFIG, **kwargs: object) -> Joins:
    sinks: list[RecordingSink] = []
    tmp_path.mkdir(parents=True, exist_ok=True)

    def factory(path: Path, fps: float, width: int, height: int) -> RecordingSink:
        sinks.append(RecordingSink(path, fps))
        return sinks[-1]

    joins = Joins(config, tmp_path, FaceOnLeftHalf(), sink_factory=factory, **kwargs)  # type: ignore[arg-type]
    joins.sinks = sinks  # type: ignore[attr-defined]
    return joins


TOPIC_PARTITION = 3


def feed(joins: Joins, items: Iterable[Input], offsets: dict[str, itertools.count[int]],
         progress: StoredProgress | None = None, now: float = 0.0) -> list[Output]:  # fmt: skip
    outputs: list[Output] = []
    for item in items:
        topic = {FrameIn: topics.FRAMES, VerdictsIn: topics.VERDICTS, EventIn: topics.EVENTS}[
            type(item)
        ].name
        offset = next(offsets.setdefault(topic, itertools.count()))
        outputs += joins.handle([Delivered(TOPIC_PARTITION, offset, item, progress)], now)
    return outputs


def stream(order: str, last: int = 60) -> list[Input]:
    """Frames 0..last with their verdicts and the event's updates, in an order a consumer may
    read them: `live` (verdicts a frame late, updates 0.5 s late), `lagging` (verdicts and
    updates as late as `event_lag_s` allows), `events_first` (a replay that read the events
    topic first, then frames and verdicts together)."""
    opened, updated, closed = (event(k) for k in UpdateKind)
    if order == "events_first":
        pairs: list[Input] = [x for i in range(last + 1) for x in (frame(i), verdicts(i))]
        return [opened, updated, closed, *pairs]
    lag = {"live": 1, "lagging": round(CONFIG.event_lag_s * FPS) - 1}[order]
    event_lag = {"live": 5, "lagging": lag}[order]
    items: list[Input] = []
    for i in range(last + 1):
        items.append(frame(i))
        if i >= lag:
            items.append(verdicts(i - lag))
        if i == START + event_lag:
            items += [opened, updated]
        if i == END + event_lag:
            items.append(closed)
    items += [verdicts(i) for i in range(last + 1 - lag, last + 1)]
    return items


def kinds(outputs: Sequence[Output]) -> list[str]:
    return [type(o).__name__ for o in outputs]


@pytest.mark.parametrize("order", ["live", "lagging", "events_first"])
def test_clip_poster_and_culprits_do_not_depend_on_the_order_of_topics(
    tmp_path: Path, order: str
) -> None:
    joins = make_joins(tmp_path)
    outputs = feed(joins, stream(order), {})
    assert kinds(outputs) == ["EventStarted", "PartReady", "EventReady"]
    part = outputs[1]
    ready = outputs[2]
    assert isinstance(part, PartReady) and isinstance(ready, EventReady)
    assert (part.meta.first_frame, part.meta.last_frame, part.meta.frames) == (10, 45, len(CLIP))
    assert part.part.poster_jpeg == jpeg(START)
    assert part.meta.key == "events/ev-1/clip-000.mp4"
    assert ready.parts == (part.meta,) and ready.closed
    [one, two] = ready.culprits
    assert (one.track_id, one.face_missing, two.track_id, two.face_missing) == (1, False, 2, True)
    assert one.crop_jpeg and two.crop_jpeg and one.face_jpeg and two.face_jpeg is None
    face = cv2.imdecode(np.frombuffer(one.face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert face is not None and face.shape[:2] == (15, 15)  # 10 px grown by 25 % each side
    assert joins.cameras[CAMERA].active_event_id is None


def test_culprit_crop_comes_from_the_events_violent_frames(tmp_path: Path) -> None:
    joins = make_joins(tmp_path)
    outputs = feed(joins, stream("live"), {})
    ready = outputs[-1]
    assert isinstance(ready, EventReady)
    crop = cv2.imdecode(np.frombuffer(ready.culprits[0].crop_jpeg or b"", np.uint8), 1)
    assert crop is not None
    # The box grown by the 10 % margin: 36 x 72 pixels, cut from one of frames 20..35.
    assert crop.shape[:2] == (72, 36)
    candidates = {i: picture(i)[14:86, 7:43] for i in range(61)}  # same place, every frame
    best = min(candidates, key=lambda i: float(np.abs(candidates[i].astype(int) - crop).mean()))
    assert START <= best <= END


def test_replayed_records_change_nothing(tmp_path: Path) -> None:
    once = feed(make_joins(tmp_path / "a"), stream("live"), {})
    items = stream("live")
    doubled = [x for pair in zip(items, items, strict=True) for x in pair]  # every record twice
    twice = feed(make_joins(tmp_path / "b"), doubled, {})
    assert kinds(once) == kinds(twice)
    ready_once, ready_twice = once[-1], twice[-1]
    assert isinstance(ready_once, EventReady) and isinstance(ready_twice, EventReady)
    assert [c.crop_jpeg for c in ready_once.culprits] == [c.crop_jpeg for c in ready_twice.culprits]
    assert ready_once.parts[0].frames == ready_twice.parts[0].frames


def test_pins_hold_what_a_crash_must_re_read_and_release_it_once_stored(tmp_path: Path) -> None:
    joins = make_joins(tmp_path)
    offsets: dict[str, itertools.count[int]] = {}
    items = stream("live")
    opened_at = items.index(event(UpdateKind.OPENED))
    feed(joins, items[: opened_at + 1], offsets)
    frames_tp, events_tp = (topics.FRAMES.name, 3), (topics.EVENTS.name, 3)
    consumed = {frames_tp: START + 6, events_tp: 1}
    commit = joins.commit_offsets(consumed)
    ring = joins.cameras[CAMERA].capacity  # 2 s at 10 fps + 1
    assert commit[frames_tp] == START + 6 - ring  # the ring: frame offsets are frame indexes here
    assert commit[events_tp] == 0  # the opening, until the event is stored
    rest = feed(joins, items[opened_at + 1 :], offsets)
    assert kinds(rest)[-1] == "EventReady"
    commit = joins.commit_offsets({frames_tp: 61, events_tp: 3})
    assert commit[events_tp] == 3
    assert commit[frames_tp] == 61 - ring


def test_an_event_stored_already_is_skipped_and_a_partly_stored_one_goes_on(
    tmp_path: Path,
) -> None:
    stored = feed(make_joins(tmp_path / "a"), stream("live"), {}, StoredProgress(stored=True))
    assert stored == []
    part0 = PartMeta(0, "events/ev-1/clip-000.mp4", 10, 29, 20, 2.0, 100, "video/mp4", 50)
    joins = make_joins(tmp_path / "b")
    outputs = feed(joins, stream("events_first"), {}, StoredProgress(False, (part0,)))
    assert kinds(outputs) == ["EventStarted", "PartReady", "EventReady"]
    part = outputs[1]
    assert isinstance(part, PartReady)
    assert (part.meta.part, part.meta.first_frame, part.meta.last_frame) == (1, 30, 45)
    assert part.part.poster_jpeg is None  # stored with part 0
    ready = outputs[2]
    assert isinstance(ready, EventReady) and ready.parts == (part0, part.meta)


def test_an_upload_ends_when_its_event_closes_after_the_last_frame(tmp_path: Path) -> None:
    """All its frames may come first, then the updates, then the verdicts."""
    joins = make_joins(tmp_path)
    last = END + 3  # the stream ends inside the post-roll
    outputs = feed(joins, [frame(i, end=i == last) for i in range(last + 1)], {})
    outputs += feed(joins, [event(UpdateKind.OPENED)], {})
    assert kinds(outputs) == ["EventStarted"]  # waits for the close
    outputs = feed(joins, [event(UpdateKind.CLOSED)], {})
    assert kinds(outputs) == ["PartReady"]  # the clip is done; the culprits wait for verdicts
    part = outputs[0]
    ring = joins.cameras[CAMERA].capacity
    assert isinstance(part, PartReady)
    assert (part.meta.first_frame, part.meta.last_frame) == (last - ring + 1, last)
    outputs = feed(joins, [verdicts(i) for i in range(END)], {})
    assert outputs == []
    outputs = feed(joins, [verdicts(END)], {}, now=1.0)
    assert kinds(outputs) == ["EventReady"]
    ready = outputs[0]
    assert isinstance(ready, EventReady) and all(c.crop_jpeg for c in ready.culprits)
    assert joins.expire_idle(CONFIG.camera_idle_s) == []  # idle: forgotten, nothing left
    assert CAMERA not in joins.cameras


def test_an_idle_camera_is_finished_and_forgotten(tmp_path: Path) -> None:
    joins = make_joins(tmp_path)
    items: list[Input] = [event(UpdateKind.OPENED)]
    items += [x for i in range(START + 5) for x in (frame(i), verdicts(i))]
    feed(joins, items, {}, now=100.0)
    assert joins.expire_idle(100.0 + CONFIG.camera_idle_s - 1) == []
    outputs = joins.expire_idle(100.0 + CONFIG.camera_idle_s)
    assert kinds(outputs) == ["PartReady", "EventReady"]
    ready = outputs[-1]
    assert isinstance(ready, EventReady) and not ready.closed
    assert joins.cameras == {} and joins.commit_offsets({("frames", 3): 25}) == {("frames", 3): 25}


def test_a_long_open_event_is_cut_when_it_holds_too_many_records(tmp_path: Path) -> None:
    joins = make_joins(tmp_path, held_limit=40)
    offsets: dict[str, itertools.count[int]] = {}
    feed(joins, [event(UpdateKind.OPENED, start=5)], offsets)
    parts: list[Output] = []
    for i in range(200):
        feed(joins, [frame(i)], offsets)
        parts += joins.cut_held({(topics.FRAMES.name, TOPIC_PARTITION): i + 1})
        held = i + 1 - joins.commit_offsets({(topics.FRAMES.name, TOPIC_PARTITION): i + 1})[
            (topics.FRAMES.name, TOPIC_PARTITION)
        ]
        assert held <= 40 + 1
    metas = [p.meta for p in parts if isinstance(p, PartReady)]
    assert len(metas) >= 4
    for before, after in itertools.pairwise(metas):
        assert after.part == before.part + 1 and after.first_frame == before.last_frame + 1


def test_a_camera_that_starts_over_finishes_its_event_first(tmp_path: Path) -> None:
    joins = make_joins(tmp_path)
    items: list[Input] = [event(UpdateKind.OPENED)]
    items += [frame(i) for i in range(START + 5)]
    feed(joins, items, {})
    outputs = feed(joins, [frame(0, shift_s=3600.0)], {})
    assert kinds(outputs) == ["PartReady", "EventReady"]
    assert joins.cameras[CAMERA].newest is not None
    assert joins.cameras[CAMERA].active_event_id is None


def test_verdicts_wait_for_their_frame_within_one_ring(tmp_path: Path) -> None:
    join = CameraJoin(CAMERA, CONFIG, tmp_path)
    for i in range(3 * join.capacity):
        join.on_verdicts(verdicts(i), i)
    assert join.pins()[topics.VERDICTS.name] == 0  # early verdicts are kept ...
    assert len(join._early_verdicts) == join.capacity  # ... one ring's worth at most


@pytest.mark.parametrize(
    ("face", "expected"),
    [((1, 2, 3, 4), (1.0, 2.0, 3.0, 4.0)), (np.array([1, 2, 3, 4]), (1.0, 2.0, 3.0, 4.0)),
     ((3, 2, 1, 4), None), ("face", None), (None, None)],
)  # fmt: skip
def test_face_box_reads_what_the_face_finder_returns(face: object, expected: object) -> None:
    assert face_box(face) == expected


def test_face_box_reads_an_object_with_a_box() -> None:
    @dataclass
    class FaceBox:
        box: np.ndarray

    assert face_box(FaceBox(np.array([1.0, 2.0, 5.0, 6.0]))) == (1.0, 2.0, 5.0, 6.0)


def test_event_started_comes_before_the_parts(tmp_path: Path) -> None:
    outputs = feed(make_joins(tmp_path), stream("live"), {})
    assert isinstance(outputs[0], EventStarted) and outputs[0].event.kind is UpdateKind.OPENED
