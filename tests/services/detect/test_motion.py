"""Pixel motion per person: known shifts give known flow, in box heights per second."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from services.detect import motion as M
from services.detect.config import MotionConfig

DT = 0.1


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture: Farneback needs gradients everywhere."""
    rng = np.random.default_rng(seed)
    small = (rng.random((height // 6, width // 6)) * 255).astype(np.uint8)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(big, (0, 0), 1.5)


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]),
                          flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


BOX = np.array([140.0, 70.0, 180.0, 170.0])  # 100 px high


def test_a_known_shift_gives_the_known_flow() -> None:
    before = _texture(240, 320)
    after = _shift(before, 3.0, 2.0)  # the whole view moves: a camera pan
    d = M.person_motion(before, after, BOX, DT)
    assert d is not None and d.shape == (M.MOTION_DIM,)
    expected = math.hypot(3, 2) / 100 / DT  # pixels -> box heights per second
    np.testing.assert_allclose(d[M.IDX_MAG][[0, 2]], expected, rtol=0.05)
    assert d[M.IDX_MAG][1] < 0.05 * expected  # uniform
    # 34 degrees right-down: the 45 degree bin (image axes, y down).
    assert d[M.IDX_ORIENTATION].argmax() == 1 and d[M.IDX_ORIENTATION].sum() == pytest.approx(1)
    assert d[M.IDX_RESIDUAL][0] < 0.05 * expected  # no motion but the translation
    np.testing.assert_allclose(d[M.IDX_RING][0], expected, rtol=0.05)  # the ring moves as well
    assert d[M.IDX_MOVING] == 0.0  # 0.36 heights/s is under MOVING_SPEED


def test_a_moving_person_in_a_still_scene() -> None:
    before = _texture(240, 320)
    after = before.copy()
    x1, y1, x2, y2 = BOX.astype(int)
    after[y1:y2, x1:x2] = _shift(before, -8.0, 0.0)[y1:y2, x1:x2]  # the box moves left
    d = M.person_motion(before, after, BOX, DT)
    assert d is not None
    assert d[M.IDX_MAG][0] > 0.3  # heights per second
    assert d[M.IDX_ORIENTATION].argmax() == 4  # 180 degrees
    assert d[M.IDX_RING][0] < 0.2 * d[M.IDX_MAG][0]  # the surroundings stand still
    assert d[M.IDX_MOVING] > 0.3


@pytest.mark.parametrize("scale", [0.5, 2.0, 3.0])
def test_resolution_and_frame_rate_carry_no_signal(scale: float) -> None:
    """The same motion in heights per second: at another resolution (everything scaled), or
    at half the frame rate (twice the shift in twice the time)."""
    before = _texture(240, 320)
    reference = M.person_motion(before, _shift(before, 3.0, 2.0), BOX, DT)
    big = cv2.resize(before, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    scaled = M.person_motion(big, _shift(big, 3.0 * scale, 2.0 * scale), BOX * scale, DT)
    slow = M.person_motion(before, _shift(before, 6.0, 4.0), BOX, 2 * DT)
    assert reference is not None and scaled is not None and slow is not None
    for other in (scaled, slow):
        np.testing.assert_allclose(other[M.IDX_MAG][[0, 2]], reference[M.IDX_MAG][[0, 2]],
                                   rtol=0.08)
        np.testing.assert_allclose(other[M.IDX_ORIENTATION], reference[M.IDX_ORIENTATION],
                                   atol=0.05)
        np.testing.assert_allclose(other[M.IDX_RING][0], reference[M.IDX_RING][0], rtol=0.08)


def test_a_mirrored_view_mirrors_the_directions() -> None:
    before = _texture(240, 320)
    after = _shift(before, 4.0, -2.0)
    d = M.person_motion(before, after, BOX, DT)
    flipped_box = np.array([320 - BOX[2], BOX[1], 320 - BOX[0], BOX[3]])
    f = M.person_motion(before[:, ::-1].copy(), after[:, ::-1].copy(), flipped_box, DT)
    assert d is not None and f is not None
    np.testing.assert_allclose(f[M.IDX_ORIENTATION],
                               d[M.IDX_ORIENTATION][M.mirror_orientation_order()], atol=0.05)


@pytest.mark.parametrize(
    "box", [np.array([10.0, 10.0, 14.0, 14.0]),  # too small to measure
            np.array([50.0, 50.0, 50.0, 120.0])],  # no width
)
def test_unmeasurable_boxes_give_none(box: np.ndarray) -> None:
    image = _texture(240, 320)
    assert M.person_motion(image, image, box, DT) is None


def test_tracker_needs_a_recent_previous_frame_of_the_same_stream() -> None:
    tracker = M.MotionTracker(MotionConfig(max_gap_s=0.5))
    frame = cv2.cvtColor(_texture(240, 320), cv2.COLOR_GRAY2BGR)
    moved = cv2.cvtColor(_shift(_texture(240, 320), 3.0, 2.0), cv2.COLOR_GRAY2BGR)
    boxes = np.array([BOX, BOX + np.array([100, 0, 100, 0])])
    assert tracker.describe("cam", "", 0, 10.0, frame, boxes) == [None, None]  # first frame
    got = tracker.describe("cam", "", 1, 10.1, moved, boxes)
    assert all(d is not None for d in got)
    assert tracker.describe("cam", "", 2, 10.1, moved, boxes[:1]) == [None]  # no time passed
    assert tracker.describe("cam", "", 3, 10.9, moved, boxes[:1]) == [None]  # 0.8 s gap
    assert tracker.describe("other", "", 0, 10.9, moved, boxes[:1]) == [None]  # new camera
    assert tracker.describe("cam", "job2", 0, 11.0, moved, boxes[:1]) == [None]  # new upload
    small = cv2.resize(moved, (160, 120))
    assert tracker.describe("cam", "job2", 1, 11.1, small, boxes[:1] / 2) == [None]  # resized
    assert tracker.describe("cam", "job2", 2, 11.2, small, np.zeros((0, 4))) == []
    # After its end of stream a camera starts afresh.
    tracker.describe("cam", "job2", 3, 11.3, small, np.zeros((0, 4)), end_of_stream=True)
    assert tracker.describe("cam", "job2", 4, 11.4, small, boxes[:1] / 2) == [None]


def test_tracker_downscales_large_frames_without_changing_the_values() -> None:
    """Boxes come in the frame's pixels; the kept gray frame is smaller. Heights per second
    do not change (up to resampling)."""
    before = _texture(480, 640)
    after = _shift(before, 6.0, 4.0)
    box = BOX * 2
    full = M.MotionTracker(MotionConfig(frame_side=640))
    half = M.MotionTracker(MotionConfig(frame_side=320))
    results = []
    for tracker in (full, half):
        tracker.describe("cam", "", 0, 0.0, cv2.cvtColor(before, cv2.COLOR_GRAY2BGR), box[None])
        results.append(tracker.describe("cam", "", 1, DT,
                                        cv2.cvtColor(after, cv2.COLOR_GRAY2BGR), box[None])[0])
    assert results[0] is not None and results[1] is not None
    np.testing.assert_allclose(results[1][M.IDX_MAG][0], results[0][M.IDX_MAG][0], rtol=0.08)
    np.testing.assert_allclose(results[0][M.IDX_MAG][0], math.hypot(6, 4) / 200 / DT, rtol=0.05)


def test_motion_goes_with_the_matched_track() -> None:
    """Detect's descriptor reaches `tracks` with the matched track; a person detect could not
    measure and a coasting track carry none (absent, not zeros)."""
    from services.detect.backends.base import Person
    from services.detect.messages import detections_message
    from services.track.deepsort.tracker import TrackOutput
    from services.track.service import tracks_message
    from vigil.v1.frames_pb2 import FrameRef

    people = [Person(box=np.array([10.0, 20, 50, 120]), score=0.9, keypoints=np.ones((17, 3))),
              Person(box=np.array([200.0, 20, 240, 120]), score=0.8, keypoints=np.ones((17, 3)))]
    motion = np.linspace(0, 1, M.MOTION_DIM)
    detections = detections_message(FrameRef(camera_id="cam", frame_index=1), people,
                                    np.zeros((2, 4)), "m", 1.0, [motion, None])
    outputs = [TrackOutput(4, np.array([10.0, 20, 50, 120]), 0, 3, 0),
               TrackOutput(5, np.array([200.0, 20, 240, 120]), 1, 3, 0),
               TrackOutput(6, np.array([300.0, 20, 340, 120]), None, 3, 1)]
    measured, unmeasured, coasting = tracks_message(detections, outputs).people
    np.testing.assert_allclose(list(measured.motion), motion, atol=1e-6)
    assert len(unmeasured.motion) == 0 and len(coasting.motion) == 0
