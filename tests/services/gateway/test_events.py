"""The events list's filter, and the public shape of stored event documents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.gateway.events import EventQuery, day_range, event_public, media_key, media_keys, zone

MAY_1 = date(2024, 5, 1)


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        ("UTC", datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)),
        ("Europe/Paris", datetime(2024, 4, 30, 22, tzinfo=UTC),
         datetime(2024, 5, 1, 22, tzinfo=UTC)),
        ("Asia/Kolkata", datetime(2024, 4, 30, 18, 30, tzinfo=UTC),
         datetime(2024, 5, 1, 18, 30, tzinfo=UTC)),
    ],
)
def test_day_range_is_the_users_day(tz: str, start: datetime, end: datetime) -> None:
    assert day_range(MAY_1, ZoneInfo(tz)) == (start, end)


def test_a_day_with_a_clock_change_is_23_hours() -> None:
    start, end = day_range(date(2024, 3, 31), ZoneInfo("Europe/Paris"))
    assert end - start == timedelta(hours=23)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", ""])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EventQuery(), {}),
        (EventQuery(camera="c1"), {"camera_id": "c1"}),
        (EventQuery(day=MAY_1), {"started_at": {"$gte": datetime(2024, 5, 1, tzinfo=UTC),
                                                "$lt": datetime(2024, 5, 2, tzinfo=UTC)}}),
        # A time without a zone is UTC; one with a zone is converted.
        (EventQuery(start=datetime(2024, 5, 1, 12)),
         {"started_at": {"$gte": datetime(2024, 5, 1, 12, tzinfo=UTC)}}),
        (EventQuery(end=datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
         {"started_at": {"$lt": datetime(2024, 5, 1, 12, tzinfo=UTC)}}),
        # Day and time range together: the narrower bound of each side.
        (EventQuery(day=MAY_1, start=datetime(2024, 4, 1, tzinfo=UTC),
                    end=datetime(2024, 5, 1, 6, tzinfo=UTC), camera="c2"),
         {"started_at": {"$gte": datetime(2024, 5, 1, tzinfo=UTC),
                         "$lt": datetime(2024, 5, 1, 6, tzinfo=UTC)}, "camera_id": "c2"}),
    ],
)
def test_mongo_filter(query: EventQuery, expected: dict) -> None:
    assert query.mongo_filter() == expected


def upload_doc(**changes: object) -> dict:
    doc = {"_id": "e9", "camera_id": "j1", "source_kind": "upload", "job_id": "j1",
           "started_at": datetime(2024, 5, 1, 14, 0, 0, 999999), "ended_at": None,
           "start_frame": 3, "max_score": 0.8, "start_position_s": 0.3, "end_position_s": 0.9,
           "status": "open",
           "culprits": [{"track_id": 2, "max_score": 0.8, "mean_score": 0.6,
                         "crop_key": "events/e9/2.jpg", "face_key": None, "face_missing": True},
                        {"track_id": 4, "max_score": 0.5, "mean_score": 0.7,
                         "crop_key": "events/e9/4.jpg", "face_key": None, "face_missing": True}]}
    doc.update(changes)
    return doc


def test_an_open_upload_event() -> None:
    event = event_public(upload_doc())
    assert (event.source_kind, event.camera_id, event.job_id) == ("upload", None, "j1")
    assert event.started_at == "2024-05-01T14:00:00.999Z"  # naive: UTC
    assert (event.ended_at, event.status, event.clip_url, event.poster_url) == (
        None, "open", None, None)
    # While open, the end offset is not the event's end yet.
    assert (event.start_offset_s, event.end_offset_s) == (0.3, None)
    assert (event.scores.peak, event.scores.mean) == (0.8, 0.7)  # the highest culprit mean
    assert [c.track_id for c in event.culprits] == [2, 4]  # highest score first
    assert event.culprits[0].face_missing and event.culprits[0].face_url is None


def test_a_stored_upload_event() -> None:
    event = event_public(upload_doc(status="stored", ended_at=datetime(2024, 5, 1, 14, 0, 1)))
    assert (event.status, event.end_offset_s, event.ended_at) == (
        "ready", 0.9, "2024-05-01T14:00:01.000Z")


@pytest.mark.parametrize(
    ("changes", "mean"),
    [({"mean_score": 0.42}, 0.42), ({"culprits": []}, 0.8),
     ({"culprits": [{"track_id": 1, "max_score": 0.9}]}, 0.8)],
)
def test_mean_score(changes: dict, mean: float) -> None:
    assert event_public(upload_doc(**changes)).scores.mean == mean


@pytest.mark.parametrize(
    ("changes", "status"),
    [({"status": "failed"}, "failed"),
     ({"status": "stored", "ended_at": datetime.now(UTC)}, "ready"),
     ({"status": None}, "open"), ({"status": "stored", "ended_at": None}, "open")],
)
def test_event_status(changes: dict, status: str) -> None:
    assert event_public(upload_doc(**changes)).status == status


@pytest.mark.parametrize("kind", ["live", 1, "SOURCE_KIND_LIVE", None])
def test_anything_but_an_upload_is_a_camera_event(kind: object) -> None:
    event = event_public(upload_doc(source_kind=kind, camera_id="c1"))
    assert (event.source_kind, event.camera_id, event.job_id, event.start_offset_s) == (
        "camera", "c1", None, None)


def test_media_keys_of_an_event() -> None:
    doc = upload_doc(clip_key="events/e9/clip.mp4", poster_key="other/p.jpg")
    assert media_key(doc, "clip") == "events/e9/clip.mp4"
    assert media_key(doc, "crop", 2) == "events/e9/2.jpg"
    assert media_key(doc, "face", 2) is None
    assert media_key(doc, "crop", 3) is None
    assert media_keys(doc) == {"events/e9/clip.mp4", "other/p.jpg", "events/e9/2.jpg",
                               "events/e9/4.jpg"}
