"""Settings of the repository's media core: clip rolls and parts, encoder, crops, retention.

The lead nests `RepositoryConfig` in the service settings, so every field is reachable as
`VIGIL_REPOSITORY__<FIELD>` (e.g. `VIGIL_REPOSITORY__PRE_ROLL_S=5`).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

VideoCodec = Literal["h264", "vp9"]
X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]


class RepositoryConfig(BaseModel):
    """Typed, bounded settings; unknown keys are refused so a typo fails at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- clip window -----------------------------------------------------------------------
    pre_roll_s: float = Field(
        default=3.0, ge=0.0, le=30.0, description="video kept before the first violent frame (s)"
    )
    post_roll_s: float = Field(
        default=3.0, ge=0.0, le=60.0, description="seconds of video kept after the event's end"
    )
    event_lag_s: float = Field(
        default=5.0,
        ge=0.0,
        le=60.0,
        description=(
            "how late an event update may reach us after its frames (detect + track + classify "
            "latency); the per-camera ring also holds this much so the pre-roll is still there "
            "when the event opens and the post-roll can be cut exactly when it closes"
        ),
    )
    max_part_s: float = Field(
        default=300.0, ge=10.0, le=3600.0, description="a longer event is cut into parts this long"
    )
    max_gap_fill_s: float = Field(
        default=2.0,
        ge=0.0,
        le=30.0,
        description="a gap between frames up to this long is filled by repeating the last frame "
        "(constant-rate output); a longer gap is not filled, so a dead camera makes no long clip",
    )
    nominal_fps: float = Field(
        default=10.0,
        gt=0.0,
        le=60.0,
        description="analysis rate used to size the ring, and as the clip rate until two frames "
        "show the actual rate",
    )

    # --- encoder ---------------------------------------------------------------------------
    codec: VideoCodec = Field(
        default="h264", description="h264: H.264 in MP4 (moov first); vp9: VP9 in WebM"
    )
    h264_crf: int = Field(default=26, ge=0, le=51, description="x264 rate factor (lower: better)")
    h264_preset: X264Preset = "veryfast"
    vp9_crf: int = Field(default=36, ge=0, le=63, description="libvpx-vp9 constant quality level")
    vp9_cpu_used: int = Field(default=8, ge=0, le=8, description="libvpx speed (8: fastest)")
    encoder_threads: int = Field(default=0, ge=0, le=64, description="0: the encoder decides")
    keyframe_interval_s: float = Field(
        default=2.0, gt=0.0, le=10.0, description="a keyframe at least this often, for seeking"
    )

    # --- stills ----------------------------------------------------------------------------
    jpeg_quality: int = Field(default=90, ge=30, le=100, description="quality of crops and posters")
    crop_margin: float = Field(
        default=0.1, ge=0.0, le=1.0, description="each side of a culprit box grows by this fraction"
    )
    min_crop_side_px: int = Field(
        default=16, ge=1, le=1024, description="smaller culprit boxes give no crop"
    )
    face_extra_attempts: int = Field(
        default=4,
        ge=0,
        le=100,
        description="while a culprit has no face yet, the face finder also runs on this many "
        "candidates that are not the best crop",
    )
    face_retry_frames: int = Field(
        default=5, ge=1, le=1000, description="frames between two extra attempts"
    )

    face_margin: float = Field(
        default=0.25, ge=0.0, le=1.0, description="each side of a face box grows by this fraction"
    )

    # --- service ---------------------------------------------------------------------------
    camera_idle_s: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="a camera that sends no frame for this long is forgotten: its event's clip "
        "ends with the frames it has, and its ring is freed",
    )

    # --- retention -------------------------------------------------------------------------
    retention_days: int = Field(default=30, ge=1, le=3650, description="older events are deleted")
    retention_sweep_s: float = Field(
        default=3600.0, ge=1.0, le=86400.0, description="how often expired events are removed"
    )

    @model_validator(mode="after")
    def _pre_roll_fits_one_part(self) -> Self:
        # The first violent frame must fall in part 0, which carries the poster.
        if self.pre_roll_s >= self.max_part_s:
            raise ValueError("pre_roll_s must be shorter than max_part_s")
        return self

    def ring_seconds(self) -> float:
        """Span of the per-camera frame ring: the pre-roll plus how late an event may arrive."""
        return self.pre_roll_s + self.event_lag_s
