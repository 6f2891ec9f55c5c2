"""Feature extraction: resampling invariance, neighbours, missing people, windows."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from services.classify import features as F
from services.classify.features import FrameTracks, TrackedPerson

BASE_WIDTH, BASE_HEIGHT = 640, 360


def _person(track_id: int, cx: float, cy: float, h: float, phase: float) -> TrackedPerson:
    """A standing person whose wrists swing on a circle: smooth, non-rigid motion."""
    w = 0.4 * h
    rng = np.random.default_rng(track_id)
    offsets = rng.uniform(-0.4, 0.4, size=(F.NUM_KEYPOINTS, 2)) * [w, h]
    for k in (F.LEFT_WRIST, F.RIGHT_WRIST):
        offsets[k] = [0.3 * h * math.cos(phase), -0.2 * h + 0.15 * h * math.sin(phase)]
    kps = np.empty((F.NUM_KEYPOINTS, 3))
    kps[:, :2] = offsets + np.array([cx, cy])
    kps[:, 2] = 0.9
    box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    # Pixel motion as detect measures it: speeds in source pixels per second scale with h.
    motion = np.array([1.5 * h, 2.5 * h, 0.6 + 0.1 * math.sin(phase)])
    return TrackedPerson(track_id, box, kps, motion)


def _scene(fps: float, scale: float, duration: float = 3.0, second: bool = True) -> list:
    """Person 1 walks right swinging arms; person 2 walks towards it and grows."""
    frames = []
    for i in range(round(duration * fps) + 1):
        t = i / fps
        people = [_person(1, scale * (100 + 40 * t), scale * 200, scale * 120, 6.0 * t)]
        if second:
            people.append(
                _person(2, scale * (500 - 60 * t), scale * 210, scale * (110 + 10 * t), 3.0 * t)
            )
        height = BASE_HEIGHT * scale
        scene = np.array([0.1 * height, 0.3 * height, 0.5])
        frames.append(FrameTracks(t, int(BASE_WIDTH * scale), int(height), people, scene))
    return frames


def test_feature_columns_cover_feature_dim() -> None:
    slices = [F.COLS_KP_XY, F.COLS_KP_CONF, F.COLS_KP_VEL, F.COLS_BOX_VEL, F.COLS_NB_OFFSET,
              F.COLS_NB_REL_VEL]
    singles = [F.COL_PRESENT, F.COL_BOX_SCALE_RATE, F.COL_BOX_ASPECT, F.COL_NB_PRESENT,
               F.COL_NB_DISTANCE, F.COL_NB_CLOSING_SPEED, F.COL_NB_IOU, F.COL_NB_HEIGHT_RATIO,
               F.COL_NB_REACH, F.COL_CROWD, F.COL_KP_SPEED_MEAN, F.COL_WRIST_SPEED_MAX,
               F.COL_ANKLE_SPEED_MAX, F.COL_BOX_ACCEL, F.COL_WRIST_ACCEL_MAX, F.COL_TORSO_TILT,
               F.COL_ARM_REACH_MAX, F.COL_POSE_SPREAD, F.COL_OTHERS_SPEED_MAX, F.COL_PEOPLE,
               F.COL_NB_SPEED, F.COL_FLOW_SPEED, F.COL_FLOW_SPEED_P90, F.COL_FLOW_ENTROPY,
               F.COL_FLOW_PRESENT, F.COL_SCENE_FLOW_SPEED, F.COL_SCENE_FLOW_P90,
               F.COL_SCENE_FLOW_ENTROPY]
    covered = sorted([c for s in slices for c in range(s.start, s.stop)] + singles)
    assert covered == list(range(F.FEATURE_DIM))


@pytest.mark.parametrize(
    ("fps_a", "scale_a", "fps_b", "scale_b"),
    [
        (15, 1.0, 30, 1.0),  # frame rate alone
        (30, 1.0, 30, 2.0),  # resolution alone (640x360 vs 1280x720)
        (15, 1.0, 30, 2.0),  # both
        (12, 0.5, 25, 3.0),  # odd rates and sizes
    ],
)
def test_features_do_not_depend_on_fps_or_resolution(
    fps_a: float, scale_a: float, fps_b: float, scale_b: float
) -> None:
    times_a, feats_a = F.track_features(_scene(fps_a, scale_a), rate_hz=10.0)
    times_b, feats_b = F.track_features(_scene(fps_b, scale_b), rate_hz=10.0)
    np.testing.assert_allclose(times_a, times_b)
    assert feats_a.keys() == feats_b.keys() == {1, 2}
    accel = [F.COL_BOX_ACCEL, F.COL_WRIST_ACCEL_MAX]
    rest = [c for c in range(F.FEATURE_DIM) if c not in accel]
    for tid in feats_a:
        # Linear interpolation of a circular wrist motion differs from the true curve by at
        # most a few percent of a height (per second for velocities) at 12 fps.
        np.testing.assert_allclose(feats_a[tid][:, rest], feats_b[tid][:, rest], atol=0.12)
        assert np.abs(feats_a[tid] - feats_b[tid]).mean() < 0.01
        # A second difference amplifies that error: within 15% of the largest acceleration.
        scale = np.abs(feats_b[tid][:, accel]).max()
        np.testing.assert_allclose(feats_a[tid][:, accel], feats_b[tid][:, accel],
                                   atol=0.15 * scale)


def test_scene_motion_is_visible_in_features() -> None:
    _, feats = F.track_features(_scene(30, 1.0), rate_hz=10.0)
    one = feats[1][1:]  # step 0 has no velocity
    np.testing.assert_allclose(one[:, F.COLS_BOX_VEL][:, 0], 40 / 120, rtol=1e-4)
    np.testing.assert_allclose(one[:, F.COLS_BOX_VEL][:, 1], 0.0, atol=1e-6)
    # Wrist speed on the ellipse: 6 rad/s x (0.15 .. 0.3) heights.
    assert np.all(one[:, F.COL_WRIST_SPEED_MAX] > 0.85)
    # The two close in at 100 px/s on a 120 px person: about 0.83 heights per second.
    np.testing.assert_allclose(one[:, F.COL_NB_CLOSING_SPEED], 100 / 120, atol=0.05)


def test_pixel_motion_is_in_heights_per_second_and_absent_where_unmeasured() -> None:
    frames = _scene(30, 2.0)
    unmeasured = 30  # the frame at t = 1.0 s, a grid step: no motion for anyone, nor the scene
    frames[unmeasured] = replace(
        frames[unmeasured], scene_motion=None,
        people=[TrackedPerson(p.track_id, p.box, p.keypoints) for p in frames[unmeasured].people],
    )
    # A motion that is not finite counts as unmeasured, not as a number.
    broken = frames[31].people[0]
    frames[31].people[0] = TrackedPerson(1, broken.box, broken.keypoints, np.full(3, np.nan))
    times, feats = F.track_features(frames, rate_hz=10.0)
    at = np.flatnonzero(np.isclose(times, 1.0))[0]
    measured = np.arange(len(times)) != at
    one = feats[1]
    np.testing.assert_allclose(one[measured, F.COL_FLOW_SPEED], 1.5, rtol=1e-5)
    np.testing.assert_allclose(one[measured, F.COL_FLOW_SPEED_P90], 2.5, rtol=1e-5)
    entropy = one[measured, F.COL_FLOW_ENTROPY]
    assert np.all((entropy > 0.49) & (entropy < 0.71))
    np.testing.assert_allclose(one[measured, F.COL_SCENE_FLOW_SPEED], 0.1, rtol=1e-5)
    np.testing.assert_allclose(one[measured, F.COL_SCENE_FLOW_P90], 0.3, rtol=1e-5)
    np.testing.assert_allclose(one[measured, F.COL_SCENE_FLOW_ENTROPY], 0.5, rtol=1e-5)
    assert np.all(one[measured, F.COL_FLOW_PRESENT] == 1.0)
    motion_cols = list(range(F.COL_FLOW_SPEED, F.COL_SCENE_FLOW_ENTROPY + 1))
    assert np.all(one[at, motion_cols] == 0.0) and one[at, F.COL_PRESENT] == 1.0


def test_nearest_person_distance_and_offset() -> None:
    h = 100.0
    me = _person(1, 100, 200, h, 0.0)
    near = _person(2, 250, 200, h, 0.0)
    far = _person(3, 700, 200, h, 0.0)
    frames = [FrameTracks(t, 1000, 400, [me, near, far]) for t in (0.0, 0.1)]
    _, feats = F.track_features(frames, rate_hz=10.0)
    row = feats[1][-1]
    assert row[F.COL_NB_PRESENT] == 1.0
    np.testing.assert_allclose(row[F.COLS_NB_OFFSET], [1.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(row[F.COL_NB_DISTANCE], 1.5, atol=1e-6)
    np.testing.assert_allclose(row[F.COL_CROWD], 1 / F.CROWD_SCALE)
    # The far person's nearest is person 2, 4.5 heights away.
    np.testing.assert_allclose(feats[3][-1][F.COL_NB_DISTANCE], 4.5, atol=1e-6)
    np.testing.assert_allclose(feats[3][-1][F.COLS_NB_OFFSET], [-4.5, 0.0], atol=1e-6)


def test_alone_person_gets_capped_neighbour_features() -> None:
    _, feats = F.track_features(_scene(30, 1.0, second=False), rate_hz=10.0)
    one = feats[1]
    assert np.all(one[:, F.COL_NB_PRESENT] == 0.0)
    assert np.all(one[:, F.COL_NB_DISTANCE] == F.DISTANCE_CAP)
    assert np.all(one[:, F.COL_NB_REACH] == F.DISTANCE_CAP)
    assert np.all(one[:, F.COLS_NB_REL_VEL] == 0.0)


@pytest.mark.parametrize(
    ("gap", "expect_absent"),
    [
        ((1.0, 1.3), False),  # 0.4 s between samples: interpolated
        ((1.0, 1.8), True),  # 0.9 s: longer than max_gap_s, absent inside the gap
    ],
)
def test_missing_person_gap(gap: tuple[float, float], expect_absent: bool) -> None:
    frames = _scene(30, 1.0)
    start, end = gap
    frames = [
        replace(f, people=[p for p in f.people if not (p.track_id == 2 and start < f.time_s < end)])
        for f in frames
    ]
    times, feats = F.track_features(frames, rate_hz=10.0)
    inside = (times > start + 1e-6) & (times < end - 1e-6)
    two_present = feats[2][:, F.COL_PRESENT]
    assert np.all(two_present[~inside] == 1.0)
    assert np.all(two_present[inside] == (0.0 if expect_absent else 1.0))
    if expect_absent:
        assert np.all(feats[2][inside] == 0.0)  # masked steps are all zeros
        assert np.all(feats[1][inside][:, F.COL_NB_PRESENT] == 0.0)
        # The step after the gap has no velocity to measure.
        first_back = np.flatnonzero(~inside & (times > start))[0]
        assert np.all(feats[2][first_back, F.COLS_KP_VEL] == 0.0)


@pytest.mark.parametrize(
    "person",
    [
        TrackedPerson(9, np.array([10, 10, 10, 10.0]), np.ones((17, 3))),  # zero area
        TrackedPerson(9, np.array([10, 10, 50, np.nan]), np.ones((17, 3))),  # not finite
        TrackedPerson(9, np.array([10, 10, 50, 90.0]), np.ones((5, 3))),  # wrong shape
    ],
)
def test_invalid_people_are_ignored(person: TrackedPerson) -> None:
    frames = [FrameTracks(t, 640, 360, [person, _person(1, 100, 100, 80, 0)]) for t in (0, 0.1)]
    _, feats = F.track_features(frames, rate_hz=10.0)
    assert set(feats) == {1}
    assert np.all(np.isfinite(feats[1]))


def test_low_confidence_keypoints_are_zeroed() -> None:
    person = _person(1, 100, 100, 80, 0)
    kps = person.keypoints.copy()
    kps[F.LEFT_WRIST, 2] = 0.01
    frames = [FrameTracks(t, 640, 360, [TrackedPerson(1, person.box, kps)]) for t in (0, 0.1)]
    row = F.track_features(frames, rate_hz=10.0)[1][1][-1]
    xy = row[F.COLS_KP_XY].reshape(17, 2)
    assert np.all(xy[F.LEFT_WRIST] == 0.0)
    assert np.all(xy[F.RIGHT_WRIST] != 0.0)


def test_person_sequences_window_is_latest_and_front_padded() -> None:
    frames = _scene(30, 1.0, duration=3.0)
    _, full = F.track_features(frames, rate_hz=10.0)
    seqs = F.person_sequences(frames, window=16, rate_hz=10.0)
    assert set(seqs) == {1, 2}
    np.testing.assert_allclose(seqs[1], full[1][-16:], atol=1e-6)
    # A track that exists only in the last 0.5 s: the window starts with padding.
    late = [
        FrameTracks(f.time_s, f.width, f.height,
                    [p for p in f.people if p.track_id == 1 or f.time_s >= 2.5])
        for f in frames
    ]
    seq2 = F.person_sequences(late, window=16, rate_hz=10.0)[2]
    n_present = int(seq2[:, F.COL_PRESENT].sum())
    # Track 2 leaving 0.3 s before the end: kept by default, dropped with require_latest.
    left = [
        FrameTracks(f.time_s, f.width, f.height,
                    [p for p in f.people if p.track_id == 1 or f.time_s <= 2.7])
        for f in frames
    ]
    assert set(F.person_sequences(left, window=16, rate_hz=10.0)) == {1, 2}
    assert set(F.person_sequences(left, window=16, rate_hz=10.0, require_latest=True)) == {1}
    assert n_present == 6  # grid steps 2.5 .. 3.0
    assert np.all(seq2[:-n_present] == 0.0)
    assert np.all(seq2[-n_present:, F.COL_PRESENT] == 1.0)


def test_person_sequences_empty_and_bad_window() -> None:
    assert F.person_sequences([], window=16, rate_hz=10.0) == {}
    with pytest.raises(ValueError, match="window"):
        F.person_sequences(_scene(30, 1.0), window=0, rate_hz=10.0)


@pytest.mark.parametrize(("n_steps", "stride", "expected"), [(31, 8, 3), (16, 8, 1), (5, 4, 1)])
def test_sliding_windows(n_steps: int, stride: int, expected: int) -> None:
    feats = np.zeros((n_steps, F.FEATURE_DIM), dtype=np.float32)
    feats[:, F.COL_PRESENT] = 1.0
    feats[:, 1] = np.arange(n_steps)
    wins = F.sliding_windows(feats, window=16, stride=stride)
    assert wins.shape == (expected, 16, F.FEATURE_DIM)
    assert wins[-1, -1, 1] == n_steps - 1  # the last window ends at the last step
    if n_steps < 16:
        assert np.all(wins[0, : 16 - n_steps] == 0.0)


def test_clip_windows_tracks_owners() -> None:
    _, feats = F.track_features(_scene(30, 1.0), rate_hz=10.0)
    x, owners = F.clip_windows(feats, window=16, stride=8)
    assert x.shape[1:] == (16, F.FEATURE_DIM)
    assert set(owners.tolist()) == {1, 2}
    assert len(owners) == len(x)


def test_frame_order_and_duplicate_ids_do_not_matter() -> None:
    frames = _scene(30, 1.0, duration=1.0)
    _, in_order = F.track_features(frames, rate_hz=10.0)
    shuffled = [frames[i] for i in np.random.default_rng(0).permutation(len(frames))]
    # A second detection reusing track 1's id in a frame is ignored: the first one wins.
    ghost = _person(1, 600, 300, 50, 0.0)
    doubled = [replace(f, people=[*f.people, ghost]) for f in shuffled]
    _, result = F.track_features(doubled, rate_hz=10.0)
    for tid in in_order:
        np.testing.assert_array_equal(result[tid], in_order[tid])


def test_mirror_features_flips_x_and_swaps_sides() -> None:
    from services.classify.features import (
        COLS_BOX_VEL,
        COLS_KP_CONF,
        COLS_KP_XY,
        LEFT_WRIST,
        RIGHT_WRIST,
        mirror_features,
    )

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, F.FEATURE_DIM)).astype(np.float32)
    x[:, :2] = 0.0  # padding
    mirrored = mirror_features(x)
    np.testing.assert_array_equal(mirror_features(mirrored), x)  # twice: the original
    assert not np.signbit(mirrored[:, :2]).any()  # padding stays the mask value exactly
    kp = x[..., COLS_KP_XY].reshape(3, 5, 17, 2)
    kp_m = mirrored[..., COLS_KP_XY].reshape(3, 5, 17, 2)
    np.testing.assert_array_equal(kp_m[..., LEFT_WRIST, 0], -kp[..., RIGHT_WRIST, 0])
    np.testing.assert_array_equal(kp_m[..., LEFT_WRIST, 1], kp[..., RIGHT_WRIST, 1])
    np.testing.assert_array_equal(kp_m[..., 0, :], kp[..., 0, :] * [-1, 1])  # the nose stays
    conf = x[..., COLS_KP_CONF]
    np.testing.assert_array_equal(mirrored[..., COLS_KP_CONF][..., LEFT_WRIST],
                                  conf[..., RIGHT_WRIST])
    np.testing.assert_array_equal(mirrored[..., COLS_BOX_VEL], x[..., COLS_BOX_VEL] * [-1, 1])


def test_mirrored_clip_gives_mirrored_features() -> None:
    """Features of a clip flipped left-right are the mirror of the clip's features."""
    from services.classify.features import mirror_features

    rng = np.random.default_rng(1)
    width = 640.0
    frames, flipped = [], []
    order = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    for i in range(12):
        people, people_f = [], []
        for tid, x0 in ((1, 100.0), (2, 180.0)):
            box = np.array([x0 + 7 * i * tid, 100.0, x0 + 60 + 7 * i * tid, 260.0])
            kps = np.column_stack([rng.uniform(box[0], box[2], 17),
                                   rng.uniform(box[1], box[3], 17), rng.uniform(0.3, 1, 17)])
            people.append(TrackedPerson(tid, box, kps))
            box_f = np.array([width - box[2], box[1], width - box[0], box[3]])
            kps_f = kps[order].copy()
            kps_f[:, 0] = width - kps_f[:, 0]
            people_f.append(TrackedPerson(tid, box_f, kps_f))
        frames.append(FrameTracks(i / 10, int(width), 360, tuple(people)))
        flipped.append(FrameTracks(i / 10, int(width), 360, tuple(people_f)))
    _, feats = F.track_features(frames, 10.0)
    _, feats_f = F.track_features(flipped, 10.0)
    for tid in feats:
        np.testing.assert_allclose(mirror_features(feats[tid]), feats_f[tid], atol=1e-4)
