"""Constant-velocity Kalman filter in measurement space (x, y, a, h).

State: box centre x, y, aspect ratio a = w / h, height h, and their velocities (8-d).
Noise is proportional to the box height, so a far (small) person gets a tight filter and a
near (large) one a loose filter, as in nwojke/deep_sort.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# 0.95 quantile of the chi-square distribution with 4 degrees of freedom (x, y, a, h):
# a squared Mahalanobis distance above it is rejected as an impossible motion.
CHI2_GATE_4DOF = 9.4877

_NDIM = 4
_DT = 1.0


class KalmanFilter:
    """8-d constant-velocity Kalman filter; the filter is stateless, tracks hold mean and cov."""

    def __init__(
        self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160
    ) -> None:
        self._motion_mat = np.eye(2 * _NDIM)
        for i in range(_NDIM):
            self._motion_mat[i, _NDIM + i] = _DT
        self._update_mat = np.eye(_NDIM, 2 * _NDIM)
        self._std_weight_position = std_weight_position
        self._std_weight_velocity = std_weight_velocity

    def initiate(self, measurement: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean and covariance of a new track from one (x, y, a, h) measurement."""
        mean = np.r_[measurement, np.zeros(_NDIM)]
        h = measurement[3]
        std = [
            2 * self._std_weight_position * h,
            2 * self._std_weight_position * h,
            1e-2,
            2 * self._std_weight_position * h,
            10 * self._std_weight_velocity * h,
            10 * self._std_weight_velocity * h,
            1e-5,
            10 * self._std_weight_velocity * h,
        ]
        return mean, np.diag(np.square(std))

    def predict(self, mean: FloatArray, covariance: FloatArray) -> tuple[FloatArray, FloatArray]:
        """One time step ahead."""
        h = mean[3]
        std_pos = [
            self._std_weight_position * h,
            self._std_weight_position * h,
            1e-2,
            self._std_weight_position * h,
        ]
        std_vel = [
            self._std_weight_velocity * h,
            self._std_weight_velocity * h,
            1e-5,
            self._std_weight_velocity * h,
        ]
        motion_cov = np.diag(np.square(np.r_[std_pos, std_vel]))
        mean = self._motion_mat @ mean
        covariance = self._motion_mat @ covariance @ self._motion_mat.T + motion_cov
        return mean, covariance

    def project(self, mean: FloatArray, covariance: FloatArray) -> tuple[FloatArray, FloatArray]:
        """State distribution mapped to measurement space, measurement noise included."""
        h = mean[3]
        std = [
            self._std_weight_position * h,
            self._std_weight_position * h,
            1e-1,
            self._std_weight_position * h,
        ]
        innovation_cov = np.diag(np.square(std))
        projected_mean = self._update_mat @ mean
        projected_cov = self._update_mat @ covariance @ self._update_mat.T + innovation_cov
        return projected_mean, projected_cov

    def update(
        self, mean: FloatArray, covariance: FloatArray, measurement: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Correct the predicted state with a measurement (x, y, a, h)."""
        projected_mean, projected_cov = self.project(mean, covariance)
        chol_factor, lower = scipy.linalg.cho_factor(projected_cov, lower=True, check_finite=False)
        kalman_gain = scipy.linalg.cho_solve(
            (chol_factor, lower), (covariance @ self._update_mat.T).T, check_finite=False
        ).T
        innovation = measurement - projected_mean
        new_mean = mean + innovation @ kalman_gain.T
        new_covariance = covariance - kalman_gain @ projected_cov @ kalman_gain.T
        return new_mean, new_covariance

    def gating_distance(
        self, mean: FloatArray, covariance: FloatArray, measurements: FloatArray
    ) -> FloatArray:
        """Squared Mahalanobis distance from one state to each (x, y, a, h) measurement row.

        Compare with CHI2_GATE_4DOF to gate.
        """
        return self.gating_distances(mean[None], covariance[None], measurements)[0]

    def gating_distances(
        self, means: FloatArray, covariances: FloatArray, measurements: FloatArray
    ) -> FloatArray:
        """(t, m) squared Mahalanobis distances of t states (t, 8), (t, 8, 8) to m measurements.

        Batched over tracks: one call per frame instead of one per track.
        """
        if len(means) == 0 or len(measurements) == 0:
            return np.zeros((len(means), len(measurements)), dtype=np.float64)
        heights = means[:, 3]
        std = np.stack(
            [
                self._std_weight_position * heights,
                self._std_weight_position * heights,
                np.full_like(heights, 1e-1),
                self._std_weight_position * heights,
            ],
            axis=1,
        )
        projected_means = means[:, :_NDIM]
        projected_covs = covariances[:, :_NDIM, :_NDIM] + np.einsum(
            "ti,ij->tij", np.square(std), np.eye(_NDIM)
        )
        innovations = measurements[None, :, :] - projected_means[:, None, :]  # (t, m, 4)
        solved = np.linalg.solve(projected_covs, innovations.transpose(0, 2, 1))  # (t, 4, m)
        return np.asarray(np.einsum("tmi,tim->tm", innovations, solved), dtype=np.float64)
