"""The frame/verdict join: order, timeouts, early verdicts, replays, restarts, a full buffer."""

from __future__ import annotations

import base64
import json

import pytest

from services.gateway.live_join import (
    JoinBuffer,
    Joined,
    frame_message,
    iso_from_us,
    status_message,
)
from vigil.v1.detections_pb2 import Box
from vigil.v1.frames_pb2 import Frame, FrameRef
from vigil.v1.verdicts_pb2 import PersonVerdict, Verdicts

T0 = 1_714_572_202_512_000  # 2024-05-01T14:03:22.512Z


def frame(index: int, capture_us: int | None = None) -> Frame:
    ref = FrameRef(camera_id="c1", frame_index=index, width=640, height=360,
                   capture_time_us=T0 + index * 100_000 if capture_us is None else capture_us)
    return Frame(ref=ref, jpeg=bytes([index % 256]) * 3)


def verdict(index: int) -> Verdicts:
    return Verdicts(frame=frame(index).ref)


def sent(joined: list[Joined]) -> list[tuple[int, bool]]:
    """(frame index, has an overlay) of what left the buffer."""
    return [(j.frame.ref.frame_index, j.verdicts is not None) for j in joined]


def run(steps: list[tuple[str, int, float]], timeout_s: float = 1.0,
        max_pending: int = 8) -> list[tuple[int, bool]]:
    buffer = JoinBuffer(timeout_s, max_pending)
    out: list[Joined] = []
    for kind, index, now in steps:
        if kind == "frame":
            out += buffer.add_frame(frame(index), now)
        elif kind == "verdict":
            out += buffer.add_verdicts(verdict(index), now)
        else:
            out += buffer.expire(now)
    return sent(out)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # verdict after its frame
        ([("frame", 0, 0.0), ("verdict", 0, 0.1)], [(0, True)]),
        # verdict before its frame
        ([("verdict", 0, 0.0), ("frame", 0, 0.1)], [(0, True)]),
        # a frame waits; nothing leaves before the timeout, then it leaves bare
        ([("frame", 0, 0.0), ("expire", 0, 0.9)], []),
        ([("frame", 0, 0.0), ("expire", 0, 1.0)], [(0, False)]),
        # the verdict for 2 means 0 and 1 get none: they leave first, in order
        ([("frame", 0, 0.0), ("frame", 1, 0.1), ("frame", 2, 0.2), ("verdict", 2, 0.3)],
         [(0, False), (1, False), (2, True)]),
        # a verdict for a frame that has left is dropped
        ([("frame", 0, 0.0), ("expire", 0, 1.5), ("verdict", 0, 1.6)], [(0, False)]),
        # an early verdict that waits too long is dropped too
        ([("verdict", 5, 0.0), ("expire", 0, 1.0), ("frame", 5, 1.1), ("expire", 0, 2.1)],
         [(5, False)]),
        # a replayed frame is not sent twice
        ([("frame", 0, 0.0), ("verdict", 0, 0.1), ("frame", 0, 0.2), ("expire", 0, 5.0)],
         [(0, True)]),
        # only the head times out; the younger frame still waits for its verdict
        ([("frame", 0, 0.0), ("frame", 1, 0.5), ("expire", 0, 1.2), ("verdict", 1, 1.3)],
         [(0, False), (1, True)]),
    ],
    ids=["after", "before", "waits", "times-out", "flush-older", "late-verdict",
         "stale-early-verdict", "replay", "head-only"],
)
def test_join(steps: list[tuple[str, int, float]], expected: list[tuple[int, bool]]) -> None:
    assert run(steps) == expected


def test_a_full_buffer_pushes_its_oldest_out_bare() -> None:
    steps = [("frame", i, 0.0) for i in range(5)]
    assert run(steps, max_pending=3) == [(0, False), (1, False)]


def test_a_restarted_camera_starts_over() -> None:
    buffer = JoinBuffer(1.0, 8)
    out = buffer.add_frame(frame(7), 0.0) + buffer.add_verdicts(verdict(7), 0.0)
    # Index 0 again, but captured later: the camera was restarted, not a replay.
    restarted = frame(0, capture_us=T0 + 10_000_000)
    out += buffer.add_frame(restarted, 0.1)
    out += buffer.add_verdicts(Verdicts(frame=restarted.ref), 0.2)
    assert sent(out) == [(7, True), (0, True)]


def test_next_deadline_is_the_oldest_wait_plus_the_timeout() -> None:
    buffer = JoinBuffer(2.0, 8)
    assert buffer.next_deadline() is None
    buffer.add_frame(frame(3), 10.0)
    buffer.add_verdicts(verdict(9), 11.0)
    assert buffer.next_deadline() == 12.0
    buffer.expire(12.0)
    assert buffer.next_deadline() == 13.0


def test_frame_message_shape() -> None:
    source = frame(4)
    person = PersonVerdict(track_id=7, box=Box(x1=412.04, y1=96.5, x2=530.2, y2=388),
                           violent=True, score=0.9412)
    joined = Joined(source, Verdicts(frame=source.ref, people=[person]))
    message = json.loads(frame_message(joined))
    assert message == {
        "type": "frame", "camera_id": "c1", "frame_index": 4,
        "captured_at": "2024-05-01T14:03:22.912Z", "width": 640, "height": 360,
        "jpeg_b64": base64.b64encode(source.jpeg).decode(),
        "overlay": [{"track_id": 7, "box": [412.0, 96.5, 530.2, 388.0], "violent": True,
                     "score": 0.941}],
    }
    assert json.loads(frame_message(Joined(source, None)))["overlay"] is None
    assert json.loads(frame_message(Joined(source, Verdicts(frame=source.ref))))["overlay"] == []


@pytest.mark.parametrize(
    ("unix_us", "text"),
    [(0, "1970-01-01T00:00:00.000Z"), (T0, "2024-05-01T14:03:22.512Z"),
     (T0 + 999, "2024-05-01T14:03:22.512Z")],
)
def test_iso_from_us(unix_us: int, text: str) -> None:
    assert iso_from_us(unix_us) == text


def test_status_message() -> None:
    assert json.loads(status_message("error", "stream timed out")) == {
        "type": "status", "status": "error", "error_reason": "stream timed out"}
