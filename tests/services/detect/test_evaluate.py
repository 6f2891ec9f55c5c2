"""Detection scoring: matching, AP, MOT17 ground-truth rules, the report, on made-up data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

import services.detect.evaluate as evaluate
from services.detect.backends.base import Person, no_keypoints
from services.detect.config import DetectConfig
from services.detect.evaluate import (
    Frame,
    average_precision,
    evaluate_detection,
    format_markdown,
    load_sequence,
    match_frame,
)


@pytest.mark.parametrize(
    ("hits", "ground_truth", "expected"),
    [
        ([True, True], 2, 1.0),
        ([True, False, True], 2, 0.5 * 1 + 0.5 * 2 / 3),
        ([False, True], 1, 0.5),
        ([True], 4, 0.25),
        ([], 3, 0.0),
    ],
)
def test_average_precision(hits: list[bool], ground_truth: int, expected: float) -> None:
    scores = np.linspace(0.9, 0.1, len(hits)) if hits else np.zeros(0)
    assert average_precision(scores, np.array(hits, bool), ground_truth) == pytest.approx(expected)


def test_average_precision_without_ground_truth_is_undefined() -> None:
    assert math.isnan(average_precision(np.array([0.5]), np.array([False]), 0))


def test_each_ground_truth_box_matches_once_best_score_first() -> None:
    frame = Frame(
        Path("x.jpg"),
        np.array([[0, 0, 10, 20]], np.float32),
        np.array([[50, 0, 60, 20]], np.float32),
    )
    boxes = np.array(
        [[0, 0, 10, 19], [1, 0, 10, 20], [50, 0, 60, 20], [100, 0, 110, 20]], np.float32
    )
    scores = np.array([0.5, 0.9, 0.8, 0.7], np.float32)
    result = match_frame(boxes, scores, frame)
    # by score: box 1 (0.9) takes the person, box 2 hits an ignored box and is dropped,
    # box 3 matches nothing, box 0 finds the person taken: false positive
    np.testing.assert_allclose(result.scores, [0.9, 0.7, 0.5])
    assert result.true_positive.tolist() == [True, False, False]
    assert result.ground_truth == 1


def write_dataset(root: Path) -> Path:
    """mot17-mini with one sequence: images for frames 1 and 2, ground truth for 1 to 3."""
    sequence = root / "mot17-mini" / "SEQ-01"
    (sequence / "img1").mkdir(parents=True)
    (sequence / "gt").mkdir()
    for number in (1, 2):
        cv2.imwrite(str(sequence / "img1" / f"{number:06d}.jpg"), np.zeros((100, 200, 3), np.uint8))
    rows = [
        "1,1,10,10,20,40,1,1,1.0",  # scored pedestrian
        "1,2,60,10,20,40,1,1,0.5",  # scored pedestrian
        "1,3,120,10,20,40,0,1,1.0",  # consider=0: not scored, not ignored
        "1,4,160,10,20,40,1,7,1.0",  # static person: ignored
        "2,1,12,10,20,40,1,1,1.0",
        "3,1,14,10,20,40,1,1,1.0",  # frame without an image
    ]
    (sequence / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    return sequence


def test_load_sequence_keeps_scored_and_ignored_rows_of_present_frames(tmp_path: Path) -> None:
    frames = load_sequence(write_dataset(tmp_path))
    assert [f.image_path.name for f in frames] == ["000001.jpg", "000002.jpg"]
    np.testing.assert_allclose(frames[0].people, [[10, 10, 30, 50], [60, 10, 80, 50]])
    np.testing.assert_allclose(frames[0].ignored, [[160, 10, 180, 50]])
    assert len(frames[1].people) == 1 and len(frames[1].ignored) == 0


class ScriptedDetector:
    """Finds person 1 and the static person in every frame, and a ghost on the right."""

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Person]]:
        boxes = [([11, 10, 31, 50], 0.9), ([160, 10, 180, 50], 0.8), ([100, 60, 120, 99], 0.3)]
        return [
            [Person(np.array(b, np.float32), s, no_keypoints(1)[0]) for b, s in boxes]
            for _ in images
        ]


def test_evaluate_detection_scores_a_detector_on_the_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(tmp_path)
    monkeypatch.setattr(
        evaluate, "create_detector", lambda config, with_pose=True: ScriptedDetector()
    )
    config = DetectConfig(backend="centernet_movenet", score_threshold=0.5)
    report = evaluate_detection(tmp_path, {"scripted": config})
    overall = report["backends"]["scripted"]["overall"]
    # 3 people; person 1 found in both frames; the static person is ignored in frame 1 but has no
    # row in frame 2 (a false positive there); the ghost (0.3) is under the threshold
    assert overall["ground_truth"] == 3 and overall["true_positives"] == 2
    assert overall["false_positives"] == 1 and overall["precision"] == pytest.approx(2 / 3)
    assert overall["recall"] == pytest.approx(2 / 3)
    # over all scores the misses come after both hits: AP = the recall reached
    assert overall["ap50"] == pytest.approx(2 / 3)
    table = format_markdown(report)
    assert "| scripted | SEQ-01 | 2 | 3 | 66.7 | 66.7 | 66.7 |" in table
    assert "| scripted | **overall** |" in table


def test_a_missing_dataset_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="VIGIL_DATA_DIR"):
        evaluate_detection(tmp_path, {})
