"""Settings of the classify service, nested by the lead's settings as `VIGIL_CLASSIFY__...`."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The shipped model lives in the package, next to this file.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "weights" / "violence.keras"


class ClassifyConfig(BaseModel):
    """Sequence shape, event hysteresis and the model file. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(16, ge=2, le=256, description="analysis steps per person sequence")
    rate_hz: float = Field(10.0, gt=0.0, le=60.0, description="analysis rate, steps per second")
    on_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="score at which a person counts as violent"
    )
    off_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="score that keeps an open event violent (<= on)"
    )
    k: int = Field(3, ge=1, le=1000, description="violent frames among the last n to open")
    n: int = Field(5, ge=1, le=1000, description="frames looked back at to open an event")
    quiet_seconds: float = Field(
        2.0, gt=0.0, le=3600.0, description="seconds without violence that close an event"
    )
    min_present_steps: int = Field(
        3, ge=1, le=256, description="real steps a person's window needs before it is scored"
    )
    stall_seconds: float = Field(
        10.0, gt=0.0, le=3600.0,
        description="wall-clock seconds without frames after which a camera's event is closed",
    )
    batch_size: int = Field(16, ge=1, le=256, description="tracks messages scored together")
    model_path: Path = Field(DEFAULT_MODEL_PATH, description="trained .keras model")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) must not exceed n ({self.n})")
        if self.off_threshold is not None and self.off_threshold > self.on_threshold:
            raise ValueError("off_threshold must not exceed on_threshold")
        if self.min_present_steps > self.window:
            raise ValueError("min_present_steps must not exceed window")
        if self.model_path.suffix != ".keras":
            raise ValueError(f"model_path must be a .keras file, got {self.model_path}")
        return self

    @property
    def history_seconds(self) -> float:
        """How much track history the features of one window need (steps before it for velocity
        and acceleration)."""
        from services.classify.features import CONTEXT_STEPS

        return (self.window + CONTEXT_STEPS) / self.rate_hz
