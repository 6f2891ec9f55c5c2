"""`make cluster`'s processes end to end: a fight clip uploaded through the gateway ends as a
stored event with a playable clip, the metrics move, and every metric the dashboard and the
alert rules read is exported by some service."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.cluster import Cluster, running, service_env
from tests.deploy.manifests import exported_family
from tests.deploy.test_observability import PENDING_METRICS, _used_metrics
from vigil.compose import SERVICE_NAMES

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(
    kafka_address: str, mongo_url: str, s3_url: str, redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    env = service_env(kafka_address, mongo_url, s3_url, redis_url)
    with running(tmp_path_factory.mktemp("cluster"), env) as started:
        yield started


def scrape(cluster: Cluster) -> dict[str, str]:
    return {name: httpx.get(f"{cluster.url(name)}/metrics", timeout=10).text
            for name in SERVICE_NAMES}


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def api(cluster: Cluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cluster.url("gateway"), timeout=60) as client:
        yield client


def test_a_fight_clip_becomes_a_stored_event_with_a_playable_clip(
    cluster: Cluster, api: httpx.Client, data_dir: Path, tmp_path: Path
) -> None:
    account = {"username": "admin", "email": "admin@example.org", "password": "a long passphrase"}
    assert api.post("/api/auth/signup", json=account).status_code == 201
    token = api.post("/api/auth/login", json={k: account[k] for k in ("username", "password")})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    clip = data_dir / "surveillance-fight/fight/fi010.mp4"
    with clip.open("rb") as f:
        job = api.post("/api/uploads", headers=headers,
                       files={"file": ("fight.mp4", f, "video/mp4")})
    assert job.status_code == 202, job.text
    job_id = job.json()["job_id"]
    deadline = time.monotonic() + 420
    while (status := api.get(f"/api/jobs/{job_id}", headers=headers).json())["status"] != "done":
        assert status["status"] != "failed", status
        assert time.monotonic() < deadline, (status, cluster.log("classify")[-2000:])
        time.sleep(2)
    report = status["report"]
    assert report["violent"] and report["events"], report

    deadline = time.monotonic() + 120
    while not (events := [e for e in api.get("/api/events", headers=headers).json()["items"]
                          if e["status"] == "ready"]):
        assert time.monotonic() < deadline, cluster.log("repository")[-3000:]
        time.sleep(2)
    event = api.get(f"/api/events/{events[0]['id']}", headers=headers).json()
    assert event["job_id"] == job_id and event["culprits"]
    clip_bytes = api.get(event["clip_url"], headers=headers)
    assert clip_bytes.status_code == 200 and len(clip_bytes.content) > 1000
    path = tmp_path / "clip"
    path.write_bytes(clip_bytes.content)
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 5, "the clip holds the violent part, with pre- and post-roll"

    metrics = scrape(cluster)
    for service in ("detect", "track", "classify"):
        assert sample(metrics[service], "vigil_frames_processed_total", service=service) > 0
    assert sample(metrics["ingest"], "vigil_upload_jobs_total", result="done") >= 1


def test_every_metric_the_dashboard_and_alerts_read_is_exported(cluster: Cluster) -> None:
    exported = {
        match.group(1)
        for text in scrape(cluster).values()
        for match in re.finditer(r"^# TYPE (\S+) \S+$", text, re.MULTILINE)
    }
    missing = []
    for where, name in _used_metrics():
        family, _ = exported_family(name)
        if not name.startswith("vigil_") or family in PENDING_METRICS:
            continue
        base = family.removesuffix("_total")
        if family not in exported and base not in exported:
            missing.append(f"{where}: {name}")
    assert not missing, f"read by the dashboard or alerts, exported by no service: {missing}"
