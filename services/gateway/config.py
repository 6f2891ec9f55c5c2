"""Settings of the gateway (`VIGIL_GATEWAY__...`)."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A secret has no default: `vigil run` makes one in its data folder, a deployment sets it.
    jwt_secret: SecretStr | None = None
    token_ttl_s: int = Field(12 * 3600, ge=60, le=30 * 86400)
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, le=64 * 1024**3)
    login_attempts: int = Field(5, ge=1, le=1000, description="failed logins before a lockout")
    login_window_s: int = Field(300, ge=1, le=86400)
    cookie_secure: bool = False
