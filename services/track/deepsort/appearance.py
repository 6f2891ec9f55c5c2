"""Appearance: cosine distance from detections to each track's gallery of recent embeddings."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from services.track.deepsort.kalman_filter import FloatArray


class Gallery:
    """The last `size` embeddings of one track (the paper's R_i, budget 100 there).

    A ring buffer in float32: the newest embedding overwrites the oldest, and reading it back
    copies nothing. Order is irrelevant because only the nearest embedding counts.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._buffer: NDArray[np.float32] | None = None
        self._count = 0
        self._next = 0

    def add(self, embedding: FloatArray) -> None:
        if self._buffer is None or self._buffer.shape[1] != len(embedding):
            # First embedding, or the embedder changed: start over at the new dimension.
            self._buffer = np.empty((self._size, len(embedding)), dtype=np.float32)
            self._count = self._next = 0
        self._buffer[self._next] = embedding
        self._next = (self._next + 1) % self._size
        self._count = min(self._count + 1, self._size)

    def __len__(self) -> int:
        return self._count

    @property
    def dim(self) -> int:
        return 0 if self._buffer is None else self._buffer.shape[1]

    def as_array(self) -> NDArray[np.float32]:
        """(k, d) view of the stored embeddings; k may be 0."""
        if self._buffer is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self._buffer[: self._count]

    @property
    def next_slot(self) -> int:
        """The row of as_array() the next embedding overwrites (once the gallery is full)."""
        return self._next

    def newest(self, k: int) -> NDArray[np.float32]:
        """The k most recent embeddings, oldest first."""
        rows = self.as_array()
        if self._count == self._size:  # full: the oldest is at next_slot
            rows = np.roll(rows, -self._next, axis=0)
        return rows[max(0, len(rows) - k) :]

    @classmethod
    def restored(cls, size: int, rows: NDArray[np.float32], next_slot: int) -> Gallery:
        """The gallery whose as_array() and next_slot were these (services/track/snapshot.py)."""
        count = len(rows)
        full = count == size
        if count > size or not (0 <= next_slot < size if full else next_slot == count):
            raise ValueError(f"{count} rows, next slot {next_slot}: not a gallery of {size}")
        gallery = cls(size)
        if count:
            gallery._buffer = np.empty((size, rows.shape[1]), dtype=np.float32)
            gallery._buffer[:count] = rows
        gallery._count = count
        gallery._next = next_slot
        return gallery


def nearest_cosine_distance(
    gallery: NDArray[np.floating], embeddings: NDArray[np.floating]
) -> FloatArray:
    """Smallest cosine distance (1 - cos) from each embedding row to any gallery row.

    Both inputs must be L2-normalised, so the dot product is the cosine. Range [0, 2].
    """
    if len(gallery) == 0 or len(embeddings) == 0:
        return np.full(len(embeddings), np.nan)
    similarity = embeddings.astype(gallery.dtype, copy=False) @ gallery.T  # (n, k)
    return 1.0 - np.asarray(similarity.max(axis=1), dtype=np.float64)


def normalise_rows(embeddings: FloatArray) -> tuple[FloatArray, np.ndarray]:
    """L2-normalise each row; rows that are non-finite or zero are flagged invalid."""
    norms = np.linalg.norm(embeddings, axis=1)
    valid = np.isfinite(embeddings).all(axis=1) & np.isfinite(norms) & (norms > 1e-12)
    normalised = np.zeros_like(embeddings, dtype=np.float64)
    normalised[valid] = embeddings[valid] / norms[valid, None]
    return normalised, valid
