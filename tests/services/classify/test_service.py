"""The classify service over a MemoryBus, with a small model whose answer the test controls.

The model calls a person violent when their box moved fast sideways at the window's last step
(|box velocity x| > 2 heights per second). Person 1 shakes from frame 10 to 19, person 2 stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import keras
import pytest
from keras import layers, ops

from services.classify.config import ClassifyConfig
from services.classify.events import event_id
from services.classify.features import COLS_BOX_VEL, FEATURE_DIM
from services.classify.service import ClassifyService
from vigil import topics
from vigil.bus import MemoryBus
from vigil.errors import ModelMissing
from vigil.v1.detections_pb2 import Box
from vigil.v1.events_pb2 import Event, EventKind
from vigil.v1.frames_pb2 import FrameRef, SourceKind
from vigil.v1.tracks_pb2 import TrackedPerson, Tracks
from vigil.v1.verdicts_pb2 import Verdicts

FPS = 10.0
JOB_START_US = 1_700_000_000_000_000
SHAKE = range(10, 20)  # frames where person 1 is violent
CONFIG = ClassifyConfig(window=8, k=3, n=5, quiet_seconds=2.0, min_present_steps=2,
                        model_path=Path("unused.keras"))


def shaking_model(window: int) -> keras.Model:
    """softmax-like (calm, violent): violent when the last step's box x-velocity is large."""
    inputs = keras.Input((window, FEATURE_DIM))
    column = COLS_BOX_VEL.start
    violent = layers.Lambda(lambda x: ops.sigmoid(4.0 * (ops.abs(x[:, -1, column]) - 2.0)))(inputs)
    outputs = layers.Lambda(lambda p: ops.stack([1.0 - p, p], axis=-1))(violent)
    return keras.Model(inputs, outputs)


MODEL = shaking_model(CONFIG.window)


def person(track_id: int, x1: float) -> TrackedPerson:
    return TrackedPerson(track_id=track_id, box=Box(x1=x1, y1=100, x2=x1 + 40, y2=200), score=0.9)


def frame(camera: str, index: int, last: bool = False) -> Tracks:
    """Person 1 at x=100 (+50 on even frames while shaking), person 2 still at x=400."""
    shake = 50.0 if index in SHAKE and index % 2 == 0 else 0.0
    position = index / FPS
    ref = FrameRef(camera_id=camera, source_kind=SourceKind.SOURCE_KIND_UPLOAD, job_id=camera,
                   frame_index=index, capture_time_us=JOB_START_US + round(position * 1e6),
                   position_s=position, width=640, height=360, analysis_fps=FPS,
                   end_of_stream=last)
    return Tracks(frame=ref, people=[person(1, 100.0 + shake), person(2, 400.0)])


def stream(camera: str, frames: int, end_of_stream: bool = True) -> list[Tracks]:
    return [frame(camera, i, end_of_stream and i == frames - 1) for i in range(frames)]


class Running:
    def __init__(self, bus: MemoryBus, service: ClassifyService) -> None:
        self.bus = bus
        self.service = service
        self.consumer = bus.consumer([topics.VERDICTS.name, topics.EVENTS.name], "test")

    async def send(self, messages: Sequence[Tracks]) -> tuple[list[Verdicts], list[Event]]:
        """Publish, then collect until every frame has its verdict."""
        for message in messages:
            await self.bus.publish(topics.TRACKS.name, message.frame.camera_id,
                                   message.SerializeToString())
        verdicts: list[Verdicts] = []
        events: list[Event] = []
        while len(verdicts) < len(messages):
            records = await asyncio.wait_for(self.consumer.poll(100, 1.0), 30)
            for record in records:
                if record.topic == topics.VERDICTS.name:
                    verdicts.append(Verdicts.FromString(record.value))
                else:
                    events.append(Event.FromString(record.value))
        return verdicts, events


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    bus = MemoryBus(partitions=2)
    await bus.start()
    await bus.ensure_topics([t.name for t in topics.ALL])
    service = ClassifyService(bus, CONFIG, model=MODEL)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await service.loop.started.wait()
    harness = Running(bus, service)
    await harness.consumer.start()
    yield harness
    stop.set()
    await task
    await bus.stop()


def kinds(events: Sequence[Event]) -> list[int]:
    return [e.kind for e in events]


