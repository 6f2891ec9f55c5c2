"""The classify service: `tracks` -> `verdicts` (every frame) and `events` (per camera).

Per camera it keeps a short history of tracked frames (`CameraHistory`: just what the window
needs) and an `EventTracker`. A batch of tracks messages is turned into person sequences and
scored by the model in one call, in a worker thread; then, in frame order, the event updates of
each frame are published, then its verdicts. The last frame of a finite source
(`end_of_stream`) closes the camera's open event and frees its state. A camera that stops
sending frames for `stall_seconds` of wall time has its open event closed too.

Times: an event's time is the frame's `capture_time_us` (the job's start plus the position for
an upload, the wall clock for a live camera); its position is the frame's `position_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import keras
import numpy as np
from prometheus_client import Counter, Histogram

from services.classify.config import ClassifyConfig
from services.classify.events import EventTracker, EventUpdate
from services.classify.features import FEATURE_DIM
from services.classify.messages import event_message, frame_tracks, verdicts_message
from services.classify.model import load_model, predict_people
from services.classify.scoring import CameraHistory
from vigil import topics
from vigil.bus import Bus
from vigil.errors import ModelMissing
from vigil.runtime.metrics import FRAMES_PROCESSED
from vigil.runtime.worker import ConsumeLoop, Delivery
from vigil.v1.frames_pb2 import FrameRef, SourceKind
from vigil.v1.tracks_pb2 import Tracks

log = logging.getLogger(__name__)

CLASSIFY_SECONDS = Histogram(
    "vigil_classify_seconds", "Feature and model time per batch of tracks messages",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
PEOPLE_SCORED = Counter("vigil_people_scored_total", "Person sequences the model scored")
EVENTS_PUBLISHED = Counter("vigil_events_total", "Event updates published", ["kind"])
VERDICTS_PUBLISHED = Counter(
    "vigil_verdicts_total", "Person verdicts published", ["violent"]
)
SLOW_SOURCES = Counter(
    "vigil_classify_slow_sources_total",
    "Sources analysed at fewer frames per second than the model was trained at",
)
END_TO_END_SECONDS = Histogram(
    "vigil_end_to_end_seconds", "Live frames: capture to verdict published",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)

_EXPIRY_PERIOD_S = 1.0
# A camera silent this long with no open event is forgotten (bounded memory across cameras).
_FORGET_AFTER_S = 600.0


def load_classifier(config: ClassifyConfig) -> keras.Model:
    """The configured model, with a shape check; a missing file names the fix."""
    try:
        return load_model(config.model_path, config.window, FEATURE_DIM)
    except FileNotFoundError as exc:
        raise ModelMissing(str(exc)) from exc
    except ValueError as exc:
        raise ModelMissing(f"{exc} (VIGIL_CLASSIFY__WINDOW must match the model)") from exc


@dataclass
class CameraState:
    history: CameraHistory
    events: EventTracker
    last_ref: FrameRef = field(default_factory=FrameRef)
    last_seen: float = field(default_factory=time.monotonic)  # wall clock of the last frame
    last_time_s: float = 0.0  # event time of the last frame
    frames_seen: int = 0


class ClassifyService:
    name = "classify"

    def __init__(
        self, bus: Bus, config: ClassifyConfig, model: keras.Model | None = None
    ) -> None:
        self.config = config
        self.model = model if model is not None else load_classifier(config)
        # Trace the forward function now, not on the first live frame.
        predict_people(self.model, {0: np.zeros((config.window, FEATURE_DIM), np.float32)})
        self.cameras: dict[str, CameraState] = {}
        self.loop: ConsumeLoop[Tracks] = ConsumeLoop(
            bus, service=self.name, topic=topics.TRACKS, group="classify", handle=self._handle,
            max_batch=config.batch_size,
        )

    def is_ready(self) -> bool:
        return self.loop.started.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.loop.run(stop))
            group.create_task(self._expire_stalled(stop))

    def _new_camera(self, ref: FrameRef) -> CameraState:
        """A source's state from its first frame (warned about if analysed too slowly)."""
        self._check_rate(ref)
        c = self.config
        state = CameraState(
            CameraHistory(c.window, c.rate_hz, c.min_present_steps),
            EventTracker(ref.camera_id, c.on_threshold, c.k, c.n, c.quiet_seconds,
                         c.off_threshold),
        )
        self.cameras[ref.camera_id] = state
        return state

    def _states(self, messages: list[Tracks]) -> list[tuple[CameraState, CameraState | None]]:
        """Each message's camera state, and the state it replaced when its source restarted
        (frame index 0 again: a camera stopped and started; that state's event must close)."""
        out: list[tuple[CameraState, CameraState | None]] = []
        for message in messages:
            camera_id = message.frame.camera_id
            state = self.cameras.get(camera_id)
            replaced = None
            if state is None:
                state = self._new_camera(message.frame)
            elif message.frame.frame_index == 0 and state.frames_seen > 0:
                replaced, state = state, self._new_camera(message.frame)
            state.frames_seen += 1
            state.last_seen = time.monotonic()
            out.append((state, replaced))
        return out

    def _check_rate(self, ref: FrameRef) -> None:
        """Warn when a source is analysed slower than the model's rate: the features are
        resampled to `rate_hz` anyway, but fast motion between the frames is lost and fights are
        missed (docs/model-card.md)."""
        if 0 < ref.analysis_fps < self.config.rate_hz:
            SLOW_SOURCES.inc()
            log.warning(
                "camera %s is analysed at %g fps, below the %g fps the model was trained at: "
                "fights will be missed; set VIGIL_INGEST__ANALYSIS_FPS=%g",
                ref.camera_id, ref.analysis_fps, self.config.rate_hz, self.config.rate_hz)

    async def _handle(self, batch: list[Delivery[Tracks]]) -> None:
        messages = [d.message for d in batch]
        states = self._states(messages)
        started = time.perf_counter()
        scores = await asyncio.to_thread(self._score, messages, [s for s, _ in states])
        CLASSIFY_SECONDS.observe(time.perf_counter() - started)
        publisher = self.loop.publisher
        for message, (state, replaced), frame_scores in zip(messages, states, scores, strict=True):
            ref = message.frame
            if replaced is not None:
                await self._publish_events(replaced.events.flush(), replaced.last_ref)
            state.last_ref = ref
            state.last_time_s = ref.capture_time_us / 1e6
            updates = state.events.update(
                int(ref.frame_index), state.last_time_s, frame_scores, ref.position_s
            )
            if ref.end_of_stream:
                updates += state.events.flush()
            await self._publish_events(updates, ref)
            verdicts = verdicts_message(message, frame_scores, self.config.on_threshold)
            await publisher.publish(topics.VERDICTS, ref.camera_id, verdicts)
            for person in verdicts.people:
                VERDICTS_PUBLISHED.labels(str(person.violent).lower()).inc()
            FRAMES_PROCESSED.labels(self.name, ref.camera_id).inc()
            if ref.source_kind == SourceKind.SOURCE_KIND_LIVE and ref.capture_time_us:
                END_TO_END_SECONDS.observe(time.time() - ref.capture_time_us / 1e6)
            if ref.end_of_stream and self.cameras.get(ref.camera_id) is state:
                del self.cameras[ref.camera_id]  # the source is over; free its state

    def _score(
        self, messages: list[Tracks], states: list[CameraState]
    ) -> list[dict[int, float]]:
        """Worker thread: every frame's person sequences, then one model call for the batch."""
        per_frame = [
            state.history.add(frame_tracks(message))
            for message, state in zip(messages, states, strict=True)
        ]
        keyed = {(i, tid): seq for i, seqs in enumerate(per_frame) for tid, seq in seqs.items()}
        flat = predict_people(self.model, {n: seq for n, seq in enumerate(keyed.values())})
        PEOPLE_SCORED.inc(len(flat))
        scores: list[dict[int, float]] = [{} for _ in messages]
        for n, (i, tid) in enumerate(keyed):
            scores[i][tid] = flat[n]
        return scores

    async def _publish_events(self, updates: list[EventUpdate], ref: FrameRef) -> None:
        for update in updates:
            await self.loop.publisher.publish(topics.EVENTS, update.camera_id,
                                              event_message(update, ref))
            EVENTS_PUBLISHED.labels(update.kind.value).inc()
            log.info("violence event", extra={"camera": update.camera_id, "kind": update.kind,
                                              "event": update.event_id,
                                              "start_frame": update.start_frame})

    async def _expire_stalled(self, stop: asyncio.Event) -> None:
        """Close the events of cameras that stopped sending frames; forget long-idle cameras."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _EXPIRY_PERIOD_S)
            await self.expire_stalled(time.monotonic())

    async def expire_stalled(self, now: float) -> None:
        for camera_id, state in list(self.cameras.items()):
            silent = now - state.last_seen
            if state.events.is_open and silent >= self.config.stall_seconds:
                updates = state.events.expire(state.last_time_s + silent)
                await self._publish_events(updates, state.last_ref)
            elif not state.events.is_open and silent >= _FORGET_AFTER_S:
                del self.cameras[camera_id]
