"""The repository service over the in-process bus, against the real servers: synthetic frames
(real JPEGs), verdicts and an event in, one stored event out; crashes and outages lose nothing
and duplicate nothing."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import cv2
import numpy as np
import pytest
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.repository.bench import load_frames
from services.repository.config import RepositoryConfig
from services.repository.service import GROUP, RepositoryService
from tests import servers
from tests.services.repository.restartable import mongo_server, s3_server
from tests.services.repository.test_encode import PLAYER_PAGE
from vigil import topics
from vigil.bus import MemoryBus
from vigil.bus.base import Bus, Consumer, Record, TopicPartition
from vigil.compose import Runtime, build_service
from vigil.errors import ConfigError
from vigil.media import LocalMediaStore, MediaStore, S3MediaStore
from vigil.runtime.worker import Retry
from vigil.settings import MongoSettings, Settings
from vigil.v1.dead_letters_pb2 import DeadLetter
from vigil.v1.detections_pb2 import Box
from vigil.v1.events_pb2 import Culprit, Event, EventKind
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind
from vigil.v1.verdicts_pb2 import PersonVerdict, Verdicts

# Recent capture times: the retention sweep at start-up must not take the event for an old one.
BASE_US = (int(time.time()) - 3600) * 1_000_000
FPS = 10
CAMERA = "cam-7"
START, END, LAST = 20, 35, 60  # violent frames, and the last frame sent
EVENT_ID = "0d6c3f6e-1f7a-5c43-9a1e-3c2b1a0f9e8d"
CONFIG = RepositoryConfig(
    pre_roll_s=1.0, post_roll_s=1.0, event_lag_s=1.0, nominal_fps=FPS, min_crop_side_px=4
)
CLIP_FRAMES = (END - START + 1) + 2 * FPS  # pre-roll + event + post-roll at 10 fps
BOXES = {1: (10.0, 20.0, 40.0, 90.0), 2: (80.0, 20.0, 130.0, 90.0)}  # 2 is the wider one
FAST_RETRY = Retry(initial_s=0.05, max_s=0.5)


def jpeg(index: int) -> bytes:
    rng = np.random.default_rng(index)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def ref(index: int) -> FrameRef:
    return FrameRef(
        camera_id=CAMERA, source_kind=SourceKind.SOURCE_KIND_LIVE, frame_index=index,
        capture_time_us=BASE_US + index * 100_000, position_s=index / FPS, width=160, height=120,
        analysis_fps=FPS,
    )  # fmt: skip


def verdicts(index: int) -> Verdicts:
    violent = START <= index <= END
    people = [
        PersonVerdict(track_id=track, box=Box(x1=x1, y1=y1, x2=x2, y2=y2), violent=violent,
                      score=0.9 if violent else 0.1)
        for track, (x1, y1, x2, y2) in BOXES.items()
    ]  # fmt: skip
    return Verdicts(frame=ref(index), people=people)


def event(kind: EventKind.ValueType) -> Event:
    return Event(
        event_id=EVENT_ID, kind=kind, camera_id=CAMERA, source_kind=SourceKind.SOURCE_KIND_LIVE,
        start_frame=START, start_time_us=BASE_US + START * 100_000, start_position_s=START / FPS,
        end_frame=END, end_time_us=BASE_US + END * 100_000, end_position_s=END / FPS,
        culprits=[Culprit(track_id=1, max_score=0.9, mean_score=0.8),
                  Culprit(track_id=2, max_score=0.85, mean_score=0.7)],
        max_score=0.9,
    )  # fmt: skip


async def publish_stream(bus: Bus, last: int = LAST) -> None:
    """As the pipeline would: verdicts a frame late, the updates half a second late."""
    for i in range(last + 1):
        await bus.publish(topics.FRAMES.name, CAMERA,
                          Frame(ref=ref(i), jpeg=jpeg(i)).SerializeToString())  # fmt: skip
        if i >= 1:
            await bus.publish(topics.VERDICTS.name, CAMERA, verdicts(i - 1).SerializeToString())
        if i == START + 5:
            for kind in (EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_UPDATED):
                await bus.publish(topics.EVENTS.name, CAMERA, event(kind).SerializeToString())
        if i == END + 5:
            closed = event(EventKind.EVENT_KIND_CLOSED).SerializeToString()
            await bus.publish(topics.EVENTS.name, CAMERA, closed)
    await bus.publish(topics.VERDICTS.name, CAMERA, verdicts(last).SerializeToString())


def fake_face(crop: np.ndarray) -> tuple[float, float, float, float] | None:
    """A face in track 1's crops (the narrow ones), none in track 2's."""
    return (4.0, 4.0, 20.0, 20.0) if crop.shape[1] < 45 else None


# -- a bus that shows what the consumer committed -------------------------------------------------


@dataclass
class CommitLog:
    offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def of(self, topic: str) -> int:
        return sum(o for (t, _), o in self.offsets.items() if t == topic)


class WatchedConsumer(Consumer):
    def __init__(self, inner: Consumer, log: CommitLog) -> None:
        self.inner = inner
        self.log = log

    async def start(self) -> None:
        await self.inner.start()

    async def stop(self) -> None:
        await self.inner.stop()

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        return await self.inner.poll(max_records, timeout_s)

    async def commit(self, records: Sequence[Record]) -> None:
        await self.inner.commit(records)
        for r in records:
            self.log.offsets[(r.topic, r.partition)] = r.offset + 1

    def assignment(self) -> set[TopicPartition]:
        return self.inner.assignment()

    def lag(self) -> dict[TopicPartition, int]:
        return self.inner.lag()


class WatchedBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__(partitions=4, retention_records=10_000)
        self.commits = CommitLog()

    def consumer(self, topics: Sequence[str], group: str) -> Consumer:
        inner = super().consumer(topics, group)
        return WatchedConsumer(inner, self.commits) if group == GROUP else inner


# -- running the service --------------------------------------------------------------------------


@dataclass
class Running:
    service: RepositoryService
    task: asyncio.Task[None]
    stop: asyncio.Event

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)

    async def crash(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def start_service(
    bus: Bus, media: MediaStore, db: AsyncDatabase[Any], **kwargs: Any
) -> Running:
    service = RepositoryService(bus, media, db, CONFIG, fake_face, retry=FAST_RETRY, **kwargs)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await eventually(service.is_ready, "the service to start")
    return Running(service, task, stop)


async def eventually(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def stored(db: AsyncDatabase[Any]) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db["events"].find_one({"_id": EVENT_ID, "status": "stored"})
    return doc


def s3_media(url: str) -> S3MediaStore:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return S3MediaStore(
        f"{parts.hostname}:{parts.port}", parts.username or servers.S3_ACCESS_KEY,
        parts.password or servers.S3_SECRET_KEY, bucket=f"r-{uuid.uuid4().hex[:12]}",
    )  # fmt: skip


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True)
    await client.admin.command("ping")
    yield client
    await client.close()


def fresh_db(client: AsyncMongoClient[Any]) -> AsyncDatabase[Any]:
    return client[f"repo_{uuid.uuid4().hex[:10]}"]


def retries(what: str) -> float:
    return REGISTRY.get_sample_value("vigil_repository_store_retries_total", {"what": what}) or 0.0


async def check_stored_event(db: AsyncDatabase[Any], media: MediaStore, tmp_path: Path) -> None:
    """Exactly one event, its document naming exactly the objects stored under its prefix, with
    a clip of pre-roll + event + post-roll frames, the first violent frame as poster, both
    culprits' crops, a face for the one who shows it and the flag for the other."""
    assert await db["events"].count_documents({}) == 1
    doc = await stored(db)
    assert doc is not None
    assert doc["started_at"] == datetime.fromtimestamp((BASE_US + START * 100_000) / 1e6, UTC)
    assert doc["ended_at"] == datetime.fromtimestamp((BASE_US + END * 100_000) / 1e6, UTC)
    assert (doc["camera_id"], doc["source_kind"], doc["start_frame"], doc["end_frame"]) == (
        CAMERA, "live", START, END)  # fmt: skip
    culprits = {c["track_id"]: c for c in doc["culprits"]}
    assert culprits[1]["face_key"] and not culprits[1]["face_missing"]
    assert culprits[2]["face_key"] is None and culprits[2]["face_missing"]
    named = {doc["clip_key"], doc["poster_key"], culprits[1]["crop_key"], culprits[1]["face_key"],
             culprits[2]["crop_key"]}  # fmt: skip
    objects = {o.key: o.size for o in await media.list(f"events/{EVENT_ID}/")}
    assert set(objects) == named and doc["clip_parts"] == [doc["clip_key"]]
    assert doc["bytes"] == sum(objects.values())
    assert await media.read(doc["poster_key"]) == jpeg(START)
    clip = tmp_path / "clip.mp4"
    await media.get_file(doc["clip_key"], clip)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert float(stream.average_rate or 0) == pytest.approx(FPS)
    assert len(decoded) == CLIP_FRAMES


