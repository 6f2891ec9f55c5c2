"""One suite, both adapters: the in-process bus and Kafka on a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests import servers
from vigil import topics
from vigil.bus import Bus, Consumer, KafkaBus, MemoryBus, Record
from vigil.bus.partitioning import partition_for
from vigil.runtime.worker import ConsumeLoop, Delivery, per_message
from vigil.v1.dead_letters_pb2 import DeadLetter
from vigil.v1.frames_pb2 import Frame

PARTITIONS = 4


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        adapter: Bus = MemoryBus(partitions=PARTITIONS)
    else:
        adapter = KafkaBus(request.getfixturevalue("kafka_address"), partitions=PARTITIONS)
    await adapter.start()
    yield adapter
    await adapter.stop()


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"  # the broker is shared by the whole session


async def collect(consumer: Consumer, count: int, timeout_s: float = 20) -> list[Record]:
    records: list[Record] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(records) < count and asyncio.get_running_loop().time() < deadline:
        records += await consumer.poll(count - len(records), 0.2)
    return records


async def read_as_group(bus: Bus, topic: str, count: int) -> list[Record]:
    """`count` records of `topic`, read by a fresh consumer group."""
    consumer = bus.consumer([topic], f"g-{topic}")
    await consumer.start()
    try:
        return await collect(consumer, count)
    finally:
        await consumer.stop()


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_same_bytes_and_per_key_order_across_partitions(bus: Bus, topic: str) -> None:
    await bus.ensure_topics([topic])
    keys = [f"cam-{i}" for i in range(8)]
    assert len({partition_for(k, PARTITIONS) for k in keys}) > 1, "keys should span partitions"
    sent = [(k, f"{k}:{n}".encode() + bytes(range(256))) for n in range(5) for k in keys]
    for key, value in sent:
        await bus.publish(topic, key, value)
    records = await read_as_group(bus, topic, len(sent))
    assert sorted((r.key, r.value) for r in records) == sorted(sent)
    for key in keys:
        mine = [r for r in records if r.key == key]
        assert [r.value for r in mine] == [v for k, v in sent if k == key]
        assert {r.partition for r in mine} == {partition_for(key, PARTITIONS)}


async def test_group_splits_partitions_and_survivor_takes_over(bus: Bus, topic: str) -> None:
    other = f"{topic}-b"
    await bus.ensure_topics([topic, other])
    group = f"g-{topic}"
    first, second = bus.consumer([topic, other], group), bus.consumer([topic, other], group)
    await first.start()
    await second.start()
    try:
        # Polling drives the group protocol (heartbeats, rejoins) in the Kafka client.
        async def split() -> None:
            while not (first.assignment() and second.assignment()
                       and len(first.assignment() | second.assignment()) == 2 * PARTITIONS):
                await asyncio.gather(first.poll(10, 0.1), second.poll(10, 0.1))

        await asyncio.wait_for(split(), 40)
        assert not first.assignment() & second.assignment()
        for member in (first, second):  # a camera's partition of every topic, on one member
            numbers = {t: {p for tt, p in member.assignment() if tt == t} for t in (topic, other)}
            assert numbers[topic] == numbers[other]

        await second.stop()

        async def take_over() -> None:
            while len(first.assignment()) < 2 * PARTITIONS:
                await first.poll(10, 0.1)

        await asyncio.wait_for(take_over(), 40)
        for i in range(8):
            await bus.publish(topic, f"cam-{i}", b"after")
        records = await collect(first, 8)
        assert len([r for r in records if r.value == b"after"]) == 8
    finally:
        await first.stop()
        await second.stop()


async def test_restarted_consumer_resumes_from_committed_offset(bus: Bus, topic: str) -> None:
    await bus.ensure_topics([topic])
    group = f"g-{topic}"
    for n in range(10):
        await bus.publish(topic, "cam-1", str(n).encode())
    consumer = bus.consumer([topic], group)
    await consumer.start()
    first = await collect(consumer, 10)
    assert [r.value for r in first] == [str(n).encode() for n in range(10)]
    await consumer.commit(first[:4])  # handled 0..3; 4..9 were read but not handled
    await consumer.stop()

    restarted = bus.consumer([topic], group)
    await restarted.start()
    try:
        again = await collect(restarted, 6)
        assert [r.value for r in again] == [str(n).encode() for n in range(4, 10)]
    finally:
        await restarted.stop()


async def test_undecodable_record_goes_to_dead_letters_and_loop_goes_on(
    bus: Bus, topic: str
) -> None:
    frames = topics.Topic(topic, Frame)
    await bus.ensure_topics([topic, topics.DEAD_LETTERS.name])
    handled: list[int] = []

    async def handle(delivery: Delivery[Frame]) -> None:
        handled.append(delivery.message.ref.frame_index)

    good = [Frame(jpeg=b"x") for _ in range(2)]
    good[0].ref.frame_index, good[1].ref.frame_index = 1, 2
    garbage = b"\xff\xff\xff\xff"  # an invalid varint: no Frame decodes from it
    await bus.publish(topic, "cam-1", good[0].SerializeToString())
    await bus.publish(topic, "cam-1", garbage)
    await bus.publish(topic, "cam-1", good[1].SerializeToString())

    loop = ConsumeLoop(bus, service="test", topic=frames, group=f"g-{topic}",
                       handle=per_message(handle))
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    dead = bus.consumer([topics.DEAD_LETTERS.name], f"dl-{topic}")
    await dead.start()
    try:
        await wait_until(lambda: len(handled) == 2)
        letters = [DeadLetter.FromString(r.value) for r in await collect(dead, 50, 5)]
        mine = [letter for letter in letters if letter.topic == topic]
        assert len(mine) == 1
        assert mine[0].value == garbage and mine[0].key == "cam-1"
        assert "cannot decode as vigil.v1.Frame" in mine[0].reason
        assert handled == [1, 2]
    finally:
        stop.set()
        await task
        await dead.stop()


async def test_read_back_a_partition_outside_any_group(bus: Bus, topic: str) -> None:
    await bus.ensure_topics([topic])
    keys = [f"cam-{i}" for i in range(6)]
    # Published together, so the Kafka client sends multi-record batches (whose end the test
    # broker's ListOffsets gets wrong); an empty value is a tombstone and reads back empty.
    sent = [(k, f"{k}:{n}".encode()) for n in range(4) for k in keys] + [("cam-0", b"")]
    await asyncio.gather(*(bus.publish(topic, k, v) for k, v in sent))
    polled = await read_as_group(bus, topic, len(sent))
    assert sorted((r.key, r.value) for r in polled) == sorted(sent)
    for number in range(PARTITIONS):
        mine = sorted((r for r in polled if r.partition == number), key=lambda r: r.offset)
        assert [r.offset for r in mine] == list(range(len(mine)))
        assert await bus.end_offset(topic, number) == len(mine)
        whole = await bus.read(topic, number, 0, len(mine))
        assert [(r.offset, r.key, r.value) for r in whole] == [
            (r.offset, r.key, r.value) for r in mine
        ]
        assert await bus.read(topic, number, 0, len(mine) + 5) == whole, "no waiting past the end"
        if len(mine) > 3:
            assert [r.offset for r in await bus.read(topic, number, 1, 3)] == [1, 2]
        assert await bus.read(topic, number, 2, 2) == []
    for key in keys:
        assert await bus.partition_of(topic, key) == partition_for(key, PARTITIONS)
        assert {r.partition for r in polled if r.key == key} == {await bus.partition_of(topic, key)}
    # Reading back committed nothing: the group still starts from the beginning.
    again = bus.consumer([topic], f"g2-{topic}")
    await again.start()
    try:
        assert len(await collect(again, len(sent))) == len(sent)
    finally:
        await again.stop()


async def test_memory_bus_compacts_to_the_newest_record_of_each_key() -> None:
    bus = MemoryBus(partitions=1, retention_records=4, compacted={"c"})
    for key, value in [("a", b"1"), ("b", b"1"), ("a", b"2"), ("a", b"")]:
        await bus.publish("c", key, value)
    assert await bus.end_offset("c", 0) == 4, "offsets stay; compaction leaves gaps"
    kept = [(r.offset, r.key, r.value) for r in await bus.read("c", 0, 0, 4)]
    assert kept == [(1, "b", b"1"), (3, "a", b"")]
    consumer = bus.consumer(["c"], "g")
    await consumer.start()
    assert [(r.offset, r.key) for r in await collect(consumer, 2)] == [(1, "b"), (3, "a")]
    await consumer.stop()
    for n in range(20):  # memory stays bounded by the keys: removed records leave the log
        await bus.publish("c", "a", bytes([n]))
    assert [(r.key, r.value) for r in await bus.read("c", 0, 0, 100)] == [("b", b"1"),
                                                                          ("a", bytes([19]))]


@pytest.mark.kafka
async def test_unreachable_broker_at_start_retries_with_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = servers.free_port()
    bus = KafkaBus(f"127.0.0.1:{port}", backoff_initial_s=0.1, backoff_max_s=0.4)
    caplog.set_level(logging.WARNING, logger="vigil.bus.kafka")
    starting = asyncio.create_task(bus.start())
    await wait_until(
        lambda: sum(r.getMessage() == "broker unreachable, retrying" for r in caplog.records) >= 2
    )
    assert not starting.done(), "start() must keep retrying, not crash"
    delays = [r.__dict__["retry_in_s"] for r in caplog.records if hasattr(r, "retry_in_s")]
    assert delays[1] > delays[0], "back-off grows"
    broker = await asyncio.to_thread(servers.start_kafka, tmp_path, port)
    try:
        await asyncio.wait_for(starting, 30)
        await bus.publish("reachable", "k", b"v")
    finally:
        await bus.stop()
        broker.stop()


async def test_memory_bus_waits_for_slow_group_instead_of_dropping() -> None:
    bus = MemoryBus(partitions=1, retention_records=3)
    consumer = bus.consumer(["t"], "slow")
    await consumer.start()
    for n in range(3):
        await bus.publish("t", "k", bytes([n]))
    blocked = asyncio.create_task(bus.publish("t", "k", b"\x03"))
    await asyncio.sleep(0.05)
    assert not blocked.done(), "publishing past retention must wait for the reader"
    records = await collect(consumer, 3)
    await consumer.commit(records[:1])
    await asyncio.wait_for(blocked, 1)
    assert [r.value for r in records + await collect(consumer, 1)] == [b"\x00", b"\x01", b"\x02",
                                                                        b"\x03"]
    await consumer.stop()
    for n in range(10):  # nobody reads: oldest records go
        await bus.publish("t", "k", bytes([n]))
