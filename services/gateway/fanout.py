"""Live fan-out: messages on named channels to every local subscriber, one interface, two adapters.

`RedisFanout` carries them through Redis pub/sub, so a message published on one gateway replica
reaches the subscribers of every replica; `MemoryFanout` stays inside the process (embedded mode).
A subscriber holds a bounded queue: when it reads too slowly, its oldest messages are dropped,
so a slow reader never holds memory without bound nor slows the publisher down.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from vigil.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class Subscription:
    def __init__(self, channel: str, maxsize: int) -> None:
        self.channel = channel
        self.dropped = 0
        self._messages: deque[bytes] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()

    def offer(self, message: bytes) -> None:
        if len(self._messages) == self._messages.maxlen:
            self.dropped += 1  # deque(maxlen) drops the oldest
        self._messages.append(message)
        self._ready.set()

    def __len__(self) -> int:
        """Messages waiting to be read."""
        return len(self._messages)

    async def get(self) -> bytes:
        while not self._messages:
            self._ready.clear()
            await self._ready.wait()
        return self._messages.popleft()


class _LocalSubscribers:
    def __init__(self) -> None:
        self.channels: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """True when it is the channel's first local subscriber."""
        subscribers = self.channels.setdefault(subscription.channel, set())
        subscribers.add(subscription)
        return len(subscribers) == 1

    def remove(self, subscription: Subscription) -> bool:
        """True when the channel has no local subscriber left."""
        subscribers = self.channels.get(subscription.channel, set())
        subscribers.discard(subscription)
        if subscribers:
            return False
        self.channels.pop(subscription.channel, None)
        return True

    def deliver(self, channel: str, message: bytes) -> None:
        for subscription in self.channels.get(channel, ()):
            subscription.offer(message)


class Fanout(abc.ABC):
    spans_replicas: bool  # True: a message reaches the subscribers of every gateway replica

    def __init__(self) -> None:
        self._local = _LocalSubscribers()

    async def start(self) -> None:  # noqa: B027 (most adapters have nothing to start)
        """Connect, where there is something to connect to."""

    async def stop(self) -> None:  # noqa: B027
        """Disconnect; subscribers get nothing more."""

    @abc.abstractmethod
    async def publish(self, channel: str, message: bytes) -> None: ...

    def local_subscribers(self, channel: str) -> int:
        """Subscribers of the channel in this process."""
        return len(self._local.channels.get(channel, ()))

    @abc.abstractmethod
    async def _first_subscriber(self, channel: str) -> None: ...

    @abc.abstractmethod
    async def _last_unsubscribed(self, channel: str) -> None: ...

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, maxsize: int = 64) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, maxsize)
        if self._local.add(subscription):
            await self._first_subscriber(channel)
        try:
            yield subscription
        finally:
            if self._local.remove(subscription):
                await self._last_unsubscribed(channel)


class MemoryFanout(Fanout):
    spans_replicas = False

    async def publish(self, channel: str, message: bytes) -> None:
        self._local.deliver(channel, message)

    async def _first_subscriber(self, channel: str) -> None:
        pass

    async def _last_unsubscribed(self, channel: str) -> None:
        pass


class RedisFanout(Fanout):
    """One pub/sub connection per replica, subscribed to the channels its local readers want."""

    spans_replicas = True

    def __init__(self, redis: Redis, prefix: str = "vigil:live:") -> None:
        super().__init__()
        self.redis = redis
        self.prefix = prefix
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        # A standing subscription: the reader always has a connection to wait on.
        await self._call(self._pubsub.subscribe(self.prefix + "keepalive"))
        self._reader = asyncio.create_task(self._read(self._pubsub), name="redis fan-out reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    async def publish(self, channel: str, message: bytes) -> None:
        await self._call(self.redis.publish(self.prefix + channel, message))

    async def _first_subscriber(self, channel: str) -> None:
        assert self._pubsub is not None, "RedisFanout.start() was not called"
        async with self._lock:
            await self._call(self._pubsub.subscribe(self.prefix + channel))

    async def _last_unsubscribed(self, channel: str) -> None:
        if self._pubsub is None:
            return
        async with self._lock:
            if channel not in self._local.channels:  # nobody came back meanwhile
                await self._call(self._pubsub.unsubscribe(self.prefix + channel))

    async def _read(self, pubsub: PubSub) -> None:
        delay = 0.1
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
                delay = 0.1
            except RedisError as exc:
                log.warning("redis fan-out: reading failed, retrying",
                            extra={"error": str(exc), "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            self._local.deliver(channel.removeprefix(self.prefix), message["data"])

    @staticmethod
    async def _call(awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except RedisError as exc:
            raise Unavailable(f"redis: {exc}") from exc
