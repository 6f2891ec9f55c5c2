"""Tracker update time: `bench_update(n_people)` -> ms per frame, for `make bench`."""

from __future__ import annotations

import time

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.tracker import Tracker


def bench_update(
    n_people: int,
    embedding_dim: int = 1280,
    frames: int = 20,
    config: TrackConfig | None = None,
    seed: int = 0,
) -> float:
    """Median ms of one DeepSORT update with n_people walking, galleries already full.

    embedding_dim 1280 is the MobileNetV2 appearance embedding of the detect service. The
    tracker first runs gallery_size frames so that every track holds a full gallery (the steady
    state, and the slowest).
    """
    config = config or TrackConfig()
    rng = np.random.default_rng(seed)
    columns = int(np.ceil(np.sqrt(n_people)))
    origins = np.array([[80.0 * (i % columns), 160.0 * (i // columns)] for i in range(n_people)])
    velocities = rng.uniform(-2.0, 2.0, (n_people, 2))
    identity = rng.standard_normal((n_people, embedding_dim))
    identity /= np.linalg.norm(identity, axis=1, keepdims=True)
    scores = np.ones(n_people)
    tracker = Tracker(config)

    def frame(t: int) -> tuple[np.ndarray, np.ndarray]:
        top_left = origins + velocities * t + rng.normal(0.0, 1.0, origins.shape)
        boxes = np.hstack([top_left, top_left + np.array([50.0, 120.0])])
        embeddings = identity + rng.normal(0.0, 0.3 / np.sqrt(embedding_dim), identity.shape)
        return boxes, embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)

    for t in range(config.gallery_size):
        boxes, embeddings = frame(t)
        tracker.update(boxes, scores, embeddings)
    timings = []
    for t in range(config.gallery_size, config.gallery_size + frames):
        boxes, embeddings = frame(t)
        start = time.perf_counter()
        tracker.update(boxes, scores, embeddings)
        timings.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(timings))


if __name__ == "__main__":
    for n in (5, 20, 50):
        print(f"tracker update, {n} people: {bench_update(n):.2f} ms")
