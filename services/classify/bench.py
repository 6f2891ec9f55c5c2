"""Classify speed for `make bench`: `run()` -> dict.

- `classify_ms_per_track_frame`: features + model per tracked person per frame, the steady state
  of the service (a full window of history, people walking), for 1, 4 and 8 people on screen.
- `analyze`: `vigil analyze` end to end (ingest, detect, track, classify over the in-process bus)
  on a 1280x720 clip, in analysed frames per second, beside the detect stage alone (detector +
  appearance embedder on the same frames) and their ratio (1.0: classify, tracking and the bus
  cost nothing beside detection).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from services.classify.config import ClassifyConfig
from services.classify.features import FrameTracks, TrackedPerson
from services.classify.scoring import CameraHistory
from vigil.settings import dataset_dir

SOURCE_CLIP = Path("surveillance-fight") / "fight" / "fi005.mp4"


def _walking_frames(people: int, count: int, rate_hz: float, seed: int = 0) -> list[FrameTracks]:
    rng = np.random.default_rng(seed)
    origins = rng.uniform(50, 600, (people, 2))
    velocity = rng.uniform(-30, 30, (people, 2))
    frames = []
    for i in range(count):
        people_now = []
        for p in range(people):
            x, y = origins[p] + velocity[p] * i / rate_hz
            keypoints = np.column_stack([x + rng.uniform(0, 40, 17), y + rng.uniform(0, 100, 17),
                                         rng.uniform(0.3, 1.0, 17)])
            people_now.append(TrackedPerson(p + 1, np.array([x, y, x + 40, y + 100]), keypoints))
        frames.append(FrameTracks(i / rate_hz, 1280, 720, tuple(people_now)))
    return frames


def bench_classify(model: Any, config: ClassifyConfig, people: int, frames: int = 40) -> float:
    """Median ms per tracked person per frame: CameraHistory.add + one batched model call."""
    from services.classify.model import predict_people

    history = CameraHistory(config.window, config.rate_hz, config.min_present_steps)
    stream = _walking_frames(people, config.window + frames, config.rate_hz)
    for frame in stream[: config.window]:
        predict_people(model, history.add(frame))  # fill the window, trace the model
    timings = []
    for frame in stream[config.window :]:
        started = time.perf_counter()
        predict_people(model, history.add(frame))
        timings.append(time.perf_counter() - started)
    return 1000.0 * float(np.median(timings)) / people


def make_720p_clip(path: Path, seconds: float = 6.0) -> None:
    """A real fight clip scaled to 1280x720 at 30 fps, looped to `seconds` (H.264)."""
    from services.repository.encode import ClipWriter

    capture = cv2.VideoCapture(str(dataset_dir() / SOURCE_CLIP))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, (1280, 720)))
    capture.release()
    if not frames:
        raise FileNotFoundError(f"cannot read {dataset_dir() / SOURCE_CLIP}")
    writer = ClipWriter(path, 30.0, 1280, 720)
    for i in range(int(seconds * 30)):
        writer.write(frames[i % len(frames)])
    writer.close()


def bench_detect_alone(video: Path, analysis_fps: float) -> float:
    """Analysed frames per second of the detect stage alone (what DetectService runs)."""
    from services.detect.config import DetectConfig
    from services.detect.service import DetectService
    from services.ingest.frames import sampled_frames
    from services.ingest.sources import SourceSpec, open_capture, video_info
    from vigil.bus import MemoryBus
    from vigil.v1.frames_pb2 import FrameRef

    service = DetectService(MemoryBus(), DetectConfig())
    capture = open_capture(SourceSpec("file", str(video)))
    images = [f.image for f in sampled_frames(capture, analysis_fps, video_info(capture).fps,
                                              live=False)]
    capture.release()
    refs = [FrameRef(camera_id="bench", position_s=i / analysis_fps) for i in range(len(images))]
    service._infer(refs[:2], images[:2])  # warm up
    started = time.perf_counter()
    for ref, image in zip(refs, images, strict=True):
        service._infer([ref], [image])
    return len(images) / (time.perf_counter() - started)


def bench_analyze(video: Path) -> tuple[float, int]:
    """(analysed frames per second, frames) of the whole pipeline, model loading excluded."""
    from services.classify.pipeline import VideoPipeline

    async def go() -> tuple[float, int]:
        async with VideoPipeline(classify=ClassifyConfig()) as pipeline:
            result = await pipeline.run(video)
        return len(result.verdicts) / result.seconds, len(result.verdicts)

    return asyncio.run(go())


def run() -> dict[str, Any]:
    from services.classify.service import load_classifier

    config = ClassifyConfig()
    model = load_classifier(config)
    results: dict[str, Any] = {
        "classify_ms_per_track_frame": {
            f"{n}_people": round(bench_classify(model, config, n), 3) for n in (1, 4, 8)
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "720p.mp4"
        make_720p_clip(video)
        analyze_fps, frames = bench_analyze(video)
        detect_fps = bench_detect_alone(video, 10.0)
    results["analyze"] = {
        "source": "1280x720, 30 fps, 6 s, analysed at 10 fps",
        "frames": frames,
        "end_to_end_fps": round(analyze_fps, 2),
        "detect_alone_fps": round(detect_fps, 2),
        "ratio_to_detect": round(analyze_fps / detect_fps, 3),
    }
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
