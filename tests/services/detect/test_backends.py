"""The detector backends: decoding, tiling and merging with fakes; the real models on a frame."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from services.detect.backends import create_detector
from services.detect.backends.base import Person, check_image
from services.detect.backends.geometry import Window, fit_to_input, iou_matrix
from services.detect.backends.movenet_multipose import decode_multipose
from services.detect.backends.single_pose import crop_squares, mask_outside, square_crop
from services.detect.backends.top_down import TopDownDetector
from services.detect.config import DetectConfig, TilingConfig
from services.detect.evaluate import load_sequence


def test_multipose_rows_map_to_source_pixels() -> None:
    fitted = fit_to_input(np.zeros((400, 600, 3), np.uint8), 320)  # scale 320/600, input 320x224
    in_h, in_w = fitted.pixels.shape[:2]
    rows = np.zeros((6, 56), np.float32)
    rows[0, :51] = np.tile([0.25, 0.5, 0.8], 17)  # y, x, score
    rows[0, 51:] = [0.1, 0.2, 0.5, 0.4, 0.9]  # ymin, xmin, ymax, xmax, score
    rows[1, 55] = 0.1  # below threshold
    window = Window(100, 50, 700, 450)
    boxes, scores, keypoints = decode_multipose(rows, fitted, window, score_threshold=0.3)
    s = fitted.scale
    np.testing.assert_allclose(
        boxes,
        [[0.2 * in_w / s + 100, 0.1 * in_h / s + 50, 0.4 * in_w / s + 100, 0.5 * in_h / s + 50]],
        rtol=1e-5,
    )
    np.testing.assert_allclose(scores, [0.9])
    np.testing.assert_allclose(keypoints[0, :, 0], 0.5 * in_w / s + 100, rtol=1e-5)
    np.testing.assert_allclose(keypoints[0, :, 1], 0.25 * in_h / s + 50, rtol=1e-5)
    np.testing.assert_allclose(keypoints[0, :, 2], 0.8)


def test_square_crop_maps_fractions_back_to_source() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[40:60, 90:110] = (255, 0, 0)  # a blue patch
    ((x0, y0, side),) = crop_squares(np.array([[80, 20, 120, 80]], np.float32), expansion=1.0)
    assert (x0, y0, side) == (70, 20, 60)
    crop = square_crop(image, x0, y0, side, 60)
    assert crop[30, 30, 2] == 255  # patch centre (100, 50) at the crop centre, now RGB


def test_pose_crop_hides_neighbours_outside_the_box() -> None:
    image = np.full((100, 200, 3), 200, np.uint8)
    box = np.array([80, 20, 120, 80], np.float32)
    ((x0, y0, side),) = crop_squares(box[None], expansion=2.0)  # x0 40, y0 -10, side 120
    crop = mask_outside(square_crop(image, x0, y0, side, 120), box, x0, y0, side)
    # the box grown by 10% (x 76-124, y 14-86) is kept, the rest is black
    assert crop[50, 60].all() and crop[25, 37].all()
    assert not crop[50, 30].any() and not crop[50, 90].any() and not crop[20, 60].any()


class WhiteBlobFinder:
    """Finds a "person" at each white rectangle of what it is shown (cut ones too)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def find(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append((bgr.shape[1], bgr.shape[0]))
        mask = (bgr[:, :, 0] == 255).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects = [cv2.boundingRect(c) for c in contours]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in rects], np.float32).reshape(-1, 4)
        return boxes, np.linspace(0.9, 0.6, len(boxes)).astype(np.float32)


