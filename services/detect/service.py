"""The detect service: `frames` -> `detections`.

Frames waiting on several cameras are taken together (up to `batch_size`) and run through the
model as one batch; inference runs in a worker thread so the event loop keeps serving the bus.
Each person also gets their pixel motion against the camera's previous frame (`motion.py`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from services.detect.backends import PersonDetector, create_detector
from services.detect.backends.base import Person
from services.detect.config import DetectConfig
from services.detect.embedder import AppearanceEmbedder
from services.detect.messages import decode_frame, detections_message
from services.detect.metrics import FRAMES_SKIPPED, INFERENCE_SECONDS, PEOPLE_DETECTED
from services.detect.motion import FrameMotion, MotionMemory
from vigil import topics
from vigil.bus import Bus
from vigil.runtime.metrics import FRAMES_PROCESSED
from vigil.runtime.worker import ConsumeLoop, Delivery
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind


class DetectService:
    name = "detect"

    def __init__(
        self,
        bus: Bus,
        config: DetectConfig,
        detector: PersonDetector | None = None,
        embedder: AppearanceEmbedder | None = None,
    ) -> None:
        # Models load here, at start-up: a missing one stops the process with the fix named.
        self.detector = detector or create_detector(config)
        self.embedder = embedder or AppearanceEmbedder(cache_dir=config.model_dir)
        self.model = config.backend
        self.motion = MotionMemory()
        self.max_live_lag_s = config.max_live_lag_s
        self.loop: ConsumeLoop[Frame] = ConsumeLoop(
            bus, service=self.name, topic=topics.FRAMES, group="detect", handle=self._handle,
            max_batch=config.batch_size,
        )

    def is_ready(self) -> bool:
        return self.loop.started.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        await self.loop.run(stop)

    async def _handle(self, batch: list[Delivery[Frame]]) -> None:
        batch = self._shed_stale(batch)
        if not batch:
            return
        # A corrupt JPEG raises BadInput; the loop then retries the batch one frame at a time
        # and dead-letters only that frame.
        images = await asyncio.to_thread(lambda: [decode_frame(d.message) for d in batch])
        started = time.perf_counter()
        refs = [d.message.ref for d in batch]
        results = await asyncio.to_thread(self._infer, refs, images)
        elapsed = time.perf_counter() - started
        INFERENCE_SECONDS.labels(self.model).observe(elapsed)
        per_frame_ms = elapsed * 1000 / len(batch)
        for ref, (people, embeddings, motion) in zip(refs, results, strict=True):
            message = detections_message(ref, people, embeddings, motion, self.model, per_frame_ms)
            await self.loop.publisher.publish(topics.DETECTIONS, ref.camera_id, message)
            FRAMES_PROCESSED.labels(self.name, ref.camera_id).inc()
            PEOPLE_DETECTED.labels(ref.camera_id).inc(len(people))

    def _shed_stale(self, batch: list[Delivery[Frame]]) -> list[Delivery[Frame]]:
        if self.max_live_lag_s <= 0:
            return batch
        oldest_us = (time.time() - self.max_live_lag_s) * 1e6
        fresh = []
        for delivery in batch:
            ref = delivery.message.ref
            if ref.source_kind == SourceKind.SOURCE_KIND_LIVE and ref.capture_time_us < oldest_us:
                FRAMES_SKIPPED.labels(ref.camera_id).inc()
            else:
                fresh.append(delivery)
        return fresh

    def _infer(
        self, refs: list[FrameRef], images: list[np.ndarray]
    ) -> list[tuple[list[Person], Any, FrameMotion]]:
        detected = self.detector.detect(images)
        out = []
        # In batch order: a camera's frames are in order within the batch, as motion needs.
        for ref, image, people in zip(refs, images, detected, strict=True):
            boxes = np.array([p.box for p in people]).reshape(-1, 4)
            motion = self.motion.measure(
                ref.camera_id, ref.position_s, image, boxes, last=ref.end_of_stream
            )
            out.append((people, self.embedder.embed(image, boxes), motion))
        return out
