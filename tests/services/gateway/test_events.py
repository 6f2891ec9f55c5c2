"""The list's time zone, and the public shape of stored event documents (the list's filter is
the repository store's: tests/services/repository/test_store.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.events import event_public, media_key, zone


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", ""])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "Asia/Kolkata"])
def test_known_zones_are_taken(name: str) -> None:
    assert zone(name).key == name


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


def test_media_key_of_an_event() -> None:
    doc = upload_doc(clip_key="events/e9/clip.mp4", poster_key="other/p.jpg")
    assert media_key(doc, "clip") == "events/e9/clip.mp4"
    assert media_key(doc, "crop", 2) == "events/e9/2.jpg"
    assert media_key(doc, "face", 2) is None
    assert media_key(doc, "crop", 3) is None
    assert media_key(doc, "poster") == "other/p.jpg"
