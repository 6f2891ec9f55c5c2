"""Receiving a multipart upload: streamed to a file, limited while it streams, names for display."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.gateway.uploads import (
    MissingFilePart,
    UploadRejected,
    display_name,
    human_size,
    receive_file,
)

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else "")
        body += (f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n").encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):  # small chunks: boundaries split across them
        yield data[start:start + size]


async def test_the_file_part_streams_to_a_temporary_file(tmp_path: Path) -> None:
    content = bytes(range(256)) * 10
    body = multipart(("note", None, b"hello"), ("file", "clip.mp4", content),
                     ("file", "second.mp4", b"ignored"))
    received = await receive_file(chunked(body), CONTENT_TYPE, None, 10_000, tmp_path)
    assert received.path.parent == tmp_path
    assert received.path.read_bytes() == content
    assert (received.filename, received.size) == ("clip.mp4", len(content))
    assert received.head == content[: len(received.head)] and len(received.head) >= 64


@pytest.mark.parametrize("length_given", [True, False])
async def test_over_the_limit_is_413_and_leaves_no_file(tmp_path: Path,
                                                        length_given: bool) -> None:
    body = multipart(("file", "big.mp4", bytes(5000)))
    with pytest.raises(UploadRejected) as refused:
        await receive_file(chunked(body, 512), CONTENT_TYPE,
                           len(body) + 70_000 if length_given else None, 4096, tmp_path)
    assert (refused.value.status, refused.value.detail) == (413, "file too large (limit 4 KB)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(CONTENT_TYPE, multipart(("other", "x.mp4", b"data"))),
     ("application/json", b"{}"),
     ("multipart/form-data", b"no boundary")],
)
async def test_no_file_part(tmp_path: Path, content_type: str, body: bytes) -> None:
    with pytest.raises(MissingFilePart):
        await receive_file(chunked(body), content_type, None, 4096, tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_a_broken_body_is_400(tmp_path: Path) -> None:
    body = b"--" + BOUNDARY.encode() + b"\r\ngarbage without headers\x00\r\n\r\n"
    with pytest.raises(UploadRejected) as refused:
        await receive_file(chunked(body), CONTENT_TYPE, None, 4096, tmp_path)
    assert refused.value.status == 400
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("clip.mp4", "clip.mp4"), ("../../etc/passwd.mp4", "passwd.mp4"),
     ("C:\\Users\\ann\\fight.avi", "fight.avi"), ("", "upload"), ("..", ".."),
     ("bad\x00name\n.mp4", "badname.mp4"), ("x" * 300, "x" * 255)],
)
def test_display_name(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


@pytest.mark.parametrize(
    ("size", "text"),
    [(500, "500 bytes"), (1024, "1 KB"), (1536, "1.5 KB"), (500 * 1024**2, "500 MB"),
     (2 * 1024**3, "2 GB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text
