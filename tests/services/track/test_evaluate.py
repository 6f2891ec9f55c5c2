from pathlib import Path

import cv2
import numpy as np
import pytest

from services.track.deepsort.tracker import TrackOutput
from services.track.evaluate import (
    Frame,
    Perturbation,
    accumulate,
    default_data_dir,
    drop_hypotheses_on_distractors,
    evaluate_tracking,
    format_markdown,
    mot17_frames,
    perturbed_frames,
    score,
)

# frame, id, left, top, width, height: two people over 40 frames, one walking right.
GT_ROWS = np.array(
    [
        [f, pid, 50.0 + 3 * f * (pid == 1) + 300 * (pid == 2), 100.0, 40.0, 100.0, 1, -1, -1, -1]
        for f in range(1, 41)
        for pid in (1, 2)
    ]
)


def gt_frames(rows: np.ndarray) -> list[Frame]:
    frames = []
    for f in np.unique(rows[:, 0]):
        r = rows[rows[:, 0] == f]
        boxes = np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]]
        frames.append(
            Frame(boxes, np.ones(len(r)), None, r[:, 1].astype(int), boxes, np.zeros((0, 4)))
        )
    return frames


def outputs_from_gt(frames: list[Frame], swap_at: int | None) -> list[list[TrackOutput]]:
    result = []
    for t, frame in enumerate(frames):
        ids = frame.gt_ids[::-1] if swap_at is not None and t >= swap_at else frame.gt_ids
        pairs = zip(ids, frame.gt_boxes, strict=True)
        result.append([TrackOutput(int(i), box, None, 1, 0) for i, box in pairs])
    return result


@pytest.mark.parametrize(("swap_at", "switches", "perfect_idf1"), [(None, 0, True), (20, 2, False)])
def test_scoring_counts_switches(swap_at: int | None, switches: int, perfect_idf1: bool) -> None:
    frames = gt_frames(GT_ROWS)
    metrics = score([accumulate(frames, outputs_from_gt(frames, swap_at))], ["s"])["OVERALL"]
    assert metrics["mota"] == pytest.approx(1.0 - switches / len(GT_ROWS))
    assert metrics["num_switches"] == switches
    assert (metrics["idf1"] == pytest.approx(1.0)) is perfect_idf1


def test_perturbation_is_seeded_and_does_what_it_says() -> None:
    p = Perturbation(drop_rate=0.25, false_positives_per_frame=2.0)
    first = perturbed_frames(GT_ROWS, np.random.default_rng(3), p)
    again = perturbed_frames(GT_ROWS, np.random.default_rng(3), p)
    other = perturbed_frames(GT_ROWS, np.random.default_rng(4), p)
    assert all(np.array_equal(a.boxes, b.boxes) for a, b in zip(first, again, strict=True))
    assert not all(
        a.boxes.shape == b.boxes.shape and np.array_equal(a.boxes, b.boxes)
        for a, b in zip(first, other, strict=True)
    )
    detections = sum(len(f.boxes) for f in first)
    # 80 true boxes, 25% dropped, 2 false positives a frame over 40 frames: ~60 + ~80.
    assert 100 < detections < 180
    for frame in first:
        assert frame.embeddings is not None
        np.testing.assert_allclose(np.linalg.norm(frame.embeddings, axis=1), 1.0)
        assert np.all(frame.boxes[:, 2:] > frame.boxes[:, :2])


def test_hypotheses_on_distractors_are_dropped() -> None:
    outputs = [
        TrackOutput(1, np.array([0.0, 0, 10, 20]), 0, 1, 0),
        TrackOutput(2, np.array([100.0, 0, 110, 20]), 1, 1, 0),
    ]
    kept = drop_hypotheses_on_distractors(outputs, np.array([[1.0, 0, 11, 20]]))
    assert [o.track_id for o in kept] == [2]


def write_sequence(root: Path) -> Path:
    sequence = root / "mot17-mini" / "MOT17-99-FRCNN"
    (sequence / "img1").mkdir(parents=True)
    (sequence / "det").mkdir()
    (sequence / "gt").mkdir()
    for frame in (1, 2):
        cv2.imwrite(str(sequence / "img1" / f"{frame:06d}.jpg"), np.zeros((60, 80, 3), np.uint8))
    (sequence / "det" / "det.txt").write_text(
        "1,-1,10,10,20,40,0.9\n2,-1,12,10,20,40,0.8\n2,-1,50,5,10,30,0.7\n3,-1,14,10,20,40,0.9\n"
    )
    (sequence / "gt" / "gt.txt").write_text(
        "1,1,10,10,20,40,1,1,1.0\n2,1,12,10,20,40,1,1,1.0\n"
        "1,2,50,5,10,30,0,7,1.0\n1,3,0,0,5,5,1,3,1.0\n3,1,14,10,20,40,1,1,1.0\n"
    )
    return sequence


def test_mot17_frames_use_only_the_frames_in_img1(tmp_path: Path) -> None:
    calls: list[tuple[tuple[int, ...], int]] = []

    def embed(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        calls.append((image.shape, len(boxes)))
        return np.ones((len(boxes), 4))

    frames = mot17_frames(write_sequence(tmp_path), embed)
    assert [len(f.boxes) for f in frames] == [1, 2]
    assert [len(f.gt_ids) for f in frames] == [1, 1]  # consider=1 and class=1 only
    assert [len(f.ignore_boxes) for f in frames] == [1, 0]  # class 7 is a distractor
    assert calls == [((60, 80, 3), 1), ((60, 80, 3), 2)]
    np.testing.assert_allclose(frames[0].boxes[0], [10, 10, 30, 50])


def test_evaluation_without_mot17_reports_tud_only(tmp_path: Path) -> None:
    result = evaluate_tracking(tmp_path, seed=1)
    assert result["mot17"] is None
    assert set(result["tud"]["results"]) == {"DeepSORT", "DeepSORT, motion only", "SORT"}
    markdown = format_markdown(result)
    assert "MOT17-mini not found" in markdown
    assert markdown.count("| OVERALL |") == 3


@pytest.mark.skipif(
    not (default_data_dir() / "mot17-mini").is_dir(), reason="needs VIGIL_DATA_DIR/mot17-mini"
)
def test_deepsort_idf1_is_at_least_sorts_on_both_inputs() -> None:
    result = evaluate_tracking(default_data_dir(), seed=0)
    for dataset in ("tud", "mot17"):
        overall = {name: r["OVERALL"] for name, r in result[dataset]["results"].items()}
        assert overall["DeepSORT"]["idf1"] >= overall["SORT"]["idf1"], dataset
