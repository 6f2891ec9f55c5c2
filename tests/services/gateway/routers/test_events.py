"""The repository of events: search by day, time and camera, pages, delete, media with ranges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.services.gateway.harness import RunningGateway, account, running_gateway

CLIP = bytes(range(256)) * 40  # 10,240 bytes, each position's byte known
DAY = datetime(2024, 5, 1, tzinfo=UTC)
# (id, camera, start): 14:00 and 23:30 UTC on May 1st, the evening before, the morning after.
EVENTS = [
    ("e-before", "c1", DAY - timedelta(hours=1)),
    ("e-first", "c1", DAY + timedelta(hours=0)),
    ("e-noon", "c2", DAY + timedelta(hours=12)),
    ("e-late", "c1", DAY + timedelta(hours=23, minutes=30)),
    ("e-after", "c2", DAY + timedelta(days=1, hours=1)),
]


def event_doc(event_id: str, camera: str, started: datetime) -> dict:
    prefix = f"events/{event_id}"
    return {
        "_id": event_id, "camera_id": camera, "source_kind": "live", "job_id": "",
        "started_at": started, "ended_at": started + timedelta(seconds=8), "start_frame": 1288,
        "max_score": 0.97, "clip_key": f"{prefix}/clip.mp4",
        "poster_key": f"{prefix}/poster.jpg", "status": "stored",
        "culprits": [  # as the repository writes them (services/repository/documents.py)
            {"track_id": 9, "max_score": 0.7, "mean_score": 0.5,
             "crop_key": f"{prefix}/culprits/9/crop.jpg", "face_key": None, "face_missing": True},
            {"track_id": 7, "max_score": 0.94, "mean_score": 0.83,
             "crop_key": f"{prefix}/culprits/7/crop.jpg",
             "face_key": f"{prefix}/culprits/7/face.jpg", "face_missing": False},
        ],
    }


@pytest.fixture(scope="module")
async def gateway(
    mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningGateway]:
    async with running_gateway(mongo_url, tmp_path_factory.mktemp("events")) as gw:
        await gw.db["events"].insert_many([event_doc(*event) for event in EVENTS])
        for event_id, _, _ in EVENTS:
            await gw.media.put_bytes(f"events/{event_id}/clip.mp4", CLIP, "video/mp4")
            await gw.media.put_bytes(f"events/{event_id}/poster.jpg", b"poster", "image/jpeg")
            await gw.media.put_bytes(f"events/{event_id}/culprits/7/crop.jpg", b"c7", "image/jpeg")
            await gw.media.put_bytes(f"events/{event_id}/culprits/7/face.jpg", b"f7", "image/jpeg")
        yield gw


@pytest.fixture(scope="module")
async def admin(gateway: RunningGateway) -> dict[str, str]:
    return await account(gateway.client, "admin")


@pytest.fixture(scope="module")
async def viewer(gateway: RunningGateway, admin: dict[str, str]) -> dict[str, str]:
    return await account(gateway.client, "viewer")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["e-after", "e-late", "e-noon", "e-first", "e-before"]),
        ({"date": "2024-05-01"}, ["e-late", "e-noon", "e-first"]),
        ({"date": "2024-05-01", "tz": "Europe/Paris"}, ["e-noon", "e-first", "e-before"]),
        ({"date": "2024-05-01", "tz": "America/New_York"}, ["e-after", "e-late", "e-noon"]),
        ({"date": "2024-04-30"}, ["e-before"]),
        ({"date": "2024-05-03"}, []),
        ({"date": "2024-05-01", "camera": "c1"}, ["e-late", "e-first"]),
        ({"from": "2024-05-01T12:00:00Z", "to": "2024-05-02T01:00:00Z"}, ["e-late", "e-noon"]),
        ({"from": "2024-05-01T14:00:00+02:00"}, ["e-after", "e-late", "e-noon"]),
        ({"date": "2024-05-01", "to": "2024-05-01T12:00:00Z"}, ["e-first"]),
        ({"camera": "c2"}, ["e-after", "e-noon"]),
    ],
)
async def test_list_filters_by_day_time_and_camera(
    gateway: RunningGateway, viewer: dict[str, str], query: dict, expected: list[str]
) -> None:
    response = await gateway.client.get("/api/events", headers=viewer, params=query)
    assert response.status_code == 200, response.text
    page = response.json()
    assert [event["id"] for event in page["items"]] == expected
    assert (page["total"], page["page"], page["page_size"]) == (len(expected), 1, 20)


async def test_pages_split_the_list(gateway: RunningGateway, viewer: dict[str, str]) -> None:
    pages = [(await gateway.client.get("/api/events", headers=viewer,
                                       params={"page": n, "page_size": 2})).json()
             for n in (1, 2, 3, 4)]
    assert [[e["id"] for e in p["items"]] for p in pages] == [
        ["e-after", "e-late"], ["e-noon", "e-first"], ["e-before"], []]
    assert {p["total"] for p in pages} == {5}


@pytest.mark.parametrize(
    "query",
    [{"date": "2024-13-01"}, {"date": "yesterday"}, {"tz": "Mars/Olympus"},
     {"from": "not a time"}, {"page": 0}, {"page_size": 101}, {"page_size": 0}],
)
async def test_malformed_queries_are_422(
    gateway: RunningGateway, viewer: dict[str, str], query: dict
) -> None:
    response = await gateway.client.get("/api/events", headers=viewer, params=query)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_an_event_in_the_contracts_shape(
    gateway: RunningGateway, viewer: dict[str, str]
) -> None:
    event = (await gateway.client.get("/api/events/e-noon", headers=viewer)).json()
    base = "/api/events/e-noon"
    assert event == {
        "id": "e-noon", "camera_id": "c2", "source_kind": "camera", "job_id": None,
        "started_at": "2024-05-01T12:00:00.000Z", "ended_at": "2024-05-01T12:00:08.000Z",
        "start_frame": 1288, "start_offset_s": None, "end_offset_s": None,
        "scores": {"peak": 0.97, "mean": 0.83},
        "culprits": [  # highest score first
            {"track_id": 7, "score": 0.94, "crop_url": f"{base}/culprits/7/crop",
             "face_url": f"{base}/culprits/7/face", "face_missing": False},
            {"track_id": 9, "score": 0.7, "crop_url": f"{base}/culprits/9/crop",
             "face_url": None, "face_missing": True},
        ],
        "clip_url": f"{base}/clip", "poster_url": f"{base}/poster", "status": "ready",
    }
    missing = await gateway.client.get("/api/events/nope", headers=viewer)
    assert (missing.status_code, missing.json()) == (404, {"detail": "event not found"})


@pytest.mark.parametrize("event_id", ["nope", "-no-event-id", ".hidden"])
async def test_an_event_that_is_not_there_is_404(
    gateway: RunningGateway, admin: dict[str, str], event_id: str
) -> None:
    for method in ("GET", "DELETE"):
        response = await gateway.client.request(method, f"/api/events/{event_id}", headers=admin)
        assert (response.status_code, response.json()) == (404, {"detail": "event not found"})


@pytest.mark.parametrize(
    ("range_header", "status", "expected", "content_range"),
    [
        (None, 200, CLIP, None),
        ("bytes=0-99", 206, CLIP[:100], "bytes 0-99/10240"),
        ("bytes=10000-", 206, CLIP[10000:], "bytes 10000-10239/10240"),
        ("bytes=-16", 206, CLIP[-16:], "bytes 10224-10239/10240"),
        ("bytes=10200-99999", 206, CLIP[10200:], "bytes 10200-10239/10240"),
        ("bytes=20000-", 416, None, "bytes */10240"),
    ],
)
async def test_clips_answer_byte_ranges(
    gateway: RunningGateway, viewer: dict[str, str], range_header: str | None, status: int,
    expected: bytes | None, content_range: str | None,
) -> None:
    headers = {**viewer, **({"Range": range_header} if range_header else {})}
    response = await gateway.client.get("/api/events/e-first/clip", headers=headers)
    assert response.status_code == status
    assert response.headers.get("content-range") == content_range
    if expected is not None:
        assert response.content == expected
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["cache-control"] == "private, max-age=3600"


@pytest.mark.parametrize(
    ("path", "status", "content"),
    [
        ("/api/events/e-first/poster", 200, b"poster"),
        ("/api/events/e-first/culprits/7/crop", 200, b"c7"),
        ("/api/events/e-first/culprits/7/face", 200, b"f7"),
        ("/api/events/e-first/culprits/9/face", 404, None),  # no face could be extracted
        ("/api/events/e-first/culprits/9/crop", 404, None),  # named, but not stored
        ("/api/events/nope/poster", 404, None),
        ("/api/media/events/e-first/poster.jpg", 200, b"poster"),
        ("/api/media/events/e-first/%2E%2E/e-noon/poster.jpg", 400, None),
        ("/api/media/uploads/some-job/video", 404, None),  # uploads: through their job only
    ],
)
async def test_event_media(
    gateway: RunningGateway, viewer: dict[str, str], path: str, status: int,
    content: bytes | None,
) -> None:
    response = await gateway.client.get(path, headers=viewer)
    assert response.status_code == status
    if content is not None:
        assert response.content == content


async def test_delete_removes_the_document_and_its_media(
    gateway: RunningGateway, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    refused = await gateway.client.delete("/api/events/e-after", headers=viewer)
    assert refused.status_code == 403
    deleted = await gateway.client.delete("/api/events/e-after", headers=admin)
    again = await gateway.client.delete("/api/events/e-after", headers=admin)
    assert (deleted.status_code, again.status_code) == (204, 404)
    assert await gateway.db["events"].find_one({"_id": "e-after"}) is None
    assert await gateway.media.list("events/e-after/") == []
    assert len(await gateway.media.list("events/e-late/")) == 4  # the others stay
    clip = await gateway.client.get("/api/events/e-after/clip", headers=viewer)
    assert clip.status_code == 404
