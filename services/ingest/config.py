"""Settings of the ingest service (`VIGIL_INGEST__...`)."""

from pydantic import BaseModel, ConfigDict, Field


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analysis_fps: float = Field(10.0, gt=0, le=60, description="frames per second sent downstream")
    jpeg_quality: int = Field(85, ge=30, le=100)
    max_width: int = Field(1920, ge=160, le=7680, description="larger frames are scaled down")
    reconnect_initial_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(30.0, gt=0, le=600)
    reconnect_attempts: int = Field(
        10, ge=1, le=10_000, description="failed reopenings before the camera is marked error"
    )
    loop_files: bool = Field(True, description="a file camera starts over at its end")
    progress_every: int = Field(25, ge=1, le=10_000, description="frames between job updates")
