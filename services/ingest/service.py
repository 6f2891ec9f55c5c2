"""The ingest service: cameras (started and stopped by commands) and upload jobs, to `frames`."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from services.ingest.camera import CameraRunner
from services.ingest.config import IngestConfig
from services.ingest.frames import RawFrame, sampled_frames
from services.ingest.metrics import CAMERA_STATE, FRAMES_INGESTED, UPLOAD_JOBS
from services.ingest.sampling import expected_frames, frame_jpeg
from services.ingest.sources import SourceSpec, open_capture, parse_source, video_info
from vigil import topics
from vigil.bus import Bus
from vigil.errors import BadInput
from vigil.media import MediaStore
from vigil.runtime.worker import ConsumeLoop, Delivery, Publisher, per_message
from vigil.v1.cameras_pb2 import CameraCommand, CameraState, CameraStatus
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind
from vigil.v1.jobs_pb2 import JobState, JobStatus, UploadJob

log = logging.getLogger(__name__)
STATE_NAMES = {
    CameraState.CAMERA_STATE_IDLE: "idle",
    CameraState.CAMERA_STATE_LIVE: "live",
    CameraState.CAMERA_STATE_RECONNECTING: "reconnecting",
    CameraState.CAMERA_STATE_ERROR: "error",
}


class IngestService:
    name = "ingest"

    def __init__(self, bus: Bus, media: MediaStore, config: IngestConfig) -> None:
        self.bus = bus
        self.media = media
        self.config = config
        self.publisher = Publisher(bus, self.name)
        self.cameras: dict[str, asyncio.Task[None]] = {}
        self._camera_stops: dict[str, asyncio.Event] = {}
        self.loops: list[ConsumeLoop[Any]] = [
            ConsumeLoop(bus, service=self.name, topic=topics.CAMERA_COMMANDS, group="ingest",
                        handle=per_message(self._on_command)),
            ConsumeLoop(bus, service=self.name, topic=topics.JOBS, group="ingest-jobs",
                        handle=per_message(self._on_job)),
        ]

    def is_ready(self) -> bool:
        return all(loop.started.is_set() for loop in self.loops)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for loop in self.loops:
                    group.create_task(loop.run(stop))
        finally:
            for camera_id in list(self.cameras):
                await self.stop_camera(camera_id)

    # -- cameras ----------------------------------------------------------------------------

    async def _on_command(self, delivery: Delivery[CameraCommand]) -> None:
        command = delivery.message
        if not command.camera_id:
            raise BadInput("camera command without a camera id")
        if command.action == CameraCommand.ACTION_START:
            await self.start_camera(command.camera_id, parse_source(command.source))
        elif command.action == CameraCommand.ACTION_STOP:
            await self.stop_camera(command.camera_id)
        else:
            raise BadInput(f"unknown camera action {command.action}")

    async def start_camera(self, camera_id: str, spec: SourceSpec) -> None:
        await self.stop_camera(camera_id)  # a restart takes the new source
        stop = asyncio.Event()
        runner = CameraRunner(camera_id, spec, self.config, self._publish_live, self._status)
        self._camera_stops[camera_id] = stop
        self.cameras[camera_id] = asyncio.create_task(runner.run(stop), name=f"camera {camera_id}")
        log.info("camera started", extra={"camera": camera_id, "source_kind": spec.kind})

    async def stop_camera(self, camera_id: str) -> None:
        task = self.cameras.pop(camera_id, None)
        stop = self._camera_stops.pop(camera_id, None)
        if task is None or stop is None:
            return
        stop.set()
        await task

    async def _publish_live(
        self, camera_id: str, frame: RawFrame, index: int, capture_us: int, last: bool
    ) -> None:
        ref = FrameRef(camera_id=camera_id, source_kind=SourceKind.SOURCE_KIND_LIVE,
                       frame_index=index, capture_time_us=capture_us,
                       position_s=frame.position_s, analysis_fps=self.config.analysis_fps,
                       end_of_stream=last)
        await self._publish_frame(ref, frame)

    async def _publish_frame(self, ref: FrameRef, frame: RawFrame) -> None:
        jpeg, width, height = await asyncio.to_thread(
            frame_jpeg, frame.image, self.config.jpeg_quality, self.config.max_width
        )
        ref.width, ref.height = width, height
        await self.publisher.publish(topics.FRAMES, ref.camera_id, Frame(ref=ref, jpeg=jpeg))
        FRAMES_INGESTED.labels(ref.camera_id).inc()

    async def _status(self, camera_id: str, state: CameraState.ValueType, reason: str) -> None:
        for value, name in STATE_NAMES.items():
            CAMERA_STATE.labels(camera_id, name).set(1 if value == state else 0)
        status = CameraStatus(camera_id=camera_id, state=state, reason=reason,
                              at_us=int(time.time() * 1e6))
        await self.publisher.publish(topics.CAMERA_STATUS, camera_id, status)

    # -- upload jobs ------------------------------------------------------------------------

    async def _on_job(self, delivery: Delivery[UploadJob]) -> None:
        job = delivery.message
        if not job.job_id or not job.media_key:
            raise BadInput("upload job without an id or a media key")
        with tempfile.TemporaryDirectory(prefix="vigil-job-") as tmp:
            path = Path(tmp) / "video"
            try:
                await self.media.get_file(job.media_key, path)
                if path.stat().st_size == 0:
                    raise BadInput("the uploaded file is empty")
                frames = await self._publish_job_frames(job, path)
            except BadInput as exc:
                await self._job_status(job.job_id, JobState.JOB_STATE_FAILED, error=str(exc))
                UPLOAD_JOBS.labels("failed").inc()
                log.warning("upload job failed", extra={"job": job.job_id, "reason": str(exc)})
                return
        await self._job_status(job.job_id, JobState.JOB_STATE_DONE, done=frames, total=frames)
        UPLOAD_JOBS.labels("done").inc()

    async def _publish_job_frames(self, job: UploadJob, path: Path) -> int:
        capture = await asyncio.to_thread(open_capture, SourceSpec("file", str(path)))
        try:
            info = video_info(capture)
            rate = self.config.analysis_fps
            total = expected_frames(info.duration_s, rate)
            await self._job_status(job.job_id, JobState.JOB_STATE_RUNNING, total=total,
                                   duration_s=info.duration_s)
            frames = sampled_frames(capture, rate, info.fps, live=False)
            # Hold one frame back so the last one can carry end_of_stream.
            held: RawFrame | None = None
            index = 0
            while True:
                frame = await asyncio.to_thread(next, frames, None)
                if held is not None:
                    await self._publish_frame(self._job_ref(job, held, index, frame is None), held)
                    index += 1
                    if index % self.config.progress_every == 0:
                        await self._job_status(job.job_id, JobState.JOB_STATE_RUNNING, done=index,
                                               total=max(total, index))
                if frame is None:
                    break
                held = frame
        finally:
            capture.release()
        if index == 0:
            raise BadInput("no decodable frames: the video is empty, truncated or not a video")
        return index

    def _job_ref(self, job: UploadJob, frame: RawFrame, index: int, last: bool) -> FrameRef:
        return FrameRef(
            camera_id=job.job_id, source_kind=SourceKind.SOURCE_KIND_UPLOAD, job_id=job.job_id,
            frame_index=index, capture_time_us=job.created_at_us + int(frame.position_s * 1e6),
            position_s=frame.position_s, analysis_fps=self.config.analysis_fps,
            end_of_stream=last,
        )

    async def _job_status(
        self, job_id: str, state: JobState.ValueType, done: int = 0, total: int = 0,
        error: str = "", duration_s: float = 0.0,
    ) -> None:
        status = JobStatus(job_id=job_id, state=state, frames_done=done, frames_total=total,
                           error=error, fps=self.config.analysis_fps, duration_s=duration_s)
        await self.publisher.publish(topics.JOB_STATUS, job_id, status)