async def test_a_verdict_for_every_frame_with_the_violent_person_marked(running: Running) -> None:
    verdicts, _ = await running.send(stream("job-a", 30))
    assert [v.frame.frame_index for v in verdicts] == list(range(30))
    for v in verdicts:
        flags = {p.track_id: p.violent for p in v.people}
        assert flags == {1: v.frame.frame_index in SHAKE, 2: False}
        assert all(0.0 <= p.score <= 1.0 for p in v.people)
        assert v.people[0].box == frame("job-a", v.frame.frame_index).people[0].box


async def test_an_event_opens_and_closes_with_its_start_and_culprits(running: Running) -> None:
    _, events = await running.send(stream("job-b", 50))
    assert kinds(events) == [EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_CLOSED]
    opened, closed = events
    first = frame("job-b", SHAKE[0]).frame
    last = frame("job-b", SHAKE[-1]).frame
    for event in events:
        assert event.event_id == event_id("job-b", SHAKE[0])
        assert (event.camera_id, event.job_id) == ("job-b", "job-b")
        assert event.source_kind == SourceKind.SOURCE_KIND_UPLOAD
        assert event.start_frame == SHAKE[0]
        assert event.start_time_us == first.capture_time_us
        assert event.start_position_s == pytest.approx(first.position_s)
        assert [c.track_id for c in event.culprits] == [1]
    assert closed.end_frame == SHAKE[-1]
    assert closed.end_time_us == last.capture_time_us
    assert closed.end_position_s == pytest.approx(last.position_s)
    assert closed.max_score > CONFIG.on_threshold
    assert opened.end_frame < closed.end_frame


async def test_the_quiet_period_closes_the_event_before_the_stream_ends(running: Running) -> None:
    verdicts, events = await running.send(stream("job-c", 50, end_of_stream=False))
    assert kinds(events) == [EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_CLOSED]
    assert len(verdicts) == 50


async def test_end_of_stream_closes_the_open_event(running: Running) -> None:
    _, events = await running.send(stream("job-d", 22))  # ends 0.2 s after the shaking
    assert kinds(events) == [EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_CLOSED]
    assert events[-1].end_frame == SHAKE[-1]
    assert "job-d" not in running.service.cameras  # its state is freed


async def test_a_stalled_camera_has_its_event_closed(running: Running) -> None:
    _, events = await running.send(stream("job-e", 16, end_of_stream=False))
    assert kinds(events) == [EventKind.EVENT_KIND_OPENED]
    state = running.service.cameras["job-e"]
    await running.service.expire_stalled(state.last_seen + CONFIG.stall_seconds / 2)
    assert state.events.is_open  # not silent for long enough yet
    await running.service.expire_stalled(state.last_seen + CONFIG.stall_seconds)
    records = await running.consumer.poll(10, 1.0)
    closed = [Event.FromString(r.value) for r in records if r.topic == topics.EVENTS.name]
    assert kinds(closed) == [EventKind.EVENT_KIND_CLOSED]
    assert closed[0].end_frame == 15


async def test_a_replay_gives_the_same_event_ids() -> None:
    ids = []
    for _ in range(2):
        bus = MemoryBus(partitions=1)
        await bus.start()
        service = ClassifyService(bus, CONFIG, model=MODEL)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await service.loop.started.wait()
        harness = Running(bus, service)
        await harness.consumer.start()
        _, events = await harness.send(stream("job-f", 40))
        ids.append([(e.event_id, e.kind) for e in events])
        stop.set()
        await task
    assert ids[0] == ids[1] and ids[0]


async def test_a_camera_that_starts_again_closes_the_old_event(running: Running) -> None:
    first = stream("cam-1", 16, end_of_stream=False)  # opened, still open
    _, events = await running.send(first + stream("cam-1", 5, end_of_stream=False))
    assert kinds(events) == [EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_CLOSED]


async def test_a_source_analysed_slower_than_the_model_is_warned_about_once(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """5 fps frames still get verdicts, with one warning naming the setting; 10 fps none."""
    slow = stream("job-slow", 6)
    for message in slow:
        message.frame.analysis_fps = 5.0
    with caplog.at_level("WARNING", logger="services.classify.service"):
        verdicts, _ = await running.send(slow + stream("job-ok", 6))
    assert len(verdicts) == 12
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "job-slow" in warnings[0] and "VIGIL_INGEST__ANALYSIS_FPS=10" in warnings[0]


def test_a_missing_model_names_the_fix(tmp_path: Path) -> None:
    config = ClassifyConfig(model_path=tmp_path / "absent.keras")
    with pytest.raises(ModelMissing, match="vigil train"):
        ClassifyService(MemoryBus(), config)
