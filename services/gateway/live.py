"""The live feed: frames and verdicts from the bus, through the fan-out, to WebSocket viewers.

`LiveRelay` consumes `frames` and `verdicts` and puts each one, as it is, on its camera's fan-out
channel. `LiveHub` runs, on each replica and for each camera someone watches there, one feed that
reads the channel, joins frames with their verdicts (`JoinBuffer`), encodes each frame message
once and hands it to that camera's viewers. Joining after the fan-out keeps a frame and its
verdict together even when two replicas consume the two topics' partitions of one camera.

The relay's consumer group is unique to the replica when the fan-out stays in the process (every
replica then sees every camera), and shared when the fan-out spans replicas (each record is then
put on the channel once, by one replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from prometheus_client import Counter

from services.gateway.fanout import Fanout, Subscription
from services.gateway.live_join import JoinBuffer, frame_message, status_message
from services.gateway.viewer_queue import ViewerQueue
from vigil.runtime.worker import Delivery
from vigil.v1.frames_pb2 import Frame, SourceKind
from vigil.v1.verdicts_pb2 import Verdicts

log = logging.getLogger(__name__)

LIVE_FRAMES_SENT = Counter(
    "vigil_gateway_live_frames_total", "Frames handed to live viewers' queues", ["overlay"]
)
LIVE_FRAMES_STALE = Counter(
    "vigil_gateway_live_stale_frames_total", "Frames too old to show live (a replay)"
)

# Fan-out items: one tag byte, then the payload.
FRAME, VERDICTS, STATUS, DELETED = b"F", b"V", b"S", b"X"
CLOSE_DELETED = 1000  # the camera is gone: the UI does not reconnect after a normal close


def camera_channel(camera_id: str) -> str:
    return f"camera:{camera_id}"


class LiveRelay:
    def __init__(self, fanout: Fanout, max_age_s: float) -> None:
        self.fanout = fanout
        self.max_age_s = max_age_s

    def _stale(self, capture_time_us: int) -> bool:
        return time.time() - capture_time_us / 1e6 > self.max_age_s

    async def on_frames(self, deliveries: list[Delivery[Frame]]) -> None:
        for delivery in deliveries:
            ref = delivery.message.ref
            if ref.source_kind != SourceKind.SOURCE_KIND_LIVE:
                continue  # uploads are analysed, not watched
            if self._stale(ref.capture_time_us):
                LIVE_FRAMES_STALE.inc()
                continue
            await self.fanout.publish(camera_channel(ref.camera_id), FRAME + delivery.record.value)

    async def on_verdicts(self, deliveries: list[Delivery[Verdicts]]) -> None:
        for delivery in deliveries:
            ref = delivery.message.frame
            if ref.source_kind != SourceKind.SOURCE_KIND_LIVE or self._stale(ref.capture_time_us):
                continue
            await self.fanout.publish(
                camera_channel(ref.camera_id), VERDICTS + delivery.record.value
            )


async def publish_status(
    fanout: Fanout, camera_id: str, status: str, error_reason: str | None
) -> None:
    await fanout.publish(
        camera_channel(camera_id), STATUS + status_message(status, error_reason).encode()
    )


async def publish_deleted(fanout: Fanout, camera_id: str) -> None:
    await fanout.publish(camera_channel(camera_id), DELETED)


@dataclass
class _Feed:
    viewers: set[ViewerQueue] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    subscription: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)


class LiveHub:
    def __init__(
        self, fanout: Fanout, timeout_s: float, max_pending: int, viewer_queue: int
    ) -> None:
        self.fanout = fanout
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self.viewer_queue = viewer_queue
        self._feeds: dict[str, _Feed] = {}
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def watch(self, camera_id: str) -> AsyncIterator[ViewerQueue]:
        """A queue of the camera's messages, from now until the block ends."""
        viewer = ViewerQueue(self.viewer_queue)
        async with self._lock:
            feed = self._feeds.get(camera_id)
            if feed is None:
                feed = _Feed()
                subscription = await feed.subscription.enter_async_context(
                    self.fanout.subscribe(camera_channel(camera_id), maxsize=4 * self.max_pending)
                )
                feed.task = asyncio.create_task(
                    self._run(subscription, feed.viewers), name=f"live feed {camera_id}"
                )
                self._feeds[camera_id] = feed
            feed.viewers.add(viewer)
        try:
            yield viewer
        finally:
            async with self._lock:
                feed.viewers.discard(viewer)
                if not feed.viewers:
                    if self._feeds.get(camera_id) is feed:  # not already closed by stop()
                        del self._feeds[camera_id]
                    await self._close(feed)

    async def stop(self) -> None:
        async with self._lock:
            for feed in self._feeds.values():
                for viewer in feed.viewers:
                    viewer.close(1001, "server shutting down")
                await self._close(feed)
            self._feeds.clear()

    @staticmethod
    async def _close(feed: _Feed) -> None:
        if feed.task is not None:
            feed.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed.task
            feed.task = None
        await feed.subscription.aclose()

    async def _run(self, subscription: Subscription, viewers: set[ViewerQueue]) -> None:
        loop = asyncio.get_running_loop()
        buffer = JoinBuffer(self.timeout_s, self.max_pending)
        while True:
            deadline = buffer.next_deadline()
            item: bytes | None
            try:
                wait = None if deadline is None else max(0.0, deadline - loop.time())
                item = await asyncio.wait_for(subscription.get(), wait)
            except TimeoutError:
                item = None
            now = loop.time()
            joined = []
            if item is not None:
                tag, payload = item[:1], item[1:]
                try:
                    if tag == FRAME:
                        joined += buffer.add_frame(Frame.FromString(payload), now)
                    elif tag == VERDICTS:
                        joined += buffer.add_verdicts(Verdicts.FromString(payload), now)
                    elif tag == STATUS:
                        for viewer in viewers:
                            viewer.put_status(payload.decode())
                    elif tag == DELETED:
                        for viewer in viewers:
                            viewer.close(CLOSE_DELETED, "camera deleted")
                except Exception:
                    log.exception("live feed: a fan-out item could not be read")
            joined += buffer.expire(now)
            for frame in joined:
                text = frame_message(frame)
                LIVE_FRAMES_SENT.labels("yes" if frame.verdicts is not None else "no").inc()
                for viewer in viewers:
                    viewer.put_frame(text)
