"""Cameras: add, list, change, start, stop, delete; commands to ingest, statuses from it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from services.gateway.live import camera_channel
from tests.services.gateway.harness import RunningGateway, account, eventually, read_topic
from tests.services.gateway.harness import running_gateway as start_gateway
from vigil import topics
from vigil.v1.cameras_pb2 import CameraCommand, CameraState, CameraStatus


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with start_gateway(mongo_url, tmp_path_factory.mktemp("cameras")) as gw:
        yield gw


@pytest.fixture(scope="module")
async def admin(gateway: RunningGateway) -> dict[str, str]:
    return await account(gateway.client, "admin")


async def add(gateway: RunningGateway, admin: dict[str, str], name: str,
              source: str = "rtsp://10.0.0.5/stream1") -> dict:
    response = await gateway.client.post("/api/cameras", headers=admin,
                                         json={"name": name, "source": source})
    assert response.status_code == 201, response.text
    return response.json()


async def test_added_cameras_are_idle_and_listed_by_name(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    zulu = await add(gateway, admin, "Zulu")
    await add(gateway, admin, "Alpha")
    assert zulu["status"] == "idle" and zulu["error_reason"] is None
    assert zulu["source"] == "rtsp://10.0.0.5/stream1" and zulu["id"]
    listed = (await gateway.client.get("/api/cameras", headers=admin)).json()
    names = [camera["name"] for camera in listed]
    assert names == sorted(names) and {"Alpha", "Zulu"} <= set(names)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "Dup", "source": "0"}, 201),
        ({"name": "Dup", "source": "1"}, 409),
        ({"name": "", "source": "0"}, 422),
        ({"name": "x" * 65, "source": "0"}, 422),
        ({"name": "Fine", "source": ""}, 422),
        ({"name": "Fine", "source": "s" * 2049}, 422),
        ({"name": "Fine"}, 422),
    ],
)
async def test_create_refuses_used_names_and_bad_fields(
    gateway: RunningGateway, admin: dict[str, str], body: dict, status: int
) -> None:
    response = await gateway.client.post("/api/cameras", headers=admin, json=body)
    assert response.status_code == status
    if status == 409:
        assert response.json() == {"detail": "camera name already used"}


async def test_patch_renames_and_refuses_a_used_name(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add(gateway, admin, "Old name")
    await add(gateway, admin, "Taken")
    renamed = await gateway.client.patch(f"/api/cameras/{camera['id']}", headers=admin,
                                         json={"name": "New name"})
    clash = await gateway.client.patch(f"/api/cameras/{camera['id']}", headers=admin,
                                       json={"name": "Taken"})
    missing = await gateway.client.patch("/api/cameras/nope", headers=admin, json={"name": "x"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "New name"
    assert clash.status_code == 409
    assert (missing.status_code, missing.json()) == (404, {"detail": "camera not found"})


async def test_start_and_stop_command_ingest(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add(gateway, admin, "Gate", "/videos/gate.mp4")
    started = await gateway.client.post(f"/api/cameras/{camera['id']}/start", headers=admin)
    again = await gateway.client.post(f"/api/cameras/{camera['id']}/start", headers=admin)
    stopped = await gateway.client.post(f"/api/cameras/{camera['id']}/stop", headers=admin)
    assert started.json()["status"] == again.json()["status"] == "reconnecting"
    assert stopped.json()["status"] == "idle"
    commands = await read_topic(
        gateway.bus, topics.CAMERA_COMMANDS,
        lambda m: sum(c.camera_id == camera["id"] for c in m) >= 2, group="test-start-stop")
    mine = [c for c in commands if c.camera_id == camera["id"]]
    # Starting a running camera changes nothing: one start, then the stop.
    assert [(c.action, c.source) for c in mine] == [
        (CameraCommand.ACTION_START, "/videos/gate.mp4"),
        (CameraCommand.ACTION_STOP, "/videos/gate.mp4")]


async def test_statuses_from_ingest_are_stored_with_their_reason(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add(gateway, admin, "Yard")
    await gateway.client.post(f"/api/cameras/{camera['id']}/start", headers=admin)
    status = CameraStatus(camera_id=camera["id"], state=CameraState.CAMERA_STATE_ERROR,
                          reason="gave up after 2 reconnection attempts",
                          at_us=int(time.time() * 1e6))
    await gateway.bus.publish(topics.CAMERA_STATUS.name, camera["id"], status.SerializeToString())

    async def stored() -> dict | None:
        cameras = (await gateway.client.get("/api/cameras", headers=admin)).json()
        found = next(c for c in cameras if c["id"] == camera["id"])
        return found if found["status"] == "error" else None

    found: dict = await eventually(stored)
    assert found["error_reason"] == "gave up after 2 reconnection attempts"


async def test_an_older_status_does_not_undo_a_stop(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    camera = await add(gateway, admin, "Dock")
    before_stop = int(time.time() * 1e6)
    await gateway.client.post(f"/api/cameras/{camera['id']}/start", headers=admin)
    await gateway.client.post(f"/api/cameras/{camera['id']}/stop", headers=admin)
    late = CameraStatus(camera_id=camera["id"], state=CameraState.CAMERA_STATE_LIVE,
                        at_us=before_stop)
    # Same key, so handled after `late`: once it shows, `late` has been handled.
    marker = CameraStatus(camera_id=camera["id"], state=CameraState.CAMERA_STATE_ERROR,
                          reason="marker", at_us=int(time.time() * 1e6) + 1)
    fanout = gateway.service.context.fanout
    async with fanout.subscribe(camera_channel(camera["id"])) as statuses:
        for status in (late, marker):
            await gateway.bus.publish(topics.CAMERA_STATUS.name, camera["id"],
                                      status.SerializeToString())
        seen = [json.loads((await statuses.get())[1:])["status"]]
    assert seen == ["error"]  # never "live"


async def test_delete_stops_then_removes(gateway: RunningGateway, admin: dict[str, str]) -> None:
    camera = await add(gateway, admin, "Roof")
    deleted = await gateway.client.delete(f"/api/cameras/{camera['id']}", headers=admin)
    again = await gateway.client.delete(f"/api/cameras/{camera['id']}", headers=admin)
    assert deleted.status_code == 204
    assert (again.status_code, again.json()) == (404, {"detail": "camera not found"})
    commands = await read_topic(gateway.bus, topics.CAMERA_COMMANDS,
                                lambda m: any(c.camera_id == camera["id"] for c in m),
                                group="test-delete")
    assert [c.action for c in commands if c.camera_id == camera["id"]] == [
        CameraCommand.ACTION_STOP]


async def test_a_camera_given_at_start_up_is_listed_and_started(
    gateway: RunningGateway, admin: dict[str, str]
) -> None:
    for _ in range(2):  # a second start-up (the same data folder) starts it again
        await gateway.service.start_camera("camera-1", "/videos/loop.mp4")
    listed = (await gateway.client.get("/api/cameras", headers=admin)).json()
    assert {"id": "camera-1", "name": "camera-1", "source": "/videos/loop.mp4",
            "status": "reconnecting", "error_reason": None} in listed
    commands = await read_topic(
        gateway.bus, topics.CAMERA_COMMANDS,
        lambda m: sum(c.camera_id == "camera-1" for c in m) >= 2, group="test-start-up")
    assert [c.action for c in commands if c.camera_id == "camera-1"] == [
        CameraCommand.ACTION_START] * 2
