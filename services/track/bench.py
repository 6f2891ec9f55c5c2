"""Tracker costs for `make bench`: update time (`bench_update`) and the `track-state` snapshot
that keeps a camera resumable (`bench_snapshot`), with n people walking and full galleries."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker
from services.track.snapshot import restore, snapshot
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.track_state_pb2 import TrackerState

Frame = tuple[np.ndarray, np.ndarray]


def walking(n_people: int, embedding_dim: int, seed: int) -> Callable[[int], Frame]:
    """Boxes and embeddings of n people walking in straight lines, frame t."""
    rng = np.random.default_rng(seed)
    columns = int(np.ceil(np.sqrt(n_people)))
    origins = np.array([[80.0 * (i % columns), 160.0 * (i // columns)] for i in range(n_people)])
    velocities = rng.uniform(-2.0, 2.0, (n_people, 2))
    identity = rng.standard_normal((n_people, embedding_dim))
    identity /= np.linalg.norm(identity, axis=1, keepdims=True)

    def frame(t: int) -> Frame:
        top_left = origins + velocities * t + rng.normal(0.0, 1.0, origins.shape)
        boxes = np.hstack([top_left, top_left + np.array([50.0, 120.0])])
        embeddings = identity + rng.normal(0.0, 0.3 / np.sqrt(embedding_dim), identity.shape)
        return boxes, embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    return frame


def warmed_up(
    n_people: int, embedding_dim: int, config: TrackConfig, seed: int
) -> tuple[Tracker, Callable[[int], Frame]]:
    """A tracker that has run gallery_size frames, so every track holds a full gallery (the
    steady state, and the slowest and largest)."""
    frame = walking(n_people, embedding_dim, seed)
    tracker = Tracker(config)
    scores = np.ones(n_people)
    for t in range(config.gallery_size):
        boxes, embeddings = frame(t)
        tracker.update(boxes, scores, embeddings)
    return tracker, frame


def bench_update(
    n_people: int,
    embedding_dim: int = 1280,
    frames: int = 20,
    config: TrackConfig | None = None,
    seed: int = 0,
) -> float:
    """Median ms of one DeepSORT update with n_people walking, galleries already full.

    embedding_dim 1280 is the MobileNetV2 appearance embedding of the detect service.
    """
    config = config or TrackConfig()
    tracker, frame = warmed_up(n_people, embedding_dim, config, seed)
    scores = np.ones(n_people)
    timings = []
    for t in range(config.gallery_size, config.gallery_size + frames):
        boxes, embeddings = frame(t)
        start = time.perf_counter()
        tracker.update(boxes, scores, embeddings)
        timings.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(timings))


def bench_snapshot(
    n_people: int, embedding_dim: int = 1280, config: TrackConfig | None = None, seed: int = 0
) -> dict[str, float | bool]:
    """One camera's `track-state` snapshot with full galleries: its size, the ms to take and
    serialise it, and the ms to parse and restore it; `trimmed`: galleries were cut to fit."""
    config = config or TrackConfig()
    tracker, _ = warmed_up(n_people, embedding_dim, config, seed)
    start = time.perf_counter()
    data = snapshot(tracker, 0, 0, FrameRef(camera_id="bench")).SerializeToString()
    taken = time.perf_counter()
    state = TrackerState.FromString(data)
    restore(state, config)
    restored = time.perf_counter()
    return {"bytes": len(data), "snapshot_ms": round(1000 * (taken - start), 2),
            "restore_ms": round(1000 * (restored - taken), 2),
            "trimmed": bool(state.galleries_trimmed)}


if __name__ == "__main__":
    for n in (5, 20, 50):
        print(f"tracker update, {n} people: {bench_update(n):.2f} ms;"
              f" snapshot: {bench_snapshot(n)}")