# -- tests ----------------------------------------------------------------------------------------


async def test_an_event_is_stored_with_clip_poster_culprits_and_faces(
    mongo: AsyncMongoClient[Any], tmp_path: Path
) -> None:
    bus, media, db = WatchedBus(), LocalMediaStore(tmp_path / "media"), fresh_db(mongo)
    running = await start_service(bus, media, db)
    try:
        await publish_stream(bus)
        await eventually(lambda: stored(db), "the stored event")
        await check_stored_event(db, media, tmp_path)
        # Every event update is committed once the event is stored; frames only up to the
        # ring, which a restart needs for the next event's pre-roll.
        await eventually(lambda: bus.commits.of(topics.EVENTS.name) == 3, "the events commit")
        frames_committed = bus.commits.of(topics.FRAMES.name)
        assert LAST + 1 - running.service.config.ring_seconds() * FPS - 1 <= frames_committed
        assert frames_committed < LAST + 1
    finally:
        await running.close()


async def test_a_crash_between_media_and_document_loses_and_duplicates_nothing(
    mongo: AsyncMongoClient[Any], s3_url: str, tmp_path: Path
) -> None:
    bus, media, db = WatchedBus(), s3_media(s3_url), fresh_db(mongo)
    running = await start_service(bus, media, db)
    entered = asyncio.Event()

    async def crash_here(doc: dict[str, Any]) -> bool:
        entered.set()
        await asyncio.Event().wait()  # the document write never happens
        return True

    running.service.store.upsert = crash_here  # type: ignore[method-assign]
    await publish_stream(bus)
    await asyncio.wait_for(entered.wait(), 60)
    written = {o.key for o in await media.list("events/")}
    assert len(written) == 5 and await stored(db) is None  # media in, document not
    await running.crash()
    assert bus.commits.of(topics.EVENTS.name) < 3

    restarted = await start_service(bus, media, db)
    try:
        await eventually(lambda: stored(db), "the event after the restart")
        await check_stored_event(db, media, tmp_path)
        assert {o.key for o in await media.list("events/")} == written
        await eventually(lambda: bus.commits.of(topics.EVENTS.name) == 3, "the events commit")
    finally:
        await restarted.close()


