"""Every camera's join, and what the consumer may commit.

Records are routed to their camera's `CameraJoin` (made on the camera's first record). The
consumer commits, per topic partition, up to the oldest record some join still pins (a frame of a
ring or of the clip part being written, the verdicts of those frames, the opening of an event not
stored yet); with nothing pinned, up to what was consumed. A crash or a rebalance therefore
re-reads exactly what is needed to rebuild every camera's state, and nothing that is stored.

Pinned records are bounded by the ring and the clip part being written. Where the bus bounds what
it keeps unread (the in-process bus holds a publisher back instead of dropping a record some group
has not committed), `held_limit` caps the records held per partition: past it, the part being
written by the camera holding the oldest record is cut short, so its frames can be committed.
A camera that sends nothing for `camera_idle_s` is finished and forgotten, so it pins nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.repository.clips import SinkFactory
from services.repository.config import RepositoryConfig
from services.repository.inputs import EventIn, FrameIn, Input, UpdateKind, VerdictsIn
from services.repository.join import CameraJoin, FindFace, no_face
from services.repository.outputs import Output, StoredProgress
from vigil import topics

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]
TOPIC_OF = {
    FrameIn: topics.FRAMES.name,
    VerdictsIn: topics.VERDICTS.name,
    EventIn: topics.EVENTS.name,
}


@dataclass(frozen=True, slots=True)
class Delivered:
    """One record's value, where it came from, and (for an opening) what the store holds."""

    partition: int
    offset: int
    value: Input
    progress: StoredProgress | None = None

    @property
    def topic(self) -> str:
        return TOPIC_OF[type(self.value)]


class Joins:
    def __init__(
        self,
        config: RepositoryConfig,
        out_dir: Path,
        find_face: FindFace = no_face,
        *,
        held_limit: int | None = None,
        sink_factory: SinkFactory | None = None,
    ) -> None:
        self.config = config
        self.out_dir = out_dir
        self.find_face = find_face
        self.held_limit = held_limit
        self._sink_factory = sink_factory
        self.cameras: dict[str, CameraJoin] = {}
        self._partitions: dict[str, dict[str, int]] = {}  # camera -> topic -> partition
        self._last_frame_at: dict[str, float] = {}

    def needs_progress(self, value: Input) -> bool:
        """An opening not seen yet: the store says whether it is stored or partly stored."""
        if not isinstance(value, EventIn) or value.kind is not UpdateKind.OPENED:
            return False
        join = self.cameras.get(value.camera_id)
        return join is None or not join.knows(value.event_id)

    def handle(self, delivered: Sequence[Delivered], now: float) -> list[Output]:
        outputs: list[Output] = []
        for item in delivered:
            value = item.value
            camera = value.camera_id
            join = self.cameras.get(camera)
            if isinstance(value, FrameIn):
                if join is not None and join.is_restart(value.frame):
                    log.info("camera started over: its state is reset", extra={"camera": camera})
                    outputs += self._drop(camera, finish=True)
                    join = None
                self._last_frame_at[camera] = now
            if join is None:
                fps = value.analysis_fps if isinstance(value, FrameIn) else 0.0
                join = self.cameras[camera] = CameraJoin(
                    camera, self.config, self.out_dir, self.find_face,
                    fps=fps if fps > 0 else None, sink_factory=self._sink_factory,
                )  # fmt: skip
                self._last_frame_at.setdefault(camera, now)
            self._partitions.setdefault(camera, {})[item.topic] = item.partition
            if isinstance(value, FrameIn):
                outputs += join.on_frame(value, item.offset)
            elif isinstance(value, VerdictsIn):
                outputs += join.on_verdicts(value, item.offset)
            else:
                outputs += join.on_event(value, item.offset, item.progress)
        return outputs

    def expire_idle(self, now: float) -> list[Output]:
        """Finish and forget the cameras that sent no frame for `camera_idle_s`."""
        outputs: list[Output] = []
        for camera, seen in list(self._last_frame_at.items()):
            if now - seen >= self.config.camera_idle_s:
                log.info("camera idle: its state is dropped", extra={"camera": camera})
                outputs += self._drop(camera, finish=True)
        return outputs

    def touch_all(self, now: float) -> None:
        """Count idleness from now (after a pause in consuming, e.g. a store outage)."""
        for camera in self._last_frame_at:
            self._last_frame_at[camera] = now

    def keep_partitions(self, assigned: Iterable[TopicPartition]) -> None:
        """Forget the cameras of partitions taken away (their new owner rebuilds them)."""
        owned = set(assigned)
        for camera, by_topic in list(self._partitions.items()):
            if any((topic, p) not in owned for topic, p in by_topic.items()):
                self._drop(camera, finish=False)

    def commit_offsets(self, consumed: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Per partition, the offset to commit: the oldest pinned record, else `consumed`."""
        commit = dict(consumed)
        for camera, join in self.cameras.items():
            for topic, pin in join.pins().items():
                partition = self._partitions.get(camera, {}).get(topic)
                if partition is not None:
                    tp = (topic, partition)
                    commit[tp] = min(commit.get(tp, pin), pin)
        return commit

    def cut_held(self, consumed: dict[TopicPartition, int]) -> list[Output]:
        """Past `held_limit` uncommitted frames on a partition, cut the part pinning them."""
        if self.held_limit is None:
            return []
        commit = self.commit_offsets(consumed)
        outputs: list[Output] = []
        for tp, end in consumed.items():
            if tp[0] != topics.FRAMES.name or end - commit.get(tp, end) <= self.held_limit:
                continue
            for camera, join in self.cameras.items():
                pins = join.pins()
                if self._partitions[camera].get(tp[0]) == tp[1] and pins.get(tp[0]) == commit[tp]:
                    log.info("clip part cut early to release frames", extra={"camera": camera})
                    outputs += join.cut_part()
        return outputs

    def _drop(self, camera: str, *, finish: bool) -> list[Output]:
        join = self.cameras.pop(camera, None)
        self._partitions.pop(camera, None)
        self._last_frame_at.pop(camera, None)
        if join is None:
            return []
        if finish:
            return join.finish()
        join.discard()
        return []
