"""One video through the same services that run live: ingest -> detect -> track [-> classify].

The services run over an in-process `MemoryBus`, with a `LocalMediaStore` in a temporary folder
that holds the uploaded video, exactly as an upload job runs in `vigil run`. A `VideoPipeline`
starts the services once (the models load once) and then takes videos one after the other; each
video is its own upload job, so trackers and event state start fresh for it.

Used by `vigil analyze` (with classify), feature extraction for training (without: no model
exists yet) and `vigil evaluate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2

from services.classify.config import ClassifyConfig
from services.detect.config import DetectConfig
from services.ingest.config import IngestConfig
from services.track.config import TrackConfig
from vigil import topics
from vigil.bus import MemoryBus
from vigil.errors import BadInput
from vigil.media import LocalMediaStore
from vigil.runtime.process import Service
from vigil.v1.dead_letters_pb2 import DeadLetter
from vigil.v1.events_pb2 import Event
from vigil.v1.jobs_pb2 import JobState, JobStatus, UploadJob
from vigil.v1.tracks_pb2 import Tracks
from vigil.v1.verdicts_pb2 import Verdicts

Progress = Callable[[int, int], None]  # (frames done end to end, frames expected)

# Small retention keeps memory bounded on long videos: ingest then waits for detect.
_RETENTION_RECORDS = 64
_COLLECT_TOPICS = (topics.TRACKS, topics.VERDICTS, topics.EVENTS, topics.JOB_STATUS,
                   topics.DEAD_LETTERS)
_POLL_S = 0.2


class VideoUnreadable(BadInput):
    """The file is not a video this pipeline can decode (missing, corrupt, empty)."""


@dataclass
class PipelineResult:
    """What the services published for one video, in frame order."""

    video: Path
    job_id: str
    tracks: list[Tracks] = field(default_factory=list)
    verdicts: list[Verdicts] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    frames_total: int = 0
    duration_s: float = 0.0
    analysis_fps: float = 0.0
    seconds: float = 0.0  # wall time from submitting the job to its last message


def check_video(path: Path) -> None:
    """Raise VideoUnreadable unless OpenCV opens the file and decodes its first frame."""
    if not path.is_file():
        raise VideoUnreadable(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise VideoUnreadable(f"{path}: not a video, or a format OpenCV cannot open")
        ok, image = capture.read()
        if not ok or image is None or image.size == 0:
            raise VideoUnreadable(f"{path}: no decodable frame (empty, truncated or corrupt)")
    finally:
        capture.release()


class VideoPipeline:
    """ingest + detect + track (+ classify when `classify` is given) over one MemoryBus.

    Use as `async with VideoPipeline(...) as pipeline: result = await pipeline.run(path)`.
    """

    def __init__(
        self,
        detect: DetectConfig | None = None,
        track: TrackConfig | None = None,
        ingest: IngestConfig | None = None,
        classify: ClassifyConfig | None = None,
        stall_timeout_s: float = 600.0,
    ) -> None:
        self.detect_config = detect or DetectConfig()
        self.track_config = track or TrackConfig()
        # A file analysed once: never loop it.
        self.ingest_config = (ingest or IngestConfig()).model_copy(update={"loop_files": False})
        self.classify_config = classify
        self.stall_timeout_s = stall_timeout_s
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._bus: MemoryBus | None = None
        self._media: LocalMediaStore | None = None
        self._collector: Any = None
        self._services: list[Service] = []
        self._numbers = itertools.count(1)

    @property
    def with_classify(self) -> bool:
        return self.classify_config is not None

    async def __aenter__(self) -> VideoPipeline:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        # Imports here: TensorFlow and the models load only when a pipeline starts.
        from services.detect.service import DetectService
        from services.ingest.service import IngestService
        from services.track.service import TrackService

        self._tmp = tempfile.TemporaryDirectory(prefix="vigil-pipeline-")
        bus = MemoryBus(partitions=1, retention_records=_RETENTION_RECORDS)
        await bus.start()
        await bus.ensure_topics([t.name for t in topics.ALL])
        media = LocalMediaStore(Path(self._tmp.name) / "media")
        await media.start()
        # Models load in the constructors; a missing one fails here, with the fix named.
        services: list[Service] = [
            IngestService(bus, media, self.ingest_config),
            await asyncio.to_thread(DetectService, bus, self.detect_config),
            TrackService(bus, self.track_config),
        ]
        if self.classify_config is not None:
            from services.classify.service import ClassifyService

            services.append(await asyncio.to_thread(ClassifyService, bus, self.classify_config))
        self._bus, self._media, self._services = bus, media, services
        self._collector = bus.consumer([t.name for t in _COLLECT_TOPICS], "pipeline-collector")
        await self._collector.start()
        self._tasks = [asyncio.create_task(s.run(self._stop), name=s.name) for s in services]
        while not all(s.is_ready() for s in services):
            self._raise_if_failed()
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._collector is not None:
            await self._collector.stop()
            self._collector = None
        if self._bus is not None:
            await self._bus.stop()
            self._bus = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _raise_if_failed(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"the {task.get_name()} service failed") from task.exception()

    async def run(self, video: Path, progress: Progress | None = None) -> PipelineResult:
        """Analyse one video; raises VideoUnreadable for a file that is not a decodable video."""
        if self._bus is None or self._media is None:
            raise RuntimeError("start the pipeline first")
        video = Path(video)
        await asyncio.to_thread(check_video, video)
        job_id = f"analyze-{next(self._numbers)}-{uuid.uuid4().hex[:8]}"
        media_key = f"uploads/{job_id}/video"
        await self._media.put_file(media_key, video, "video/mp4")
        job = UploadJob(job_id=job_id, media_key=media_key, filename=video.name,
                        created_at_us=int(time.time() * 1e6))
        started = time.perf_counter()
        await self._bus.publish(topics.JOBS.name, job_id, job.SerializeToString())
        result = PipelineResult(video=video, job_id=job_id)
        try:
            await self._collect(result, progress)
        finally:
            await self._media.delete(media_key)
        result.seconds = time.perf_counter() - started
        return result

    async def _collect(self, result: PipelineResult, progress: Progress | None) -> None:
        job_id = result.job_id
        last_stage = topics.VERDICTS.name if self.with_classify else topics.TRACKS.name
        done = dead = 0
        published: int | None = None  # frames ingest published, once the job is done
        last_activity = time.monotonic()
        while True:
            self._raise_if_failed()
            records = await self._collector.poll(256, _POLL_S)
            if records:
                await self._collector.commit(records)
            finished = False
            for record in records:
                if record.key != job_id:
                    continue
                last_activity = time.monotonic()
                if record.topic == topics.JOB_STATUS.name:
                    status = JobStatus.FromString(record.value)
                    if status.state == JobState.JOB_STATE_FAILED:
                        raise VideoUnreadable(f"{result.video}: {status.error}")
                    result.frames_total = max(result.frames_total, int(status.frames_total))
                    result.duration_s = status.duration_s or result.duration_s
                    result.analysis_fps = status.fps or result.analysis_fps
                    if status.state == JobState.JOB_STATE_DONE:
                        published = int(status.frames_done)
                        result.frames_total = published
                elif record.topic == topics.DEAD_LETTERS.name:
                    if DeadLetter.FromString(record.value).topic == topics.FRAMES.name:
                        dead += 1  # a frame detect could not decode never reaches the end
                elif record.topic == topics.TRACKS.name:
                    result.tracks.append(Tracks.FromString(record.value))
                elif record.topic == topics.VERDICTS.name:
                    result.verdicts.append(Verdicts.FromString(record.value))
                elif record.topic == topics.EVENTS.name:
                    result.events.append(Event.FromString(record.value))
                if record.topic == last_stage:
                    done += 1
                    message = result.verdicts[-1] if self.with_classify else result.tracks[-1]
                    finished = finished or message.frame.end_of_stream
                    if progress is not None:
                        progress(done, max(result.frames_total, done))
            if finished or (published is not None and done + dead >= published):
                if self.with_classify:
                    await self._drain_events(job_id, result)
                return
            if time.monotonic() - last_activity > self.stall_timeout_s:
                raise TimeoutError(f"{result.video}: no progress for {self.stall_timeout_s} s")

    async def _drain_events(self, job_id: str, result: PipelineResult) -> None:
        """Events classify publishes with the last verdict, if they are not read yet."""
        with contextlib.suppress(TimeoutError):
            for _ in range(3):
                records = await self._collector.poll(256, _POLL_S)
                if not records:
                    return
                await self._collector.commit(records)
                for record in records:
                    if record.key == job_id and record.topic == topics.EVENTS.name:
                        result.events.append(Event.FromString(record.value))


class ClassifyReplay:
    """Tracks already computed (the feature cache) through the classify service alone, over a
    MemoryBus: the verdicts and events the full pipeline would give, without detecting again.

    Use as `async with ClassifyReplay(config, model) as replay: await replay.run(tracks)`.
    """

    def __init__(self, config: ClassifyConfig, model: Any = None) -> None:
        self.config = config
        self.model = model
        self._stop = asyncio.Event()
        self._bus: MemoryBus | None = None
        self._task: asyncio.Task[None] | None = None
        self._collector: Any = None
        self._numbers = itertools.count(1)

    async def __aenter__(self) -> ClassifyReplay:
        from services.classify.service import ClassifyService

        bus = MemoryBus(partitions=1, retention_records=_RETENTION_RECORDS)
        await bus.start()
        await bus.ensure_topics([t.name for t in topics.ALL])
        service = ClassifyService(bus, self.config, self.model)
        self._collector = bus.consumer([topics.VERDICTS.name, topics.EVENTS.name], "replay")
        await self._collector.start()
        self._bus, self._task = bus, asyncio.create_task(service.run(self._stop))
        await service.loop.started.wait()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        if self._collector is not None:
            await self._collector.stop()
        if self._bus is not None:
            await self._bus.stop()

    async def run(self, messages: list[Tracks]) -> tuple[list[Verdicts], list[Event]]:
        """Publish one source's tracks; wait for a verdict per frame and the events."""
        if self._bus is None:
            raise RuntimeError("enter the replay first")
        if not messages:
            return [], []
        # A fresh camera id per run: the same clip replayed twice is two sources, not a replay.
        camera = f"replay-{next(self._numbers)}"
        renamed = []
        for message in messages:
            copy = Tracks()
            copy.CopyFrom(message)
            copy.frame.camera_id = camera
            renamed.append(copy)
        messages = renamed
        verdicts: list[Verdicts] = []
        events: list[Event] = []
        publishing = asyncio.create_task(self._publish(messages))
        try:
            while len(verdicts) < len(messages):
                if self._task is not None and self._task.done():
                    self._task.result()  # raise what stopped the service
                    raise RuntimeError("the classify service stopped")
                records = await self._collector.poll(256, _POLL_S)
                if records:
                    await self._collector.commit(records)
                for record in records:
                    if record.key != camera:
                        continue
                    if record.topic == topics.VERDICTS.name:
                        verdicts.append(Verdicts.FromString(record.value))
                    else:
                        events.append(Event.FromString(record.value))
            await publishing
        finally:
            publishing.cancel()
        return verdicts, events

    async def _publish(self, messages: list[Tracks]) -> None:
        assert self._bus is not None
        for message in messages:
            await self._bus.publish(topics.TRACKS.name, message.frame.camera_id,
                                    message.SerializeToString())
