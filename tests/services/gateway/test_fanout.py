"""One suite over both fan-outs: in-process, and Redis pub/sub (the real server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from services.gateway.fanout import Fanout, MemoryFanout, RedisFanout, Subscription


@dataclass
class Replicas:
    publisher: Fanout
    subscriber: Fanout  # the same object in-process; another replica over Redis


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[Replicas]:
    if request.param == "memory":
        fanout = MemoryFanout()
        yield Replicas(fanout, fanout)
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test:{uuid.uuid4().hex}:"
    one, two = RedisFanout(redis, prefix), RedisFanout(redis, prefix)
    await one.start()
    await two.start()
    try:
        yield Replicas(one, two)
    finally:
        await one.stop()
        await two.stop()
        await redis.aclose()


async def get(subscription: Subscription) -> bytes:
    return await asyncio.wait_for(subscription.get(), 10)


async def test_every_subscriber_of_a_channel_gets_each_message_in_order(
    replicas: Replicas,
) -> None:
    async with (replicas.subscriber.subscribe("camera:a") as first,
                replicas.subscriber.subscribe("camera:a") as second,
                replicas.subscriber.subscribe("camera:b") as other):
        for n in range(3):
            await replicas.publisher.publish("camera:a", b"a%d" % n)
        await replicas.publisher.publish("camera:b", b"b0")
        assert [await get(first) for _ in range(3)] == [b"a0", b"a1", b"a2"]
        assert [await get(second) for _ in range(3)] == [b"a0", b"a1", b"a2"]
        assert await get(other) == b"b0"  # and nothing of camera:a came before it


async def test_a_slow_subscriber_loses_its_oldest_messages(replicas: Replicas) -> None:
    async with replicas.subscriber.subscribe("camera:slow", maxsize=2) as slow:
        async with replicas.subscriber.subscribe("camera:slow", maxsize=100) as fast:
            for n in range(5):
                await replicas.publisher.publish("camera:slow", b"%d" % n)
            assert [await get(fast) for _ in range(5)] == [b"0", b"1", b"2", b"3", b"4"]
        assert [await get(slow) for _ in range(2)] == [b"3", b"4"]
        assert slow.dropped == 3


async def test_after_leaving_nothing_more_arrives(replicas: Replicas) -> None:
    async with replicas.subscriber.subscribe("camera:left") as left:
        pass
    async with replicas.subscriber.subscribe("camera:marker") as marker:
        await replicas.publisher.publish("camera:left", b"lost")
        await replicas.publisher.publish("camera:marker", b"done")
        assert await get(marker) == b"done"
    assert len(left) == 0 and left.dropped == 0


async def test_publishing_to_nobody_is_fine(replicas: Replicas) -> None:
    await replicas.publisher.publish("camera:nobody", b"x")
