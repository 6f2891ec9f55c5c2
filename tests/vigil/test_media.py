"""One suite, both media stores: a local folder and S3 on a real server (SeaweedFS)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vigil.errors import BadInput
from vigil.media import LocalMediaStore, MediaStore, S3MediaStore


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaStore]:
    if request.param == "local":
        media: MediaStore = LocalMediaStore(tmp_path / "media")
    else:
        url = urlsplit(request.getfixturevalue("s3_url"))
        media = S3MediaStore(
            f"{url.hostname}:{url.port}", url.username or "", url.password or "",
            bucket=f"b-{uuid.uuid4().hex[:12]}",
        )
    await media.start()
    await media.start()  # idempotent
    yield media


async def test_put_read_range_list_delete(store: MediaStore, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 1000
    source = tmp_path / "clip.mp4"
    source.write_bytes(payload)
    info = await store.put_file("events/e1/clip.mp4", source, "video/mp4")
    assert info.size == len(payload)
    await store.put_bytes("events/e1/poster.jpg", b"jpeg", "image/jpeg")
    await store.put_bytes("events/e2/poster.jpg", b"other", "image/jpeg")

    assert await store.read("events/e1/clip.mp4", 1000, 10) == payload[1000:1010]
    assert await store.read("events/e1/clip.mp4") == payload
    stat = await store.stat("events/e1/clip.mp4")
    assert stat is not None and stat.content_type == "video/mp4" and stat.size == len(payload)
    copy = tmp_path / "copy.mp4"
    await store.get_file("events/e1/clip.mp4", copy)
    assert copy.read_bytes() == payload

    assert [o.key for o in await store.list("events/e1/")] == [
        "events/e1/clip.mp4", "events/e1/poster.jpg"
    ]
    assert await store.delete_prefix("events/e1/") == 2
    assert [o.key for o in await store.list("events/")] == ["events/e2/poster.jpg"]
    assert await store.stat("events/e1/clip.mp4") is None
    await store.delete("events/e1/clip.mp4")  # deleting twice is fine


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", ""])
async def test_keys_never_escape_the_store(store: MediaStore, key: str) -> None:
    with pytest.raises(BadInput):
        await store.put_bytes(key, b"x", "text/plain")


async def test_missing_object_is_bad_input(store: MediaStore, tmp_path: Path) -> None:
    with pytest.raises(BadInput):
        await store.get_file("nope/none.mp4", tmp_path / "x")
