"""Ingest: frames per second it sustains for a 1280x720 source on one core."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from services.classify.bench import make_720p_clip
from services.ingest.frames import sampled_frames
from services.ingest.sampling import frame_jpeg
from services.ingest.sources import SourceSpec, open_capture, video_info


def run() -> dict[str, Any]:
    cv2.setNumThreads(1)  # one core
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "720p.mp4"
        make_720p_clip(source, seconds=20)
        results: dict[str, Any] = {"source": "1280x720 at 30 fps, 20 s, H.264", "threads": 1}
        for rate in (10.0, 30.0):
            capture = open_capture(SourceSpec("file", str(source)))
            info = video_info(capture)
            started = time.perf_counter()
            published = 0
            for frame in sampled_frames(capture, rate, info.fps, live=False):
                frame_jpeg(frame.image, 85, 1920)
                published += 1
            elapsed = time.perf_counter() - started
            capture.release()
            results[f"analysis_{int(rate)}fps"] = {
                "frames_published_per_s": round(published / elapsed, 1),
                "source_frames_decoded_per_s": round(info.frame_count / elapsed, 1),
                "realtime_factor": round(info.duration_s / elapsed, 2),
            }
    return results