async def test_mongodb_down_retries_commits_nothing_and_stores_once_back(
    tmp_path: Path,
) -> None:
    server, url = mongo_server(tmp_path)
    server.start()
    client: AsyncMongoClient[Any] = AsyncMongoClient(url, tz_aware=True,
                                                     serverSelectionTimeoutMS=300)  # fmt: skip
    try:
        bus, media, db = WatchedBus(), LocalMediaStore(tmp_path / "media"), client["vigil"]
        running = await start_service(bus, media, db)
        server.kill()
        before = retries("event progress")
        await publish_stream(bus)
        await eventually(lambda: retries("event progress") >= before + 2, "retries")
        assert bus.commits.of(topics.EVENTS.name) == 0
        server.start()
        await eventually(lambda: stored(db), "the event once MongoDB is back")
        await check_stored_event(db, media, tmp_path)
        await running.close()
    finally:
        await client.close()
        server.kill()


async def test_s3_down_retries_commits_nothing_and_stores_once_back(
    mongo: AsyncMongoClient[Any], tmp_path: Path
) -> None:
    server, address = s3_server(tmp_path)
    server.start()
    try:
        bus, media, db = WatchedBus(), s3_media(address), fresh_db(mongo)
        running = await start_service(bus, media, db)
        server.kill()
        before = retries("PartReady")
        await publish_stream(bus)
        await eventually(lambda: retries("PartReady") > before, "a retry")
        assert await stored(db) is None
        assert bus.commits.of(topics.EVENTS.name) == 0
        server.start()
        await eventually(lambda: stored(db), "the event once S3 is back")
        await check_stored_event(db, media, tmp_path)
        await running.close()
    finally:
        server.kill()


async def test_a_record_that_cannot_be_decoded_goes_to_the_dead_letters(
    mongo: AsyncMongoClient[Any], tmp_path: Path
) -> None:
    bus, media, db = WatchedBus(), LocalMediaStore(tmp_path / "media"), fresh_db(mongo)
    running = await start_service(bus, media, db)
    reader = bus.consumer([topics.DEAD_LETTERS.name], "reader")
    await reader.start()
    try:
        await bus.publish(topics.EVENTS.name, CAMERA, b"\xff\xff not protobuf")
        letters = await eventually(lambda: reader.poll(10, 0.1), "a dead letter")
        letter = DeadLetter.FromString(letters[0].value)
        assert (letter.topic, letter.consumer_group) == (topics.EVENTS.name, GROUP)
        await eventually(lambda: bus.commits.of(topics.EVENTS.name) == 1, "the commit past it")
    finally:
        await reader.stop()
        await running.close()


