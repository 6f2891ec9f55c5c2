"""Tracker settings; nested in the global settings as VIGIL_TRACK__<FIELD>."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrackConfig(BaseModel):
    """DeepSORT parameters, and how the service keeps each camera's tracker resumable.

    lambda_ and max_cosine_distance were chosen with `python -m services.track.evaluate --sweep`
    (perturbed TUD, simulated appearance, seeds 1-3): lambda_ 0 and 0.1 tie for the best IDF1
    and beat 0.3-1.0; 0.1 keeps motion as the tie-breaker between equally close galleries.
    max_cosine_distance 0.2 was best in both simulated regimes, and on MOT17-mini with the
    MobileNetV2 embedder it keeps 99.6% of same-person pairs in consecutive frames while
    admitting 28% of overlapping other people (which the motion gate and Hungarian then sort).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lambda_: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of motion (Mahalanobis / gate) in the eq. 3 cost; 1 - lambda_ is "
        "the share of the appearance cosine distance.",
    )
    max_cosine_distance: float = Field(
        default=0.2, gt=0.0, le=2.0, description="Appearance gate on the cosine distance."
    )
    max_iou_distance: float = Field(
        default=0.7, gt=0.0, le=1.0, description="1 - IoU above which the IoU stage rejects a pair."
    )
    n_init: int = Field(default=3, ge=1, le=100, description="Hits needed to confirm a track.")
    max_age: int = Field(
        default=30, ge=1, le=10_000, description="Missed frames before a confirmed track dies."
    )
    gallery_size: int = Field(
        default=100, ge=1, le=10_000, description="Embeddings kept per track (paper: 100)."
    )
    min_detection_score: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Detections scoring below are ignored; at most detect's score_threshold, "
        "else that threshold's people never reach a track (docs/model-card.md).",
    )
    output_coasting: bool = Field(
        default=False,
        description="Also output confirmed tracks not matched this frame (predicted box, "
        "detection_index None).",
    )
    snapshot_every: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Frames of a camera between two snapshots of its tracker on `track-state` "
        "(50: 5 s at 10 fps analysis; a snapshot with full galleries is 1.7-2.8 MB, so this "
        "bounds the topic's traffic, and a takeover replays at most this many frames); a "
        "camera's first frame is snapshotted too.",
    )
    max_replay_records: int = Field(
        default=2000,
        ge=0,
        le=1_000_000,
        description="At most this many `detections` records (all cameras of the partition) are "
        "read back to bring a restored snapshot up to the record in hand.",
    )
