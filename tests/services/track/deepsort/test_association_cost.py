import numpy as np
import pytest

from services.track.deepsort.association_cost import gated_cost_matrix, max_admissible_cost
from services.track.deepsort.detection import Detection
from services.track.deepsort.kalman_filter import CHI2_GATE_4DOF, KalmanFilter
from services.track.deepsort.linear_assignment import INFTY_COST
from services.track.deepsort.track import Track

BOX = np.array([100.0, 100.0, 150.0, 200.0])  # h = 100; centre (125, 150)
E0, E1 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def track_with(embedding: np.ndarray | None) -> tuple[Track, KalmanFilter]:
    kf = KalmanFilter()
    first = Detection(BOX, 1.0, embedding, 0)
    mean, cov = kf.initiate(first.to_xyah())
    return Track(mean, cov, 1, 3, 30, 10, first), kf


def shifted(dx: float, embedding: np.ndarray | None) -> Detection:
    return Detection(BOX + np.array([dx, 0.0, dx, 0.0]), 1.0, embedding, 0)


@pytest.mark.parametrize(
    ("lambda_", "track_embedding", "dx", "det_embedding", "expected"),
    [
        # Projected x variance 125: d1 = dx^2 / 125, scaled by the gate.
        (0.5, E0, 20.0, E0, 0.5 * (400 / 125) / CHI2_GATE_4DOF),
        (0.0, E0, 20.0, np.array([np.sqrt(0.96), 0.2]), 1 - np.sqrt(0.96)),
        (0.5, E0, 40.0, E0, INFTY_COST),  # outside the chi-square gate
        (0.5, E0, 0.0, E1, INFTY_COST),  # outside the cosine gate
        (0.2, None, 20.0, E0, (400 / 125) / CHI2_GATE_4DOF),  # track has no gallery yet
        (0.2, E0, 20.0, None, (400 / 125) / CHI2_GATE_4DOF),  # detection without embedding
    ],
)
def test_eq3_cost_and_gates(
    lambda_: float,
    track_embedding: np.ndarray | None,
    dx: float,
    det_embedding: np.ndarray | None,
    expected: float,
) -> None:
    track, kf = track_with(track_embedding)
    cost = gated_cost_matrix(kf, lambda_, 0.3, [track], [shifted(dx, det_embedding)], [0], [0])
    assert cost[0, 0] == pytest.approx(expected, abs=1e-6)  # appearance is float32


def test_lambda_one_still_gates_on_appearance() -> None:
    track, kf = track_with(E0)
    cost = gated_cost_matrix(kf, 1.0, 0.3, [track], [shifted(20.0, E1)], [0], [0])
    assert cost[0, 0] == INFTY_COST


@pytest.mark.parametrize(
    ("lambda_", "max_cos", "expected"), [(0.5, 0.2, 1.0), (0.0, 1.5, 1.5), (0.5, 1.5, 1.25)]
)
def test_max_admissible_cost(lambda_: float, max_cos: float, expected: float) -> None:
    assert max_admissible_cost(lambda_, max_cos) == pytest.approx(expected)
