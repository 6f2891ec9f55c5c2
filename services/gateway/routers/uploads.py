"""Uploads and their jobs: a video in, a job id out; the job's progress and report."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from services.gateway.deps import Context, CurrentUser, Responses
from services.gateway.jobs import JobPublic, UploadAccepted, annotated_key, job_public
from services.gateway.media_http import media_response
from services.gateway.uploads import (
    FIELD,
    MissingFilePart,
    UploadRejected,
    check_video,
    receive_file,
)
from vigil import topics
from vigil.v1.jobs_pb2 import UploadJob

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["uploads"])

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FIELD],
            "properties": {FIELD: {"type": "string", "format": "binary"}},
        }}},
    }
}
REFUSALS: Responses = {
    400: {"description": "empty file"},
    413: {"description": "file too large"},
    415: {"description": "not a video"},
    422: {"description": "truncated or unreadable video, or no `file` part"},
}


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


@router.post("/uploads", status_code=202, openapi_extra=MULTIPART_BODY, responses=REFUSALS)
async def upload(
    request: Request, response: Response, user: CurrentUser, context: Context
) -> UploadAccepted:
    """A video, streamed to the media store (never whole in memory), to analyse as a job."""
    try:
        received = await receive_file(
            request.stream(), request.headers.get("content-type", ""), _content_length(request),
            context.config.max_upload_bytes, context.config.upload_tmp_dir,
        )
    except UploadRejected as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    except MissingFilePart:
        raise RequestValidationError([{"type": "missing", "loc": ("body", FIELD),
                                       "msg": "Field required", "input": None}]) from None
    try:
        container = await check_video(received)
        job_id = uuid.uuid4().hex
        key = f"uploads/{job_id}/video"  # never from the user's file name
        await context.media.put_file(key, received.path, container.content_type)
        try:
            await context.jobs.insert(job_id, user["username"], received.filename, key)
            job = UploadJob(job_id=job_id, media_key=key, filename=received.filename,
                            created_at_us=int(time.time() * 1e6))
            await context.publisher.publish(topics.JOBS, job_id, job)
        except BaseException:
            await context.jobs.delete(job_id)
            await context.media.delete(key)
            raise
    except UploadRejected as exc:
        raise HTTPException(exc.status, exc.detail) from exc
    finally:
        received.path.unlink(missing_ok=True)
    log.info("upload accepted", extra={"job": job_id, "bytes": received.size,
                                       "container": container.name})
    response.headers["Location"] = f"/api/jobs/{job_id}"
    return UploadAccepted(job_id=job_id)


async def _visible_job(context: Context, user: dict[str, Any], job_id: str) -> dict[str, Any]:
    job = await context.jobs.get(job_id)
    if job is None or (user["role"] != "admin" and job.get("owner") != user["username"]):
        raise HTTPException(404, "job not found")  # another user's job is not found either
    return job


@router.get("/jobs/{job_id}", responses={404: {"description": "job not found"}})
async def get_job(job_id: str, user: CurrentUser, context: Context) -> JobPublic:
    """Status and progress; once done, the report with the events found in the video."""
    job = await _visible_job(context, user, job_id)
    events = await context.events.of_job(job_id) if job["status"] == "done" else None
    return job_public(job, events)


@router.get("/jobs/{job_id}/annotated", response_class=StreamingResponse,
            responses={206: {"description": "a byte range"}, 404: {"description": "not done"}})
async def annotated_video(
    job_id: str, request: Request, user: CurrentUser, context: Context
) -> StreamingResponse:
    job = await _visible_job(context, user, job_id)
    if job["status"] != "done":
        raise HTTPException(404, "job not done")
    return await media_response(context.media, annotated_key(job), request.headers.get("range"),
                                "annotated video not found")
