"""Detect and track: ms per frame for each backend at 640x360 and 1280x720 with 1 and 2
threads; the pixel motion's ms per frame at those sizes, and as a ratio to the default
detector's (2 threads); tracker update time for 5, 20 and 50 people; the size and cost of a camera's
`track-state` snapshot; detect-service frames/s with 1, 4 and 16 cameras feeding it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import cv2
import numpy as np

from vigil.settings import dataset_dir

BACKENDS = ("movenet_multipose", "centernet_movenet")
SIZES = ((640, 360), (1280, 720))


def _frames(width: int, height: int, count: int = 12) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(dataset_dir() / "surveillance-fight/fight/fi010.mp4"))
    frames: list[np.ndarray] = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(image, (width, height)))
    capture.release()
    return frames


def detector_ms(threads: int) -> dict[str, Any]:
    """In a fresh process: TensorFlow's thread count is fixed before it first runs."""
    from services.detect.backends import create_detector
    from services.detect.config import DetectConfig

    results: dict[str, Any] = {}
    for backend in BACKENDS:
        detector = create_detector(DetectConfig(backend=backend, intra_op_threads=threads))
        for width, height in SIZES:
            frames = _frames(width, height)
            detector.detect(frames[:2])  # warm-up: graph tracing and allocation
            started = time.perf_counter()
            for frame in frames:
                detector.detect([frame])
            ms = (time.perf_counter() - started) * 1000 / len(frames)
            results[f"{backend}.{width}x{height}"] = round(ms, 1)
    return results


def motion_ms(width: int, height: int, people: int = 5) -> float:
    """Detect's pixel motion (flow, the scene and `people` boxes) per frame, ms."""
    from services.detect.motion import MotionMemory

    frames = _frames(width, height)
    boxes = np.array([[i * width / people, height / 4, (i + 0.8) * width / people, height]
                      for i in range(people)])
    memory = MotionMemory()
    memory.measure("bench", 0.0, frames[0], boxes)
    started = time.perf_counter()
    for index, frame in enumerate(frames[1:], start=1):
        memory.measure("bench", index / 10, frame, boxes)
    return (time.perf_counter() - started) * 1000 / (len(frames) - 1)


async def _service_fps(cameras: int, frames_per_camera: int) -> float:
    from services.detect.config import DetectConfig
    from services.detect.service import DetectService
    from vigil.bus import MemoryBus
    from vigil.v1.frames_pb2 import Frame, FrameRef

    bus = MemoryBus(partitions=16, retention_records=100_000)
    service = DetectService(bus, DetectConfig())
    jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in _frames(640, 360)]
    consumer = bus.consumer(["detections"], "bench")
    await consumer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    for index in range(frames_per_camera):
        for camera in range(cameras):
            ref = FrameRef(camera_id=f"cam-{camera}", frame_index=index, position_s=index / 10)
            frame = Frame(ref=ref, jpeg=jpegs[index % len(jpegs)])
            await bus.publish("frames", f"cam-{camera}", frame.SerializeToString())
    total = cameras * frames_per_camera
    started = time.perf_counter()
    received = 0
    while received < total:
        received += len(await consumer.poll(100, 1.0))
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return total / elapsed


def run() -> dict[str, Any]:
    from services.track.bench import bench_snapshot, bench_update

    results: dict[str, Any] = {"detector_ms_per_frame": {}}
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, "-c",
             f"import json; from bench.perception import detector_ms;"
             f" print(json.dumps(detector_ms({threads})))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        results["detector_ms_per_frame"][f"threads_{threads}"] = json.loads(out)
    default = results["detector_ms_per_frame"]["threads_2"]
    results["motion_ms_per_frame"] = {}
    for width, height in SIZES:
        ms = motion_ms(width, height)
        results["motion_ms_per_frame"][f"{width}x{height}"] = round(ms, 2)
        results["motion_ms_per_frame"][f"ratio_to_detector_{width}x{height}"] = round(
            ms / default[f"centernet_movenet.{width}x{height}"], 3)
    results["tracker_update_ms"] = {f"people_{n}": round(bench_update(n), 2) for n in (5, 20, 50)}
    # The `track-state` snapshot of one camera (full galleries): its traffic is bytes per
    # VIGIL_TRACK__SNAPSHOT_EVERY frames.
    results["track_snapshot"] = {f"people_{n}": bench_snapshot(n) for n in (2, 5, 20)}
    fps = {n: asyncio.run(_service_fps(n, max(4, 32 // n))) for n in (1, 4, 16)}
    results["detect_service_fps_640x360"] = {f"cameras_{n}": round(v, 2) for n, v in fps.items()}
    results["detect_service_fps_ratio_16_to_1"] = round(fps[16] / fps[1], 2)
    return results
