"""The live hub: one feed per watched camera, shared by its viewers, closed with the last one."""

from __future__ import annotations

import json
import time

from services.gateway.fanout import MemoryFanout
from services.gateway.live import FRAME, VERDICTS, LiveHub, camera_channel, publish_status
from services.gateway.viewer_queue import Close
from vigil.v1.frames_pb2 import Frame, FrameRef
from vigil.v1.verdicts_pb2 import Verdicts


def hub(fanout: MemoryFanout) -> LiveHub:
    return LiveHub(fanout, timeout_s=5.0, max_pending=8, viewer_queue=2)


async def test_viewers_of_a_camera_share_one_feed_until_the_last_leaves() -> None:
    fanout = MemoryFanout()
    live = hub(fanout)
    ref = FrameRef(camera_id="c1", frame_index=0, capture_time_us=int(time.time() * 1e6))
    async with live.watch("c1") as first, live.watch("c1") as second:
        channel = camera_channel("c1")
        assert fanout.local_subscribers(channel) == 1
        await fanout.publish(channel, FRAME + Frame(ref=ref).SerializeToString())
        await fanout.publish(channel, VERDICTS + Verdicts(frame=ref).SerializeToString())
        for viewer in (first, second):
            message = await viewer.get()
            assert isinstance(message, str) and json.loads(message)["overlay"] == []
        await publish_status(fanout, "c1", "error", "stream timed out")
        assert json.loads(str(await first.get()))["status"] == "error"
    assert fanout.local_subscribers(camera_channel("c1")) == 0


async def test_stop_closes_every_viewer() -> None:
    live = hub(MemoryFanout())
    async with live.watch("c1") as viewer:
        await live.stop()
        assert await viewer.get() == Close(1001, "server shutting down")
    async with live.watch("c1") as again:  # a later viewer gets a fresh feed
        assert again.take() is None
