"""A slow viewer gets the newest frames, never reordered; statuses and the close are kept."""

from __future__ import annotations

import asyncio

from services.gateway.viewer_queue import Close, ViewerQueue


def drain(queue: ViewerQueue) -> list[str | Close]:
    items = []
    while (item := queue.take()) is not None:
        items.append(item)
    return items


def test_a_slow_viewer_keeps_the_newest_frames_in_order() -> None:
    queue = ViewerQueue(max_frames=2)
    for n in range(5):
        queue.put_frame(f"frame {n}")
    assert drain(queue) == ["frame 3", "frame 4"]
    assert queue.dropped == 3


def test_a_status_is_never_dropped_for_frames_and_the_newest_wins() -> None:
    queue = ViewerQueue(max_frames=1)
    queue.put_status("live")
    queue.put_frame("frame 0")
    queue.put_frame("frame 1")
    assert drain(queue) == ["live", "frame 1"]
    queue.put_status("reconnecting")
    queue.put_status("error")
    assert drain(queue) == ["error"]


def test_close_comes_first_and_stays() -> None:
    queue = ViewerQueue(max_frames=2)
    queue.put_frame("frame 0")
    queue.close(1000, "camera deleted")
    assert queue.take() == queue.take() == Close(1000, "camera deleted")


async def test_get_waits_for_the_next_item() -> None:
    queue = ViewerQueue(max_frames=2)
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_frame("frame 0")
    assert await waiting == "frame 0"
