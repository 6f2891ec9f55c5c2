"""`vigil analyze` and `vigil evaluate` on a real clip with the shipped model, and on a corrupt
file. The real-clip tests run the whole pipeline (detect models included): marked slow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest

from services.classify.config import DEFAULT_MODEL_PATH
from vigil.cli import main
from vigil.settings import dataset_dir

CLIP = dataset_dir() / "surveillance-fight" / "fight" / "fi019.mp4"  # 1.7 s, two people
CORRUPT = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8


def needs_clip_and_model() -> None:
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is not here (set VIGIL_DATA_DIR)")
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip("the shipped model is missing")


def sampled_frame_count(path: Path, rate: float = 10.0) -> int:
    capture = cv2.VideoCapture(str(path))
    count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return len({int(i / fps * rate + 1e-6) for i in range(count)})


@pytest.mark.slow
def test_analyze_one_real_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs_clip_and_model()
    report_path, annotated = tmp_path / "report.json", tmp_path / "annotated.mp4"
    assert main(["analyze", str(CLIP), "--report", str(report_path),
                 "--annotated", str(annotated)]) == 0
    report = json.loads(report_path.read_text())
    assert report["frames"] == sampled_frame_count(CLIP)
    assert report["violent"] == bool(report["events"])
    assert (report["score"] >= report["event_rule"]["on_threshold"]) == report["violent"]
    people = {p["track_id"] for p in report["people"]}
    for event in report["events"]:
        assert event["closed"]  # the end of the file closes every event
        assert 0.0 <= event["start_time_s"] <= event["end_time_s"] <= report["duration_s"]
        assert event["start_frame"] <= event["end_frame"] < report["frames"]
        assert event["culprits"] and set(event["culprits"]) <= people
    capture = cv2.VideoCapture(str(annotated))
    written = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    assert written == report["frames"] == report["annotated"]["frames"]
    assert size == (626, 360)
    assert ("VIOLENT" in capsys.readouterr().out) == report["violent"]


def test_analyze_refuses_a_corrupt_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(CORRUPT)
    report = tmp_path / "report.json"
    assert main(["analyze", str(broken), "--report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "cannot analyse" in err and "broken.mp4" in err
    assert not report.exists()


@pytest.mark.slow
def test_evaluate_skips_a_corrupt_clip_and_scores_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_clip_and_model()
    folder = tmp_path / "clips"
    (folder / "fight").mkdir(parents=True)
    (folder / "noFight").mkdir()
    shutil.copy(CLIP, folder / "fight" / CLIP.name)
    (folder / "noFight" / "broken.mp4").write_bytes(CORRUPT)
    report_path = tmp_path / "eval.json"
    assert main(["evaluate", str(folder), "--report", str(report_path),
                 "--cache", str(tmp_path / "cache")]) == 0
    report = json.loads(report_path.read_text())
    assert report["n"] == 1
    assert [Path(s["path"]).name for s in report["skipped"]] == ["broken.mp4"]
    assert report["skipped"][0]["reason"]
    (row,) = report["clips"]
    assert (Path(row["path"]).name, row["label"]) == (CLIP.name, 1)
    assert row["prediction"] == int(row["score"] >= report["threshold"])
    assert report["accuracy"] == row["prediction"]  # one fight clip: right iff flagged
    assert report["roc_auc"] is None  # one class: undefined
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "broken.mp4" in captured.err
    assert "clips scored: 1" in captured.out
