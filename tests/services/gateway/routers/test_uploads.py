"""Uploads and jobs: a real clip accepted, bad files refused with nothing left behind, the job's
progress and report."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.services.gateway.harness import (
    RunningGateway,
    account,
    eventually,
    read_topic,
    running_gateway,
)
from vigil import topics
from vigil.v1.frames_pb2 import FrameRef, SourceKind
from vigil.v1.jobs_pb2 import JobState, JobStatus
from vigil.v1.verdicts_pb2 import Verdicts

LIMIT = 1024 * 1024  # the clip is 271 KB


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(mongo_url, tmp_path_factory.mktemp("uploads"),
                               max_upload_bytes=LIMIT) as gw:
        yield gw


@pytest.fixture(scope="module")
async def user(gateway: RunningGateway) -> dict[str, str]:
    await account(gateway.client, "admin")  # the first account; `user` is a viewer
    return await account(gateway.client, "uploader")


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> bytes:
    return (data_dir / "surveillance-fight" / "fight" / "fi005.mp4").read_bytes()


async def upload(gateway: RunningGateway, headers: dict[str, str], name: str,
                 content: bytes) -> tuple[int, dict]:
    response = await gateway.client.post("/api/uploads", headers=headers,
                                         files={"file": (name, content, "video/mp4")})
    return response.status_code, response.json()


async def left_behind(gateway: RunningGateway) -> tuple[list[str], int, list[str]]:
    media = [info.key for info in await gateway.media.list("uploads/")]
    return media, await gateway.db["jobs"].count_documents({}), os.listdir(gateway.upload_tmp)


async def test_a_real_clip_becomes_a_job(
    gateway: RunningGateway, user: dict[str, str], clip: bytes
) -> None:
    response = await gateway.client.post("/api/uploads", headers=user,
                                         files={"file": ("fight.mp4", clip, "video/mp4")})
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"/api/jobs/{job_id}"
    jobs = await read_topic(gateway.bus, topics.JOBS,
                            lambda m: any(j.job_id == job_id for j in m), group="test-real")
    job = next(j for j in jobs if j.job_id == job_id)
    assert (job.media_key, job.filename) == (f"uploads/{job_id}/video", "fight.mp4")
    assert await gateway.media.read(job.media_key) == clip
    info = await gateway.media.stat(job.media_key)
    assert info is not None and info.content_type == "video/mp4"
    assert os.listdir(gateway.upload_tmp) == []
    shown = (await gateway.client.get(f"/api/jobs/{job_id}", headers=user)).json()
    assert shown == {"id": job_id, "filename": "fight.mp4", "status": "queued", "progress": 0.0,
                     "error": None, "created_at": shown["created_at"], "report": None}


async def test_a_file_name_never_becomes_a_path(
    gateway: RunningGateway, user: dict[str, str], clip: bytes
) -> None:
    status, body = await upload(gateway, user, "../../etc/passwd.mp4", clip)
    assert status == 202
    job = await gateway.db["jobs"].find_one({"_id": body["job_id"]})
    assert job is not None
    assert job["media_key"] == f"uploads/{body['job_id']}/video"
    assert job["filename"] == "passwd.mp4"  # display only
    stored = [info.key for info in await gateway.media.list()]
    assert not any("passwd" in key or ".." in key for key in stored)
    assert not (gateway.media.root / "etc").exists() and os.listdir(gateway.upload_tmp) == []


def truncated(clip: bytes) -> bytes:
    return clip[: len(clip) // 2]  # the MP4 index (at the end) is gone


@pytest.mark.parametrize(
    ("make", "status", "detail"),
    [
        (lambda clip: b"", 400, "empty file"),
        (lambda clip: b"this is not a video at all\n" * 100, 415, "not a video"),
        (lambda clip: b"\x89PNG\r\n\x1a\n" + bytes(3000), 415, "not a video"),
        (truncated, 422, "truncated or unreadable video"),
        (lambda clip: clip[:24] + bytes(5000), 422, "truncated or unreadable video"),
        (lambda clip: clip * 4, 413, "file too large (limit 1 MB)"),
    ],
    ids=["empty", "text", "png", "truncated", "header-only", "too-large"],
)
async def test_bad_files_are_refused_leaving_nothing(
    gateway: RunningGateway, user: dict[str, str], clip: bytes,
    make: Callable[[bytes], bytes], status: int, detail: str,
) -> None:
    before = await left_behind(gateway)
    assert await upload(gateway, user, "bad.mp4", make(clip)) == (status, {"detail": detail})
    assert await left_behind(gateway) == before


async def test_the_limit_holds_while_streaming_without_a_length(
    gateway: RunningGateway, user: dict[str, str]
) -> None:
    """A chunked body says no size up front: the limit cuts it while it streams."""
    boundary = "vigil-test-boundary"
    sent = {"bytes": 0}

    async def body() -> AsyncIterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
               f" filename=\"big.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
        for _ in range(LIMIT // 65536 * 3):
            sent["bytes"] += 65536
            yield bytes(65536)
        yield f"\r\n--{boundary}--\r\n".encode()

    before = await left_behind(gateway)
    response = await gateway.client.post(
        "/api/uploads", content=body(),
        headers={**user, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 413
    assert await left_behind(gateway) == before


@pytest.mark.parametrize(
    "files", [{"other": ("x.mp4", b"data", "video/mp4")}, None], ids=["other-part", "no-body"]
)
async def test_a_missing_file_part_is_fastapis_422(
    gateway: RunningGateway, user: dict[str, str], files: dict | None
) -> None:
    response = await gateway.client.post("/api/uploads", headers=user, files=files)
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["body", "file"], "missing")]


async def status_of(gateway: RunningGateway, job_id: str, headers: dict[str, str]) -> dict:
    return dict((await gateway.client.get(f"/api/jobs/{job_id}", headers=headers)).json())


async def test_a_job_runs_to_its_report(
    gateway: RunningGateway, user: dict[str, str], clip: bytes
) -> None:
    _, body = await upload(gateway, user, "report.mp4", clip)
    job_id = body["job_id"]
    bus = gateway.bus

    async def job_status(state: JobState.ValueType, done: int = 0, total: int = 0) -> None:
        status = JobStatus(job_id=job_id, state=state, frames_done=done, frames_total=total)
        await bus.publish(topics.JOB_STATUS.name, job_id, status.SerializeToString())

    async def verdict(index: int, last: bool = False) -> None:
        ref = FrameRef(camera_id=job_id, job_id=job_id, source_kind=SourceKind.SOURCE_KIND_UPLOAD,
                       frame_index=index, end_of_stream=last)
        await bus.publish(topics.VERDICTS.name, job_id, Verdicts(frame=ref).SerializeToString())

    await job_status(JobState.JOB_STATE_RUNNING, done=0, total=20)
    await verdict(9)
    running = await eventually(lambda: _when(status_of(gateway, job_id, user),
                                             lambda s: s["progress"] == 0.5))
    assert running["status"] == "running" and running["report"] is None
    annotated = await gateway.client.get(f"/api/jobs/{job_id}/annotated", headers=user)
    assert annotated.status_code == 404  # not done yet

    started = datetime(2024, 5, 1, 14, 3, 22, 512000, tzinfo=UTC)
    await gateway.db["events"].insert_one({
        "_id": "ev-1", "camera_id": job_id, "source_kind": "upload", "job_id": job_id,
        "started_at": started, "ended_at": started, "start_frame": 4, "max_score": 0.9,
        "start_position_s": 0.4, "end_position_s": 1.2, "culprits": [], "clip_key": None,
        "poster_key": None, "status": "stored"})
    await job_status(JobState.JOB_STATE_DONE, done=20, total=20)
    await verdict(19, last=True)
    done = await eventually(lambda: _when(status_of(gateway, job_id, user),
                                          lambda s: s["status"] == "done"))
    assert done["progress"] == 1.0
    assert done["report"]["violent"] is True
    assert done["report"]["annotated_url"] == f"/api/jobs/{job_id}/annotated"
    [event] = done["report"]["events"]
    assert (event["id"], event["source_kind"], event["job_id"], event["camera_id"],
            event["start_offset_s"], event["started_at"]) == (
        "ev-1", "upload", job_id, None, 0.4, "2024-05-01T14:03:22.512Z")
    video = await gateway.client.get(f"/api/jobs/{job_id}/annotated", headers=user,
                                     params={"t": time.time()})
    assert video.status_code == 200 and video.content == clip


async def test_a_failed_job_says_why(gateway: RunningGateway, user: dict[str, str],
                                     clip: bytes) -> None:
    _, body = await upload(gateway, user, "fails.mp4", clip)
    status = JobStatus(job_id=body["job_id"], state=JobState.JOB_STATE_FAILED,
                       error="no decodable frames")
    await gateway.bus.publish(topics.JOB_STATUS.name, body["job_id"], status.SerializeToString())
    failed = await eventually(lambda: _when(status_of(gateway, body["job_id"], user),
                                            lambda s: s["status"] == "failed"))
    assert failed["error"] == "no decodable frames" and failed["report"] is None


async def test_another_users_job_is_not_found(
    gateway: RunningGateway, user: dict[str, str], clip: bytes
) -> None:
    _, body = await upload(gateway, user, "mine.mp4", clip)
    other = await account(gateway.client, "someone-else")
    admin = await account(gateway.client, "admin")
    hidden = await gateway.client.get(f"/api/jobs/{body['job_id']}", headers=other)
    missing = await gateway.client.get("/api/jobs/no-such-job", headers=user)
    for response in (hidden, missing):
        assert (response.status_code, response.json()) == (404, {"detail": "job not found"})
    seen_by_admin = await gateway.client.get(f"/api/jobs/{body['job_id']}", headers=admin)
    assert seen_by_admin.status_code == 200


async def _when(awaitable: Awaitable[dict], condition: Callable[[dict], bool]) -> dict | None:
    value = await awaitable
    return value if condition(value) else None