def people_picture(width: int = 600, height: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """20x40 white people on a 100-pixel grid, some across any tile cut; and their boxes."""
    image = np.zeros((height, width, 3), np.uint8)
    boxes = []
    for x in range(30, width - 20, 100):
        for y in range(20, height - 40, 100):
            image[y : y + 40, x : x + 20] = 255
            boxes.append([x, y, x + 20, y + 40])
    return image, np.array(boxes, np.float32)


@pytest.mark.parametrize(("columns", "rows"), [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_top_down_finds_each_person_once_whatever_the_tiles(columns: int, rows: int) -> None:
    image, truth = people_picture()
    finder = WhiteBlobFinder()
    tiling = TilingConfig(columns=columns, rows=rows, overlap=0.3, min_frame_side=0)
    config = DetectConfig(backend="centernet_movenet", tiling=tiling, score_threshold=0.0)
    boxes, _ = TopDownDetector(config, finder, None).find_boxes(image)
    assert len(finder.calls) == columns * rows
    # every person found whole, none twice, no piece left from a tile cut
    assert len(boxes) == len(truth)
    np.testing.assert_allclose(iou_matrix(truth, boxes).max(axis=1), 1.0)


def test_top_down_caps_the_people_and_drops_weak_ones() -> None:
    image, truth = people_picture(2000, 2000)
    config = DetectConfig(backend="centernet_movenet", max_people=5, score_threshold=0.0)
    boxes, scores = TopDownDetector(config, WhiteBlobFinder(), None).find_boxes(image)
    assert len(truth) > 300 and len(boxes) == 5 and np.all(np.diff(scores) <= 0)
    strict = DetectConfig(backend="centernet_movenet", score_threshold=0.95)
    assert len(TopDownDetector(strict, WhiteBlobFinder(), None).find_boxes(image)[0]) == 0


@pytest.mark.parametrize(
    ("image", "has_pixels"),
    [
        (np.zeros((0, 0, 3), np.uint8), False),
        (np.zeros((0, 0), np.uint8), False),
        (np.zeros((5, 0, 3), np.uint8), False),
        (np.zeros((5, 5, 3), np.uint8), True),
    ],
)
def test_check_image(image: np.ndarray, has_pixels: bool) -> None:
    assert check_image(image) is has_pixels


@pytest.mark.parametrize("image", [np.zeros((5, 5), np.uint8), np.zeros((5, 5, 3), np.float32)])
def test_check_image_refuses_what_is_no_bgr_picture(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected"):
        check_image(image)


REAL_BACKENDS = [
    DetectConfig(backend="movenet_multipose"),
    DetectConfig(backend="centernet_movenet"),
]


@pytest.mark.slow
@pytest.mark.parametrize("config", REAL_BACKENDS, ids=lambda c: c.backend)
def test_real_backend_on_a_street_frame(
    config: DetectConfig, model_cache: Path, data_dir: Path, street_frame: np.ndarray
) -> None:
    config = config.model_copy(update={"model_dir": model_cache})
    detector = create_detector(config)
    empty = np.zeros((0, 0, 3), np.uint8)
    black = np.zeros((360, 640, 3), np.uint8)
    found, nothing, no_one = detector.detect([street_frame, empty, black])
    assert nothing == [] and no_one == []
    truth = load_sequence(data_dir / "mot17-mini" / "MOT17-09-FRCNN")[0].people
    boxes = np.array([p.box for p in found])
    # loose localisation: the backends' boxes are not tight on this shop-front scene
    matched = (iou_matrix(boxes, truth).max(axis=1) >= 0.3).sum()
    assert matched >= 3, f"{matched} of {len(found)} boxes match the ground truth"
    for person in found:
        assert (
            isinstance(person, Person)
            and person.box.shape == (4,)
            and person.keypoints.shape == (17, 3)
        )
        x1, y1, x2, y2 = person.box
        assert 0 <= x1 < x2 <= 1920 and 0 <= y1 < y2 <= 1080
        confident = person.keypoints[person.keypoints[:, 2] > 0.3]
        margin = 0.25 * max(x2 - x1, y2 - y1)
        assert np.all((confident[:, 0] > x1 - margin) & (confident[:, 0] < x2 + margin))
    # the same detector from two threads at once gives the same people
    with ThreadPoolExecutor(max_workers=2) as pool:
        again = list(
            pool.map(lambda image: detector.detect([image])[0], [street_frame, street_frame])
        )
    for other in again:
        np.testing.assert_allclose(np.array([p.box for p in other]), boxes, atol=1e-3)
