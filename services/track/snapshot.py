"""One camera's tracker as a `track-state` message, and back.

The worker that owns a camera publishes these; the next owner (after a rebalance, a crash, a
restart) restores the latest and replays the detections after it (services/track/service.py). The
round trip is exact: the restored tracker gives the same outputs as the original, bit for bit,
unless the galleries had to be cut to fit MAX_SNAPSHOT_BYTES (then each track keeps its newest
embeddings, and `galleries_trimmed` says so).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.track.config import TrackConfig
from services.track.deepsort.appearance import Gallery
from services.track.deepsort.track import Track, TrackState
from services.track.deepsort.tracker import Tracker
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.track_state_pb2 import TrackerState, TrackPhase, TrackSnapshot

# Under the topic's max.message.bytes (4 MiB, deploy/k8s/base/infra/topics.yaml). A full gallery
# of 1280-d embeddings is 512 KB, so about six people with long histories fit whole.
MAX_SNAPSHOT_BYTES = 3 * 1024 * 1024
_TRACK_BYTES = 1024  # one track without its gallery: 72 doubles and a few counters, rounded up
_EMBEDDING = np.dtype("<f4")

_PHASES = {
    TrackState.TENTATIVE: TrackPhase.TRACK_PHASE_TENTATIVE,
    TrackState.CONFIRMED: TrackPhase.TRACK_PHASE_CONFIRMED,
    TrackState.DELETED: TrackPhase.TRACK_PHASE_DELETED,
}
_STATES = {phase: state for state, phase in _PHASES.items()}


def snapshot(
    tracker: Tracker,
    partition: int,
    offset: int,
    frame: FrameRef,
    max_bytes: int = MAX_SNAPSHOT_BYTES,
) -> TrackerState:
    """The tracker's whole state after the `detections` record at partition/offset."""
    galleries = [t.gallery for t in tracker.tracks]
    keep = rows_kept(galleries, max_bytes - _TRACK_BYTES * (len(galleries) + 1))
    state = TrackerState(
        next_id=tracker.next_id,
        rejected_detections=tracker.rejected_detections,
        detections_partition=partition,
        detections_offset=offset,
        frame=frame,
        galleries_trimmed=keep is not None,
    )
    for track in tracker.tracks:
        if keep is None:
            rows, next_slot = track.gallery.as_array(), track.gallery.next_slot
        else:
            rows = track.gallery.newest(keep)
            next_slot = len(rows) % tracker.config.gallery_size
        state.tracks.append(TrackSnapshot(
            track_id=track.track_id,
            phase=_PHASES[track.state],
            hits=track.hits,
            age=track.age,
            time_since_update=track.time_since_update,
            mean=track.mean.tolist(),
            covariance=track.covariance.ravel().tolist(),
            gallery=rows.astype(_EMBEDDING, copy=False).tobytes(),
            gallery_rows=rows.shape[0],
            gallery_dim=rows.shape[1],
            gallery_next=next_slot,
            last_detection_index=track.last_detection_index,
        ))
    return state


def rows_kept(galleries: Sequence[Gallery], budget_bytes: int) -> int | None:
    """None when every gallery fits whole in the budget; else how many of its newest embeddings
    each track keeps so that they fit (0 when even one each does not)."""

    def size(k: int) -> int:
        return sum(min(len(g), k) * g.dim * _EMBEDDING.itemsize for g in galleries)

    k = max((len(g) for g in galleries), default=0)
    if size(k) <= budget_bytes:
        return None
    while k > 0 and size(k) > budget_bytes:
        k -= 1
    return k


def restore(state: TrackerState, config: TrackConfig) -> Tracker:
    """The tracker a snapshot describes, under this worker's config.

    Raises ValueError when the snapshot is malformed or does not fit the config (a gallery larger
    than gallery_size): the caller starts a fresh tracker instead.
    """
    tracker = Tracker(config)
    tracker.tracks = [_track(t, config) for t in state.tracks]
    if any(t.track_id >= state.next_id for t in tracker.tracks) or state.next_id < 1:
        raise ValueError(f"next id {state.next_id} is not above every track id")
    tracker.next_id = state.next_id
    tracker.rejected_detections = state.rejected_detections
    return tracker


def _track(message: TrackSnapshot, config: TrackConfig) -> Track:
    rows, dim = message.gallery_rows, message.gallery_dim
    if len(message.mean) != 8 or len(message.covariance) != 64:
        raise ValueError(f"track {message.track_id}: Kalman state is not 8-d")
    if len(message.gallery) != rows * dim * _EMBEDDING.itemsize:
        raise ValueError(f"track {message.track_id}: gallery is not {rows} x {dim} floats")
    if message.phase not in _STATES:
        raise ValueError(f"track {message.track_id}: unknown phase {message.phase}")
    embeddings = np.frombuffer(message.gallery, dtype=_EMBEDDING).reshape(rows, dim)
    return Track.restored(
        mean=np.array(message.mean, dtype=np.float64),
        covariance=np.array(message.covariance, dtype=np.float64).reshape(8, 8),
        track_id=message.track_id,
        n_init=config.n_init,
        max_age=config.max_age,
        state=_STATES[message.phase],
        hits=message.hits,
        age=message.age,
        time_since_update=message.time_since_update,
        gallery=Gallery.restored(config.gallery_size, embeddings, message.gallery_next),
        last_detection_index=(
            message.last_detection_index if message.HasField("last_detection_index") else None
        ),
    )
