"""Ingest over the in-process bus with a local media store: uploads, files, dropped streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import pytest

from services.ingest.config import IngestConfig
from services.ingest.service import IngestService
from services.ingest.sources import SourceSpec
from tests.servers import free_port
from vigil import topics
from vigil.bus import MemoryBus
from vigil.media import LocalMediaStore
from vigil.v1.cameras_pb2 import CameraState, CameraStatus
from vigil.v1.frames_pb2 import SourceKind
from vigil.v1.jobs_pb2 import JobState, JobStatus, UploadJob

CONFIG = IngestConfig(analysis_fps=10, reconnect_initial_s=0.05, reconnect_max_s=0.1,
                      reconnect_attempts=2, loop_files=False, progress_every=5)


@pytest.fixture
def clip(data_dir: Path) -> Path:
    return data_dir / "surveillance-fight" / "fight" / "fi005.mp4"  # 58 frames at 20 fps


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[tuple[IngestService, MemoryBus]]:
    bus = MemoryBus(partitions=4)
    media = LocalMediaStore(tmp_path / "media")
    await media.start()
    service = IngestService(bus, media, CONFIG)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    yield service, bus
    stop.set()
    await task


async def read_all(bus: MemoryBus, topic: topics.Topic, until, timeout_s: float = 30):  # type: ignore[no-untyped-def]
    consumer = bus.consumer([topic.name], f"reader-{topic.name}")
    await consumer.start()
    messages = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while not until(messages):
            assert asyncio.get_running_loop().time() < deadline, f"timed out: {messages[-3:]}"
            messages += [(r.key, topic.message.FromString(r.value))
                         for r in await consumer.poll(100, 0.2)]
    finally:
        await consumer.stop()
    return messages


async def submit(service: IngestService, bus: MemoryBus, path: Path, job_id: str) -> None:
    await service.media.put_file(f"uploads/{job_id}/video", path, "video/mp4")
    job = UploadJob(job_id=job_id, media_key=f"uploads/{job_id}/video", filename=path.name,
                    created_at_us=1_700_000_000_000_000)
    await bus.publish(topics.JOBS.name, job_id, job.SerializeToString())


def final(statuses: list[tuple[str, JobStatus]]) -> bool:
    return any(s.state in (JobState.JOB_STATE_DONE, JobState.JOB_STATE_FAILED) for _, s in statuses)


async def test_upload_job_publishes_sampled_frames_in_order(ingest, clip: Path) -> None:  # type: ignore[no-untyped-def]
    service, bus = ingest
    await submit(service, bus, clip, "job-1")
    statuses = await read_all(bus, topics.JOB_STATUS, final)
    frames = await read_all(bus, topics.FRAMES, lambda m: m and m[-1][1].ref.end_of_stream)

    assert statuses[-1][1].state == JobState.JOB_STATE_DONE
    assert JobState.JOB_STATE_RUNNING in [s.state for _, s in statuses[:-1]]
    # 58 frames at 20 fps = 2.9 s; sampled at 10 fps -> 29 frames.
    assert len(frames) == 29 == statuses[-1][1].frames_done
    assert all(key == "job-1" for key, _ in frames)
    refs = [f.ref for _, f in frames]
    assert [r.frame_index for r in refs] == list(range(29))
    assert [r.position_s for r in refs] == pytest.approx([i / 10 for i in range(29)])
    assert [r.capture_time_us for r in refs] == [1_700_000_000_000_000 + i * 100_000
                                                 for i in range(29)]
    assert {(r.source_kind, r.job_id, r.width, r.height) for r in refs} == {
        (SourceKind.SOURCE_KIND_UPLOAD, "job-1", 640, 360)}
    assert [r.end_of_stream for r in refs] == [False] * 28 + [True]
    image = cv2.imdecode(__import__("numpy").frombuffer(frames[0][1].jpeg, "uint8"), 1)
    assert image.shape == (360, 640, 3)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "the uploaded file is empty"), (b"this is not a video at all" * 100, "not a video"),
     ("truncated", "not a video or unreadable")],
)
async def test_bad_upload_fails_its_job_with_a_reason(  # type: ignore[no-untyped-def]
    ingest, clip: Path, tmp_path: Path, content: bytes | str, reason: str
) -> None:
    service, bus = ingest
    bad = tmp_path / "bad.mp4"
    if content == "truncated":  # the header only: the frames were never written
        bad.write_bytes(clip.read_bytes()[:2000])
    else:
        assert isinstance(content, bytes)
        bad.write_bytes(content)
    await submit(service, bus, bad, "job-bad")
    statuses = await read_all(bus, topics.JOB_STATUS, final)
    assert statuses[-1][1].state == JobState.JOB_STATE_FAILED
    assert reason in statuses[-1][1].error


async def test_file_camera_goes_live_publishes_then_idles(ingest, clip: Path) -> None:  # type: ignore[no-untyped-def]
    service, bus = ingest
    await service.start_camera("cam-1", SourceSpec("file", str(clip)))
    frames = await read_all(bus, topics.FRAMES, lambda m: len(m) >= 29)
    statuses = await read_all(bus, topics.CAMERA_STATUS,
                              lambda m: m and m[-1][1].state == CameraState.CAMERA_STATE_IDLE)
    assert [s.state for _, s in statuses] == [CameraState.CAMERA_STATE_LIVE,
                                              CameraState.CAMERA_STATE_IDLE]
    assert {k for k, _ in frames} == {"cam-1"}
    assert [f.ref.frame_index for _, f in frames] == list(range(29))
    assert {f.ref.source_kind for _, f in frames} == {SourceKind.SOURCE_KIND_LIVE}
    times = [f.ref.capture_time_us for _, f in frames]
    assert times == sorted(times), "a file camera is paced like a live one"


async def test_unreachable_stream_reconnects_then_errors(ingest) -> None:  # type: ignore[no-untyped-def]
    service, bus = ingest
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"  # nothing listens there
    await service.start_camera("cam-2", SourceSpec("stream", url))
    statuses = await read_all(bus, topics.CAMERA_STATUS,
                              lambda m: m and m[-1][1].state == CameraState.CAMERA_STATE_ERROR)
    states = [s.state for _, s in statuses]
    assert states == [CameraState.CAMERA_STATE_RECONNECTING] * 2 + [CameraState.CAMERA_STATE_ERROR]
    last: CameraStatus = statuses[-1][1]
    assert "gave up after 2 reconnection attempts" in last.reason


async def test_missing_file_camera_is_an_error_with_reason(ingest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, bus = ingest
    await service.start_camera("cam-3", SourceSpec("file", str(tmp_path / "gone.mp4")))
    statuses = await read_all(bus, topics.CAMERA_STATUS, lambda m: bool(m))
    assert statuses[0][1].state == CameraState.CAMERA_STATE_ERROR
    assert "no such video file" in statuses[0][1].reason
