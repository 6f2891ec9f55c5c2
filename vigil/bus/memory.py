"""The in-process bus: Kafka's semantics (partitions by key, consumer groups, committed offsets,
size-bounded retention, compacted topics) inside one event loop, for `vigil run` and
`vigil analyze`."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import time
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from vigil import topics
from vigil.bus.base import Bus, Consumer, Record, TopicPartition
from vigil.bus.partitioning import assign_ranges, partition_for

log = logging.getLogger(__name__)


@dataclass
class _Partition:
    compacted: bool = False
    # Oldest first. Offsets are contiguous, except on a compacted topic, whose log keeps only the
    # newest record of each key (compaction at once, where Kafka does it in the background).
    log: deque[Record] = field(default_factory=deque)
    end_offset: int = 0  # the next record's offset
    latest: dict[str, int] = field(default_factory=dict)  # compacted: key -> its record's offset

    @property
    def base_offset(self) -> int:
        """The oldest offset held; older records were dropped by retention or compaction."""
        return self.log[0].offset if self.log else self.end_offset

    def index(self, offset: int) -> int:
        """Position in the log of the first record at or after `offset`."""
        if self.compacted:
            return bisect.bisect_left(self.log, offset, key=lambda r: r.offset)
        return max(0, offset - self.base_offset)

    def append(self, record: Record) -> None:
        if self.compacted:
            older = self.latest.get(record.key)
            if older is not None:
                del self.log[self.index(older)]
            self.latest[record.key] = record.offset
        self.log.append(record)
        self.end_offset += 1

    def drop_oldest(self) -> None:
        record = self.log.popleft()
        if self.compacted:
            del self.latest[record.key]


@dataclass
class _Group:
    members: dict[str, MemoryConsumer] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryBus(Bus):
    """Retention keeps `retention_records` per partition; a publisher that would drop a record
    some reading group has not committed waits instead (the in-process form of backpressure).
    A compacted topic keeps only the newest record of each key, so its memory is bounded by its
    keys rather than by its traffic."""

    def __init__(
        self,
        partitions: int = 8,
        retention_records: int = 2000,
        compacted: Collection[str] = topics.COMPACTED,
    ) -> None:
        self.partitions = partitions
        self.retention_records = retention_records
        self.compacted = frozenset(compacted)
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._new_data = asyncio.Condition()
        self._committed_more = asyncio.Condition()
        self._member_ids = itertools.count(1)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for group in self._groups.values():
            for member in list(group.members.values()):
                await member.stop()

    async def ensure_topics(self, names: Sequence[str]) -> None:
        for name in names:
            self._create(name)

    def _create(self, name: str) -> list[_Partition]:
        if name not in self._topics:
            self._topics[name] = [
                _Partition(compacted=name in self.compacted) for _ in range(self.partitions)
            ]
            for group in self._groups.values():
                if any(name in m.topics for m in group.members.values()):
                    self._rebalance(group)
        return self._topics[name]

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        partitions = self._create(topic)
        number = partition_for(key, len(partitions))
        part = partitions[number]
        while len(part.log) >= self.retention_records:
            floor = self._committed_floor(topic, number)
            if floor is None or floor > part.base_offset:
                part.drop_oldest()  # every group is past it (or nobody reads the topic)
            else:
                # Backpressure instead of loss: wait until the slowest group commits.
                async with self._committed_more:
                    await self._committed_more.wait()
        part.append(
            Record(topic, number, part.end_offset, key, bytes(value), int(time.time() * 1000))
        )
        async with self._new_data:
            self._new_data.notify_all()

    async def partition_of(self, topic: str, key: str) -> int:
        return partition_for(key, len(self._create(topic)))

    async def end_offset(self, topic: str, partition: int) -> int:
        return self._create(topic)[partition].end_offset

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Record]:
        self._create(topic)
        return self._read((topic, partition), start, end - start, end)

    def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        return MemoryConsumer(self, list(topics), group, f"{group}-{next(self._member_ids)}")

    # -- group coordination -------------------------------------------------------------------

    def _join(self, member: MemoryConsumer) -> None:
        group = self._groups.setdefault(member.group, _Group())
        group.members[member.member_id] = member
        self._rebalance(group)

    def _leave(self, member: MemoryConsumer) -> None:
        group = self._groups.get(member.group)
        if group and group.members.pop(member.member_id, None) is not None:
            self._rebalance(group)

    def _rebalance(self, group: _Group) -> None:
        """Eager rebalance, like Kafka's: every member restarts from the committed offsets."""
        topics = {t for m in group.members.values() for t in m.topics if t in self._topics}
        assignment = assign_ranges(list(group.members), sorted(topics), self.partitions)
        for member_id, member in group.members.items():
            member._assign(
                {tp: self._start_offset(group, tp) for tp in assignment[member_id]}
            )

    def _start_offset(self, group: _Group, tp: TopicPartition) -> int:
        part = self._topics[tp[0]][tp[1]]
        return max(group.committed.get(tp, part.base_offset), part.base_offset)

    def _committed_floor(self, topic: str, partition: int) -> int | None:
        """The lowest committed offset among the groups reading the topic now."""
        floors = [
            group.committed.get((topic, partition), 0)
            for group in self._groups.values()
            if any(topic in m.topics for m in group.members.values())
        ]
        return min(floors) if floors else None

    async def _notify_committed(self) -> None:
        async with self._committed_more:
            self._committed_more.notify_all()

    def _commit(self, member: MemoryConsumer, offsets: dict[TopicPartition, int]) -> None:
        group = self._groups[member.group]
        for tp, offset in offsets.items():
            if tp in member._positions:
                group.committed[tp] = max(offset, group.committed.get(tp, 0))
            else:
                log.warning(
                    "commit skipped: partition moved to another member",
                    extra={"group": member.group, "topic": tp[0], "partition": tp[1]},
                )

    def _read(
        self, tp: TopicPartition, position: int, limit: int, end: int | None = None
    ) -> list[Record]:
        """Up to `limit` records from `position` on, before `end` if given."""
        part = self._topics[tp[0]][tp[1]]
        start = part.index(position)
        records = itertools.islice(part.log, start, start + max(0, limit))
        return [r for r in records if end is None or r.offset < end]

    def _end_offset(self, tp: TopicPartition) -> int:
        return self._topics[tp[0]][tp[1]].end_offset


