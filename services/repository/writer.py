"""Store the join's outputs, in order, each one idempotently: media first, then the document.

- `EventStarted`: the open document (inserted once; never overwrites anything).
- `PartReady`: the clip part (and the poster, when the part carries it), then the open document
  learns the parts stored so far, so a restart can go on after them. The local file is removed
  only then.
- `EventReady`: the culprits' crops and faces, then the complete document (`status: stored`).

Every key is derived from the event id, so writing the same output twice (a retry after a
failure, a replay after a crash) leaves the same objects and the same document: nothing is lost
and nothing is duplicated. A failure raises (`Unavailable` when a retry can cure it) before
anything later is written.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.repository import keys, metrics
from services.repository.documents import open_document, progress_fields, stored_document
from services.repository.outputs import EventReady, EventStarted, Output, PartReady
from services.repository.store import EventStore
from vigil.media import MediaStore

T = TypeVar("T")
JPEG = "image/jpeg"


async def _counted(store: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except Exception as exc:
        metrics.WRITE_FAILURES.labels(store, type(exc).__name__).inc()
        raise


class EventWriter:
    def __init__(self, store: EventStore, media: MediaStore) -> None:
        self.store = store
        self.media = media

    async def write(self, output: Output) -> None:
        if isinstance(output, EventStarted):
            await _counted("documents", lambda: self.store.open(open_document(output.event)))
        elif isinstance(output, PartReady):
            await self._write_part(output)
        else:
            await self._write_event(output)

    async def _put_bytes(self, key: str, data: bytes, kind: str) -> None:
        await _counted("media", lambda: self.media.put_bytes(key, data, JPEG))
        metrics.MEDIA_BYTES_WRITTEN.labels(kind).inc(len(data))

    async def _write_part(self, ready: PartReady) -> None:
        event_id = ready.event.event_id
        info = ready.part.info
        await _counted("media", lambda: self.media.put_file(ready.meta.key, info.path,
                                                            info.mime_type))
        metrics.MEDIA_BYTES_WRITTEN.labels("clip").inc(info.bytes)
        if ready.part.poster_jpeg:
            await self._put_bytes(keys.poster_key(event_id), ready.part.poster_jpeg, "poster")
        fields = progress_fields(event_id, ready.parts_so_far)
        await _counted("documents", lambda: self.store.record_progress(event_id, fields))
        metrics.CLIP_PARTS_STORED.inc()
        info.path.unlink(missing_ok=True)

    async def _write_event(self, ready: EventReady) -> None:
        started = time.perf_counter()
        event_id = ready.event.event_id
        for culprit in ready.culprits:
            if culprit.crop_jpeg is not None:
                key = keys.crop_key(event_id, culprit.track_id)
                await self._put_bytes(key, culprit.crop_jpeg, "crop")
            if culprit.face_jpeg is not None:
                key = keys.face_key(event_id, culprit.track_id)
                await self._put_bytes(key, culprit.face_jpeg, "face")
        doc = stored_document(ready)
        if await _counted("documents", lambda: self.store.upsert(doc)):
            metrics.EVENTS_STORED.labels(ready.event.source_kind).inc()
        metrics.EVENT_WRITE_SECONDS.observe(time.perf_counter() - started)
