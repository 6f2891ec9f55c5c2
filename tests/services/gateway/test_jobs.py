"""A job's progress and its public shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.jobs import job_public, progress


def job(**changes: object) -> dict:
    doc = {"_id": "j1", "filename": "fight.mp4", "status": "running", "frames_total": 40,
           "frames_analysed": 10, "error": None, "media_key": "uploads/j1/video",
           "created_at": datetime(2024, 5, 1, 14, tzinfo=UTC)}
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("changes", "expected"),
    [({"status": "queued", "frames_total": 0, "frames_analysed": 0}, 0.0), ({}, 0.25),
     ({"frames_analysed": 50}, 1.0), ({"status": "done", "frames_analysed": 39}, 1.0),
     ({"frames_total": 0}, 0.0)],
)
def test_progress_is_the_fraction_analysed(changes: dict, expected: float) -> None:
    assert progress(job(**changes)) == expected


def test_a_report_only_once_done() -> None:
    running = job_public(job(), events=None)
    assert running.report is None and running.created_at == "2024-05-01T14:00:00.000Z"
    calm = job_public(job(status="done"), events=[])
    assert calm.report is not None
    assert (calm.report.violent, calm.report.events) == (False, [])
    assert calm.report.annotated_url == "/api/jobs/j1/annotated"
