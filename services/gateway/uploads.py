"""Receiving an uploaded video: the multipart body streamed chunk by chunk into a temporary file,
the size limit enforced while it streams, then the checks that it is a whole video.

Nothing of a refused upload stays behind: its temporary file is removed before the refusal.
The user's file name is kept for display only; no path is ever made from it.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from services.gateway.video_check import HEAD_BYTES, Container, decodes_whole, sniff

FIELD = "file"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


class UploadRejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class MissingFilePart(Exception):
    """The body has no part named `file` (FastAPI's own 422 for a missing field)."""


@dataclass
class Received:
    path: Path
    filename: str
    size: int
    head: bytes


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def display_name(raw: str) -> str:
    """The last component of whatever the client sent, printable, at most 255 characters."""
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "upload"


class _FilePart:
    """Collects the `file` part's bytes from the parser's callbacks; other parts are ignored."""

    def __init__(self) -> None:
        self.found = False
        self.filename = ""
        self.pending: list[bytes] = []
        self._in_file = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._in_file = False
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") == FIELD.encode() and not self.found:
            self.found = self._in_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(data[start:end])

    def _part_end(self) -> None:
        self._in_file = False


async def receive_file(
    chunks: AsyncIterator[bytes],
    content_type: str,
    content_length: int | None,
    max_bytes: int,
    tmp_dir: Path | None = None,
) -> Received:
    """Streams the `file` part to a temporary file; the caller removes `Received.path`."""
    too_large = UploadRejected(413, f"file too large (limit {human_size(max_bytes)})")
    if content_length is not None and content_length > max_bytes + MULTIPART_OVERHEAD:
        raise too_large
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise MissingFilePart
    part = _FilePart()
    parser = MultipartParser(params[b"boundary"], part.callbacks())  # type: ignore[arg-type]
    handle, name = tempfile.mkstemp(prefix="vigil-upload-", dir=tmp_dir)
    path = Path(name)
    size = 0
    head = b""
    try:
        with os.fdopen(handle, "wb") as file:
            async for chunk in chunks:
                try:
                    parser.write(chunk)
                except FormParserError as exc:
                    raise UploadRejected(400, "invalid multipart body") from exc
                if not part.pending:
                    continue
                data = b"".join(part.pending)
                part.pending.clear()
                size += len(data)
                if size > max_bytes:
                    raise too_large
                if len(head) < HEAD_BYTES:
                    head += data[: HEAD_BYTES - len(head)]
                await asyncio.to_thread(_write, file, data)
            parser.finalize()
        if not part.found:
            raise MissingFilePart
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return Received(path, display_name(part.filename), size, head)


def _write(file: BinaryIO, data: bytes) -> None:
    file.write(data)


async def check_video(received: Received) -> Container:
    """The container of a whole video, or `UploadRejected` with the reason."""
    if received.size == 0:
        raise UploadRejected(400, "empty file")
    container = sniff(received.head)
    if container is None:
        raise UploadRejected(415, "not a video")
    if not await asyncio.to_thread(decodes_whole, received.path):
        raise UploadRejected(422, "truncated or unreadable video")
    return container

