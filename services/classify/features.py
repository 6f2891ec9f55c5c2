"""Per-person feature sequences from one camera's track history (pure, numpy only).

The input is what the track service publishes, one `FrameTracks` per frame. Tracks are
resampled onto a fixed analysis grid (`rate_hz`, default 10 fps) anchored at absolute multiples
of ``1 / rate_hz`` seconds, by linear interpolation between the frames where the track was seen,
so the source frame rate does not change the grid, and every length is divided by the person's
own box height, so the source resolution does not change the values. Velocities are per second
on that grid. A track unseen for longer than `max_gap_s` is absent on the grid steps of the gap.

Feature columns (`FEATURE_DIM` = 104) of one person at one grid step. "h" is the person's box
height in pixels, (cx, cy) its box centre; velocities are differences between consecutive grid
steps times `rate_hz` (0 when the previous step is absent); keypoints with confidence below
`min_keypoint_conf` have their coordinates and velocities set to 0.

| columns | name                | meaning                                                          |
|---------|---------------------|------------------------------------------------------------------|
| 0       | present             | 1 on every real step (padding is all zeros, which Masking skips) |
| 1-34    | kp_xy               | keypoint (x - cx) / h, (y - cy) / h, COCO order, x then y        |
| 35-51   | kp_conf             | keypoint confidence as the pose model gave it                    |
| 52-85   | kp_vel              | velocity of kp_xy, box heights per second (pose change)          |
| 86-87   | box_vel             | box centre velocity / h, heights per second                      |
| 88      | box_scale_rate      | d log(h) / dt, per second (approach / recede, falls)             |
| 89      | box_aspect          | log(box width / h)                                               |
| 90      | nb_present          | 1 when another person is present at this step                    |
| 91-92   | nb_offset           | nearest other person's centre minus own centre, / h              |
| 93      | nb_distance         | norm of nb_offset, capped at `DISTANCE_CAP` (the cap if alone)   |
| 94-95   | nb_rel_vel          | d nb_offset / dt for the same neighbour (0 if it just changed)   |
| 96      | nb_closing_speed    | -d nb_distance / dt for the same neighbour                       |
| 97      | nb_iou              | IoU of the two boxes                                             |
| 98      | nb_height_ratio     | log(neighbour h / own h)                                         |
| 99      | nb_reach            | min distance from own wrists/ankles to the neighbour's keypoints |
|         |                     | / h, capped at `DISTANCE_CAP` (the cap if none is confident)     |
| 100     | crowd               | number of other people within 2 h of the centre, / 4, max 1      |
| 101     | kp_speed_mean       | mean speed of the confident keypoints (norm of kp_vel)           |
| 102     | wrist_speed_max     | max speed of the two wrists                                      |
| 103     | ankle_speed_max     | max speed of the two ankles                                      |
| 104     | box_accel           | norm of d box_vel / dt, heights per second squared               |
| 105     | wrist_accel_max     | max over the wrists of the norm of d kp_vel / dt                 |
| 106     | torso_tilt          | angle of hips-to-shoulders from upright, / pi (0 up, 0.5 lying)  |
| 107     | arm_reach_max       | max over the arms of the wrist-to-shoulder distance / h          |
| 108     | pose_spread         | RMS distance of the confident keypoints from their mean / h      |
| 109     | others_speed_max    | highest kp_speed_mean of the other people at this step           |
| 110     | people              | people present at this step, self included, / 4, max 1           |
| 111     | nb_speed            | the nearest other person's kp_speed_mean (0 if alone)            |
| 112     | flow_speed          | mean optical-flow speed inside the box / h, per second           |
| 113     | flow_speed_p90      | its 90th percentile / h, per second                              |
| 114     | flow_entropy        | spread of the flow's directions in the box, 0..1                 |
| 115     | flow_present        | 1 where detect measured the box's motion                         |
| 116     | scene_flow_speed    | mean flow speed over the whole frame / frame height, per second  |
| 117     | scene_flow_p90      | its 90th percentile / frame height, per second                   |
| 118     | scene_flow_entropy  | spread of the whole frame's flow directions, 0..1                |

Columns 104-111 (version 2) were added after an ablation: raw keypoint coordinates (1-34) are
noisy on CCTV poses and hurt the grouped CV, while motion irregularity, posture and the
activity of the people around carry what the coordinates do not (docs/model-card.md).
Columns 112-118 (version 3) are the pixel motion detect measures (services/detect/motion.py),
with the camera's own motion removed: per-clip statistics of it alone scored as well as the pose
model, and the two together better than either.

All velocities and rates are clipped to +/- `VELOCITY_CAP` (accelerations to `ACCEL_CAP`) so
one bad detection cannot produce values far outside the training range.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

FEATURE_VERSION = 3
NUM_KEYPOINTS = 17
FEATURE_DIM = 119
DISTANCE_CAP = 5.0
VELOCITY_CAP = 20.0
ACCEL_CAP = 100.0
# Grid steps before a window that its first step depends on (velocity, then acceleration).
CONTEXT_STEPS = 2
PEOPLE_SCALE = 4.0
CROWD_RADIUS = 2.0
CROWD_SCALE = 4.0

# COCO keypoint indices.
LEFT_WRIST, RIGHT_WRIST = 9, 10
LEFT_ANKLE, RIGHT_ANKLE = 15, 16
LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6
LEFT_HIP, RIGHT_HIP = 11, 12
REACH_KEYPOINTS = (LEFT_WRIST, RIGHT_WRIST, LEFT_ANKLE, RIGHT_ANKLE)

# Column layout, named so that tests and analysis code need no magic numbers.
COL_PRESENT = 0
COLS_KP_XY = slice(1, 35)
COLS_KP_CONF = slice(35, 52)
COLS_KP_VEL = slice(52, 86)
COLS_BOX_VEL = slice(86, 88)
COL_BOX_SCALE_RATE = 88
COL_BOX_ASPECT = 89
COL_NB_PRESENT = 90
COLS_NB_OFFSET = slice(91, 93)
COL_NB_DISTANCE = 93
COLS_NB_REL_VEL = slice(94, 96)
COL_NB_CLOSING_SPEED = 96
COL_NB_IOU = 97
COL_NB_HEIGHT_RATIO = 98
COL_NB_REACH = 99
COL_CROWD = 100
COL_KP_SPEED_MEAN = 101
COL_WRIST_SPEED_MAX = 102
COL_ANKLE_SPEED_MAX = 103
COL_BOX_ACCEL = 104
COL_WRIST_ACCEL_MAX = 105
COL_TORSO_TILT = 106
COL_ARM_REACH_MAX = 107
COL_POSE_SPREAD = 108
COL_OTHERS_SPEED_MAX = 109
COL_PEOPLE = 110
COL_NB_SPEED = 111
COL_FLOW_SPEED = 112
COL_FLOW_SPEED_P90 = 113
COL_FLOW_ENTROPY = 114
COL_FLOW_PRESENT = 115
COL_SCENE_FLOW_SPEED = 116
COL_SCENE_FLOW_P90 = 117
COL_SCENE_FLOW_ENTROPY = 118
NUM_MOTION = 3  # mean speed, 90th-percentile speed, direction entropy

# A time within this of a grid point counts as on it (float noise in source timestamps).
_TIME_EPS = 1e-6
# An interpolated motion weight above this counts as measured (below it: float noise).
_MIN_MOTION_WEIGHT = 1e-6


@dataclass(frozen=True)
class TrackedPerson:
    """One tracked person in one frame, in pixels of that frame.

    box: (x1, y1, x2, y2). keypoints: (17, 3) rows of (x, y, confidence), COCO order.
    motion: (mean speed, 90th-percentile speed in source pixels per second, direction entropy)
    inside the box, or None where detect did not measure it.
    """

    track_id: int
    box: np.ndarray
    keypoints: np.ndarray
    motion: np.ndarray | None = None

    @functools.cached_property
    def row(self) -> np.ndarray | None:
        """Box, flattened keypoints, motion and 1 if measured (4 + 51 + 3 + 1,) as float64, or
        None when a shape is wrong or a box or keypoint value is not finite (a bad motion
        counts as unmeasured). Cached: a live window re-reads each frame many times."""
        box = np.asarray(self.box, dtype=np.float64)
        kps = np.asarray(self.keypoints, dtype=np.float64)
        if box.shape != (4,) or kps.shape != (NUM_KEYPOINTS, 3):
            return None
        row = np.concatenate([box, kps.reshape(-1)])
        if not np.isfinite(row).all():
            return None
        return np.concatenate([row, motion_values(self.motion)])


def motion_values(motion: np.ndarray | None) -> np.ndarray:
    """(NUM_MOTION + 1,): the motion then 1, or zeros where it is missing or not finite."""
    values = np.zeros(NUM_MOTION + 1)
    if motion is not None:
        measured = np.asarray(motion, dtype=np.float64)
        if measured.shape == (NUM_MOTION,) and np.isfinite(measured).all():
            values[:NUM_MOTION], values[NUM_MOTION] = measured, 1.0
    return values


@dataclass(frozen=True)
class FrameTracks:
    """The tracked people of one camera frame; `time_s` is the frame's position in seconds.

    scene_motion: the whole frame's (mean speed, 90th-percentile speed in source pixels per
    second, direction entropy), or None where detect did not measure it.
    """

    time_s: float
    width: int
    height: int
    people: Sequence[TrackedPerson] = field(default_factory=tuple)
    scene_motion: np.ndarray | None = None


@dataclass(frozen=True)
class FeatureParams:
    """Knobs of the feature extraction; a trained model is only valid with the same values."""

    min_keypoint_conf: float = 0.1
    max_gap_s: float = 0.5
    min_box_height_px: float = 2.0


@dataclass(frozen=True)
class ResampledTracks:
    """Tracks on the analysis grid: arrays indexed [track, step, ...], absent steps zeroed."""

    times: np.ndarray  # (T,) grid times in seconds
    track_ids: tuple[int, ...]
    boxes: np.ndarray  # (N, T, 4)
    keypoints: np.ndarray  # (N, T, 17, 3)
    present: np.ndarray  # (N, T) bool
    # Interpolated with a weight (1 measured, 0 not, a fraction between the two): where the
    # weight is positive, `values / weight` is the measured motion (the nearer one's, mostly).
    motion: np.ndarray  # (N, T, NUM_MOTION + 1): the values then the weight
    scene_motion: np.ndarray  # (T, NUM_MOTION + 1): the same for the scene, speeds / frame height


def analysis_grid(t_first: float, t_last: float, rate_hz: float) -> np.ndarray:
    """Grid times m / rate_hz (integer m) inside [t_first, t_last]; fps-independent by design."""
    first = math.ceil(t_first * rate_hz - _TIME_EPS)
    last = math.floor(t_last * rate_hz + _TIME_EPS)
    if last < first:
        return np.zeros(0, dtype=np.float64)
    return np.arange(first, last + 1, dtype=np.float64) / rate_hz


def _person_row(person: TrackedPerson, params: FeatureParams) -> np.ndarray | None:
    """The person's row, or None for one the features cannot use: a wrong shape, a non-finite
    value, a box lower than min_box_height_px or without width."""
    row = person.row
    if row is None or row[3] - row[1] < params.min_box_height_px or row[2] <= row[0]:
        return None
    return row


def _track_samples(
    frames: Sequence[FrameTracks], params: FeatureParams
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per track: sample times (S,) and values (S, 4 + 51 + 4): `TrackedPerson.row`.

    Frames are taken in time order; for a repeated time or a repeated track id within a frame
    the first occurrence wins. Invalid people (bad shapes, non-finite, tiny boxes) are skipped.
    """
    times: dict[int, list[float]] = {}
    values: dict[int, list[np.ndarray]] = {}
    for frame in sorted(frames, key=lambda f: f.time_s):
        seen: set[int] = set()
        for person in frame.people:
            if person.track_id in seen:
                continue
            row = _person_row(person, params)
            if row is None:
                continue
            seen.add(person.track_id)
            track_times = times.setdefault(person.track_id, [])
            if track_times and frame.time_s <= track_times[-1] + _TIME_EPS:
                continue
            track_times.append(frame.time_s)
            values.setdefault(person.track_id, []).append(row)
    return {tid: (np.asarray(times[tid]), np.stack(values[tid])) for tid in times}


