"""The event store against the real servers (SecantusDB; SeaweedFS S3 and a local folder)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from pymongo import AsyncMongoClient

from services.repository import keys
from services.repository.documents import open_document, progress_fields, stored_document
from services.repository.inputs import CulpritScore, EventIn, UpdateKind
from services.repository.outputs import CulpritMedia, EventReady, PartMeta
from services.repository.store import EventStore, day_bounds, event_filter
from tests.servers import free_port
from vigil.errors import BadInput, Unavailable
from vigil.media import LocalMediaStore, MediaStore, S3MediaStore

DAY = date(2024, 3, 9)


def s3_store(url: str) -> S3MediaStore:
    parts = urlsplit(url)
    return S3MediaStore(f"{parts.hostname}:{parts.port}", parts.username or "",
                        parts.password or "", bucket=f"r-{uuid.uuid4().hex[:12]}")  # fmt: skip


@pytest.fixture(params=["local", "s3"])
async def media(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    store: MediaStore
    if request.param == "local":
        store = LocalMediaStore(tmp_path / "media")
    else:
        store = s3_store(request.getfixturevalue("s3_url"))
    await store.start()
    return store


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True)
    await client.admin.command("ping")  # closing while the first connect is under way leaks it
    yield client
    await client.close()


@pytest.fixture
async def store(mongo: AsyncMongoClient[Any], media: MediaStore) -> EventStore:
    events = EventStore(mongo[f"repo_{uuid.uuid4().hex[:10]}"], media)
    await events.ensure_indexes()
    return events


def ready_event(event_id: str, started: datetime, camera: str = "cam-1") -> EventReady:
    start_us = round(started.timestamp() * 1e6)
    event = EventIn(
        event_id, UpdateKind.CLOSED, camera, "live", "", 100, start_us, 10.0, 150,
        start_us + 5_000_000, 15.0, (CulpritScore(1, 0.9, 0.7), CulpritScore(2, 0.8, 0.6)), 0.9,
    )  # fmt: skip
    key = keys.clip_part_key(event_id, 0, ".mp4")
    part = PartMeta(0, key, 70, 180, 111, 11.1, 4, "video/mp4", 3)
    culprits = (
        CulpritMedia(1, 0.9, 0.7, b"crop1", b"face1", False),
        CulpritMedia(2, 0.8, 0.6, b"crop2", None, True),
    )
    return EventReady(event, (part,), culprits, closed=True)


async def put_media(media: MediaStore, ready: EventReady) -> set[str]:
    """The objects the writer would store for this event."""
    doc = stored_document(ready)
    written = {doc["clip_key"]: b"clip", doc["poster_key"]: b"jpg"}
    for culprit in doc["culprits"]:
        for field in ("crop_key", "face_key"):
            if culprit[field]:
                written[culprit[field]] = b"pic"
    for key, data in written.items():
        await media.put_bytes(key, data, "application/octet-stream")
    return set(written)


async def test_upsert_is_idempotent_and_an_open_document_never_overwrites(
    store: EventStore,
) -> None:
    ready = ready_event("ev-a", datetime(2024, 3, 9, 12, tzinfo=UTC))
    assert await store.open(open_document(ready.event))
    await store.record_progress("ev-a", progress_fields("ev-a", ready.parts))
    opened = await store.get("ev-a")
    assert opened is not None and opened["status"] == "open" and opened["clip_parts"]

    doc = stored_document(ready)
    assert await store.upsert(doc)
    assert not await store.upsert(doc)  # a replay changes nothing
    assert not await store.open(open_document(ready.event))
    await store.record_progress("ev-a", {"clip_parts": []})
    stored = await store.get("ev-a")
    assert stored == doc
    assert await store.collection.count_documents({}) == 1
    progress = await store.progress("ev-a")
    assert progress is not None and progress.stored
    assert await store.progress("nothing") is None


async def test_progress_of_an_open_event_lists_its_stored_parts(store: EventStore) -> None:
    ready = ready_event("ev-p", datetime(2024, 3, 9, 12, tzinfo=UTC))
    await store.open(open_document(ready.event))
    await store.record_progress("ev-p", progress_fields("ev-p", ready.parts))
    progress = await store.progress("ev-p")
    assert progress is not None and not progress.stored
    assert progress.parts == ready.parts and progress.poster_taken


# Events around DAY; `tz` is the clock the day is taken on.
STARTS = {
    "before": datetime(2024, 3, 8, 23, 59, 59, 999000, tzinfo=UTC),
    "first": datetime(2024, 3, 9, 0, 0, tzinfo=UTC),
    "noon": datetime(2024, 3, 9, 12, 0, tzinfo=UTC),
    "late": datetime(2024, 3, 9, 22, 30, tzinfo=UTC),
    "last": datetime(2024, 3, 9, 23, 59, 59, 999000, tzinfo=UTC),
    "after": datetime(2024, 3, 10, 0, 0, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (UTC, {"first", "noon", "late", "last"}),
        (timezone(timedelta(hours=2)), {"before", "first", "noon"}),  # 03-08T22:00Z..03-09T22:00Z
        (timezone(timedelta(hours=-1)), {"noon", "late", "last", "after"}),
    ],
)
async def test_search_by_day_returns_exactly_that_days_events(
    store: EventStore, tz: timezone, expected: set[str]
) -> None:
    for name, started in STARTS.items():
        await store.upsert(stored_document(ready_event(f"ev-{name}", started)))
    page = await store.list(date=DAY, tz=tz, page_size=100)
    found = {str(doc["_id"])[3:] for doc in page.items}
    lower, upper = day_bounds(DAY, tz)
    assert found == expected == {n for n, t in STARTS.items() if lower <= t < upper}
    assert page.total == len(expected)
    assert [d["started_at"] for d in page.items] == sorted(
        (d["started_at"] for d in page.items), reverse=True
    )


async def test_list_pages_filters_by_camera_and_range(store: EventStore) -> None:
    base = datetime(2024, 3, 9, 8, tzinfo=UTC)
    for i in range(7):
        camera = "cam-even" if i % 2 == 0 else "cam-odd"
        ready = ready_event(f"ev-{i}", base + timedelta(hours=i), camera)
        await store.upsert(stored_document(ready))
    first = await store.list(page=1, page_size=3)
    second = await store.list(page=2, page_size=3)
    third = await store.list(page=3, page_size=3)
    ids = [d["_id"] for p in (first, second, third) for d in p.items]
    assert ids == [f"ev-{i}" for i in reversed(range(7))] and first.total == 7
    even = await store.list(camera="cam-even")
    assert [d["_id"] for d in even.items] == ["ev-6", "ev-4", "ev-2", "ev-0"]
    window = await store.list(start=base + timedelta(hours=2), end=base + timedelta(hours=5))
    assert [d["_id"] for d in window.items] == ["ev-4", "ev-3", "ev-2"]
    both = await store.list(camera="cam-odd", start=base + timedelta(hours=2))
    assert [d["_id"] for d in both.items] == ["ev-5", "ev-3"]
    with pytest.raises(BadInput):
        await store.list(page=0)


async def test_an_unfiltered_total_is_not_counted_by_a_scan(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = datetime(2024, 3, 9, 8, tzinfo=UTC)
    for i in range(3):
        await store.upsert(stored_document(ready_event(f"ev-{i}", base + timedelta(hours=i))))
    used: list[str] = []
    collection = store.collection
    for name in ("count_documents", "estimated_document_count"):
        counter = getattr(collection, name)

        async def spy(*args: Any, _name: str = name, _counter: Any = counter) -> int:
            used.append(_name)
            return int(await _counter(*args))

        monkeypatch.setattr(collection, name, spy)
    assert (await store.list()).total == 3
    assert (await store.list(start=base + timedelta(hours=1))).total == 2
    assert used == ["estimated_document_count", "count_documents"]


async def test_the_events_of_a_job_in_the_order_they_start(store: EventStore) -> None:
    base = datetime(2024, 3, 9, 8, tzinfo=UTC)
    docs = [("ev-c", "job-1", base + timedelta(seconds=2)), ("ev-b", "job-1", base),
            ("ev-a", "job-1", base + timedelta(seconds=2)), ("ev-x", "job-2", base),
            ("ev-l", "", base)]  # fmt: skip
    for event_id, job_id, started in docs:
        await store.upsert({"_id": event_id, "job_id": job_id, "started_at": started})
    assert [d["_id"] for d in await store.of_job("job-1")] == ["ev-b", "ev-a", "ev-c"]
    assert [d["_id"] for d in await store.of_job("job-2")] == ["ev-x"]
    assert await store.of_job("job-3") == []


async def test_delete_removes_the_document_and_every_object_and_nothing_else(
    store: EventStore,
) -> None:
    started = datetime(2024, 3, 9, 12, tzinfo=UTC)
    victim, neighbour, prefix_twin = "ev-1", "ev-2", "ev-10"  # ev-1 is a prefix of ev-10
    objects = {}
    for event_id in (victim, neighbour, prefix_twin):
        ready = ready_event(event_id, started)
        objects[event_id] = await put_media(store.media, ready)
        await store.upsert(stored_document(ready))
    await store.media.put_bytes(f"events/{victim}/orphan.bin", b"x", "application/octet-stream")
    await store.media.put_bytes("uploads/job/video", b"v", "video/mp4")
    before = {o.key for o in await store.media.list()}
    assert objects[victim] | {f"events/{victim}/orphan.bin"} <= before

    assert await store.delete(victim)
    after = {o.key for o in await store.media.list()}
    assert after == before - objects[victim] - {f"events/{victim}/orphan.bin"}
    assert not any(key.startswith(f"events/{victim}/") for key in after)
    assert await store.get(victim) is None
    assert {d["_id"] for d in (await store.list()).items} == {neighbour, prefix_twin}
    assert not await store.delete(victim)  # twice: nothing left, nothing else touched
    assert {o.key for o in await store.media.list()} == after


@pytest.mark.parametrize("event_id", ["../etc", "a/b", "", ".hidden", "x" * 200])
async def test_ids_that_could_leave_their_folder_are_refused(
    store: EventStore, event_id: str
) -> None:
    with pytest.raises(BadInput):
        await store.delete(event_id)


async def test_expire_removes_old_events_with_their_media(store: EventStore) -> None:
    now = datetime(2024, 3, 9, 12, tzinfo=UTC)
    ages = {"old": 40, "edge": 30, "young": 29}
    objects = {}
    for name, days in ages.items():
        age = timedelta(days=days, seconds=1 if days == 30 else 0)  # just past the cut-off
        ready = ready_event(f"ev-{name}", now - age)
        objects[name] = await put_media(store.media, ready)
        await store.upsert(stored_document(ready))
    assert await store.expire(now - timedelta(days=30)) == 2
    assert [d["_id"] for d in (await store.list()).items] == ["ev-young"]
    assert {o.key for o in await store.media.list()} == objects["young"]
    assert await store.stored_bytes() == stored_document(ready_event("x", now))["bytes"]


async def test_a_database_that_is_down_is_unavailable(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path)
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}", serverSelectionTimeoutMS=200, tz_aware=True
    )
    store = EventStore(client["down"], media)
    try:
        with pytest.raises(Unavailable):
            await store.upsert({"_id": "ev", "status": "stored"})
        with pytest.raises(Unavailable):
            await store.list()
    finally:
        await client.close()


def test_filter_takes_the_tightest_bounds() -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    start = datetime(2024, 3, 9, 6, tzinfo=UTC)
    found = event_filter(DAY, start=start, end=None, camera="c", tz=tz)
    day_start, day_end = day_bounds(DAY, tz)
    assert found == {"started_at": {"$gte": max(start, day_start), "$lt": day_end},
                     "camera_id": "c"}  # fmt: skip
    naive = event_filter(start=datetime(2024, 3, 9, 6))
    assert naive == {"started_at": {"$gte": start}}
    assert event_filter() == {}


MAR_31 = date(2024, 3, 31)  # Europe/Paris moves its clocks forward that night


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        ("UTC", datetime(2024, 3, 31, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)),
        ("Europe/Paris", datetime(2024, 3, 30, 23, tzinfo=UTC),
         datetime(2024, 3, 31, 22, tzinfo=UTC)),  # 23 hours: a clock change
        ("Asia/Kolkata", datetime(2024, 3, 30, 18, 30, tzinfo=UTC),
         datetime(2024, 3, 31, 18, 30, tzinfo=UTC)),
    ],
)
def test_a_day_is_the_day_on_the_clock_of_its_zone(
    tz: str, start: datetime, end: datetime
) -> None:
    assert day_bounds(MAR_31, ZoneInfo(tz)) == (start, end)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, {}),
        ({"camera": "c1"}, {"camera_id": "c1"}),
        ({"day": DAY}, {"started_at": {"$gte": datetime(2024, 3, 9, tzinfo=UTC),
                                       "$lt": datetime(2024, 3, 10, tzinfo=UTC)}}),
        # A time without a zone is UTC; one with a zone is converted.
        ({"start": datetime(2024, 3, 9, 12)},
         {"started_at": {"$gte": datetime(2024, 3, 9, 12, tzinfo=UTC)}}),
        ({"end": datetime(2024, 3, 9, 14, tzinfo=timezone(timedelta(hours=2)))},
         {"started_at": {"$lt": datetime(2024, 3, 9, 12, tzinfo=UTC)}}),
        # Day and time range together: the narrower bound of each side.
        ({"day": DAY, "start": datetime(2024, 2, 1, tzinfo=UTC),
          "end": datetime(2024, 3, 9, 6, tzinfo=UTC), "camera": "c2"},
         {"started_at": {"$gte": datetime(2024, 3, 9, tzinfo=UTC),
                         "$lt": datetime(2024, 3, 9, 6, tzinfo=UTC)}, "camera_id": "c2"}),
        ({"day": DAY, "tz": ZoneInfo("Europe/Paris")},
         {"started_at": {"$gte": datetime(2024, 3, 8, 23, tzinfo=UTC),
                         "$lt": datetime(2024, 3, 9, 23, tzinfo=UTC)}}),
    ],
)
def test_filter_of_each_argument(arguments: dict[str, Any], expected: dict[str, Any]) -> None:
    assert event_filter(**arguments) == expected
