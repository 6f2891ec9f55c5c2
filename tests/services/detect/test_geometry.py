from __future__ import annotations

import numpy as np
import pytest

from services.detect.backends.geometry import (
    Window,
    fit_to_input,
    iou_matrix,
    merge_windows,
    nms,
    tile_windows,
    touches_inner_edge,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [10, 10, 20, 20], 0.0),
        ([0, 0, 0, 10], [0, 0, 0, 10], 0.0),  # zero area: no overlap, no division by zero
    ],
)
def test_iou(a: list[float], b: list[float], expected: float) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("boxes", "scores", "threshold", "limit", "kept"),
    [
        ([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], [0.9, 0.8, 0.7], 0.5, None, [0, 2]),
        ([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], [0.7, 0.8, 0.9], 0.5, None, [2, 1]),
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], 0.9, None, [0, 1]),  # loose threshold
        ([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0.5, 0.9, 0.7], 0.5, 2, [1, 2]),
        ([], [], 0.5, None, []),
    ],
)
def test_nms(
    boxes: list[list[float]],
    scores: list[float],
    threshold: float,
    limit: int | None,
    kept: list[int],
) -> None:
    result = nms(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores), threshold, limit)
    assert result.tolist() == kept


@pytest.mark.parametrize(
    ("columns", "rows", "overlap", "full"),
    [(1, 1, 0.0, False), (2, 1, 0.1, False), (3, 2, 0.15, True), (4, 3, 0.25, False)],
)
def test_tiles_cover_the_frame_and_overlap(
    columns: int, rows: int, overlap: float, full: bool
) -> None:
    width, height = 1920, 1080
    windows = tile_windows(width, height, columns, rows, overlap, full)
    expected_count = columns * rows + (1 if full and columns * rows > 1 else 0)
    assert len(windows) == expected_count
    covered = np.zeros((height, width), bool)
    tiles = windows[1:] if full else windows
    for w in tiles:
        assert 0 <= w.x1 < w.x2 <= width and 0 <= w.y1 < w.y2 <= height
        covered[w.y1 : w.y2, w.x1 : w.x2] = True
    assert covered.all()
    if columns > 1:
        first, second = tiles[0], tiles[1]
        assert first.x2 - second.x1 == pytest.approx(overlap * first.width, abs=2)


def test_boxes_at_a_tile_cut_are_flagged_but_not_at_the_image_border() -> None:
    window = Window(0, 0, 1000, 1080)  # left tile of a 1920-wide frame
    boxes = np.array([[0, 10, 50, 100], [950, 10, 1000, 100], [400, 1000, 450, 1080]], np.float32)
    assert touches_inner_edge(boxes, window, 1920, 1080).tolist() == [False, True, False]
    full_frame = Window(0, 0, 1920, 1080)
    assert touches_inner_edge(boxes, full_frame, 1920, 1080).tolist() == [False, False, False]


def test_a_cut_box_inside_a_whole_one_is_dropped_before_nms() -> None:
    boxes = np.array([[100, 100, 200, 400], [150, 100, 200, 400], [500, 100, 600, 400]], np.float32)
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    cut = np.array([False, True, True])
    # box 1 is the right half of box 0 (IoU 0.5, NMS would keep both); box 2 is alone
    assert sorted(merge_windows(boxes, scores, cut, 0.5, 10).tolist()) == [0, 2]
    assert sorted(merge_windows(boxes, scores, np.zeros(3, bool), 0.5, 10).tolist()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("width", "height", "long_side"), [(1920, 1080, 640), (640, 480, 256), (100, 300, 224)]
)
def test_fit_to_input_keeps_aspect_and_maps_back(width: int, height: int, long_side: int) -> None:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 0] = 255  # blue in BGR
    fitted = fit_to_input(image, long_side)
    in_h, in_w = fitted.pixels.shape[:2]
    assert in_h % 32 == 0 and in_w % 32 == 0 and max(in_h, in_w) == -(-long_side // 32) * 32
    assert fitted.pixels[0, 0, 2] == 255 and fitted.pixels[0, 0, 0] == 0  # now RGB
    x, y = fitted.to_source(
        np.array([width * fitted.scale]), np.array([height * fitted.scale]), Window(10, 20, 0, 0)
    )
    assert x[0] == pytest.approx(width + 10) and y[0] == pytest.approx(height + 20)
