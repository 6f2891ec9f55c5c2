"""Upload jobs: the `jobs` collection, fed by ingest's job statuses and classify's verdicts.

Ingest says when every frame of the video is published; the job is done once, besides, the
verdict of its last frame has come (the whole video is analysed). Progress is the fraction of
frames analysed. Each source sets its own flag, then both try the same conditional update to
`done`: whichever comes second sees both flags.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.events import EventPublic, event_public, iso
from vigil.runtime.worker import Delivery
from vigil.v1.frames_pb2 import SourceKind
from vigil.v1.jobs_pb2 import JobState, JobStatus
from vigil.v1.verdicts_pb2 import Verdicts

Doc = dict[str, Any]
JobStatusName = Literal["queued", "running", "done", "failed"]
FINAL = ["done", "failed"]
PROGRESS_EVERY = 10  # frames between progress writes, per job


class JobReport(BaseModel):
    violent: bool
    events: list[EventPublic]
    annotated_url: str


class JobPublic(BaseModel):
    id: str
    filename: str
    status: JobStatusName
    progress: float
    error: str | None
    created_at: str
    report: JobReport | None


class UploadAccepted(BaseModel):
    job_id: str


def progress(doc: Doc) -> float:
    if doc["status"] == "done":
        return 1.0
    total = int(doc.get("frames_total") or 0)
    if total <= 0:
        return 0.0
    return min(1.0, int(doc.get("frames_analysed") or 0) / total)


def job_public(doc: Doc, events: list[Doc] | None) -> JobPublic:
    report = None
    if doc["status"] == "done":
        shown = [event_public(e) for e in events or []]
        report = JobReport(violent=bool(shown), events=shown,
                           annotated_url=f"/api/jobs/{doc['_id']}/annotated")
    return JobPublic(id=doc["_id"], filename=doc["filename"], status=doc["status"],
                     progress=round(progress(doc), 4), error=doc.get("error"),
                     created_at=iso(doc["created_at"]) or "", report=report)


def annotated_key(doc: Doc) -> str:
    """The annotated video once something stores it (`annotated_key`); until then the upload."""
    return str(doc.get("annotated_key") or doc["media_key"])


class Jobs:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.collection = db["jobs"]

    async def create_indexes(self) -> None:
        await self.collection.create_index([("owner", 1), ("created_at", -1)])

    async def insert(self, job_id: str, owner: str, filename: str, media_key: str) -> Doc:
        doc: Doc = {"_id": job_id, "owner": owner, "filename": filename, "media_key": media_key,
                    "status": "queued", "error": None, "frames_total": 0, "frames_analysed": 0,
                    "ingested": False, "analysed": False, "created_at": datetime.now(UTC)}
        await self.collection.insert_one(doc)
        return doc

    async def get(self, job_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": job_id})

    async def delete(self, job_id: str) -> None:
        await self.collection.delete_one({"_id": job_id})

    async def _update_unfinished(self, job_id: str, update: Doc) -> None:
        await self.collection.update_one({"_id": job_id, "status": {"$nin": FINAL}}, update)

    async def _finish_if_complete(self, job_id: str) -> None:
        await self.collection.update_one(
            {"_id": job_id, "ingested": True, "analysed": True, "status": {"$nin": FINAL}},
            {"$set": {"status": "done", "updated_at": datetime.now(UTC)}},
        )

    async def on_status(self, delivery: Delivery[JobStatus]) -> None:
        status = delivery.message
        now = datetime.now(UTC)
        if status.state == JobState.JOB_STATE_FAILED:
            await self._update_unfinished(status.job_id, {"$set": {
                "status": "failed", "error": status.error or "the video could not be analysed",
                "updated_at": now}})
        elif status.state == JobState.JOB_STATE_RUNNING:
            await self._update_unfinished(status.job_id, {
                "$set": {"status": "running", "updated_at": now},
                "$max": {"frames_total": int(status.frames_total)}})
        elif status.state == JobState.JOB_STATE_DONE:
            await self._update_unfinished(status.job_id, {
                "$set": {"ingested": True, "frames_total": int(status.frames_done),
                         "updated_at": now}})
            await self._finish_if_complete(status.job_id)

    async def on_verdicts(self, deliveries: list[Delivery[Verdicts]]) -> None:
        for delivery in deliveries:
            ref = delivery.message.frame
            if ref.source_kind != SourceKind.SOURCE_KIND_UPLOAD or not ref.job_id:
                continue
            if not ref.end_of_stream and (ref.frame_index + 1) % PROGRESS_EVERY:
                continue
            update: Doc = {"$max": {"frames_analysed": int(ref.frame_index) + 1}}
            if ref.end_of_stream:
                update["$set"] = {"analysed": True}
            await self._update_unfinished(ref.job_id, update)
            if ref.end_of_stream:
                await self._finish_if_complete(ref.job_id)
