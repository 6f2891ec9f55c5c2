"""Benchmarks of the repository's media core, for `make bench`.

- `bench_clip_encoding`: wall time to encode one second of 1280x720 video (real CCTV frames).
- `bench_storage_ratio`: a 10-minute camera stream at 10 fps with one 20-second fight; bytes the
  repository stores for the event (clip parts + poster + culprit crops) against the bytes of a
  continuous recording encoded the same way. The continuous recording is estimated by encoding
  one representative minute of the same camera's quiet scene and scaling it to the stream's
  length (the fight's 20 s are counted at the quiet rate, which slightly underestimates the
  continuous recording, so the ratio errs on the high side).

- `bench_events_stored`: complete events written through the service's writer (open document,
  a 10-second 720p clip part with its poster, two culprit crops and a face, the final document)
  one after another, against real servers: SecantusDB with SeaweedFS (S3), and SecantusDB with a
  local folder (the embedded mode); events per second.

Frames come from the surveillance-fight data set (`$VIGIL_DATA_DIR`): by default a fight clip and a
no-fight clip cut from the same 1280x720 CCTV source (group src06), played forwards and backwards
to last as long as needed without a scene cut. `run()` is what `make bench` calls; run alone with
`python -m services.repository.bench`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np

from services.repository.clips import ClipAssembler, ClipPart, EventClosed, EventOpened, SourceFrame
from services.repository.config import RepositoryConfig, VideoCodec
from services.repository.culprits import CulpritPicker, CulpritSighting
from services.repository.encode import ClipInfo, ClipWriter, clip_suffix
from services.repository.inputs import CulpritScore, EventIn, UpdateKind
from services.repository.keys import clip_part_key
from services.repository.outputs import (
    CulpritMedia,
    EventReady,
    EventStarted,
    Output,
    PartMeta,
    PartReady,
)
from vigil.images import encode_jpeg

FIGHT_CLIP = "surveillance-fight/fight/fi051.mp4"
QUIET_CLIP = "surveillance-fight/noFight/nofi039.mp4"  # same camera view as FIGHT_CLIP
STREAM_START = 1_700_000_000.0  # capture time of the simulated stream's first frame


def data_dir() -> Path:
    return Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()


def data_file(relative: str) -> Path:
    path = data_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: set VIGIL_DATA_DIR to the shared data folder")
    return path


def load_frames(path: Path, fps: float, width: int, height: int) -> list[np.ndarray]:
    """The clip's frames sampled at `fps` (nearest source frame) and scaled to width x height."""
    capture = cv2.VideoCapture(str(path))
    try:
        source_fps = capture.get(cv2.CAP_PROP_FPS) or fps
        decoded = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            decoded.append(frame)
    finally:
        capture.release()
    if not decoded:
        raise ValueError(f"no frame could be decoded from {path}")
    duration_s = len(decoded) / source_fps
    picks = [round(k * source_fps / fps) for k in range(max(1, int(duration_s * fps)))]
    return [
        cv2.resize(decoded[min(i, len(decoded) - 1)], (width, height), interpolation=cv2.INTER_AREA)
        for i in picks
    ]


