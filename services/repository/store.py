"""The repository's events: MongoDB documents and their media objects, written idempotently,
queried by day, time range and camera, deleted with all their media, and expired.

Every PyMongo failure that a retry can cure (no server, a dropped connection, a timeout, an
error labelled retryable) becomes `vigil.errors.Unavailable` here, at the edge, so the consumer
retries with back-off and commits nothing; the media store translates its own errors likewise.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    PyMongoError,
    WTimeoutError,
)

from services.repository.documents import OPEN, Doc, progress_of
from services.repository.keys import check_event_id, event_prefix
from services.repository.outputs import StoredProgress
from vigil.errors import BadInput, Unavailable
from vigil.media import MediaStore

log = logging.getLogger(__name__)

COLLECTION = "events"
MAX_PAGE_SIZE = 500
INDEXES = [
    IndexModel([("camera_id", ASCENDING), ("started_at", DESCENDING)], name="camera_started"),
    IndexModel([("started_at", DESCENDING)], name="started"),
    IndexModel([("job_id", ASCENDING)], name="job"),
]
RETRYABLE_LABELS = ("RetryableWriteError", "TransientTransactionError", "NoWritesPerformed")


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """PyMongo errors that a retry can cure become `Unavailable`; the rest pass through."""
    try:
        yield
    except (ConnectionFailure, ExecutionTimeout, WTimeoutError) as exc:
        raise Unavailable(f"document store: {what}: {exc}") from exc
    except PyMongoError as exc:
        if any(exc.has_error_label(label) for label in RETRYABLE_LABELS):
            raise Unavailable(f"document store: {what}: {exc}") from exc
        raise


def as_utc(moment: datetime) -> datetime:
    """A datetime without a zone is taken as UTC (MongoDB keeps UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants where `day` starts and the next day starts, on the clock of `tz`."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def event_filter(
    day: date | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    camera: str | None = None,
    tz: tzinfo = UTC,
) -> Doc:
    """Events that started on `day` (in `tz`), at or after `start` and before `end`, on `camera`;
    every given bound applies."""
    lower = [as_utc(start)] if start is not None else []
    upper = [as_utc(end)] if end is not None else []
    if day is not None:
        day_start, day_end = day_bounds(day, tz)
        lower.append(day_start)
        upper.append(day_end)
    found: Doc = {}
    started: Doc = {}
    if lower:
        started["$gte"] = max(lower)
    if upper:
        started["$lt"] = min(upper)
    if started:
        found["started_at"] = started
    if camera is not None:
        found["camera_id"] = camera
    return found


@dataclass(frozen=True)
class EventPage:
    items: builtins.list[Doc]  # newest first
    total: int  # events matching the filter, over all pages
    page: int
    page_size: int


class EventStore:
    def __init__(
        self, db: AsyncDatabase[Any], media: MediaStore, collection: str = COLLECTION
    ) -> None:
        self.collection: AsyncCollection[Any] = db[collection]
        self.media = media

    async def ensure_indexes(self) -> None:
        with translated("create indexes"):
            await self.collection.create_indexes(INDEXES)

    # -- writes (the repository service) -------------------------------------------------------

    async def open(self, doc: Doc) -> bool:
        """Insert the document of an event being recorded; never touches an existing one."""
        fields = {k: v for k, v in doc.items() if k != "_id"}
        with translated("open event"):
            result = await self.collection.update_one(
                {"_id": doc["_id"]}, {"$setOnInsert": fields}, upsert=True
            )
        return result.upserted_id is not None

    async def record_progress(self, event_id: str, fields: Doc) -> None:
        """Update an open document (a stored one is final and stays as it is)."""
        with translated("record progress"):
            await self.collection.update_one({"_id": event_id, "status": OPEN}, {"$set": fields})

    async def upsert(self, doc: Doc) -> bool:
        """Write the complete document; True when that changed anything (a replay does not)."""
        fields = {k: v for k, v in doc.items() if k != "_id"}
        with translated("store event"):
            result = await self.collection.update_one(
                {"_id": doc["_id"]}, {"$set": fields}, upsert=True
            )
        return result.upserted_id is not None or result.modified_count > 0

    async def progress(self, event_id: str) -> StoredProgress | None:
        """What is stored of the event already; None when nothing is."""
        with translated("read progress"):
            doc = await self.collection.find_one(
                {"_id": event_id}, {"status": 1, "clip_parts_info": 1}
            )
        return None if doc is None else progress_of(doc)

    # -- queries and management (the gateway) --------------------------------------------------

    async def list(
        self,
        date: date | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        camera: str | None = None,
        page: int = 1,
        page_size: int = 50,
        tz: tzinfo = UTC,
    ) -> EventPage:
        """One page of the events that match, newest first. `date` is a calendar day on the
        clock of `tz` (a `datetime.timezone` offset or a `zoneinfo.ZoneInfo`; UTC by default)."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise BadInput(f"page must be >= 1 and page_size in 1..{MAX_PAGE_SIZE}")
        found = event_filter(date, start, end, camera, tz)
        with translated("list events"):
            total = await self.count(found)
            cursor = (
                self.collection.find(found)
                .sort([("started_at", DESCENDING), ("_id", DESCENDING)])
                .skip((page - 1) * page_size)
                .limit(page_size)
            )
            items = [doc async for doc in cursor]
        return EventPage(items, total, page, page_size)

    async def count(self, found: Doc) -> int:
        """Events that match `found`. All of them from the collection's metadata: the document
        store scans the whole collection to count with an empty filter."""
        if not found:
            return await self.collection.estimated_document_count()
        return await self.collection.count_documents(found)

    async def of_job(self, job_id: str) -> builtins.list[Doc]:
        """Every event found in an upload job's video, in the order they start."""
        with translated("list events of a job"):
            cursor = self.collection.find({"job_id": job_id}).sort(
                [("started_at", ASCENDING), ("_id", ASCENDING)]
            )
            return [doc async for doc in cursor]

    async def get(self, event_id: str) -> Doc | None:
        with translated("get event"):
            doc: Doc | None = await self.collection.find_one({"_id": check_event_id(event_id)})
        return doc

    async def delete(self, event_id: str) -> bool:
        """The event's media (every object under `events/{id}/`), then its document; True when
        there was either. Media first: a failure in between leaves a document that a retry
        deletes, never media that nothing points to."""
        prefix = event_prefix(event_id)
        removed = await self.media.delete_prefix(prefix)
        with translated("delete event"):
            result = await self.collection.delete_one({"_id": event_id})
        return removed > 0 or result.deleted_count > 0

    async def expire(self, older_than: datetime) -> int:
        """Delete every event that started before `older_than`, with its media; how many."""
        with translated("find expired events"):
            cursor = self.collection.find({"started_at": {"$lt": as_utc(older_than)}}, {"_id": 1})
            ids = [str(doc["_id"]) async for doc in cursor]
        expired = 0
        for event_id in ids:
            try:
                await self.delete(event_id)
            except BadInput:
                log.error("expired event with an unusable id left alone", extra={"id": event_id})
                continue
            expired += 1
        return expired

    async def stored_bytes(self) -> int:
        """Media bytes of every event in the store."""
        with translated("sum bytes"):
            cursor = await self.collection.aggregate(
                [{"$group": {"_id": None, "bytes": {"$sum": "$bytes"}}}]
            )
            rows = [row async for row in cursor]
        return int(rows[0]["bytes"]) if rows else 0
