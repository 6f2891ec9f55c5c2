"""One tracked person: Kalman state, life-cycle state, appearance gallery."""

from __future__ import annotations

from enum import Enum

from services.track.deepsort.appearance import Gallery
from services.track.deepsort.detection import Detection, xyah_to_xyxy
from services.track.deepsort.kalman_filter import FloatArray, KalmanFilter


class TrackState(Enum):
    """Tentative until `n_init` consecutive hits; deleted when lost too long."""

    TENTATIVE = 1
    CONFIRMED = 2
    DELETED = 3


class Track:
    """A track; created from an unmatched detection by the tracker."""

    def __init__(
        self,
        mean: FloatArray,
        covariance: FloatArray,
        track_id: int,
        n_init: int,
        max_age: int,
        gallery_size: int,
        detection: Detection,
    ) -> None:
        self.mean = mean
        self.covariance = covariance
        self.track_id = track_id
        self.hits = 1
        self.age = 1  # frames since creation, this one included
        self.time_since_update = 0
        self.last_detection_index: int | None = detection.index
        self.gallery = Gallery(gallery_size)
        if detection.embedding is not None:
            self.gallery.add(detection.embedding)
        self._n_init = n_init
        self._max_age = max_age
        # n_init = 1 means "trust the first detection"; otherwise wait for more hits.
        self.state = TrackState.CONFIRMED if n_init <= 1 else TrackState.TENTATIVE

    @classmethod
    def restored(
        cls,
        *,
        mean: FloatArray,
        covariance: FloatArray,
        track_id: int,
        n_init: int,
        max_age: int,
        state: TrackState,
        hits: int,
        age: int,
        time_since_update: int,
        gallery: Gallery,
        last_detection_index: int | None,
    ) -> Track:
        """A track as a snapshot left it (services/track/snapshot.py)."""
        track = cls.__new__(cls)
        track.mean = mean
        track.covariance = covariance
        track.track_id = track_id
        track.hits = hits
        track.age = age
        track.time_since_update = time_since_update
        track.last_detection_index = last_detection_index
        track.gallery = gallery
        track._n_init = n_init
        track._max_age = max_age
        track.state = state
        return track

    def to_xyxy(self) -> FloatArray:
        return xyah_to_xyxy(self.mean[:4])

    def predict(self, kf: KalmanFilter) -> None:
        """Advance the state one frame; the track counts as missed until it is matched."""
        self.mean, self.covariance = kf.predict(self.mean, self.covariance)
        self.age += 1
        self.time_since_update += 1
        self.last_detection_index = None

    def update(self, kf: KalmanFilter, detection: Detection) -> None:
        """Correct with the matched detection, store its embedding, count the hit."""
        self.mean, self.covariance = kf.update(self.mean, self.covariance, detection.to_xyah())
        if detection.embedding is not None:
            self.gallery.add(detection.embedding)
        self.last_detection_index = detection.index
        self.mark_hit()

    def mark_hit(self) -> None:
        self.hits += 1
        self.time_since_update = 0
        if self.state == TrackState.TENTATIVE and self.hits >= self._n_init:
            self.state = TrackState.CONFIRMED

    def mark_missed(self) -> None:
        """Not matched: a tentative track dies at once, a confirmed one after max_age misses."""
        if self.state == TrackState.TENTATIVE or self.time_since_update > self._max_age:
            self.state = TrackState.DELETED

    def is_tentative(self) -> bool:
        return self.state == TrackState.TENTATIVE

    def is_confirmed(self) -> bool:
        return self.state == TrackState.CONFIRMED

    def is_deleted(self) -> bool:
        return self.state == TrackState.DELETED
