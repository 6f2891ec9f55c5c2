"""The Kafka adapter, through aiokafka. Offsets are committed by hand, after the side effect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
)
from aiokafka.structs import OffsetAndMetadata

from vigil.bus.base import Bus, Consumer, Record
from vigil.bus.base import TopicPartition as TP
from vigil.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a 4K JPEG frame fits


async def connect_with_backoff(
    what: str,
    servers: str,
    connect: Callable[[], Awaitable[T]],
    initial_s: float = 0.5,
    max_s: float = 15.0,
) -> T:
    """Retry `connect` until it succeeds, doubling the wait, with one log line per failure."""
    delay = initial_s
    attempt = 1
    while True:
        try:
            return await connect()
        except KafkaConnectionError as exc:
            log.warning(
                "broker unreachable, retrying",
                extra={"what": what, "servers": servers, "attempt": attempt,
                       "retry_in_s": round(delay, 2), "error": str(exc)},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_s)
            attempt += 1


class KafkaBus(Bus):
    def __init__(
        self,
        bootstrap_servers: str,
        partitions: int = 8,
        client_id: str = "vigil",
        replication_factor: int = 1,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 15.0,
    ) -> None:
        self.servers = bootstrap_servers
        self.partitions = partitions
        self.client_id = client_id
        self.replication_factor = replication_factor
        self.backoff = (backoff_initial_s, backoff_max_s)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        async def connect() -> AIOKafkaProducer:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.servers,
                client_id=self.client_id,
                acks="all",
                linger_ms=2,
                max_request_size=MAX_MESSAGE_BYTES,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            return producer

        self._producer = await connect_with_backoff(
            "producer", self.servers, connect, *self.backoff
        )
        log.info("connected to broker", extra={"servers": self.servers})

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, names: Sequence[str]) -> None:
        async def connect() -> AIOKafkaAdminClient:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.servers, client_id=self.client_id)
            await admin.start()
            return admin

        admin = await connect_with_backoff("admin", self.servers, connect, *self.backoff)
        try:
            existing = set(await admin.list_topics())
            missing = [n for n in names if n not in existing]
            for name in missing:  # one at a time: an existing one must not fail the others
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(name, self.partitions, self.replication_factor)]
                    )
        finally:
            await admin.close()

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.publish before start()")
        try:
            await self._producer.send_and_wait(topic, value, key=key.encode())
        except KafkaError as exc:
            raise Unavailable(f"publish to {topic} failed: {exc}") from exc

    def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        return KafkaConsumer(self, list(topics), group)


class KafkaConsumer(Consumer):
    def __init__(self, bus: KafkaBus, topics: list[str], group: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self._consumer: AIOKafkaConsumer | None = None
        self._positions: dict[TP, int] = {}  # for lag: next offset per partition polled

    async def start(self) -> None:
        async def connect() -> AIOKafkaConsumer:
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self.bus.servers,
                client_id=self.bus.client_id,
                group_id=self.group,
                enable_auto_commit=False,
                # The test broker's end offsets are unreliable: start from the committed offset,
                # or from the beginning for a new group.
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
                metadata_max_age_ms=5000,
                # Same partition numbers of every topic to one member, as the in-process bus.
                partition_assignment_strategy=(RangePartitionAssignor,),
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
            )
            try:
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            return consumer

        self._consumer = await connect_with_backoff(
            f"consumer {self.group}", self.bus.servers, connect, *self.bus.backoff
        )

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            raise RuntimeError("consumer used before start()")
        return self._consumer

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        batches = await self._client().getmany(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        records = [
            Record(tp.topic, tp.partition, m.offset, (m.key or b"").decode(), m.value or b"",
                   m.timestamp)
            for tp, messages in batches.items()
            for m in messages
        ]
        for r in records:
            self._positions[(r.topic, r.partition)] = r.offset + 1
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        owned = self._client().assignment()
        moved = [tp for tp in offsets if tp not in owned]
        for tp in moved:
            log.warning(
                "commit skipped: partition moved to another member",
                extra={"group": self.group, "topic": tp.topic, "partition": tp.partition},
            )
            del offsets[tp]
        if not offsets:
            return
        try:
            await self._client().commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except CommitFailedError as exc:
            # A rebalance took the partitions: the new owner re-reads from the last commit.
            log.warning("commit failed after a rebalance", extra={"error": str(exc)})
        except KafkaConnectionError as exc:
            raise Unavailable(f"commit failed: {exc}") from exc

    def assignment(self) -> set[TP]:
        return {(tp.topic, tp.partition) for tp in self._client().assignment()}

    def lag(self) -> dict[TP, int]:
        client = self._client()
        lags: dict[TP, int] = {}
        for tp in client.assignment():
            high = client.highwater(tp)
            position = self._positions.get((tp.topic, tp.partition))
            if high is not None and position is not None:
                lags[(tp.topic, tp.partition)] = max(0, high - position)
        return lags
