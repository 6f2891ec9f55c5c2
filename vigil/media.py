"""The media store: video, clips and pictures by key. S3/MinIO through the minio SDK, or a local
folder with the same interface for the embedded mode.

Keys are `/`-separated and made by the code (ids, indexes), never from a user's file name.
"""

from __future__ import annotations

import abc
import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from vigil.errors import BadInput, Unavailable

T = TypeVar("T")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BadInput(f"invalid media key {key!r}")
    return key


class MediaStore(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Create the bucket or folder if needed."""

    @abc.abstractmethod
    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo: ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        handle, name = tempfile.mkstemp(prefix="vigil-put-")
        os.close(handle)
        tmp = Path(name)
        await asyncio.to_thread(tmp.write_bytes, data)
        try:
            return await self.put_file(key, tmp, content_type)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)

    @abc.abstractmethod
    async def get_file(self, key: str, path: Path) -> None:
        """Copy the object to a local file (video decoders want a path)."""

    @abc.abstractmethod
    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        """A byte range, for HTTP Range requests."""

    @abc.abstractmethod
    async def stat(self, key: str) -> ObjectInfo | None: ...

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[ObjectInfo]: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error."""

    async def delete_prefix(self, prefix: str) -> int:
        objects = await self.list(prefix)
        for info in objects:
            await self.delete(info.key)
        return len(objects)


class LocalMediaStore(MediaStore):
    """A folder; the content type is kept in a sidecar so both stores answer the same."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        target = self._path(key)

        def copy() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(path, partial)
            partial.replace(target)  # readers never see half a file
            target.with_name(target.name + ".type").write_text(content_type)

        await asyncio.to_thread(copy)
        size = (await asyncio.to_thread(target.stat)).st_size
        return ObjectInfo(key, size, content_type)

    async def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise BadInput(f"no media object {key!r}")
        await asyncio.to_thread(shutil.copyfile, source, path)

    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        source = self._path(key)
        if not source.is_file():
            raise BadInput(f"no media object {key!r}")

        def read() -> bytes:
            with source.open("rb") as f:
                f.seek(start)
                return f.read() if length is None else f.read(length)

        return await asyncio.to_thread(read)

    async def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        sidecar = path.with_name(path.name + ".type")
        kind = sidecar.read_text() if sidecar.exists() else "application/octet-stream"
        return ObjectInfo(key, path.stat().st_size, kind)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        def walk() -> Iterator[Path]:
            for path in sorted(self.root.rglob("*")):
                if path.is_file() and not path.name.endswith((".type", ".partial")):
                    yield path

        found = []
        for path in await asyncio.to_thread(lambda: list(walk())):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                info = await self.stat(key)
                if info is not None:
                    found.append(info)
        return found

    async def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".type").unlink(missing_ok=True)
        for parent in path.parents:  # drop emptied folders, up to the root
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:
                break


class S3MediaStore(MediaStore):
    """One bucket on S3 or MinIO. The SDK blocks, so each call runs in a worker thread."""

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, bucket: str,
        secure: bool = False, region: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.client = Minio(endpoint, access_key, secret_key, secure=secure, region=region)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise BadInput(f"no media object: {exc.message}") from exc
            raise Unavailable(f"object store: {exc.code}: {exc.message}") from exc
        except (HTTPError, OSError) as exc:
            raise Unavailable(f"object store unreachable: {exc}") from exc

    async def start(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            try:
                await self._call(self.client.make_bucket, self.bucket)
            except Unavailable:
                if not await self._call(self.client.bucket_exists, self.bucket):
                    raise

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        await self._call(
            self.client.fput_object, self.bucket, check_key(key), str(path),
            content_type=content_type,
        )
        size = (await asyncio.to_thread(path.stat)).st_size
        return ObjectInfo(key, size, content_type)

    async def get_file(self, key: str, path: Path) -> None:
        await self._call(self.client.fget_object, self.bucket, check_key(key), str(path))

    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(
                self.bucket, check_key(key), offset=start, length=length or 0
            )
            try:
                return bytes(response.read())
            finally:
                response.close()
                response.release_conn()

        return bytes(await self._call(read))

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            info = await self._call(self.client.stat_object, self.bucket, check_key(key))
        except BadInput:
            return None
        return ObjectInfo(key, int(info.size or 0), info.content_type or "")

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        def list_all() -> list[ObjectInfo]:
            return [
                ObjectInfo(o.object_name or "", int(o.size or 0), o.content_type or "")
                for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            ]

        return list(await self._call(list_all))

    async def delete(self, key: str) -> None:
        await self._call(self.client.remove_object, self.bucket, check_key(key))
