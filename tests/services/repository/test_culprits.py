from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

from services.repository.config import RepositoryConfig
from services.repository.culprits import (
    Box,
    CulpritPicker,
    CulpritSighting,
    cut_crop,
    sharpness,
)

FRAME_W, FRAME_H = 320, 240
FACE_MARK = (0, 0, 255)  # a crop showing this red patch "has a face" for the stub finder


def textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def frame_with_person(
    box: tuple[int, int, int, int], *, blur: int = 0, face: bool = False
) -> np.ndarray:
    """A flat frame with a textured person-box, optionally blurred and with a face mark."""
    frame = np.full((FRAME_H, FRAME_W, 3), 90, np.uint8)
    x1, y1, x2, y2 = box
    person = textured(x2 - x1, y2 - y1)
    if blur:
        person = cv2.GaussianBlur(person, (0, 0), blur)
    if face:
        person[2:10, 2:10] = FACE_MARK
    frame[y1:y2, x1:x2] = person
    return frame


@dataclass
class StubFaceFinder:
    calls: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, crop: np.ndarray) -> Box | None:
        self.calls.append(crop.shape[:2])
        found = np.all(crop == FACE_MARK, axis=2)
        if not found.any():
            return None
        ys, xs = np.nonzero(found)
        return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def picker(finder: StubFaceFinder | None = None, **config: float) -> CulpritPicker[Box]:
    return CulpritPicker(finder or StubFaceFinder(), RepositoryConfig.model_validate(config))


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_sharpness_drops_with_blur() -> None:
    sharp = textured(64, 64)
    assert (
        sharpness(sharp)
        > sharpness(cv2.GaussianBlur(sharp, (0, 0), 1.5))
        > sharpness(cv2.GaussianBlur(sharp, (0, 0), 4))
    )


@pytest.mark.parametrize(
    ("box", "margin", "expected_shape"),
    [
        ((100, 50, 140, 130), 0.0, (80, 40)),
        ((100, 50, 140, 130), 0.25, (120, 60)),  # grows by a quarter of each side, both ways
        ((0, 0, 40, 40), 0.5, (60, 60)),  # clipped at the frame's corner
        ((300, 200, 340, 260), 0.0, (40, 20)),  # box partly outside the frame
    ],
)
def test_crop_is_the_box_with_margin_inside_the_frame(
    box: Box, margin: float, expected_shape: tuple[int, int]
) -> None:
    frame = textured(FRAME_W, FRAME_H)
    assert cut_crop(frame, box, margin).shape[:2] == expected_shape


# Two sightings of track 1 that differ in one factor of the score; the better one must win,
# whichever order they come in.
@pytest.mark.parametrize(
    ("better", "worse"),
    [
        (((40, 40, 140, 220), 0, 0.8), ((40, 40, 90, 130), 0, 0.8)),  # larger
        (((40, 40, 140, 220), 0, 0.8), ((40, 40, 140, 220), 3, 0.8)),  # sharper
        (((40, 40, 140, 220), 0, 0.9), ((40, 40, 140, 220), 0, 0.3)),  # more confident
    ],
)
@pytest.mark.parametrize("better_first", [True, False])
def test_best_crop_maximises_area_sharpness_confidence(
    better: tuple[tuple[int, int, int, int], int, float],
    worse: tuple[tuple[int, int, int, int], int, float],
    better_first: bool,
) -> None:
    culprits = picker(crop_margin=0.0)
    sightings = [(7, better), (8, worse)] if better_first else [(7, worse), (8, better)]
    for frame_index, (box, blur, confidence) in sightings:
        frame = frame_with_person(box, blur=blur)
        culprits.observe(frame, frame_index, [CulpritSighting(1, box, confidence)])
    [pick] = culprits.picks()
    box, blur, confidence = better
    assert pick.frame_index == (7 if better_first else 8)
    assert pick.box == box
    assert pick.score.confidence == pytest.approx(confidence)
    assert pick.score.value == pytest.approx(
        pick.score.area * pick.score.sharpness * pick.score.confidence
    )
    x1, y1, x2, y2 = box
    assert pick.score.area == (x2 - x1) * (y2 - y1)
    assert decode(pick.crop_jpeg).shape[:2] == (y2 - y1, x2 - x1)


