"""BlazeFace: anchors, decoding and NMS on made-up outputs; the real model on a real face."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from services.repository.faces import INPUT_SIZE, FaceDetector, anchors, decode_faces
from vigil.models import default_cache_dir, fetch_all


@pytest.fixture(scope="session")
def model_cache() -> Path:
    fetch_all()
    return default_cache_dir()


def test_anchors_follow_mediapipe_short_range_layout() -> None:
    centres = anchors()
    assert centres.shape == (896, 2)
    # 16x16 grid with 2 anchors per cell, then 8x8 with 6 per cell
    np.testing.assert_allclose(centres[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(centres[1], centres[0])
    np.testing.assert_allclose(centres[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(centres[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(centres[517], centres[512])
    np.testing.assert_allclose(centres[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(centres[-1], [7.5 / 8, 7.5 / 8])


def test_decoding_offsets_from_the_anchor_and_nms_keeps_the_best() -> None:
    regressors = np.zeros((896, 16), np.float32)
    logits = np.full(896, -10.0, np.float32)
    # anchor 2 (centre 1.5/16, 0.5/16): a 32x16-pixel face shifted by (+8, +4) pixels
    regressors[2, :4] = [8, 4, 32, 16]
    regressors[2, 4:] = np.tile([1.0, 2.0], 6)
    logits[2] = 3.0
    # anchor 3 says nearly the same, less sure: suppressed
    regressors[3, :4] = [-4, 4, 32, 16]
    logits[3] = 2.0
    # anchor 600 is far away and sure
    regressors[600, :4] = [0, 0, 10, 10]
    logits[600] = 5.0
    boxes, scores, landmarks = decode_faces(regressors, logits, min_score=0.5, nms_iou=0.3)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-np.array([5.0, 3.0]))), rtol=1e-6)
    cx, cy = 1.5 / 16 + 8 / INPUT_SIZE, 0.5 / 16 + 4 / INPUT_SIZE
    np.testing.assert_allclose(
        boxes[1], [cx - 16 / 128, cy - 8 / 128, cx + 16 / 128, cy + 8 / 128], rtol=1e-5
    )
    np.testing.assert_allclose(
        landmarks[1], np.tile([1.5 / 16 + 1 / 128, 0.5 / 16 + 2 / 128], (6, 1)), rtol=1e-5
    )


def test_nothing_confident_means_no_face() -> None:
    boxes, scores, _ = decode_faces(np.zeros((896, 16)), np.full(896, -1000.0), 0.5, 0.3)
    assert len(boxes) == len(scores) == 0


@pytest.mark.slow
def test_finds_the_face_of_a_real_pedestrian(model_cache: Path) -> None:
    data = Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()
    frame = cv2.imread(str(data / "mot17-mini" / "MOT17-09-FRCNN" / "img1" / "000001.jpg"))
    assert frame is not None
    # the woman walking towards the camera on the right, her ground-truth box; by eye, her face is
    # at about x 62-100, y 10-52 in this crop
    crop = frame[387:732, 1686:1857]
    detector = FaceDetector(cache_dir=model_cache)
    face = detector.find_face(crop)
    assert face is not None
    centre_x, centre_y = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    assert 62 < centre_x < 100 and 10 < centre_y < 52
    assert 20 < face.box[2] - face.box[0] < 70
    eyes = face.landmarks[:2]
    assert np.all(eyes[:, 1] < face.landmarks[3, 1])  # eyes above the mouth
    # the pavement below her feet has no face; an empty crop has none either
    assert detector.find_face(frame[900:1080, 600:900]) is None
    assert detector.find_face(np.zeros((0, 0, 3), np.uint8)) is None