def _interpolate(
    sample_times: np.ndarray, samples: np.ndarray, grid: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of samples (S, C) onto grid (T,); returns values (T, C), valid (T,).

    A grid time is valid when it is on a sample or between two samples at most max_gap_s apart.
    """
    right = np.searchsorted(sample_times, grid - _TIME_EPS, side="left")
    right_clipped = np.minimum(right, len(sample_times) - 1)
    on_sample = (right < len(sample_times)) & (
        np.abs(sample_times[right_clipped] - grid) <= _TIME_EPS
    )
    left = np.maximum(right - 1, 0)
    inside = (right > 0) & (right < len(sample_times))
    gap = sample_times[right_clipped] - sample_times[left]
    between = inside & (gap <= max_gap_s + _TIME_EPS)
    valid = on_sample | between
    weight = np.where(
        on_sample | ~between, 0.0, (grid - sample_times[left]) / np.where(gap > 0, gap, 1.0)
    )
    start = np.where(on_sample, right_clipped, left)
    values = samples[start] * (1.0 - weight[:, None]) + samples[right_clipped] * weight[:, None]
    values[~valid] = 0.0
    return values, valid


def resample_tracks(
    frames: Sequence[FrameTracks],
    rate_hz: float,
    params: FeatureParams | None = None,
    grid: np.ndarray | None = None,
) -> ResampledTracks:
    """Resample every track of `frames` onto the analysis grid (or onto the `grid` given)."""
    params = params or FeatureParams()
    samples = _track_samples(frames, params)
    if grid is None:
        if frames:
            frame_times = [f.time_s for f in frames]
            grid = analysis_grid(min(frame_times), max(frame_times), rate_hz)
        else:
            grid = np.zeros(0, dtype=np.float64)
    track_ids = tuple(sorted(samples))
    n_tracks, n_steps = len(track_ids), len(grid)
    boxes = np.zeros((n_tracks, n_steps, 4))
    keypoints = np.zeros((n_tracks, n_steps, NUM_KEYPOINTS, 3))
    present = np.zeros((n_tracks, n_steps), dtype=bool)
    motion = np.zeros((n_tracks, n_steps, NUM_MOTION + 1))
    for i, tid in enumerate(track_ids):
        sample_times, values = samples[tid]
        interpolated, valid = _interpolate(sample_times, values, grid, params.max_gap_s)
        boxes[i] = interpolated[:, :4]
        keypoints[i] = interpolated[:, 4 : 4 + 3 * NUM_KEYPOINTS].reshape(n_steps, NUM_KEYPOINTS, 3)
        motion[i] = interpolated[:, 4 + 3 * NUM_KEYPOINTS :]
        present[i] = valid
    scene = _scene_motion(frames, grid, params.max_gap_s)
    return ResampledTracks(grid, track_ids, boxes, keypoints, present, motion, scene)


def _scene_motion(frames: Sequence[FrameTracks], grid: np.ndarray, max_gap_s: float) -> np.ndarray:
    """The frames' scene motion on the grid (T, NUM_MOTION + 1), speeds / frame height."""
    times: list[float] = []
    values: list[np.ndarray] = []
    for frame in sorted(frames, key=lambda f: f.time_s):
        if times and frame.time_s <= times[-1] + _TIME_EPS:
            continue
        row = motion_values(frame.scene_motion)
        row[:2] /= max(frame.height, 1)
        times.append(frame.time_s)
        values.append(row)
    if not times:
        return np.zeros((len(grid), NUM_MOTION + 1))
    return _interpolate(np.asarray(times), np.stack(values), grid, max_gap_s)[0]


def _rate(values: np.ndarray, valid: np.ndarray, rate_hz: float) -> np.ndarray:
    """Per-second difference along axis 1 (steps) where this and the previous step are valid.

    Not clipped: callers clip once the values are in box heights.
    """
    diff = np.zeros_like(values)
    diff[:, 1:] = (values[:, 1:] - values[:, :-1]) * rate_hz
    both = np.zeros_like(valid)
    both[:, 1:] = valid[:, 1:] & valid[:, :-1]
    diff[~both] = 0.0
    return diff


def _pairwise_iou(boxes: np.ndarray) -> np.ndarray:
    """IoU of every pair of boxes at every step: (T, N, 4) -> (T, N, N)."""
    a, b = boxes[:, :, None, :], boxes[:, None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    union = area[:, :, None] + area[:, None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)


def _neighbour_features(
    tracks: ResampledTracks, kp_xy_px: np.ndarray, kp_ok: np.ndarray, rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Columns 90-100 for every track and step: (N, T, 11), and the nearest other track's index
    (N, T), -1 when alone. Computed step-major (T, N, ...)."""
    n_tracks, n_steps = tracks.present.shape
    present = tracks.present.T  # (T, N)
    boxes = tracks.boxes.transpose(1, 0, 2)  # (T, N, 4)
    height = np.where(present, boxes[..., 3] - boxes[..., 1], 1.0)
    centre = np.stack([boxes[..., 0] + boxes[..., 2], boxes[..., 1] + boxes[..., 3]], -1) / 2
    offsets = centre[:, None, :, :] - centre[:, :, None, :]  # [t, i, j] = c_j - c_i
    dist = np.linalg.norm(offsets, axis=-1) / height[:, :, None]
    pair = present[:, :, None] & present[:, None, :] & ~np.eye(n_tracks, dtype=bool)[None]
    dist = np.where(pair, dist, np.inf)
    nearest = np.argmin(dist, axis=2) if n_tracks else np.zeros((n_steps, 0), dtype=np.int64)
    steps = np.arange(n_steps)[:, None]
    mine = np.arange(n_tracks)[None, :]
    nearest_dist = dist[steps, mine, nearest]
    has = np.isfinite(nearest_dist)  # present, with someone else present

    out = np.zeros((n_steps, n_tracks, 11))
    out[..., 0] = has
    out[..., 1:3] = np.where(has[..., None], offsets[steps, mine, nearest] / height[..., None], 0)
    out[..., 3] = np.where(has, np.minimum(nearest_dist, DISTANCE_CAP), DISTANCE_CAP)
    out[..., 7] = np.where(has, _pairwise_iou(boxes)[steps, mine, nearest], 0.0)
    out[..., 8] = np.where(has, np.log(height[steps, nearest] / height), 0.0)

    # Reach: own wrists/ankles to any confident keypoint of the neighbour, in own heights.
    kps = kp_xy_px.transpose(1, 0, 2, 3)  # (T, N, 17, 2)
    ok = kp_ok.transpose(1, 0, 2)  # (T, N, 17)
    reach_idx = list(REACH_KEYPOINTS)
    gaps = np.linalg.norm(
        kps[:, :, reach_idx, None, :] - kps[steps, nearest][:, :, None, :, :], axis=-1
    )  # (T, N, 4, 17)
    usable = ok[:, :, reach_idx, None] & ok[steps, nearest][:, :, None, :]
    reach = np.where(usable, gaps, np.inf).min(axis=(2, 3), initial=np.inf) / height
    out[..., 9] = np.where(has, np.minimum(reach, DISTANCE_CAP), DISTANCE_CAP)
    out[..., 10] = np.minimum((dist <= CROWD_RADIUS).sum(axis=2) / CROWD_SCALE, 1.0)

    # Relative motion only against the same neighbour seen at the previous step.
    neighbour = np.where(has, nearest, -1)
    same = np.zeros((n_steps, n_tracks), dtype=bool)
    same[1:] = (neighbour[1:] >= 0) & (neighbour[1:] == neighbour[:-1])
    rel = np.zeros((n_steps, n_tracks, 3))
    rel[1:, :, 0:2] = (out[1:, :, 1:3] - out[:-1, :, 1:3]) * rate_hz
    rel[1:, :, 2] = -(out[1:, :, 3] - out[:-1, :, 3]) * rate_hz
    rel[~same] = 0.0
    out[..., 4:7] = np.clip(rel, -VELOCITY_CAP, VELOCITY_CAP)
    return out.transpose(1, 0, 2), neighbour.T


def features_from_resampled(
    tracks: ResampledTracks, rate_hz: float, params: FeatureParams | None = None
) -> np.ndarray:
    """Feature array (N, T, FEATURE_DIM) for resampled tracks; absent steps are all zeros."""
    params = params or FeatureParams()
    n_tracks, n_steps = tracks.present.shape
    feats = np.zeros((n_tracks, n_steps, FEATURE_DIM))
    if n_tracks == 0 or n_steps == 0:
        return feats
    present = tracks.present
    boxes = tracks.boxes
    height = np.where(present, boxes[:, :, 3] - boxes[:, :, 1], 1.0)
    width = np.where(present, boxes[:, :, 2] - boxes[:, :, 0], 1.0)
    cx = (boxes[:, :, 0] + boxes[:, :, 2]) / 2
    cy = (boxes[:, :, 1] + boxes[:, :, 3]) / 2
    kp_xy_px = tracks.keypoints[..., :2]
    conf = tracks.keypoints[..., 2]
    kp_ok = (conf >= params.min_keypoint_conf) & present[:, :, None]

    kp_norm = (kp_xy_px - np.stack([cx, cy], axis=-1)[:, :, None, :]) / height[:, :, None, None]
    kp_norm[~kp_ok] = 0.0
    kp_vel = _rate(kp_norm.reshape(n_tracks, n_steps, -1), present, rate_hz)
    kp_vel = np.clip(kp_vel, -VELOCITY_CAP, VELOCITY_CAP)
    kp_vel = kp_vel.reshape(n_tracks, n_steps, NUM_KEYPOINTS, 2)
    ok_pair = np.zeros_like(kp_ok)
    ok_pair[:, 1:] = kp_ok[:, 1:] & kp_ok[:, :-1]
    kp_vel[~ok_pair] = 0.0
    speed = np.linalg.norm(kp_vel, axis=-1)

    # Box motion in own heights: centre displacement divided by the current height.
    centre_rate = _rate(np.stack([cx, cy], axis=-1), present, rate_hz)
    box_vel = np.clip(centre_rate / height[:, :, None], -VELOCITY_CAP, VELOCITY_CAP)
    scale_rate = _rate(np.log(height)[:, :, None], present, rate_hz)[:, :, 0]
    scale_rate = np.clip(scale_rate, -VELOCITY_CAP, VELOCITY_CAP)

    feats[:, :, COL_PRESENT] = 1.0
    feats[:, :, COLS_KP_XY] = kp_norm.reshape(n_tracks, n_steps, -1)
    feats[:, :, COLS_KP_CONF] = conf
    feats[:, :, COLS_KP_VEL] = kp_vel.reshape(n_tracks, n_steps, -1)
    feats[:, :, COLS_BOX_VEL] = box_vel
    feats[:, :, COL_BOX_SCALE_RATE] = scale_rate
    feats[:, :, COL_BOX_ASPECT] = np.log(width / height)
    neighbour_cols, nearest = _neighbour_features(tracks, kp_xy_px, kp_ok, rate_hz)
    feats[:, :, COL_NB_PRESENT : COL_CROWD + 1] = neighbour_cols
    n_ok = kp_ok.sum(axis=-1)
    feats[:, :, COL_KP_SPEED_MEAN] = np.where(
        n_ok > 0, (speed * kp_ok).sum(axis=-1) / np.maximum(n_ok, 1), 0.0
    )
    feats[:, :, COL_WRIST_SPEED_MAX] = speed[:, :, [LEFT_WRIST, RIGHT_WRIST]].max(axis=-1)
    feats[:, :, COL_ANKLE_SPEED_MAX] = speed[:, :, [LEFT_ANKLE, RIGHT_ANKLE]].max(axis=-1)

    # Irregular motion: how fast the velocities themselves change.
    vel_ok = np.zeros_like(present)
    vel_ok[:, 1:] = present[:, 1:] & present[:, :-1]
    box_accel = _rate(box_vel, vel_ok, rate_hz)
    feats[:, :, COL_BOX_ACCEL] = np.minimum(np.linalg.norm(box_accel, axis=-1), ACCEL_CAP)
    wrists = [LEFT_WRIST, RIGHT_WRIST]
    wrist_vel = kp_vel[:, :, wrists].reshape(n_tracks, n_steps, -1)
    wrist_accel = _rate(wrist_vel, vel_ok, rate_hz).reshape(n_tracks, n_steps, 2, 2)
    accel_ok = np.zeros_like(ok_pair[:, :, wrists])
    accel_ok[:, 1:] = ok_pair[:, 1:, wrists] & ok_pair[:, :-1, wrists]
    wrist_accel_norm = np.where(accel_ok, np.linalg.norm(wrist_accel, axis=-1), 0.0)
    feats[:, :, COL_WRIST_ACCEL_MAX] = np.minimum(wrist_accel_norm.max(axis=-1), ACCEL_CAP)

    feats[:, :, COL_TORSO_TILT] = _torso_tilt(kp_norm, kp_ok)
    feats[:, :, COL_ARM_REACH_MAX] = _arm_reach(kp_norm, kp_ok)
    feats[:, :, COL_POSE_SPREAD] = _pose_spread(kp_norm, kp_ok)

    # The people around: how many, and how agitated.
    activity = np.where(present, feats[:, :, COL_KP_SPEED_MEAN], -np.inf)  # (N, T)
    others = np.where(np.eye(n_tracks, dtype=bool)[:, :, None], -np.inf, activity[None, :, :])
    others_max = others.max(axis=1)  # (N, T): over the other tracks j
    feats[:, :, COL_OTHERS_SPEED_MAX] = np.where(np.isfinite(others_max), others_max, 0.0)
    feats[:, :, COL_PEOPLE] = np.minimum(present.sum(axis=0) / PEOPLE_SCALE, 1.0)[None, :]
    steps = np.arange(n_steps)[None, :]
    nb_activity = activity[np.maximum(nearest, 0), steps]
    feats[:, :, COL_NB_SPEED] = np.where((nearest >= 0) & np.isfinite(nb_activity),
                                         nb_activity, 0.0)
    _motion_features(feats, tracks, height)
    feats[~present] = 0.0
    return feats.astype(np.float32)


def _unweighted(weighted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interpolated (..., NUM_MOTION + 1) values and weight -> the motion (0 where unmeasured)
    and where it was measured."""
    weight = weighted[..., NUM_MOTION]
    measured = weight > _MIN_MOTION_WEIGHT
    return weighted[..., :NUM_MOTION] / np.where(measured, weight, 1.0)[..., None], measured


def _motion_features(feats: np.ndarray, tracks: ResampledTracks, height: np.ndarray) -> None:
    """Columns 112-118 from the interpolated motion (weights undone; 0 where unmeasured)."""
    motion, measured = _unweighted(tracks.motion)
    feats[:, :, COL_FLOW_SPEED] = np.clip(motion[..., 0] / height, 0.0, VELOCITY_CAP)
    feats[:, :, COL_FLOW_SPEED_P90] = np.clip(motion[..., 1] / height, 0.0, VELOCITY_CAP)
    feats[:, :, COL_FLOW_ENTROPY] = motion[..., 2]
    feats[:, :, COL_FLOW_PRESENT] = measured
    scene, _ = _unweighted(tracks.scene_motion)
    feats[:, :, COL_SCENE_FLOW_SPEED] = np.clip(scene[:, 0], 0.0, VELOCITY_CAP)[None]
    feats[:, :, COL_SCENE_FLOW_P90] = np.clip(scene[:, 1], 0.0, VELOCITY_CAP)[None]
    feats[:, :, COL_SCENE_FLOW_ENTROPY] = scene[:, 2][None]


def _mean_point(kp: np.ndarray, ok: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of keypoints a and b where confident (either one alone will do): (..., 2), ok."""
    weight = ok[..., [a, b]].astype(np.float64)
    total = weight.sum(axis=-1)
    point = (kp[..., [a, b], :] * weight[..., None]).sum(axis=-2) / np.maximum(total, 1)[..., None]
    return point, total > 0


def _torso_tilt(kp: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Angle of the hips-to-shoulders axis from upright, / pi; 0 where not confident."""
    shoulders, has_shoulders = _mean_point(kp, ok, LEFT_SHOULDER, RIGHT_SHOULDER)
    hips, has_hips = _mean_point(kp, ok, LEFT_HIP, RIGHT_HIP)
    axis = shoulders - hips
    tilt = np.arctan2(np.abs(axis[..., 0]), -axis[..., 1]) / np.pi
    valid = has_shoulders & has_hips & (np.linalg.norm(axis, axis=-1) > 1e-6)
    return np.where(valid, tilt, 0.0)


def _arm_reach(kp: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Longest confident shoulder-to-wrist distance (kp already in box heights)."""
    reach = np.zeros(kp.shape[:-2])
    for shoulder, wrist in ((LEFT_SHOULDER, LEFT_WRIST), (RIGHT_SHOULDER, RIGHT_WRIST)):
        both = ok[..., shoulder] & ok[..., wrist]
        length = np.linalg.norm(kp[..., wrist, :] - kp[..., shoulder, :], axis=-1)
        reach = np.maximum(reach, np.where(both, np.minimum(length, DISTANCE_CAP), 0.0))
    return reach


def _pose_spread(kp: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """RMS distance of the confident keypoints from their mean; 0 with fewer than two."""
    count = ok.sum(axis=-1)
    mean = (kp * ok[..., None]).sum(axis=-2) / np.maximum(count, 1)[..., None]
    squared = (np.linalg.norm(kp - mean[..., None, :], axis=-1) ** 2 * ok).sum(axis=-1)
    return np.where(count >= 2, np.sqrt(squared / np.maximum(count, 1)), 0.0)


def track_features(
    frames: Sequence[FrameTracks], rate_hz: float, params: FeatureParams | None = None
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The whole history: grid times (T,) and per track its features (T, FEATURE_DIM)."""
    tracks = resample_tracks(frames, rate_hz, params)
    feats = features_from_resampled(tracks, rate_hz, params)
    return tracks.times, {tid: feats[i] for i, tid in enumerate(tracks.track_ids)}


def person_sequences(
    frames: Sequence[FrameTracks],
    window: int,
    rate_hz: float,
    params: FeatureParams | None = None,
    require_latest: bool = False,
) -> dict[int, np.ndarray]:
    """The latest `window` grid steps of every track seen in them: (window, FEATURE_DIM) each.

    The window ends at the last grid time at or before the newest frame; steps before a track
    appeared, or where it was absent, are zeros (masked by the model). Only frames from
    CONTEXT_STEPS steps before the window on matter, so a caller may keep just the last
    (window + CONTEXT_STEPS) / rate_hz seconds plus max_gap_s. With `require_latest`, only
    tracks present at the window's last step are returned (the people on screen now, not
    those who left during the window).
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not frames:
        return {}
    t_last = max(f.time_s for f in frames)
    last = math.floor(t_last * rate_hz + _TIME_EPS)
    # Steps before the window so that its first step has its velocity and acceleration.
    grid = np.arange(last - window - CONTEXT_STEPS + 1, last + 1, dtype=np.float64) / rate_hz
    # Frames further than max_gap_s outside the grid cannot affect it.
    margin = (params or FeatureParams()).max_gap_s + _TIME_EPS
    near = [f for f in frames if grid[0] - margin <= f.time_s <= grid[-1] + margin]
    tracks = resample_tracks(near, rate_hz, params, grid=grid)
    feats = features_from_resampled(tracks, rate_hz, params)[:, CONTEXT_STEPS:]
    present = np.asarray(
        tracks.present[:, -1] if require_latest else tracks.present[:, CONTEXT_STEPS:].any(axis=1)
    )
    return {tid: feats[i] for i, tid in enumerate(tracks.track_ids) if present[i]}


def sliding_windows(features: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Cut one track's (T, F) features into (n, window, F) windows that contain a present step.

    A track shorter than the window gives one window, zero-padded at the front (as live).
    """
    if window < 1 or stride < 1:
        raise ValueError("window and stride must be >= 1")
    n_steps, dim = features.shape
    if n_steps < window:
        padded = np.zeros((window, dim), dtype=features.dtype)
        padded[window - n_steps :] = features
        starts: list[int] = [0]
        features = padded
    else:
        starts = list(range(0, n_steps - window + 1, stride))
        if starts[-1] != n_steps - window:
            starts.append(n_steps - window)
    windows = np.stack([features[s : s + window] for s in starts])
    keep = windows[:, :, COL_PRESENT].any(axis=1)
    return windows[keep]


def clip_windows(
    per_track: Mapping[int, np.ndarray], window: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """All windows of all tracks of one clip: (n, window, F) and the track id of each window."""
    blocks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for tid in sorted(per_track):
        wins = sliding_windows(per_track[tid], window, stride)
        blocks.append(wins)
        owners.append(np.full(len(wins), tid, dtype=np.int64))
    if not blocks:
        return np.zeros((0, window, FEATURE_DIM), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(blocks), np.concatenate(owners)


# COCO left/right keypoint pairs (eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
MIRROR_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


def _mirror_keypoint_order() -> np.ndarray:
    order = np.arange(NUM_KEYPOINTS)
    for left, right in MIRROR_PAIRS:
        order[left], order[right] = right, left
    return order


def mirror_features(x: np.ndarray) -> np.ndarray:
    """The same windows seen in a mirror (x -> -x, left <-> right): (..., FEATURE_DIM) in and out.

    A fight mirrored is still a fight, so training may add these (augmentation). Padding stays
    all zeros, so the mask is unchanged.
    """
    out = np.array(x, copy=True)
    order = _mirror_keypoint_order()
    lead = out.shape[:-1]
    kp_xy = out[..., COLS_KP_XY].reshape(*lead, NUM_KEYPOINTS, 2)[..., order, :]
    kp_xy[..., 0] *= -1.0
    out[..., COLS_KP_XY] = kp_xy.reshape(*lead, -1)
    out[..., COLS_KP_CONF] = out[..., COLS_KP_CONF][..., order]
    kp_vel = out[..., COLS_KP_VEL].reshape(*lead, NUM_KEYPOINTS, 2)[..., order, :]
    kp_vel[..., 0] *= -1.0
    out[..., COLS_KP_VEL] = kp_vel.reshape(*lead, -1)
    for column in (COLS_BOX_VEL.start, COLS_NB_OFFSET.start, COLS_NB_REL_VEL.start):
        out[..., column] *= -1.0
    out[out == 0.0] = 0.0  # no negative zeros: padding must stay exactly the mask value
    return out
