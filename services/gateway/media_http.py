"""Media over HTTP: byte ranges (so a `<video>` can start and seek), streamed from the media store
a chunk at a time, never the whole object in memory."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from vigil.media import MediaStore

CHUNK_BYTES = 1024 * 1024
CACHE_CONTROL = "private, max-age=3600"
_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for; None for the whole object (no header, one we ignore as RFC 9110
    allows: another unit, several ranges, bad syntax). `RangeNotSatisfiable` past the end."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _SPEC.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, size - 1 if last == "" else min(int(last), size - 1))


async def _chunks(store: MediaStore, key: str, start: int, length: int) -> AsyncIterator[bytes]:
    position, left = start, length
    while left > 0:
        data = await store.read(key, position, min(CHUNK_BYTES, left))
        if not data:
            return
        position += len(data)
        left -= len(data)
        yield data


async def media_response(
    store: MediaStore, key: str, range_header: str | None, not_found: str
) -> StreamingResponse:
    info = await store.stat(key)
    if info is None:
        raise HTTPException(404, not_found)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": CACHE_CONTROL}
    try:
        wanted = parse_range(range_header, info.size)
    except RangeNotSatisfiable:
        raise HTTPException(
            416, "range not satisfiable", headers={"Content-Range": f"bytes */{info.size}"}
        ) from None
    media_type = info.content_type or "application/octet-stream"
    if wanted is None:
        headers["Content-Length"] = str(info.size)
        return StreamingResponse(_chunks(store, key, 0, info.size), 200, headers, media_type)
    headers["Content-Length"] = str(wanted.length)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{info.size}"
    return StreamingResponse(
        _chunks(store, key, wanted.start, wanted.length), 206, headers, media_type
    )