async def test_retention_sweep_removes_old_events_with_their_media(
    mongo: AsyncMongoClient[Any], tmp_path: Path
) -> None:
    media, db = LocalMediaStore(tmp_path / "media"), fresh_db(mongo)
    await media.start()
    service = RepositoryService(MemoryBus(), media, db, CONFIG, fake_face)
    now = datetime.now(UTC)
    for name, age in (("old", CONFIG.retention_days + 1), ("new", CONFIG.retention_days - 1)):
        await db["events"].insert_one(
            {"_id": name, "started_at": now - timedelta(days=age), "bytes": 3}
        )
        await media.put_bytes(f"events/{name}/poster.jpg", b"jpg", "image/jpeg")
    assert await service.sweep_once() == 1
    assert [d["_id"] async for d in db["events"].find()] == ["new"]
    assert [o.key for o in await media.list()] == ["events/new/poster.jpg"]
    assert REGISTRY.get_sample_value("vigil_repository_storage_bytes") == 3


def test_compose_wires_the_repository_to_the_configured_mongodb(tmp_path: Path) -> None:
    settings = Settings(mongo=MongoSettings(url="mongodb://127.0.0.1:1", database="elsewhere"))
    runtime = Runtime(settings, MemoryBus(), LocalMediaStore(tmp_path))
    service = build_service("repository", runtime)
    assert isinstance(service, RepositoryService)
    assert service.store.collection.database.name == "elsewhere"
    assert len(runtime.on_close) == 1  # the client is closed with the process
    with pytest.raises(ConfigError, match="VIGIL_MONGO__URL"):
        build_service("repository", Runtime(Settings(), MemoryBus(), LocalMediaStore(tmp_path)))


@pytest.mark.slow
@pytest.mark.browser
async def test_a_real_fight_clip_is_stored_with_faces_or_flags_and_plays_in_chromium(
    mongo: AsyncMongoClient[Any], tmp_path: Path, data_dir: Path
) -> None:
    """A real CCTV fight clip (sent as an upload's frames), the real face finder, and the clip
    played by headless Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed")
    from services.repository.faces import FaceDetector

    pictures = load_frames(data_dir / "surveillance-fight/fight/fi005.mp4", FPS, 640, 360)
    last = len(pictures) - 1
    bus, media, db = WatchedBus(), LocalMediaStore(tmp_path / "media"), fresh_db(mongo)
    service = RepositoryService(bus, media, db, CONFIG, FaceDetector().find_face, retry=FAST_RETRY)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await eventually(service.is_ready, "the service to start")
        people = [PersonVerdict(track_id=1, box=Box(x1=180, y1=40, x2=380, y2=360), violent=True,
                                score=0.9)]  # fmt: skip
        for i, picture in enumerate(pictures):
            frame_ref = ref(i)
            frame_ref.width, frame_ref.height = 640, 360
            frame_ref.source_kind = SourceKind.SOURCE_KIND_UPLOAD
            frame_ref.end_of_stream = i == last
            ok, data = cv2.imencode(".jpg", picture)
            assert ok
            await bus.publish(topics.FRAMES.name, CAMERA,
                              Frame(ref=frame_ref, jpeg=data.tobytes()).SerializeToString())
            await bus.publish(topics.VERDICTS.name, CAMERA,
                              Verdicts(frame=frame_ref, people=people).SerializeToString())
        for kind in (EventKind.EVENT_KIND_OPENED, EventKind.EVENT_KIND_CLOSED):
            update = event(kind)
            update.culprits.pop()  # track 1 only
            await bus.publish(topics.EVENTS.name, CAMERA, update.SerializeToString())
        doc = await eventually(lambda: stored(db), "the stored event")
        [culprit] = doc["culprits"]
        assert culprit["crop_key"] and (culprit["face_key"] is None) == culprit["face_missing"]
        clip = tmp_path / "clip.mp4"
        await media.get_file(doc["clip_key"], clip)
        page = tmp_path / "page.html"
        page.write_text(PLAYER_PAGE % clip.name)
        result = await asyncio.to_thread(
            subprocess.run,
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files",
             "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert '<div id="out">played 640x360</div>' in result.stdout
    finally:
        stop.set()
        await task
