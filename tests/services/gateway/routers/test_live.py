"""The live WebSocket: refusals by close code, the status first, frames joined with verdicts."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from services.gateway.routers.live import origin_allowed
from tests.services.gateway.harness import RunningGateway, account, running_gateway
from vigil import topics
from vigil.v1.cameras_pb2 import CameraState, CameraStatus
from vigil.v1.detections_pb2 import Box
from vigil.v1.frames_pb2 import Frame, FrameRef, SourceKind
from vigil.v1.verdicts_pb2 import PersonVerdict, Verdicts

JPEG = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(mongo_url, tmp_path_factory.mktemp("live"),
                               live_verdict_timeout_s=0.3) as gw:
        yield gw


@pytest.fixture(scope="module")
async def admin(gateway: RunningGateway) -> dict[str, str]:
    return await account(gateway.client, "admin")


async def add_camera(gateway: RunningGateway, admin: dict[str, str], name: str) -> str:
    response = await gateway.client.post("/api/cameras", headers=admin,
                                         json={"name": name, "source": "0"})
    return str(response.json()["id"])


def frame(camera: str, index: int, kind: SourceKind.ValueType = SourceKind.SOURCE_KIND_LIVE,
          capture_us: int | None = None) -> Frame:
    ref = FrameRef(camera_id=camera, source_kind=kind, frame_index=index, width=640, height=360,
                   capture_time_us=capture_us or int(time.time() * 1e6))
    return Frame(ref=ref, jpeg=JPEG + bytes([index]))


def verdicts(source: Frame, violent: bool) -> Verdicts:
    person = PersonVerdict(track_id=7, box=Box(x1=10, y1=20, x2=110.25, y2=220),
                           violent=violent, score=0.94 if violent else 0.08)
    return Verdicts(frame=source.ref, people=[person])


async def publish(gateway: RunningGateway, *messages: Frame | Verdicts) -> None:
    for message in messages:
        topic = topics.FRAMES if isinstance(message, Frame) else topics.VERDICTS
        camera = message.ref.camera_id if isinstance(message, Frame) else message.frame.camera_id
        await gateway.bus.publish(topic.name, camera, message.SerializeToString())


async def receive(ws: ClientConnection) -> dict:
    return dict(json.loads(await ws.recv(decode=True)))


async def close_code(gateway: RunningGateway, path: str, headers: dict[str, str]) -> int | None:
    async with connect(gateway.ws_url + path, additional_headers=headers) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_refusals_close_with_their_code(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add_camera(gateway, admin, "Refusals")
    cases = [
        ({}, 4401),
        ({"Authorization": "Bearer forged"}, 4401),
        ({"Cookie": "vigil_token=forged"}, 4401),
        ({**admin, "Origin": "http://evil.example"}, 4403),
    ]
    for headers, code in cases:
        assert await close_code(gateway, f"/api/live/{camera}", headers) == code, headers
    assert await close_code(gateway, "/api/live/no-such-camera", admin) == 4404


async def test_frames_arrive_with_their_overlay(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add_camera(gateway, admin, "Joined")
    token = admin["Authorization"].removeprefix("Bearer ")
    async with connect(f"{gateway.ws_url}/api/live/{camera}",
                       additional_headers={"Cookie": f"vigil_token={token}"}) as ws:
        assert await receive(ws) == {"type": "status", "status": "idle", "error_reason": None}
        first, second, third = (frame(camera, i) for i in range(3))
        # A verdict after its frame, one before it, and a frame whose verdict never comes.
        await publish(gateway, first, verdicts(first, violent=True))
        await publish(gateway, verdicts(second, violent=False), second)
        await publish(gateway, third)
        messages = [await receive(ws) for _ in range(3)]

    assert [m["frame_index"] for m in messages] == [0, 1, 2]
    assert messages[0] == {
        "type": "frame", "camera_id": camera, "frame_index": 0,
        "captured_at": messages[0]["captured_at"], "width": 640, "height": 360,
        "jpeg_b64": base64.b64encode(first.jpeg).decode(),
        "overlay": [{"track_id": 7, "box": [10.0, 20.0, 110.2, 220.0], "violent": True,
                     "score": 0.94}]}
    assert messages[0]["captured_at"].endswith("Z")
    assert messages[1]["overlay"][0]["violent"] is False
    assert messages[2]["overlay"] is None  # timed out
    assert base64.b64decode(messages[2]["jpeg_b64"]) == third.jpeg


async def test_uploads_and_stale_frames_are_not_shown_live(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add_camera(gateway, admin, "Filtered")
    async with connect(f"{gateway.ws_url}/api/live/{camera}", additional_headers=admin) as ws:
        await receive(ws)
        stale = frame(camera, 0, capture_us=int((time.time() - 3600) * 1e6))
        upload = frame(camera, 1, kind=SourceKind.SOURCE_KIND_UPLOAD)
        shown = frame(camera, 2)
        await publish(gateway, stale, upload, shown, verdicts(shown, violent=False))
        message = await receive(ws)
    assert message["frame_index"] == 2


async def test_status_changes_reach_viewers(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add_camera(gateway, admin, "Statuses")
    async with connect(f"{gateway.ws_url}/api/live/{camera}", additional_headers=admin) as ws:
        await receive(ws)
        await gateway.client.post(f"/api/cameras/{camera}/start", headers=admin)
        assert (await receive(ws))["status"] == "reconnecting"
        status = CameraStatus(camera_id=camera, state=CameraState.CAMERA_STATE_ERROR,
                              reason="stream timed out", at_us=int(time.time() * 1e6) + 1000)
        await gateway.bus.publish(topics.CAMERA_STATUS.name, camera, status.SerializeToString())
        assert await receive(ws) == {"type": "status", "status": "error",
                                     "error_reason": "stream timed out"}


async def test_deleting_the_camera_closes_its_viewers_normally(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add_camera(gateway, admin, "Deleted")
    async with connect(f"{gateway.ws_url}/api/live/{camera}", additional_headers=admin) as ws:
        await receive(ws)
        await gateway.client.delete(f"/api/cameras/{camera}", headers=admin)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


async def test_replicas_share_frames_through_redis(
    gateway: RunningGateway, admin: dict[str, str], redis_url: str, mongo_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two replicas over Redis: the one whose share of the partitions holds the camera relays
    its records, and the viewers of both get every frame, joined with its verdict."""
    camera = await add_camera(gateway, admin, "Replicated")
    replicas = [running_gateway(mongo_url, tmp_path_factory.mktemp(f"r{n}"),
                                bus=gateway.bus, db_name=gateway.db.name, redis_url=redis_url)
                for n in range(2)]
    async with replicas[0] as one, replicas[1] as two:
        assert one.service.context.fanout.spans_replicas
        viewers = [connect(f"{replica.ws_url}/api/live/{camera}", additional_headers=admin)
                   for replica in (one, two)]
        async with viewers[0] as first, viewers[1] as second:
            for ws in (first, second):
                assert (await receive(ws))["type"] == "status"
            shown = [frame(camera, i) for i in range(4)]
            for message in shown:
                await publish(gateway, message, verdicts(message, violent=True))
            for ws in (first, second):
                got = [await receive(ws) for _ in range(4)]
                assert [(m["frame_index"], len(m["overlay"])) for m in got] == [
                    (0, 1), (1, 1), (2, 1), (3, 1)]



@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "127.0.0.1:8000", [], True),  # not a browser
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),
        ("https://vigil.example", "vigil.example", [], True),
        ("http://evil.example", "127.0.0.1:8000", [], False),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", [], False),
        ("http://localhost:5173", "127.0.0.1:8000", ["http://localhost:5173"], True),
        ("http://localhost:5173/", "127.0.0.1:8000", ["http://localhost:5173"], True),
        ("http://localhost:5174", "127.0.0.1:8000", ["http://localhost:5173"], False),
        ("http://127.0.0.1:8000", None, [], False),
    ],
)
def test_origin_allowed(origin: str | None, host: str | None, allowed: list[str],
                        expected: bool) -> None:
    assert origin_allowed(origin, host, allowed) is expected
