"""Settings of the gateway (`VIGIL_GATEWAY__...`)."""

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A secret has no default: `vigil run` makes one in its data folder, a deployment sets it.
    jwt_secret: SecretStr | None = Field(
        None, min_length=32, description="HMAC key of the session tokens, 32 characters or more"
    )
    token_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 86400)
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, le=64 * 1024**3)
    upload_tmp_dir: Path | None = Field(
        None, description="where uploads are streamed before the media store; unset: the system's"
    )
    login_attempts: int = Field(5, ge=1, le=1000, description="failed logins per user")
    login_attempts_per_client: int = Field(
        20, ge=1, le=10_000, description="failed logins per client address, any user"
    )
    login_window_s: int = Field(300, ge=1, le=86400)
    cookie_secure: bool = False
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="pages of other origins that may open the live WebSocket, such as the UI's"
        " development server (`http://localhost:5173`); the gateway's own origin always may",
    )
    replica_id: str | None = Field(
        None, max_length=64, description="names this replica's live consumer group; unset: random"
    )
    live_verdict_timeout_s: float = Field(
        4.0, gt=0, le=30, description="a frame waits this long for its overlay, then goes without"
    )
    live_pending_frames: int = Field(
        64, ge=1, le=10_000, description="frames per camera waiting for their overlay"
    )
    live_viewer_queue: int = Field(
        2, ge=1, le=100, description="frames queued per viewer; older ones are dropped"
    )
    live_max_age_s: float = Field(
        30, gt=0, le=3600, description="older frames (a replay after a restart) are not shown"
    )
