"""Cameras: the `cameras` collection, the commands to ingest, and the statuses that come back.

A status is stored only when it is newer than the stored one (`status_at_us`), so a status that
was in flight when an operator stopped the camera does not bring it back to life. Every stored
change is also put on the camera's live channel for its viewers.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, StringConstraints
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.gateway.fanout import Fanout
from services.gateway.live import publish_deleted, publish_status
from vigil import topics
from vigil.runtime.worker import Delivery, Publisher
from vigil.v1.cameras_pb2 import CameraCommand, CameraState, CameraStatus

Doc = dict[str, Any]
StatusName = Literal["idle", "live", "reconnecting", "error"]
STATE_NAMES: dict[int, StatusName] = {
    CameraState.CAMERA_STATE_IDLE: "idle",
    CameraState.CAMERA_STATE_LIVE: "live",
    CameraState.CAMERA_STATE_RECONNECTING: "reconnecting",
    CameraState.CAMERA_STATE_ERROR: "error",
}
RUNNING: set[str] = {"live", "reconnecting"}

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class CameraCreate(BaseModel):
    name: Name
    source: Source


class CameraUpdate(BaseModel):
    name: Name | None = None
    source: Source | None = None


class CameraPublic(BaseModel):
    id: str
    name: str
    source: str
    status: StatusName
    error_reason: str | None

    @classmethod
    def from_doc(cls, doc: Doc) -> CameraPublic:
        return cls(id=doc["_id"], name=doc["name"], source=doc["source"], status=doc["status"],
                   error_reason=doc.get("error_reason"))


class NameUsed(Exception):
    pass


def now_us() -> int:
    return int(time.time() * 1e6)


class Cameras:
    def __init__(self, db: AsyncDatabase[Doc], publisher: Publisher, fanout: Fanout) -> None:
        self.collection = db["cameras"]
        self.publisher = publisher
        self.fanout = fanout

    async def create_indexes(self) -> None:
        await self.collection.create_index("name", unique=True)

    async def list(self) -> list[Doc]:
        return [doc async for doc in self.collection.find().sort("name", 1)]

    async def get(self, camera_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": camera_id})

    async def create(self, camera: CameraCreate) -> Doc:
        doc: Doc = {"_id": uuid.uuid4().hex, "name": camera.name, "source": camera.source,
                    "status": "idle", "error_reason": None, "status_at_us": now_us(),
                    "created_at": datetime.now(UTC)}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError as exc:
            raise NameUsed from exc
        return doc

    async def ensure(self, camera_id: str, name: str, source: str) -> Doc:
        """The camera with this id, created idle when missing (cameras given at start-up)."""
        doc = await self.collection.find_one_and_update(
            {"_id": camera_id},
            {"$setOnInsert": {"name": name, "source": source, "status": "idle",
                              "error_reason": None, "status_at_us": 0,
                              "created_at": datetime.now(UTC)}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # upserted
        return doc

    async def update(self, camera: Doc, change: CameraUpdate) -> Doc:
        fields = change.model_dump(exclude_none=True)
        if not fields:
            return camera
        try:
            updated = await self.collection.find_one_and_update(
                {"_id": camera["_id"]}, {"$set": fields}, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError as exc:
            raise NameUsed from exc
        if updated is None:
            return camera
        if "source" in fields and updated["status"] in RUNNING:
            await self._command(updated, CameraCommand.ACTION_START)  # ingest takes the new one
        return updated

    async def start(self, camera: Doc, force: bool = False) -> Doc:
        """`force`: command ingest even if the stored status says it runs (after a restart)."""
        if camera["status"] in RUNNING and not force:
            return camera  # starting a running camera changes nothing
        updated = await self.set_status(camera["_id"], "reconnecting", None, now_us())
        await self._command(camera, CameraCommand.ACTION_START)
        return updated or camera

    async def stop(self, camera: Doc) -> Doc:
        await self._command(camera, CameraCommand.ACTION_STOP)
        return await self.set_status(camera["_id"], "idle", None, now_us()) or camera

    async def delete(self, camera: Doc) -> None:
        await self._command(camera, CameraCommand.ACTION_STOP)
        await self.collection.delete_one({"_id": camera["_id"]})
        await publish_deleted(self.fanout, camera["_id"])

    async def set_status(
        self, camera_id: str, status: StatusName, reason: str | None, at_us: int
    ) -> Doc | None:
        """The camera after the change; None when it is unknown or the status is older."""
        updated = await self.collection.find_one_and_update(
            {"_id": camera_id, "status_at_us": {"$lte": at_us}},
            {"$set": {"status": status, "error_reason": reason, "status_at_us": at_us}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            await publish_status(self.fanout, camera_id, status, reason)
        return updated

    async def on_status(self, delivery: Delivery[CameraStatus]) -> None:
        status = delivery.message
        name = STATE_NAMES.get(status.state)
        if name is None or not status.camera_id:
            return
        reason = status.reason or None if name in ("error", "reconnecting") else None
        await self.set_status(status.camera_id, name, reason, status.at_us or now_us())

    async def _command(self, camera: Doc, action: CameraCommand.Action.ValueType) -> None:
        command = CameraCommand(camera_id=camera["_id"], action=action, source=camera["source"])
        await self.publisher.publish(topics.CAMERA_COMMANDS, camera["_id"], command)
