"""The bus: publish with a key, consume as a consumer group, commit after handling.

Two adapters implement it with the same semantics: `KafkaBus` (aiokafka, distributed) and
`MemoryBus` (in-process, for `vigil run` and `vigil analyze`). The key picks the partition, so one
key's records stay in order; a group splits a topic's partitions between its members; a member
resumes from the group's committed offset after a restart or a rebalance.

A partition can also be read back outside any group (`end_offset`, `read`): a service rebuilds
its state from the stream that way after a rebalance. On a compacted topic (`vigil.topics`) the
bus keeps at least the latest record of each key, and an empty value is a tombstone that deletes
the key.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    timestamp_ms: int


TopicPartition = tuple[str, int]


class Consumer(abc.ABC):
    """One member of a consumer group."""

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """Leave the group; its partitions go to the remaining members."""

    @abc.abstractmethod
    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to `max_records` records, waiting at most `timeout_s` for the first."""

    @abc.abstractmethod
    async def commit(self, records: Sequence[Record]) -> None:
        """Mark these records handled: the group resumes after the last of each partition."""

    @abc.abstractmethod
    def assignment(self) -> set[TopicPartition]: ...

    @abc.abstractmethod
    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet consumed, per assigned partition, where the bus knows it."""


class Bus(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Connect; retries with back-off while the servers are unreachable."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def ensure_topics(self, names: Sequence[str]) -> None:
        """Create the topics that do not exist, with the bus's partition count."""

    @abc.abstractmethod
    async def publish(self, topic: str, key: str, value: bytes) -> None:
        """Append one record; returns once the bus has it. An empty value is a tombstone."""

    @abc.abstractmethod
    async def partition_of(self, topic: str, key: str) -> int:
        """The partition `publish` puts this key on."""

    @abc.abstractmethod
    async def end_offset(self, topic: str, partition: int) -> int:
        """The offset the partition's next record will get."""

    @abc.abstractmethod
    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        """The records of one partition with start <= offset < end that the bus still holds, in
        order; retention and compaction leave gaps. Outside any group: commits nothing."""

    @abc.abstractmethod
    def consumer(self, topics: Sequence[str], group: str) -> Consumer: ...