def test_each_track_keeps_its_own_best_and_tiny_boxes_are_ignored() -> None:
    culprits = picker(min_crop_side_px=16)
    big, small, tiny = (10, 10, 110, 210), (200, 20, 260, 120), (300, 5, 310, 15)
    for index in range(30):
        frame = frame_with_person(big, blur=1 + index % 3)
        frame[small[1] : small[3], small[0] : small[2]] = textured(60, 100, seed=index)
        culprits.observe(
            frame,
            index,
            [
                CulpritSighting(1, big, 0.9),
                CulpritSighting(2, small, 0.5 + index / 100),
                CulpritSighting(3, tiny, 0.99),
            ],
        )
    picks = culprits.picks()
    assert [p.track_id for p in picks] == [1, 2]
    assert picks[0].frame_index % 3 == 0  # the least blurred frames
    assert picks[1].frame_index == 29  # the most confident, all else alike
    assert [p.track_id for p in culprits.picks(track_ids=[2, 5])] == [2]


def test_no_face_anywhere_sets_face_missing_after_the_extra_attempts() -> None:
    finder = StubFaceFinder()
    culprits = picker(finder, face_extra_attempts=3, face_retry_frames=4)
    box = (40, 40, 140, 220)
    for index in range(40):
        confidence = 0.9 - index / 100  # every later sighting is worse: only extra attempts
        culprits.observe(frame_with_person(box), index, [CulpritSighting(1, box, confidence)])
    [pick] = culprits.picks()
    assert pick.face_missing and pick.face is None and pick.face_crop_jpeg is None
    assert pick.face_attempts == len(finder.calls) == 1 + 3


@pytest.mark.parametrize(("extra", "retry"), [(0, 1), (2, 1), (4, 5), (10, 8)])
def test_extra_attempts_are_bounded_and_spaced(extra: int, retry: int) -> None:
    finder = StubFaceFinder()
    culprits = picker(finder, face_extra_attempts=extra, face_retry_frames=retry)
    box = (40, 40, 140, 220)
    frames = 30
    for index in range(frames):
        culprits.observe(
            frame_with_person(box), index, [CulpritSighting(1, box, 0.9 - index / 100)]
        )
    spaced_candidates = len(range(1, frames, retry))
    assert len(finder.calls) == 1 + min(extra, spaced_candidates)


def test_face_in_a_lesser_crop_is_kept_with_that_crop() -> None:
    finder = StubFaceFinder()
    culprits = picker(finder, face_extra_attempts=5, face_retry_frames=1, crop_margin=0.0)
    box = (40, 40, 140, 220)
    culprits.observe(frame_with_person(box), 0, [CulpritSighting(1, box, 0.95)])  # best, no face
    culprits.observe(frame_with_person(box, face=True), 1, [CulpritSighting(1, box, 0.4)])
    culprits.observe(frame_with_person(box), 2, [CulpritSighting(1, box, 0.3)])
    [pick] = culprits.picks()
    assert pick.frame_index == 0
    assert not pick.face_missing
    assert pick.face == (2.0, 2.0, 10.0, 10.0)
    assert pick.face_frame_index == 1
    assert pick.face_crop_jpeg is not None and pick.face_crop_jpeg != pick.crop_jpeg
    assert len(finder.calls) == 2  # no extra attempt once a face is known


def test_face_in_the_best_crop_shares_its_jpeg() -> None:
    finder = StubFaceFinder()
    culprits = picker(finder, face_extra_attempts=5, face_retry_frames=1)
    box = (40, 40, 140, 220)
    culprits.observe(frame_with_person(box), 0, [CulpritSighting(1, box, 0.3)])
    culprits.observe(frame_with_person(box, face=True), 1, [CulpritSighting(1, box, 0.95)])
    [pick] = culprits.picks()
    assert (pick.frame_index, pick.face_frame_index, pick.face_missing) == (1, 1, False)
    assert pick.face_crop_jpeg == pick.crop_jpeg


def test_every_new_best_is_tried_even_after_a_face_was_found() -> None:
    finder = StubFaceFinder()
    culprits = picker(finder, face_extra_attempts=0)
    box = (40, 40, 140, 220)
    confidences = [0.2, 0.1, 0.4, 0.3, 0.6, 0.9]
    for index, confidence in enumerate(confidences):
        frame = frame_with_person(box, face=index == 0)
        culprits.observe(frame, index, [CulpritSighting(1, box, confidence)])
    new_bests = sum(c > max(confidences[:i], default=0) for i, c in enumerate(confidences))
    [pick] = culprits.picks()
    assert len(finder.calls) == new_bests
    assert (pick.frame_index, pick.face_frame_index) == (5, 0)  # face kept from frame 0
