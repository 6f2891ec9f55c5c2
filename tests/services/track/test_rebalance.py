"""Two track workers in one consumer group: cameras move between them (a worker joins, a worker
leaves) and their tracks go on with the same ids as if one worker had seen every frame."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from services.track.config import TrackConfig
from services.track.service import TrackService
from tests.services.track.people import detections, identities, tud, uninterrupted
from vigil import topics
from vigil.bus import Bus, KafkaBus, MemoryBus
from vigil.v1.detections_pb2 import Detections
from vigil.v1.tracks_pb2 import Tracks

PARTITIONS = 4
CONFIG = TrackConfig(snapshot_every=10)

BusMaker = Callable[[], Awaitable[Bus]]


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusMaker]:
    """A bus per worker, as separate processes have: one shared MemoryBus, or a KafkaBus each."""
    made: list[Bus] = []
    memory = MemoryBus(partitions=PARTITIONS)

    async def make() -> Bus:
        if request.param == "memory":
            return memory
        bus = KafkaBus(request.getfixturevalue("kafka_address"), partitions=PARTITIONS)
        await bus.start()
        await bus.ensure_topics([t.name for t in topics.ALL])
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


class Worker:
    def __init__(self, bus: Bus) -> None:
        self.service = TrackService(bus, CONFIG)
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self.service.run(self.stop_event))

    async def stop(self) -> None:
        self.stop_event.set()
        await self.task


class Tracked:
    """Every Tracks message published for our cameras, read as its own consumer group."""

    def __init__(self, bus: Bus, cameras: set[str]) -> None:
        self.by_camera: dict[str, list[Tracks]] = defaultdict(list)
        self.consumer = bus.consumer([topics.TRACKS.name], f"test-{uuid.uuid4().hex[:8]}")
        self.cameras = cameras

    async def poll(self) -> None:
        for record in await self.consumer.poll(100, 0.2):
            if record.key in self.cameras:
                self.by_camera[record.key].append(Tracks.FromString(record.value))

    def frames(self, camera: str) -> int:
        return len({t.frame.frame_index for t in self.by_camera[camera]})

    async def until(self, counts: dict[str, int], timeout_s: float = 120) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(self.frames(c) < n for c, n in counts.items()):
            progress = {c: self.frames(c) for c in counts}
            assert asyncio.get_running_loop().time() < deadline, f"tracked {progress} of {counts}"
            await self.poll()


async def cameras_apart(bus: Bus, tag: str) -> tuple[str, str]:
    """Two camera ids on the first and last partition: the range assignment gives them to
    different members of a group of two."""
    by_partition: dict[int, str] = {}
    for n in range(200):
        key = f"cam-{tag}-{n}"
        by_partition.setdefault(await bus.partition_of(topics.DETECTIONS.name, key), key)
    return by_partition[min(by_partition)], by_partition[max(by_partition)]


async def publish(bus: Bus, messages: list[Detections]) -> None:
    for message in messages:
        camera = message.frame.camera_id
        await bus.publish(topics.DETECTIONS.name, camera, message.SerializeToString())


def assert_as_uninterrupted(tracks: list[Tracks], expected: list[Tracks]) -> None:
    """Every frame published, the same people under the same ids; a frame handled twice around
    a move (at least once delivery) was published twice alike."""
    by_frame: dict[int, list[Tracks]] = defaultdict(list)
    for t in tracks:
        by_frame[t.frame.frame_index].append(t)
    assert sorted(by_frame) == list(range(len(expected)))
    for index, copies in sorted(by_frame.items()):
        for copy in copies:
            assert identities(copy) == identities(expected[index]), f"frame {index}"


async def test_cameras_moved_between_workers_keep_their_ids(
    make_bus: BusMaker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.track.service")
    feeder = await make_bus()
    tag = uuid.uuid4().hex[:8]
    cameras = await cameras_apart(feeder, tag)
    fresh_camera = f"cam-{tag}-fresh"
    frames = tud()
    streams = {c: detections(c, frames) for c in cameras}
    expected = uninterrupted(streams[cameras[0]], CONFIG)
    tracked = Tracked(feeder, {*cameras, fresh_camera})
    await tracked.consumer.start()
    fed = 0

    async def feed(upto: int) -> None:
        nonlocal fed
        for index in range(fed, upto):
            await publish(feeder, [streams[c][index] for c in cameras])
        fed = upto
        await tracked.until({c: upto for c in cameras})

    first = Worker(await make_bus())
    second: Worker | None = None
    try:
        await feed(40)
        assert set(first.service.cameras) == set(cameras)
        # A second worker joins: the group gives it half the partitions, one camera with them.
        second = Worker(await make_bus())
        while not second.service.cameras:
            assert fed < 120, "the second worker never got a camera"
            await feed(fed + 1)
        await feed(fed + 10)
        assert len(second.service.cameras) == 1
        # The first worker leaves: the other camera moves to the second too.
        await first.stop()
        await feed(len(frames))
        # A camera new to the group starts its own ids at 1.
        fresh = detections(fresh_camera, tud("TUD-Campus"))
        await publish(feeder, fresh)
        await tracked.until({fresh_camera: len(fresh)})
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
        await tracked.consumer.stop()

    for camera in cameras:
        assert_as_uninterrupted(tracked.by_camera[camera], expected)
    assert max(p.track_id for t in expected[60:] for p in t.people) > 5, "ids worth keeping"
    resumed = [r.__dict__ for r in caplog.records if r.getMessage() == "camera tracker resumed"]
    assert {r["camera"] for r in resumed if r["outcome"] == "restored"} == set(cameras)
    fresh_expected = uninterrupted(fresh, CONFIG)
    assert_as_uninterrupted(tracked.by_camera[fresh_camera], fresh_expected)
    assert min(p.track_id for t in tracked.by_camera[fresh_camera] for p in t.people) == 1
