"""Pick each culprit's best picture over an event, and a face for it, in bounded memory.

Score of a candidate crop (one culprit box in one frame):

    score = area x sharpness x confidence

- area: the person box's area in pixels, clipped to the frame (a larger view shows more);
- sharpness: variance of the Laplacian of the crop in grey levels (motion blur and defocus
  flatten edges, so the variance drops);
- confidence: the detector's confidence for the box, clipped to [0, 1].
The product needs no weights: a crop twice as large and half as sharp ties, and a box that the
detector barely believes loses against a sure one.

Face policy (the face finder is injected, `find_face(crop_bgr) -> box | None`):
- every crop that becomes the track's new best is tried, so the best crop gets its face when
  it shows one;
- while the track has no face at all, up to `face_extra_attempts` other candidates are tried
  too, at least `face_retry_frames` frames apart (the person may turn towards the camera in a
  frame that is not the sharpest);
- the face kept is the one in the best crop when found there, else the latest one found in an
  extra candidate, with that candidate's crop;
- `face_missing` is True when no tried crop had a face.
Per track, at most two crops are held (the best, and the crop the face came from).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np

from services.repository.config import RepositoryConfig
from vigil.images import encode_jpeg

FaceT = TypeVar("FaceT")

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels


@dataclass(frozen=True, slots=True)
class CulpritSighting:
    """One culprit's box in one frame."""

    track_id: int
    box: Box
    confidence: float


@dataclass(frozen=True, slots=True)
class CropScore:
    area: float
    sharpness: float
    confidence: float

    @property
    def value(self) -> float:
        return self.area * self.sharpness * self.confidence


@dataclass(frozen=True, slots=True)
class CulpritPick(Generic[FaceT]):
    """A culprit's best crop over the event, and its face (or why there is none)."""

    track_id: int
    frame_index: int
    box: Box  # the person box the crop was cut around
    score: CropScore
    crop_jpeg: bytes
    face: FaceT | None  # as the face finder returned it, in `face_crop_jpeg`'s coordinates
    face_crop_jpeg: bytes | None  # the crop the face was found in (the best crop when it had one)
    face_frame_index: int | None
    face_missing: bool
    face_attempts: int


def sharpness(crop_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop: high for crisp edges, low for blur."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def clipped_box(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (
        int(np.clip(np.floor(x1), 0, width)),
        int(np.clip(np.floor(y1), 0, height)),
        int(np.clip(np.ceil(x2), 0, width)),
        int(np.clip(np.ceil(y2), 0, height)),
    )


def cut_crop(frame_bgr: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """The box grown by `margin` of its size on each side, clipped to the frame; a copy."""
    x1, y1, x2, y2 = box
    grow_x, grow_y = (x2 - x1) * margin, (y2 - y1) * margin
    height, width = frame_bgr.shape[:2]
    left, top, right, bottom = clipped_box(
        (x1 - grow_x, y1 - grow_y, x2 + grow_x, y2 + grow_y), width, height
    )
    return frame_bgr[top:bottom, left:right].copy()


@dataclass(slots=True)
class _Candidate:
    frame_index: int
    box: Box
    score: CropScore
    crop: np.ndarray


@dataclass(slots=True)
class _TrackState(Generic[FaceT]):
    best: _Candidate
    face: FaceT | None = None
    face_from: _Candidate | None = None
    face_attempts: int = 0
    extra_attempts: int = 0
    last_extra_frame: int | None = None


class CulpritPicker(Generic[FaceT]):
    """Follows one event: feed it every frame's culprit boxes, then ask for the picks."""

    def __init__(
        self,
        find_face: Callable[[np.ndarray], FaceT | None],
        config: RepositoryConfig | None = None,
    ) -> None:
        self._find_face = find_face
        self.config = config or RepositoryConfig()
        self._tracks: dict[int, _TrackState[FaceT]] = {}

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    def observe(
        self, frame_bgr: np.ndarray, frame_index: int, sightings: Iterable[CulpritSighting]
    ) -> None:
        height, width = frame_bgr.shape[:2]
        for sighting in sightings:
            x1, y1, x2, y2 = clipped_box(sighting.box, width, height)
            if min(x2 - x1, y2 - y1) < self.config.min_crop_side_px:
                continue
            crop = cut_crop(frame_bgr, sighting.box, self.config.crop_margin)
            score = CropScore(
                area=float((x2 - x1) * (y2 - y1)),
                sharpness=sharpness(crop),
                confidence=float(np.clip(sighting.confidence, 0.0, 1.0)),
            )
            self._offer(_Candidate(frame_index, sighting.box, score, crop), sighting.track_id)

    def _offer(self, candidate: _Candidate, track_id: int) -> None:
        state = self._tracks.get(track_id)
        if state is None:
            state = self._tracks[track_id] = _TrackState(best=candidate)
            self._try_face(state, candidate)
        elif candidate.score.value > state.best.score.value:
            state.best = candidate
            self._try_face(state, candidate)
        elif self._wants_extra_attempt(state, candidate.frame_index):
            state.extra_attempts += 1
            state.last_extra_frame = candidate.frame_index
            self._try_face(state, candidate)

    def _wants_extra_attempt(self, state: _TrackState[FaceT], frame_index: int) -> bool:
        if state.face is not None or state.extra_attempts >= self.config.face_extra_attempts:
            return False
        last = state.last_extra_frame
        return last is None or frame_index - last >= self.config.face_retry_frames

    def _try_face(self, state: _TrackState[FaceT], candidate: _Candidate) -> None:
        state.face_attempts += 1
        face = self._find_face(candidate.crop)
        if face is not None:
            state.face, state.face_from = face, candidate

    def picks(self, track_ids: Collection[int] | None = None) -> list[CulpritPick[FaceT]]:
        """One pick per observed track (or per listed track that was observed), by track id."""
        quality = self.config.jpeg_quality
        chosen = self.track_ids if track_ids is None else sorted(set(track_ids) & set(self._tracks))
        picks: list[CulpritPick[FaceT]] = []
        for track_id in chosen:
            state = self._tracks[track_id]
            best, face_from = state.best, state.face_from
            crop_jpeg = encode_jpeg(best.crop, quality)
            face_crop_jpeg: bytes | None = None
            if face_from is best:
                face_crop_jpeg = crop_jpeg
            elif face_from is not None:
                face_crop_jpeg = encode_jpeg(face_from.crop, quality)
            picks.append(
                CulpritPick(
                    track_id=track_id,
                    frame_index=best.frame_index,
                    box=best.box,
                    score=best.score,
                    crop_jpeg=crop_jpeg,
                    face=state.face,
                    face_crop_jpeg=face_crop_jpeg,
                    face_frame_index=None if face_from is None else face_from.frame_index,
                    face_missing=state.face is None,
                    face_attempts=state.face_attempts,
                )
            )
        return picks
