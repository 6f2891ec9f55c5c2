"""The consume loop: poll, decode, handle, publish, and only then commit.

A record that cannot be decoded, or that the handler rejects as bad input, goes to the
dead-letter topic with the reason, and the loop goes on. A retriable failure (a server that is
down) is retried with back-off and nothing is committed until it succeeds, so a crash or a stop
in between loses nothing: the group re-reads from its last commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from vigil import topics
from vigil.bus.base import Bus, Record
from vigil.errors import BadInput, VigilError
from vigil.runtime import metrics
from vigil.v1.dead_letters_pb2 import DeadLetter

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Delivery(Generic[M]):
    record: Record
    message: M


BatchHandler = Callable[[list[Delivery[M]]], Awaitable[None]]


class Publisher:
    """Serialises a message once and puts it on the bus, counting it for the service."""

    def __init__(self, bus: Bus, service: str) -> None:
        self.bus = bus
        self.service = service

    async def publish(self, topic: topics.Topic, key: str, message: Message) -> None:
        if not isinstance(message, topic.message):
            raise TypeError(f"{topic.name} carries {topic.message.__name__}, not {type(message)}")
        await self.bus.publish(topic.name, key, message.SerializeToString())
        metrics.MESSAGES_PUBLISHED.labels(self.service, topic.name).inc()


@dataclass
class Retry:
    initial_s: float = 0.2
    max_s: float = 10.0
    unexpected_attempts: int = 3  # a bug is not retried forever: dead-letter after this many


class ConsumeLoop(Generic[M]):
    def __init__(
        self,
        bus: Bus,
        *,
        service: str,
        topic: topics.Topic,
        group: str,
        handle: BatchHandler[M],
        max_batch: int = 1,
        poll_timeout_s: float = 0.5,
        retry: Retry | None = None,
    ) -> None:
        self.bus = bus
        self.service = service
        self.topic = topic
        self.group = group
        self.handle = handle
        self.max_batch = max_batch
        self.poll_timeout_s = poll_timeout_s
        self.retry = retry or Retry()
        self.publisher = Publisher(bus, service)
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self.bus.consumer([self.topic.name], self.group)
        await consumer.start()
        self.started.set()
        try:
            while not stop.is_set():
                records = await consumer.poll(self.max_batch, self.poll_timeout_s)
                for (topic, partition), lag in consumer.lag().items():
                    metrics.CONSUMER_LAG.labels(self.service, self.group, topic, partition).set(lag)
                if not records:
                    continue
                metrics.MESSAGES_CONSUMED.labels(self.service, self.topic.name).inc(len(records))
                if await self._handle_batch(records, stop):
                    await consumer.commit(records)
        finally:
            await consumer.stop()

    async def _handle_batch(self, records: list[Record], stop: asyncio.Event) -> bool:
        """True when every record is handled or dead-lettered, False when stopped before."""
        deliveries: list[Delivery[M]] = []
        for record in records:
            try:
                message = self.topic.message.FromString(record.value)
            except DecodeError as exc:
                await self._dead_letter(
                    record, f"cannot decode as {self.topic.message.DESCRIPTOR.full_name}: {exc}"
                )
                continue
            deliveries.append(Delivery(record, message))  # type: ignore[arg-type]
        if not deliveries:
            return True
        metrics.BATCH_SIZE.labels(self.service, self.topic.name).observe(len(deliveries))
        return await self._handle_with_retry(deliveries, stop)

    async def _handle_with_retry(self, deliveries: list[Delivery[M]], stop: asyncio.Event) -> bool:
        delay = self.retry.initial_s
        unexpected = 0
        while True:
            started = time.perf_counter()
            try:
                await self.handle(deliveries)
                metrics.HANDLE_SECONDS.labels(self.service, self.topic.name).observe(
                    time.perf_counter() - started
                )
                return True
            except BadInput as exc:
                self._count_error("bad_input")
                return await self._isolate(deliveries, str(exc), stop)
            except VigilError as exc:
                if not exc.retriable:
                    self._count_error("bad_input")
                    return await self._isolate(deliveries, str(exc), stop)
                self._count_error("retriable")
                log.warning(
                    "handling failed, retrying",
                    extra={"service": self.service, "topic": self.topic.name,
                           "retry_in_s": round(delay, 2), "error": str(exc)},
                )
            except Exception as exc:
                self._count_error("unexpected")
                unexpected += 1
                log.exception(
                    "handler raised", extra={"service": self.service, "topic": self.topic.name}
                )
                if unexpected >= self.retry.unexpected_attempts:
                    return await self._isolate(deliveries, f"{type(exc).__name__}: {exc}", stop)
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return False  # stopping: leave it uncommitted, the group re-reads it
            except TimeoutError:
                delay = min(delay * 2, self.retry.max_s)

    async def _isolate(
        self, deliveries: list[Delivery[M]], reason: str, stop: asyncio.Event
    ) -> bool:
        """Dead-letter the record at fault: alone, it is the one; in a batch, retry one by one."""
        if len(deliveries) == 1:
            await self._dead_letter(deliveries[0].record, reason)
            return True
        for delivery in deliveries:
            if not await self._handle_with_retry([delivery], stop):
                return False
        return True

    async def _dead_letter(self, record: Record, reason: str) -> None:
        log.error(
            "record sent to dead letters",
            extra={"service": self.service, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "reason": reason},
        )
        letter = DeadLetter(
            topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
            value=record.value, reason=reason, consumer_group=self.group,
            failed_at_us=int(time.time() * 1e6),
        )
        await self.publisher.publish(topics.DEAD_LETTERS, record.key, letter)
        metrics.DEAD_LETTERS.labels(self.service, record.topic).inc()

    def _count_error(self, kind: str) -> None:
        metrics.HANDLER_ERRORS.labels(self.service, self.topic.name, kind).inc()


def per_message(handle: Callable[[Delivery[M]], Awaitable[None]]) -> BatchHandler[M]:
    """Adapt a one-record handler to the batch interface, handling records in order."""

    async def handle_batch(deliveries: Sequence[Delivery[M]]) -> None:
        for delivery in deliveries:
            await handle(delivery)

    return handle_batch
