"""The detect service over the in-process bus, with the real models, on real and bad frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from services.detect.config import DetectConfig
from services.detect.service import DetectService
from vigil import topics
from vigil.bus import MemoryBus
from vigil.v1.dead_letters_pb2 import DeadLetter
from vigil.v1.detections_pb2 import Detections
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service_parts(model_cache: Path) -> DetectService:
    return DetectService(MemoryBus(), DetectConfig())  # loads the models once


@pytest.fixture
async def detect(service_parts: DetectService) -> AsyncIterator[tuple[DetectService, MemoryBus]]:
    bus = MemoryBus(partitions=2)
    service = DetectService(bus, DetectConfig(), service_parts.detector, service_parts.embedder)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    yield service, bus
    stop.set()
    await task


def frame(index: int, jpeg: bytes) -> bytes:
    return Frame(ref=FrameRef(camera_id="cam", frame_index=index), jpeg=jpeg).SerializeToString()


async def collect(bus: MemoryBus, topic: str, count: int) -> list[bytes]:
    consumer = bus.consumer([topic], f"read-{topic}")
    await consumer.start()
    values: list[bytes] = []
    deadline = asyncio.get_running_loop().time() + 120
    while len(values) < count and asyncio.get_running_loop().time() < deadline:
        values += [r.value for r in await consumer.poll(10, 0.5)]
    await consumer.stop()
    return values


async def test_people_bad_jpegs_and_empty_scenes(detect, street_frame: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    _, bus = detect
    street = cv2.imencode(".jpg", street_frame)[1].tobytes()
    black = cv2.imencode(".jpg", np.zeros((360, 640, 3), np.uint8))[1].tobytes()
    await bus.publish("frames", "cam", frame(0, street))
    await bus.publish("frames", "cam", frame(1, b"\xff\xd8 not really a jpeg"))
    await bus.publish("frames", "cam", frame(2, b""))
    await bus.publish("frames", "cam", frame(3, black))

    detections = [Detections.FromString(v) for v in await collect(bus, "detections", 2)]
    assert [d.frame.frame_index for d in detections] == [0, 3]
    crowd, empty = detections
    assert len(crowd.people) >= 5, "a MOT17 street frame has a dozen pedestrians"
    for person in crowd.people:
        assert len(person.keypoints) == 17 and len(person.embedding) == 1280
        assert person.box.x2 > person.box.x1 and person.box.y2 > person.box.y1
        assert abs(np.linalg.norm(person.embedding) - 1) < 1e-3
    assert empty.people == [] and empty.model == "centernet_movenet"

    letters = [DeadLetter.FromString(v) for v in await collect(bus, topics.DEAD_LETTERS.name, 2)]
    reasons = {Frame.FromString(d.value).ref.frame_index: d.reason for d in letters}
    assert "corrupt JPEG" in reasons[1] and "no image" in reasons[2]


async def test_stale_live_frames_are_shed_uploads_never(detect, street_frame: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    _, bus = detect
    jpeg = cv2.imencode(".jpg", street_frame)[1].tobytes()
    now_us = int(__import__("time").time() * 1e6)
    live, upload = SourceKind.SOURCE_KIND_LIVE, SourceKind.SOURCE_KIND_UPLOAD
    cases = [(0, live, now_us - 60_000_000), (1, upload, now_us - 60_000_000), (2, live, now_us)]
    for index, kind, captured in cases:
        ref = FrameRef(camera_id="cam", frame_index=index, source_kind=kind,
                       capture_time_us=captured)
        await bus.publish("frames", "cam", Frame(ref=ref, jpeg=jpeg).SerializeToString())
    detections = [Detections.FromString(v) for v in await collect(bus, "detections", 2)]
    assert [d.frame.frame_index for d in detections] == [1, 2], "the minute-old live frame is shed"


async def test_motion_against_the_previous_frame(detect, street_frame: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    _, bus = detect
    before = cv2.imencode(".jpg", street_frame)[1].tobytes()
    after = cv2.imencode(".jpg", np.roll(street_frame, 4, axis=0))[1].tobytes()  # camera tilts
    for index, (position, jpeg) in enumerate([(0.0, before), (0.1, after), (5.0, before)]):
        ref = FrameRef(camera_id="cam", frame_index=index, position_s=position)
        await bus.publish("frames", "cam", Frame(ref=ref, jpeg=jpeg).SerializeToString())
    first, second, after_gap = [
        Detections.FromString(v) for v in await collect(bus, "detections", 3)
    ]
    # The source's first frame, and one after a 4.9 s gap, have nothing to compare with.
    for alone in (first, after_gap):
        assert not alone.HasField("scene_motion")
        assert not any(p.HasField("motion") for p in alone.people)
    assert second.HasField("scene_motion") and len(second.people) >= 5
    assert all(p.HasField("motion") for p in second.people)
    # The whole frame moved: the camera's own motion is removed, people stand still.
    assert second.scene_motion.mean_speed < 20
    assert np.median([p.motion.mean_speed for p in second.people]) < 20
