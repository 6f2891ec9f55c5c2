"""The repository service: every violent event, with its clip, poster, culprits and faces, stored
in MongoDB (documents) and the media store (objects), exactly once per event.

Consumer group and ordering
- One consumer group, `repository`, reads `events`, `frames` and `verdicts` together. All three
  are keyed by camera id, so one camera's records sit on the same partition number of each
  topic, and with the same partition count a co-partitioning assignment (Kafka's range assignor;
  the in-process bus has a single member) gives each member whole cameras.
- Across topics the records come interleaved in no fixed order; the per-camera join
  (`join.py`) orders them by frame index: an event update waits for the frames it speaks of, and
  the frame ring (`pre_roll_s + event_lag_s`) keeps the frames an event may still ask for.

Commits (at least once, and idempotent)
- Nothing is committed before the outputs of the records read are stored: media first, then
  the document (`writer.py`); a store that is down (`Unavailable`) is retried with back-off
  while nothing more is read and nothing is committed.
- Per partition the commit stops at the oldest record a camera still pins (`joins.py`): the
  ring's frames, the frames and verdicts of the clip part being written, the opening of an event
  not stored yet. After a crash the group re-reads exactly that and rebuilds every camera's
  state; the store says which events are stored already (skipped) or partly stored (their clip
  goes on after the stored parts), and every write is an idempotent overwrite of keys derived from
  the event id. So a crash anywhere, between the media and the document writes included, loses
  nothing and duplicates nothing.

The CPU work (JPEG decoding, H.264 encoding, face finding) runs in a worker thread, one batch at
a time, so the event loop stays free for the other services of the process. Retention runs every
`retention_sweep_s` beside the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError, Message
from pymongo.asynchronous.database import AsyncDatabase

from services.repository import metrics
from services.repository.config import RepositoryConfig
from services.repository.inputs import EventIn, Input, from_wire
from services.repository.join import FindFace
from services.repository.joins import Delivered, Joins, TopicPartition
from services.repository.outputs import Output, StoredProgress
from services.repository.store import EventStore
from services.repository.writer import EventWriter
from vigil import topics
from vigil.bus import Bus, MemoryBus
from vigil.bus.base import Consumer, Record
from vigil.errors import BadInput, Unavailable
from vigil.media import MediaStore
from vigil.runtime import metrics as runtime_metrics
from vigil.runtime.worker import Publisher, Retry
from vigil.v1.dead_letters_pb2 import DeadLetter

log = logging.getLogger(__name__)

SERVICE = "repository"
GROUP = "repository"
TOPICS = (topics.EVENTS, topics.FRAMES, topics.VERDICTS)
MESSAGE_OF = {topic.name: topic.message for topic in TOPICS}
POLL_RECORDS = 64
POLL_TIMEOUT_S = 0.5


def default_held_limit(bus: Bus) -> int | None:
    """The in-process bus holds publishers back past `retention_records` uncommitted records per
    partition: keep well below it. Kafka keeps records by time, so no limit there."""
    return bus.retention_records // 2 if isinstance(bus, MemoryBus) else None


class RepositoryService:
    name = SERVICE

    def __init__(
        self,
        bus: Bus,
        media: MediaStore,
        db: AsyncDatabase[Any],
        config: RepositoryConfig | None = None,
        find_face: FindFace | None = None,
        *,
        retry: Retry | None = None,
        held_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.media = media
        self.config = config or RepositoryConfig()
        self.store = EventStore(db, media)
        self.writer = EventWriter(self.store, media)
        self.retry = retry or Retry()
        self.held_limit = held_limit if held_limit is not None else default_held_limit(bus)
        self.publisher = Publisher(bus, SERVICE)
        self._find_face = find_face
        self._clock = clock
        self._ready = False
        self._retries = 0  # attempts that found a store unavailable, so far

    def is_ready(self) -> bool:
        return self._ready

    async def run(self, stop: asyncio.Event) -> None:
        find_face = self._find_face or await self._load_face_finder()
        if not await self._until_done(stop, "media store", self.media.start):
            return
        if not await self._until_done(stop, "indexes", self.store.ensure_indexes):
            return
        await self.bus.ensure_topics([t.name for t in (*TOPICS, topics.DEAD_LETTERS)])
        work_dir = Path(tempfile.mkdtemp(prefix="vigil-repository-"))
        joins = Joins(self.config, work_dir, find_face, held_limit=self.held_limit)
        consumer = self.bus.consumer([t.name for t in TOPICS], GROUP)
        await consumer.start()
        self._ready = True
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._sweep_forever(stop))
                group.create_task(self._consume(consumer, joins, stop))
        finally:
            self._ready = False
            await consumer.stop()
            shutil.rmtree(work_dir, ignore_errors=True)

    async def sweep_once(self) -> int:
        """Delete the events older than `retention_days` with their media; how many."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.retention_days)
        expired = await self.store.expire(cutoff)
        metrics.EVENTS_EXPIRED.inc(expired)
        metrics.STORAGE_BYTES.set(await self.store.stored_bytes())
        return expired

    # -- the consumer --------------------------------------------------------------------------

    async def _consume(self, consumer: Consumer, joins: Joins, stop: asyncio.Event) -> None:
        consumed: dict[TopicPartition, int] = {}  # next offset to handle, per partition
        committed: dict[TopicPartition, int] = {}
        while not stop.is_set():
            records = await consumer.poll(POLL_RECORDS, POLL_TIMEOUT_S)
            retries_before = self._retries
            assigned = consumer.assignment()
            for tp in [tp for tp in consumed if tp not in assigned]:
                consumed.pop(tp)  # taken away: a later owner (maybe us again) re-reads it
                committed.pop(tp, None)
            joins.keep_partitions(assigned)
            # A rebalance re-delivers from the last commit what this process has handled.
            fresh = [r for r in records if r.offset >= consumed.get((r.topic, r.partition), 0)]
            for topic_name in {r.topic for r in fresh}:
                count = sum(1 for r in fresh if r.topic == topic_name)
                runtime_metrics.MESSAGES_CONSUMED.labels(SERVICE, topic_name).inc(count)
            delivered = await self._deliveries(fresh, joins, stop)
            if delivered is None:
                return  # stopping while the document store was down: nothing was handled
            for record in fresh:
                tp = (record.topic, record.partition)
                consumed[tp] = max(consumed.get(tp, 0), record.offset + 1)
            outputs, failed = await asyncio.to_thread(
                self._step, joins, delivered, self._clock(), dict(consumed)
            )
            for record, reason in failed:
                await self._dead_letter(record, reason)
            if not await self._write(outputs, stop):
                return  # stopping: uncommitted, so the group re-reads it
            if self._retries != retries_before:
                joins.touch_all(self._clock())  # stalled on a store: not the cameras' fault
            await self._commit(consumer, joins.commit_offsets(consumed), committed, stop)

    async def _deliveries(
        self, records: Sequence[Record], joins: Joins, stop: asyncio.Event
    ) -> list[tuple[Record, Delivered]] | None:
        """Decode the records (bad ones go to the dead letters) and, for each opening not seen
        yet, ask the store what it holds of the event already."""
        decoded: list[tuple[Record, Input]] = []
        for record in records:
            try:
                message: Message = MESSAGE_OF[record.topic].FromString(record.value)
                decoded.append((record, from_wire(message)))
            except (DecodeError, BadInput) as exc:
                await self._dead_letter(record, f"{type(exc).__name__}: {exc}")
        progress: dict[str, StoredProgress | None] = {}
        for _, value in decoded:
            if joins.needs_progress(value) and isinstance(value, EventIn):
                event_id = value.event_id
                if event_id in progress:
                    continue

                async def look_up(event_id: str = event_id) -> None:
                    progress[event_id] = await self.store.progress(event_id)

                if not await self._until_done(stop, "event progress", look_up):
                    return None
        deliveries = []
        for record, value in decoded:
            known = progress.get(value.event_id) if isinstance(value, EventIn) else None
            deliveries.append((record, Delivered(record.partition, record.offset, value, known)))
        return deliveries

    def _step(
        self,
        joins: Joins,
        delivered: Sequence[tuple[Record, Delivered]],
        now: float,
        consumed: dict[TopicPartition, int],
    ) -> tuple[list[Output], list[tuple[Record, str]]]:
        """The pure part, in a worker thread: records in, outputs out (a record that breaks the
        join is dead-lettered, the others go on)."""
        outputs: list[Output] = []
        failed: list[tuple[Record, str]] = []
        for record, item in delivered:
            try:
                outputs += joins.handle([item], now)
            except Exception as exc:
                log.exception("record broke the join", extra={"topic": record.topic,
                                                              "offset": record.offset})
                failed.append((record, f"{type(exc).__name__}: {exc}"))
        outputs += joins.expire_idle(now)
        outputs += joins.cut_held(consumed)
        return outputs, failed

    async def _write(self, outputs: Sequence[Output], stop: asyncio.Event) -> bool:
        for output in outputs:
            if not await self._until_done(stop, type(output).__name__, self._writer_of(output)):
                return False
        return True

    def _writer_of(self, output: Output) -> Callable[[], Awaitable[None]]:
        return lambda: self.writer.write(output)

    async def _commit(
        self,
        consumer: Consumer,
        offsets: dict[TopicPartition, int],
        committed: dict[TopicPartition, int],
        stop: asyncio.Event,
    ) -> None:
        advanced = {tp: o for tp, o in offsets.items() if o > committed.get(tp, 0)}
        if not advanced:
            return
        marks = [Record(topic, partition, offset - 1, "", b"", 0)
                 for (topic, partition), offset in advanced.items()]  # fmt: skip

        async def commit() -> None:
            await consumer.commit(marks)

        if await self._until_done(stop, "commit", commit):
            committed.update(advanced)

    async def _until_done(
        self, stop: asyncio.Event, what: str, attempt: Callable[[], Awaitable[Any]]
    ) -> bool:
        """Call until it succeeds: `Unavailable` is retried with back-off for as long as it takes;
        another error a few times (then the thing is given up, loudly). False when stopped."""
        delay = self.retry.initial_s
        unexpected = 0
        while True:
            try:
                await attempt()
                return True
            except Unavailable as exc:
                self._retries += 1
                metrics.STORE_RETRIES.labels(what).inc()
                log.warning("store unavailable, retrying", extra={
                    "service": SERVICE, "what": what, "retry_in_s": round(delay, 2),
                    "error": str(exc)})  # fmt: skip
            except Exception:
                unexpected += 1
                log.exception("write failed", extra={"service": SERVICE, "what": what})
                if unexpected >= self.retry.unexpected_attempts:
                    log.error("given up", extra={"service": SERVICE, "what": what})
                    return True
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return False
            except TimeoutError:
                delay = min(delay * 2, self.retry.max_s)

    async def _dead_letter(self, record: Record, reason: str) -> None:
        log.error("record sent to dead letters", extra={
            "service": SERVICE, "topic": record.topic, "partition": record.partition,
            "offset": record.offset, "reason": reason})  # fmt: skip
        letter = DeadLetter(
            topic=record.topic, partition=record.partition, offset=record.offset, key=record.key,
            value=record.value, reason=reason, consumer_group=GROUP,
            failed_at_us=int(time.time() * 1e6),
        )  # fmt: skip
        await self.publisher.publish(topics.DEAD_LETTERS, record.key, letter)
        runtime_metrics.DEAD_LETTERS.labels(SERVICE, record.topic).inc()

    # -- retention and models ------------------------------------------------------------------

    async def _sweep_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                expired = await self.sweep_once()
                if expired:
                    log.info("expired events removed", extra={"count": expired})
            except Unavailable as exc:
                log.warning("retention sweep failed, next round retries", extra={"error": str(exc)})
            except Exception:
                log.exception("retention sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.retention_sweep_s)

    async def _load_face_finder(self) -> FindFace:
        from services.repository.faces import FaceDetector  # loads TensorFlow Lite: only here

        detector = await asyncio.to_thread(FaceDetector)
        return detector.find_face
