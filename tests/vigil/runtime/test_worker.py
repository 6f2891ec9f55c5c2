"""The consume loop's contract: commit after handling, retry what is retriable, dead-letter the
rest, and on stop finish the batch in hand."""

from __future__ import annotations

import asyncio

import pytest

from vigil import topics
from vigil.bus import MemoryBus
from vigil.errors import BadInput, Unavailable
from vigil.runtime.worker import ConsumeLoop, Delivery, Retry, per_message
from vigil.v1.dead_letters_pb2 import DeadLetter
from vigil.v1.frames_pb2 import Frame

FRAMES = topics.Topic("frames-test", Frame)


def frame(index: int) -> bytes:
    message = Frame()
    message.ref.frame_index = index
    return message.SerializeToString()


async def committed_remainder(bus: MemoryBus, group: str) -> list[int]:
    """What a new member of the group would read: everything not committed."""
    consumer = bus.consumer([FRAMES.name], group)
    await consumer.start()
    records = await consumer.poll(100, 0.05)
    await consumer.stop()
    return [Frame.FromString(r.value).ref.frame_index for r in records]


async def dead_letters(bus: MemoryBus) -> list[DeadLetter]:
    consumer = bus.consumer([topics.DEAD_LETTERS.name], "inspect")
    await consumer.start()
    records = await consumer.poll(100, 0.05)
    await consumer.stop()
    return [DeadLetter.FromString(r.value) for r in records]


async def run_until(loop: ConsumeLoop[Frame], condition, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    stop.set()
    await task


async def test_retriable_failure_is_retried_and_committed_only_after_success() -> None:
    bus = MemoryBus(partitions=1)
    await bus.publish(FRAMES.name, "cam", frame(0))
    attempts: list[int] = []

    async def handle(delivery: Delivery[Frame]) -> None:
        attempts.append(delivery.message.ref.frame_index)
        if len(attempts) < 3:
            raise Unavailable("database down")

    loop = ConsumeLoop(bus, service="t", topic=FRAMES, group="g", handle=per_message(handle),
                       retry=Retry(initial_s=0.01))
    await run_until(loop, lambda: len(attempts) == 3)
    assert attempts == [0, 0, 0]
    assert await committed_remainder(bus, "g") == []
    assert await dead_letters(bus) == []


async def test_stop_during_retries_leaves_the_record_uncommitted() -> None:
    bus = MemoryBus(partitions=1)
    await bus.publish(FRAMES.name, "cam", frame(7))
    attempts: list[int] = []

    async def handle(delivery: Delivery[Frame]) -> None:
        attempts.append(1)
        raise Unavailable("object store down")

    loop = ConsumeLoop(bus, service="t", topic=FRAMES, group="g", handle=per_message(handle),
                       retry=Retry(initial_s=0.01))
    await run_until(loop, lambda: len(attempts) >= 2)
    assert await committed_remainder(bus, "g") == [7], "nothing lost: the group re-reads it"


@pytest.mark.parametrize(
    ("error", "attempts_before_dead_letter"),
    [(BadInput("no such camera"), 1), (RuntimeError("a bug"), 3)],
)
async def test_bad_record_in_a_batch_is_isolated_and_dead_lettered(
    error: Exception, attempts_before_dead_letter: int
) -> None:
    bus = MemoryBus(partitions=1)
    for i in range(4):
        await bus.publish(FRAMES.name, "cam", frame(i))
    handled: list[int] = []
    failures: list[int] = []

    async def handle(batch: list[Delivery[Frame]]) -> None:
        indexes = [d.message.ref.frame_index for d in batch]
        if 2 in indexes:
            failures.append(len(batch))
            raise error
        handled.extend(indexes)

    loop = ConsumeLoop(bus, service="t", topic=FRAMES, group="g", handle=handle, max_batch=4,
                       retry=Retry(initial_s=0.01))
    await run_until(loop, lambda: sorted(handled) == [0, 1, 3])
    letters = await dead_letters(bus)
    assert [(d.topic, Frame.FromString(d.value).ref.frame_index) for d in letters] == [
        (FRAMES.name, 2)]
    assert str(error) in letters[0].reason
    assert failures.count(1) == attempts_before_dead_letter
    assert await committed_remainder(bus, "g") == []


async def test_stop_finishes_and_commits_the_batch_in_hand() -> None:
    bus = MemoryBus(partitions=1)
    for i in range(3):
        await bus.publish(FRAMES.name, "cam", frame(i))
    started = asyncio.Event()
    release = asyncio.Event()
    handled: list[int] = []

    async def handle(batch: list[Delivery[Frame]]) -> None:
        started.set()
        await release.wait()
        handled.extend(d.message.ref.frame_index for d in batch)

    loop = ConsumeLoop(bus, service="t", topic=FRAMES, group="g", handle=handle, max_batch=2)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await started.wait()
    stop.set()  # SIGTERM arrives while a batch is being handled
    release.set()
    await task
    assert handled == [0, 1]
    assert await committed_remainder(bus, "g") == [2]