class MemoryConsumer(Consumer):
    def __init__(self, bus: MemoryBus, topics: list[str], group: str, member_id: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self.member_id = member_id
        self._positions: dict[TopicPartition, int] = {}
        self._started = False

    def _assign(self, positions: dict[TopicPartition, int]) -> None:
        self._positions = positions

    async def start(self) -> None:
        self._started = True
        self.bus._join(self)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            self.bus._leave(self)
            self._positions = {}
            await self.bus._notify_committed()

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            records = self._take(max_records)
            if records:
                return records
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or not self._started:
                return []
            async with self.bus._new_data:
                try:
                    await asyncio.wait_for(self.bus._new_data.wait(), remaining)
                except TimeoutError:
                    return []

    def _take(self, max_records: int) -> list[Record]:
        records: list[Record] = []
        # Round-robin over partitions so one busy camera does not starve the others.
        for tp in sorted(self._positions):
            share = max(1, (max_records - len(records)) // max(1, len(self._positions)))
            batch = self.bus._read(tp, self._positions[tp], share)
            if batch:
                self._positions[tp] = batch[-1].offset + 1
                records.extend(batch)
            if len(records) >= max_records:
                break
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = (r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        self.bus._commit(self, offsets)
        await self.bus._notify_committed()

    def assignment(self) -> set[TopicPartition]:
        return set(self._positions)

    def lag(self) -> dict[TopicPartition, int]:
        return {tp: self.bus._end_offset(tp) - pos for tp, pos in self._positions.items()}
