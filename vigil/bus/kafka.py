"""The Kafka adapter, through aiokafka. Offsets are committed by hand, after the side effect.

Reading a partition back (`end_offset`, `read`) goes through one more consumer, without a group:
assign, seek, fetch. Its end is the high-water mark of a fetch response, not ListOffsets, which
the test broker gets wrong for multi-record batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
)
from aiokafka.structs import OffsetAndMetadata

from vigil import topics
from vigil.bus.base import Bus, Consumer, Record
from vigil.bus.base import TopicPartition as TP
from vigil.bus.partitioning import partition_for
from vigil.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a 4K JPEG frame fits
READ_BATCH = 500  # records per fetch when reading a partition back
READ_TIMEOUT_S = 30.0  # a read back that gets nothing for this long: the broker is unavailable


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
        compacted: Collection[str] = topics.COMPACTED,
    ) -> None:
        self.servers = bootstrap_servers
        self.partitions = partitions
        self.client_id = client_id
        self.replication_factor = replication_factor
        self.backoff = (backoff_initial_s, backoff_max_s)
        self.compacted = frozenset(compacted)
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None  # reads partitions back, no group
        self._reading = asyncio.Lock()  # one read back at a time: each one reassigns the reader

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
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
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
                config = {"cleanup.policy": "compact"} if name in self.compacted else {}
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(
                        [NewTopic(name, self.partitions, self.replication_factor,
                                  topic_configs=config)]
                    )
        finally:
            await admin.close()

    def _client(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaBus used before start()")
        return self._producer

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        try:
            # An empty value goes as null: Kafka's tombstone, which compaction deletes the key for.
            await self._client().send_and_wait(topic, value or None, key=key.encode())
        except KafkaError as exc:
            raise Unavailable(f"publish to {topic} failed: {exc}") from exc

    async def partition_of(self, topic: str, key: str) -> int:
        """As the producer's default partitioner: murmur2 of the key over the topic's partitions."""
        try:
            numbers = sorted(await self._client().partitions_for(topic))
        except KafkaError as exc:
            raise Unavailable(f"metadata of {topic} unavailable: {exc}") from exc
        return numbers[partition_for(key, len(numbers))]

    async def end_offset(self, topic: str, partition: int) -> int:
        async with self._reading:
            reader, tp = await self._assign(topic, partition)
            try:
                # Fetch from ListOffsets' end (exact on Kafka, at most one batch short on the test
                # broker): the response's high-water mark is the end.
                listed = (await reader.end_offsets([tp]))[tp]
                reader.seek(tp, listed)
                deadline = _Deadline(tp)
                while (highwater := reader.highwater(tp)) is None:
                    deadline.check()
                    await reader.getmany(tp, timeout_ms=200, max_records=READ_BATCH)
            except KafkaError as exc:
                raise Unavailable(f"end of {topic}/{partition} unknown: {exc}") from exc
            return int(highwater)

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        if end <= start:
            return []
        async with self._reading:
            reader, tp = await self._assign(topic, partition)
            records: list[Record] = []
            try:
                reader.seek(tp, start)
                deadline = _Deadline(tp)
                while True:
                    position = await reader.position(tp)
                    highwater = reader.highwater(tp)
                    if position >= end or (highwater is not None and position >= highwater):
                        return records
                    deadline.check()
                    batches = await reader.getmany(tp, timeout_ms=200, max_records=READ_BATCH)
                    if batches:
                        deadline = _Deadline(tp)
                    records += [_record(tp, m) for m in batches.get(tp, []) if m.offset < end]
            except KafkaError as exc:
                raise Unavailable(f"reading {topic}/{partition} failed: {exc}") from exc

    def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        return KafkaConsumer(self, list(topics), group)

    async def _assign(self, topic: str, partition: int) -> tuple[AIOKafkaConsumer, TopicPartition]:
        if self._reader is None:
            self._reader = await connect_with_backoff(
                "reader", self.servers, self._start_reader, *self.backoff
            )
        reader = self._reader
        assert reader is not None  # started above; aiokafka has no types for mypy to see it
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        return reader, tp

    async def _start_reader(self) -> AIOKafkaConsumer:
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.servers,
            client_id=f"{self.client_id}-reader",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # before the log start (retention): from there
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_wait_ms=100,  # at the end of a partition, answer soon
        )
        try:
            await reader.start()
        except BaseException:
            await reader.stop()
            raise
        return reader


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
        records = [_record(tp, m) for tp, messages in batches.items() for m in messages]
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


def _record(tp: TopicPartition, m: ConsumerRecord) -> Record:
    return Record(tp.topic, tp.partition, m.offset, (m.key or b"").decode(), m.value or b"",
                  m.timestamp)


class _Deadline:
    """A read back that makes no progress for READ_TIMEOUT_S: the broker is unavailable."""

    def __init__(self, tp: TopicPartition) -> None:
        self.tp = tp
        self.at = time.monotonic() + READ_TIMEOUT_S

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise Unavailable(f"reading {self.tp.topic}/{self.tp.partition}: no progress")
