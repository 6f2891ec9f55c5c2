import numpy as np
import pytest

from services.track.deepsort.kalman_filter import CHI2_GATE_4DOF, KalmanFilter

# Hand-computed with std_weight_position = 1/20, std_weight_velocity = 1/160 and h = 100:
# initial position std 2 * h / 20 = 10 (var 100), velocity std 10 * h / 160 = 6.25 (var 39.0625);
# process noise on position (h / 20)^2 = 25; measurement noise on x, y, h also 25.
H = 100.0
MEASUREMENT = np.array([50.0, 80.0, 0.5, H])


def test_initiate_sets_mean_and_height_scaled_covariance() -> None:
    mean, cov = KalmanFilter().initiate(MEASUREMENT)
    np.testing.assert_allclose(mean, [50, 80, 0.5, 100, 0, 0, 0, 0])
    np.testing.assert_allclose(
        np.diag(cov), [100, 100, 1e-4, 100, 39.0625, 39.0625, 1e-10, 39.0625]
    )


def test_predict_moves_by_velocity_and_grows_covariance() -> None:
    kf = KalmanFilter()
    mean, cov = kf.initiate(MEASUREMENT)
    mean[4:] = [3.0, -2.0, 0.0, 1.0]  # velocities
    mean, cov = kf.predict(mean, cov)
    np.testing.assert_allclose(mean[:4], [53, 78, 0.5, 101])
    # P_xx = 100 + 39.0625 (velocity) + (0.05 * 101)^2 (process noise at the *old* height 100)
    assert cov[0, 0] == pytest.approx(100 + 39.0625 + 25)
    # Cross term x/vx = P_vv = 39.0625, velocity variance grows by (100 / 160)^2.
    assert cov[0, 4] == pytest.approx(39.0625)
    assert cov[4, 4] == pytest.approx(39.0625 + 0.390625)


def test_update_is_weighted_by_the_kalman_gain() -> None:
    kf = KalmanFilter()
    mean, cov = kf.predict(*kf.initiate(MEASUREMENT))
    # After predict: P_xx = 164.0625; innovation variance S = 164.0625 + 25 (h unchanged = 100).
    gain = 164.0625 / 189.0625
    measured_x = 60.0
    new_mean, new_cov = kf.update(mean, cov, np.array([measured_x, 80.0, 0.5, H]))
    assert new_mean[0] == pytest.approx(50 + gain * (measured_x - 50))
    assert new_mean[1] == pytest.approx(80)
    assert new_cov[0, 0] == pytest.approx(164.0625 * (1 - gain))
    # Velocity learns from the position error through the cross-covariance 39.0625.
    assert new_mean[4] == pytest.approx(39.0625 / 189.0625 * (measured_x - 50))


@pytest.mark.parametrize(
    ("dx", "inside"),
    [(0.0, True), (20.0, True), (40.0, False), (-40.0, False)],
)
def test_gating_distance_against_chi_square_bound(dx: float, inside: bool) -> None:
    kf = KalmanFilter()
    mean, cov = kf.initiate(MEASUREMENT)
    # Projected x variance = 100 + 25 = 125, so the squared distance of a pure x shift is dx^2/125.
    d2 = kf.gating_distance(mean, cov, np.array([[50.0 + dx, 80.0, 0.5, H]]))
    assert d2[0] == pytest.approx(dx**2 / 125)
    assert bool(d2[0] <= CHI2_GATE_4DOF) is inside
