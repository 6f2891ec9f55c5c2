"""A camera's tracker resumed by another worker from `track-state` and the detections after the
snapshot, record by record (the group mechanics are in test_rebalance.py)."""

from __future__ import annotations

import logging

import pytest

from services.track.config import TrackConfig
from services.track.service import TrackService
from tests.services.track.people import detections, identities, tud, uninterrupted
from vigil import topics
from vigil.bus import MemoryBus, Record
from vigil.runtime.worker import Delivery
from vigil.v1.detections_pb2 import Detections
from vigil.v1.tracks_pb2 import Tracks

CAMERA = "cam-moved"
CONFIG = TrackConfig(snapshot_every=10)  # the comments below count on snapshots every 10


async def stream(bus: MemoryBus, count: int) -> tuple[list[Record], list[Tracks]]:
    """The camera's detections on the bus, and what one uninterrupted tracker publishes."""
    messages = detections(CAMERA, tud()[:count])
    for message in messages:
        await bus.publish(topics.DETECTIONS.name, CAMERA, message.SerializeToString())
    partition = await bus.partition_of(topics.DETECTIONS.name, CAMERA)
    records = await bus.read(topics.DETECTIONS.name, partition, 0, count)
    return records, uninterrupted(messages, CONFIG)


async def handle(service: TrackService, records: list[Record]) -> None:
    for record in records:
        await service._handle(Delivery(record, Detections.FromString(record.value)))


async def published(bus: MemoryBus) -> list[Tracks]:
    partition = await bus.partition_of(topics.TRACKS.name, CAMERA)
    end = await bus.end_offset(topics.TRACKS.name, partition)
    return [Tracks.FromString(r.value) for r in await bus.read(topics.TRACKS.name, partition, 0,
                                                                end)]


def resumed(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.__dict__ for r in caplog.records if r.getMessage() == "camera tracker resumed"]


def assert_published_once_as_uninterrupted(tracks: list[Tracks], expected: list[Tracks]) -> None:
    assert [t.frame.frame_index for t in tracks] == list(range(len(expected)))
    assert [identities(t) for t in tracks] == [identities(t) for t in expected]


async def test_the_next_worker_replays_after_the_snapshot_without_publishing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="services.track.service")
    bus = MemoryBus(partitions=2)
    records, expected = await stream(bus, 40)
    await handle(TrackService(bus, CONFIG), records[:17])  # snapshots after 0 and 10
    second = TrackService(bus, CONFIG)
    await handle(second, records[17:])
    assert_published_once_as_uninterrupted(await published(bus), expected)
    assert max(p.track_id for t in expected[17:] for p in t.people) > 1, "ids to keep"
    first, then = resumed(caplog)
    assert (first["outcome"], first["snapshot_offset"], first["replayed"]) == ("fresh", -1, 0)
    assert then["outcome"] == "restored"
    assert (then["snapshot_offset"], then["replayed"], then["unread"]) == (
        records[10].offset, 6, 0)
    assert CAMERA not in second.cameras, "the stream ended"


async def test_records_the_snapshot_already_reflects_are_not_published_again() -> None:
    bus = MemoryBus(partitions=2)
    records, expected = await stream(bus, 20)
    await handle(TrackService(bus, CONFIG), records[:11])  # last snapshot: after 10
    # The group rewinds to an older commit (the first worker's commit was lost in a rebalance).
    await handle(TrackService(bus, CONFIG), records[8:])
    assert_published_once_as_uninterrupted(await published(bus), expected)


async def test_a_partition_given_back_after_another_worker_had_it_resumes_from_the_stream() -> None:
    bus = MemoryBus(partitions=2)
    records, expected = await stream(bus, 30)
    first = TrackService(bus, CONFIG)
    await handle(first, records[:13])
    await handle(TrackService(bus, CONFIG), records[13:21])  # no snapshot of its own
    # Back to the first worker: its tracker stopped at record 12 and must not be used.
    await handle(first, records[21:])
    assert_published_once_as_uninterrupted(await published(bus), expected)


async def test_replay_is_bounded_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="services.track.service")
    bus = MemoryBus(partitions=2)
    records, _ = await stream(bus, 20)
    await handle(TrackService(bus, CONFIG), records[:17])
    limited = TrackConfig(snapshot_every=10, max_replay_records=3)
    await handle(TrackService(bus, limited), records[17:18])
    last = [r for r in caplog.records if r.getMessage() == "camera tracker resumed"][-1]
    assert last.levelno == logging.WARNING
    assert (last.__dict__["replayed"], last.__dict__["unread"]) == (3, 3)


async def test_a_new_camera_is_looked_up_without_reading_the_state_topic_again() -> None:
    """Once a worker has read a partition's state, only it writes there."""
    bus = MemoryBus(partitions=1)
    records, _ = await stream(bus, 5)
    service = TrackService(bus, CONFIG)
    looks: list[str] = []
    end_offset, read = bus.end_offset, bus.read

    async def counting_end(topic: str, partition: int) -> int:
        looks.append(topic)
        return await end_offset(topic, partition)

    async def counting_read(topic: str, partition: int, start: int, end: int) -> list[Record]:
        looks.append(topic)
        return await read(topic, partition, start, end)

    bus.end_offset, bus.read = counting_end, counting_read  # type: ignore[method-assign]
    await handle(service, records[:1])
    assert looks.count(topics.TRACK_STATE.name) == 1, "the partition's state looked at once"
    await handle(service, records[1:])  # the stream ends: a tombstone, written by this worker
    other = Detections.FromString(records[0].value)
    other.frame.camera_id = "cam-new"
    await bus.publish(topics.DETECTIONS.name, "cam-new", other.SerializeToString())
    await handle(service, await read(topics.DETECTIONS.name, 0, 5, 6))
    assert looks.count(topics.TRACK_STATE.name) == 1
    assert set(service.cameras) == {"cam-new"}
