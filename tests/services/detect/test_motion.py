"""Person motion from optical flow: speeds in source pixels per second, camera motion removed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.detect.motion import (
    FLOW_HEIGHT,
    MAX_GAP_S,
    FrameMotion,
    MotionMemory,
    dense_flow,
    direction_entropy,
    flow_frame,
    frame_motion,
)

HEIGHT, WIDTH = 480, 640
PATCH = (slice(160, 320), slice(240, 400))  # rows, cols of the moving "person"
PATCH_BOX = np.array([[240.0, 160.0, 400.0, 320.0]])
NOTHING = FrameMotion(scene=None, people=[None])  # no motion measured for one person


def texture(height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """Smooth random texture (flow needs gradients), BGR uint8."""
    noise = np.random.default_rng(seed).random((height // 8, width // 8)).astype(np.float32)
    grey = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def moved_patch(image: np.ndarray, dx: int) -> np.ndarray:
    """The image with the patch's content shifted dx pixels to the right, background still."""
    out = image.copy()
    rows, cols = PATCH
    out[rows, cols.start + dx : cols.stop + dx] = image[rows, cols]
    return out


def test_flow_frame_is_grey_at_the_flow_height_with_the_aspect_kept() -> None:
    frame = flow_frame(texture(720, 1280))
    assert frame.shape == (FLOW_HEIGHT, 427)
    assert frame.dtype == np.uint8


def test_a_moving_person_gets_their_speed_in_source_pixels_per_second() -> None:
    before = texture()
    after = moved_patch(before, 8)  # 8 source px in 0.1 s: 80 px/s
    flow = dense_flow(flow_frame(before), flow_frame(after))
    moved = frame_motion(flow, PATCH_BOX, HEIGHT, dt_s=0.1)
    [motion] = moved.people
    assert motion is not None
    assert 40 < motion.mean_speed < 100
    assert 60 < motion.p90_speed < 110
    assert motion.direction_entropy < 0.4  # one direction

    # Nothing moves where nobody moved; over the scene, a quarter of the frame moves.
    [still] = frame_motion(flow, np.array([[0.0, 360.0, 160.0, 470.0]]), HEIGHT, 0.1).people
    assert still is not None and still.mean_speed < 10
    assert moved.scene is not None and 5 < moved.scene.mean_speed < motion.mean_speed / 2


def test_speed_scales_with_the_source_resolution_and_the_time_between_frames() -> None:
    small = texture(240, 320)
    big = cv2.resize(small, (640, 480), interpolation=cv2.INTER_NEAREST)
    shifted_small = small.copy()
    shifted_small[80:160, 120:200] = small[80:160, 116:196]  # 4 px at 240 rows
    shifted_big = cv2.resize(shifted_small, (640, 480), interpolation=cv2.INTER_NEAREST)
    box = np.array([[120.0, 80.0, 200.0, 160.0]])
    [at_small] = frame_motion(
        dense_flow(flow_frame(small), flow_frame(shifted_small)), box, 240, 0.1
    ).people
    [at_big] = frame_motion(
        dense_flow(flow_frame(big), flow_frame(shifted_big)), box * 2, 480, 0.2
    ).people
    assert at_small is not None and at_big is not None
    # Twice the pixels over twice the time: the same pixels per second.
    assert at_big.mean_speed == pytest.approx(at_small.mean_speed, rel=0.15)


def test_camera_motion_is_removed() -> None:
    before = texture()
    panned = np.roll(before, 6, axis=1)  # the whole frame moves
    moved = frame_motion(dense_flow(flow_frame(before), flow_frame(panned)), PATCH_BOX, HEIGHT, 0.1)
    [motion] = moved.people
    assert motion is not None and motion.mean_speed < 10
    assert moved.scene is not None and moved.scene.mean_speed < 10


def test_direction_entropy_is_zero_for_one_direction_and_one_for_all_alike() -> None:
    one_way = np.zeros((10, 10, 2))
    one_way[..., 0] = 1.0
    assert direction_entropy(one_way) == pytest.approx(0.0)
    angles = np.linspace(-np.pi, np.pi, 8, endpoint=False) + np.pi / 8
    every_way = np.stack([np.cos(angles), np.sin(angles)], axis=-1).reshape(2, 4, 2)
    assert direction_entropy(every_way) == pytest.approx(1.0)
    assert direction_entropy(np.zeros((4, 4, 2))) == 0.0


def test_a_box_too_small_or_outside_the_frame_gets_no_motion() -> None:
    flow = np.zeros((FLOW_HEIGHT, 320, 2))
    boxes = np.array([[10.0, 10.0, 11.0, 11.0], [5000.0, 10.0, 6000.0, 100.0]])
    assert frame_motion(flow, boxes, 480, 0.1).people == [None, None]


def test_memory_measures_against_the_previous_frame_of_the_same_camera() -> None:
    memory = MotionMemory()
    before, after = texture(), moved_patch(texture(), 8)
    assert memory.measure("cam", 0.0, before, PATCH_BOX) == NOTHING  # first frame
    assert memory.measure("other", 0.0, after, PATCH_BOX) == NOTHING  # another camera
    moved = memory.measure("cam", 0.1, after, PATCH_BOX)
    [motion] = moved.people
    assert motion is not None and motion.mean_speed > 40
    # Nobody on screen: the scene still moves or not.
    still = memory.measure("cam", 0.2, after, np.zeros((0, 4)))
    assert still.people == [] and still.scene is not None and still.scene.mean_speed < 5


@pytest.mark.parametrize(
    ("next_position", "next_image"),
    [
        (MAX_GAP_S + 0.2, None),  # a gap: the previous frame is too old
        (0.0, None),  # not after the previous frame: a live source that restarted
        (0.1, texture(240, 320)),  # another frame size
    ],
)
def test_memory_gives_no_motion_across_a_gap_a_restart_or_a_size_change(
    next_position: float, next_image: np.ndarray | None
) -> None:
    memory = MotionMemory()
    memory.measure("cam", 0.1, texture(), PATCH_BOX)
    image = moved_patch(texture(), 8) if next_image is None else next_image
    box = PATCH_BOX if next_image is None else np.array([[10.0, 10.0, 200.0, 200.0]])
    assert memory.measure("cam", next_position, image, box) == NOTHING


def test_memory_forgets_a_finished_source_and_the_least_recent_camera() -> None:
    memory = MotionMemory(max_cameras=2)
    image, moved = texture(), moved_patch(texture(), 8)
    memory.measure("done", 0.0, image, PATCH_BOX, last=True)
    assert memory.measure("done", 0.1, moved, PATCH_BOX) == NOTHING
    memory.measure("a", 0.0, image, PATCH_BOX)
    memory.measure("b", 0.0, image, PATCH_BOX)
    memory.measure("c", 0.0, image, PATCH_BOX)  # "a" is the least recent: dropped
    assert memory.measure("a", 0.1, moved, PATCH_BOX) == NOTHING
    assert memory.measure("c", 0.1, moved, PATCH_BOX).people[0] is not None