def ping_pong(frames: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Forwards, backwards, forwards...: endless video of one scene without a jump."""
    return itertools.cycle(frames + frames[-2:0:-1])


@dataclass(frozen=True, slots=True)
class EncodeBench:
    codec: VideoCodec
    width: int
    height: int
    fps: float
    video_s: float
    wall_s: float
    wall_s_per_video_s: float
    bytes: int


def bench_clip_encoding(
    source: Path | None = None,
    *,
    video_s: float = 10.0,
    fps: float = 10.0,
    width: int = 1280,
    height: int = 720,
    config: RepositoryConfig | None = None,
) -> EncodeBench:
    """Encode `video_s` seconds of real frames (decoded and scaled beforehand, not timed)."""
    config = config or RepositoryConfig()
    frames = ping_pong(load_frames(source or data_file(FIGHT_CLIP), fps, width, height))
    batch = [next(frames) for _ in range(round(video_s * fps))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bench{clip_suffix(config.codec)}"
        started = time.perf_counter()
        writer = ClipWriter(path, fps, width, height, codec=config.codec, config=config)
        for frame in batch:
            writer.write(frame)
        info = writer.close()
        wall_s = time.perf_counter() - started
    return EncodeBench(
        config.codec,
        width,
        height,
        fps,
        info.duration_s,
        wall_s,
        wall_s / info.duration_s,
        info.bytes,
    )


@dataclass(frozen=True, slots=True)
class StorageBench:
    codec: VideoCodec
    stream_s: float
    fight_s: float
    fps: float
    clip_parts: int
    clip_s: float
    clip_bytes: int
    poster_bytes: int
    crop_bytes: int
    stored_bytes: int
    sample_minute_bytes: int
    continuous_bytes_estimate: int
    stored_fraction: float


def _culprit_boxes(width: int, height: int) -> list[tuple[float, float, float, float]]:
    # Two person-sized boxes near the middle of the picture, where the source's fight happens.
    w, h = width * 0.15, height * 0.6
    top = height * 0.2
    return [
        (width * 0.33, top, width * 0.33 + w, top + h),
        (width * 0.52, top, width * 0.52 + w, top + h),
    ]


def bench_storage_ratio(
    fight: Path | None = None,
    quiet: Path | None = None,
    *,
    stream_s: float = 600.0,
    fight_s: float = 20.0,
    fps: float = 10.0,
    width: int = 1280,
    height: int = 720,
    sample_s: float = 60.0,
    config: RepositoryConfig | None = None,
    find_face: Callable[[np.ndarray], object | None] = lambda crop: None,
) -> StorageBench:
    """Stored bytes for one fight as a fraction of a continuous recording of the whole stream."""
    config = config or RepositoryConfig(nominal_fps=fps)
    fight_frames = ping_pong(load_frames(fight or data_file(FIGHT_CLIP), fps, width, height))
    quiet_source = load_frames(quiet or data_file(QUIET_CLIP), fps, width, height)
    fight_start = round(stream_s / 2 * fps)  # frame index of the first violent frame
    fight_end = fight_start + round(fight_s * fps) - 1
    # Frames long before the fight only pass through the ring: start just before it matters.
    first = max(0, fight_start - round((config.ring_seconds() + 1.0) * fps))
    last = min(round(stream_s * fps) - 1, fight_end + round((config.post_roll_s + 1.0) * fps))

    quiet_frames = ping_pong(quiet_source)
    boxes = _culprit_boxes(width, height)
    parts: list[ClipPart] = []
    picker = CulpritPicker(find_face, config)
    with tempfile.TemporaryDirectory() as folder:
        assembler = ClipAssembler(Path(folder), config, fps=fps)
        for index in range(first, last + 1):
            violent = fight_start <= index <= fight_end
            bgr = next(fight_frames) if violent else next(quiet_frames)
            at = STREAM_START + index / fps
            frame = SourceFrame(index, at, index / fps, encode_jpeg(bgr, config.jpeg_quality))
            parts += assembler.push_frame(frame)
            if violent:
                sightings = [CulpritSighting(t, box, 0.8) for t, box in enumerate(boxes, 1)]
                picker.observe(bgr, index, sightings)
            if index == fight_start:
                parts += assembler.apply(EventOpened("bench", index, at))
            if index == fight_end:
                parts += assembler.apply(EventClosed("bench", index, at))
        parts += assembler.finish()

        sample_path = Path(folder) / f"minute{clip_suffix(config.codec)}"
        writer = ClipWriter(sample_path, fps, width, height, codec=config.codec, config=config)
        quiet_minute = ping_pong(quiet_source)
        for _ in range(round(sample_s * fps)):
            writer.write(next(quiet_minute))
        sample_bytes = writer.close().bytes

    clip_bytes = sum(part.info.bytes for part in parts)
    poster_bytes = sum(len(part.poster_jpeg or b"") for part in parts)
    crop_bytes = 0
    for pick in picker.picks():
        crop_bytes += len(pick.crop_jpeg)
        if pick.face_crop_jpeg is not None and pick.face_crop_jpeg is not pick.crop_jpeg:
            crop_bytes += len(pick.face_crop_jpeg)
    stored = clip_bytes + poster_bytes + crop_bytes
    continuous = round(sample_bytes * stream_s / sample_s)
    return StorageBench(
        codec=config.codec,
        stream_s=stream_s,
        fight_s=fight_s,
        fps=fps,
        clip_parts=len(parts),
        clip_s=sum(part.info.duration_s for part in parts),
        clip_bytes=clip_bytes,
        poster_bytes=poster_bytes,
        crop_bytes=crop_bytes,
        stored_bytes=stored,
        sample_minute_bytes=sample_bytes,
        continuous_bytes_estimate=continuous,
        stored_fraction=stored / continuous,
    )


@dataclass(frozen=True, slots=True)
class StoreBench:
    media: str  # "s3" or "local"
    events: int
    clip_bytes: int  # of each event's clip part
    wall_s: float
    events_per_s: float


def _bench_outputs(event_id: str, clip: Path, pictures: list[bytes]) -> list[Output]:
    """What the join hands the writer for one event of 10 s with two culprits."""
    start_us = round(time.time() * 1e6)
    event = EventIn(
        event_id, UpdateKind.CLOSED, "bench-camera", "live", "", 100, start_us, 10.0, 200,
        start_us + 10_000_000, 20.0, (CulpritScore(1, 0.9, 0.8), CulpritScore(2, 0.8, 0.7)), 0.9,
    )  # fmt: skip
    size = clip.stat().st_size
    info = ClipInfo(clip, 100, 10.0, size, "h264", "video/mp4", 1280, 720, 10.0)
    part = ClipPart(event_id, 0, True, info, 70, 230, 0.0, 16.0, 7.0, 23.0, pictures[0])
    meta = PartMeta(0, clip_part_key(event_id, 0, ".mp4"), 70, 230, 100, 10.0, size, "video/mp4",
                    len(pictures[0]))  # fmt: skip
    culprits = (
        CulpritMedia(1, 0.9, 0.8, pictures[1], pictures[2], False),
        CulpritMedia(2, 0.8, 0.7, pictures[3], None, True),
    )
    return [
        EventStarted(event),
        PartReady(event, part, meta, (meta,)),
        EventReady(event, (meta,), culprits, closed=True),
    ]


async def _store_events(
    mongo_url: str, media_kind: str, s3_url: str, events: int, clip: Path, clip_bytes: int,
    pictures: list[bytes], work: Path,
) -> StoreBench:  # fmt: skip
    from pymongo import AsyncMongoClient

    from services.repository.store import EventStore
    from services.repository.writer import EventWriter
    from vigil.media import LocalMediaStore, MediaStore, S3MediaStore

    media: MediaStore
    if media_kind == "s3":
        url = urlsplit(s3_url)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        media = S3MediaStore(f"{url.hostname}:{url.port}", url.username or "", url.password or "",
                             bucket)  # fmt: skip
    else:
        media = LocalMediaStore(work / f"media-{uuid.uuid4().hex[:8]}")
    await media.start()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        store = EventStore(client[f"bench_{uuid.uuid4().hex[:8]}"], media)
        await store.ensure_indexes()
        writer = EventWriter(store, media)
        batches = []
        for n in range(events):  # the writer removes each part's file once stored
            copy = work / f"part-{n}.mp4"
            shutil.copyfile(clip, copy)
            batches.append(_bench_outputs(f"bench-{uuid.uuid4().hex}", copy, pictures))
        started = time.perf_counter()
        for outputs in batches:
            for output in outputs:
                await writer.write(output)
        wall_s = time.perf_counter() - started
    finally:
        await client.close()
    return StoreBench(media_kind, events, clip_bytes, wall_s, events / wall_s)


def bench_events_stored(
    mongo_url: str | None = None,
    s3_url: str | None = None,
    *,
    events: int = 50,
    source: Path | None = None,
    video_s: float = 10.0,
    fps: float = 10.0,
    width: int = 1280,
    height: int = 720,
) -> list[StoreBench]:
    """Events stored per second, S3 and local media; starts its own servers when not given."""
    from tests import servers  # the test servers' launcher: a bench tool, not the product

    frames = ping_pong(load_frames(source or data_file(FIGHT_CLIP), fps, width, height))
    batch = [next(frames) for _ in range(round(video_s * fps))]
    pictures = [encode_jpeg(batch[0], 90)] + [
        encode_jpeg(batch[0][: height // 2, i * width // 8 : (i + 1) * width // 8], 90)
        for i in range(3)
    ]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        clip = work / "clip.mp4"
        writer = ClipWriter(clip, fps, width, height)
        for frame in batch:
            writer.write(frame)
        clip_bytes = writer.close().bytes
        started: list[servers.Server] = []
        try:
            if mongo_url is None:
                started.append(servers.start_mongo(work))
                mongo_url = started[-1].address
            if s3_url is None:
                started.append(servers.start_s3(work))
                s3_url = started[-1].address
            return [
                asyncio.run(
                    _store_events(mongo_url, kind, s3_url, events, clip, clip_bytes, pictures, work)
                )
                for kind in ("s3", "local")
            ]
        finally:
            for server in started:
                server.stop()


def run() -> dict[str, Any]:
    """Every repository benchmark, for `make bench`."""
    return {
        "events_stored": {result.media: asdict(result) for result in bench_events_stored()},
        "clip_encoding": asdict(bench_clip_encoding()),
        "storage": asdict(bench_storage_ratio()),
    }


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
